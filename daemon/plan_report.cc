#include "daemon/plan_report.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace cmlr::daemon {

namespace {

std::string Action(const controllers::PlannedAction& action) {
  return fmt::format("{}: {}", controllers::ActionName(action.kind), action.summary);
}

// A markdown table cell: no line breaks, pipes escaped, backticks kept out of code spans.
std::string Cell(std::string_view text) {
  std::string cell;
  for (const char c : text) {
    if (c == '\n' || c == '\r') {
      cell += ' ';
    } else if (c == '|') {
      cell += "\\|";
    } else if (c == '<') {
      cell += "&lt;";
    } else {
      cell += c;
    }
  }
  return cell;
}

std::string Code(std::string_view text) {
  std::string code(text);
  std::replace(code.begin(), code.end(), '`', '\'');
  return "`" + Cell(code) + "`";
}

void AppendTextRow(const PlanRow& row, std::string& out) {
  if (row.error) {
    out += fmt::format("{}: error: {}\n", row.name, *row.error);
    return;
  }
  if (row.suspended) {
    out += fmt::format("{}: suspended, no changes applied ({})\n  would: {}\n", row.name,
                       row.message, row.action.value_or("nothing"));
    return;
  }
  if (!row.changes()) {
    out += fmt::format("{}: no changes ({}, {})\n", row.name, row.sync, row.health);
    if (row.rolled_back) out += fmt::format("  rolled back: {}\n", *row.rolled_back);
    return;
  }
  if (row.prune) {
    out += fmt::format("{}: prune (removed from the desired state)\n", row.name);
  } else if (row.stalled) {
    out += fmt::format("{}: stalled ({}): {}\n", row.name, row.reason, row.message);
  } else {
    out += fmt::format("{}: changes\n", row.name);
  }
  if (row.rolled_back) out += fmt::format("  rolled back: {}\n", *row.rolled_back);
  for (const controllers::FieldDiff& diff : row.diffs) {
    out += fmt::format("  {}: {} -> {}\n", diff.field, diff.live, diff.desired);
  }
  if (row.action) {
    out += fmt::format("  next action: {}\n", *row.action);
  } else if (!row.stalled) {
    out += fmt::format("  waiting: {}\n", row.message);
  }
}

std::string MarkdownAction(const PlanRow& row) {
  if (row.error) return "**error**: " + Cell(*row.error);
  std::string text;
  if (row.stalled) text = fmt::format("**stalled** ({}): {}", row.reason, Cell(row.message));
  if (row.rolled_back) {
    if (!text.empty()) text += "<br>";
    text += "**rolled back**: " + Cell(*row.rolled_back);
  }
  if (row.action) {
    if (!text.empty()) text += "<br>";
    const std::size_t colon = row.action->find(": ");
    text += row.suspended ? "suspended, would " : "";
    text += colon == std::string::npos
                ? Code(*row.action)
                : Code(row.action->substr(0, colon)) + " " + Cell(row.action->substr(colon + 2));
  } else if (text.empty()) {
    text = row.changes() ? "waiting: " + Cell(row.message) : "none";
  }
  return text;
}

std::string MarkdownDiffs(const PlanRow& row) {
  std::string text;
  for (const controllers::FieldDiff& diff : row.diffs) {
    if (!text.empty()) text += "<br>";
    text += fmt::format("{}: {} → {}", Code(diff.field), Cell(diff.live), Cell(diff.desired));
  }
  return text;
}

}  // namespace

bool PlanRow::changes() const {
  if (error || suspended) return false;
  return prune || stalled || action.has_value() || !diffs.empty();
}

PlanRow RowFromPlan(const std::string& name, const controllers::Plan& plan) {
  PlanRow row{.name = name,
              .sync = std::string(controllers::ToString(plan.sync)),
              .health = std::string(controllers::ToString(plan.health)),
              .reason = std::string(controllers::ReasonName(plan.reason)),
              .message = plan.message,
              .stalled = plan.stalled,
              .rolled_back = plan.rollback_of,
              .diffs = plan.diffs};
  if (plan.action) row.action = Action(*plan.action);
  row.suspended = plan.health == controllers::HealthState::kSuspended && !plan.stalled &&
                  plan.suppressed_by_suspend;
  return row;
}

PlanRow RowFromError(const std::string& name, const common::Status& error) {
  return {.name = name, .reason = "ReconcileError", .error = error.ToString()};
}

std::vector<PlanRow> RowsFromPruneCandidates(
    const std::vector<controllers::PruneCandidate>& candidates) {
  std::map<std::string, PlanRow> rows;
  for (const controllers::PruneCandidate& c : candidates) {
    PlanRow& row = rows[c.name];
    if (row.name.empty()) {
      row = {.name = c.name,
             .sync = "OutOfSync",
             .reason = "Pruning",
             .message = "removed from the desired state",
             .action = fmt::format("stop_deployment: deployment {} of model {} ({})",
                                   c.deployment_id, c.model_name, c.model_id),
             .prune = true};
    }
    row.diffs.push_back({.field = "deployment " + c.deployment_id,
                         .live = c.deployment_status,
                         .desired = "stopped (pruned)"});
  }
  std::vector<PlanRow> sorted;
  for (auto& [name, row] : rows) sorted.push_back(std::move(row));
  return sorted;
}

int PlanReport::changes() const {
  return static_cast<int>(
      std::count_if(models.begin(), models.end(), [](const PlanRow& r) { return r.changes(); }));
}

bool PlanReport::errors() const {
  return std::any_of(models.begin(), models.end(), [](const PlanRow& r) { return r.error; });
}

int PlanExitCode(const PlanReport& report) {
  if (report.errors()) return 1;
  return report.changes() > 0 ? 2 : 0;
}

std::string FormatPlanText(const PlanReport& report) {
  std::string out =
      fmt::format("Desired state revision: {}\n", report.revision.value_or("unknown"));
  for (const PlanRow& row : report.models) AppendTextRow(row, out);
  out += fmt::format("{} of {} models change.\n", report.changes(), report.models.size());
  return out;
}

nlohmann::json PlanToJson(const PlanReport& report) {
  nlohmann::json models = nlohmann::json::array();
  for (const PlanRow& row : report.models) {
    nlohmann::json diffs = nlohmann::json::array();
    for (const controllers::FieldDiff& d : row.diffs) {
      diffs.push_back({{"field", d.field}, {"live", d.live}, {"desired", d.desired}});
    }
    auto optional = [](const std::optional<std::string>& value) {
      return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
    };
    models.push_back({{"name", row.name},
                      {"sync", row.sync},
                      {"health", row.health},
                      {"reason", row.reason},
                      {"message", row.message},
                      {"action", optional(row.action)},
                      {"diffs", diffs},
                      {"prune", row.prune},
                      {"suspended", row.suspended},
                      {"stalled", row.stalled},
                      {"changes", row.changes()},
                      {"rolledBack", optional(row.rolled_back)},
                      {"error", optional(row.error)}});
  }
  return {{"revision", report.revision ? nlohmann::json(*report.revision) : nullptr},
          {"changes", report.changes()},
          {"models", models}};
}

std::string FormatPlanMarkdown(const PlanReport& report) {
  const int changes = report.changes();
  std::string out = fmt::format(
      "### cml-reconciler plan: {}\n\n",
      report.errors() ? "errors, see below"
      : changes == 0  ? "no changes"
                      : fmt::format("{} of {} models change", changes, report.models.size()));
  out += report.revision ? fmt::format("Desired state at revision {}.\n\n", Code(*report.revision))
                         : "Desired state revision unknown.\n\n";
  if (report.models.empty()) return out + "No models in the desired state.\n";
  out += "| Model | Sync | Health | Next action | Differences |\n";
  out += "| --- | --- | --- | --- | --- |\n";
  for (const PlanRow& row : report.models) {
    const std::string name =
        row.changes() || row.error ? "**" + Cell(row.name) + "**" : Cell(row.name);
    out += fmt::format("| {}{} | {} | {} | {} | {} |\n", name, row.prune ? " (prune)" : "",
                       row.sync, row.health, MarkdownAction(row), MarkdownDiffs(row));
  }
  return out;
}

}  // namespace cmlr::daemon
