#include "daemon/wait_command.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "common/duration.h"

namespace cmlr::daemon {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxNamesPerLine = 5;

// The string at `key` of an object, or "" for anything else.
std::string StringAt(const json& object, std::string_view key) {
  if (!object.is_object()) return "";
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const json* ConditionOf(const json& entry, std::string_view type) {
  if (!entry.is_object()) return nullptr;
  const auto conditions = entry.find("conditions");
  if (conditions == entry.end() || !conditions->is_array()) return nullptr;
  for (const json& condition : *conditions) {
    if (StringAt(condition, "type") == type) return &condition;
  }
  return nullptr;
}

bool IsStalled(const json& entry) {
  const json* stalled = ConditionOf(entry, "Stalled");
  return stalled != nullptr && StringAt(*stalled, "status") == "True";
}

// "Reason: message", "Reason" or "" from a condition.
std::string Explanation(const json* condition) {
  if (condition == nullptr) return "";
  const std::string reason = StringAt(*condition, "reason");
  const std::string message = StringAt(*condition, "message");
  if (reason.empty()) return message;
  return message.empty() ? reason : reason + ": " + message;
}

bool IsReady(const json& entry, WaitFor mode) {
  const std::string sync = StringAt(entry, "sync");
  const std::string health = StringAt(entry, "health");
  if (health == "Suspended") return true;
  if (sync != "Synced") return false;
  return mode == WaitFor::kSynced || health == "Healthy";
}

std::string OrNone(const std::string& text) { return text.empty() ? "none" : text; }

// Whether the daemon has loaded a desired state: desiredState.at is set, or the daemon is too
// old to say.
bool DesiredStateLoaded(const json& response) {
  const auto it = response.find("desiredState");
  if (it == response.end() || !it->is_object()) return true;
  const auto at = it->find("at");
  return at != it->end() && !at->is_null();
}

// "the daemon rejected its latest desired state: MESSAGE" when desiredState.result is
// "failure", else "".
std::string Rejection(const json& response) {
  const auto it = response.find("desiredState");
  if (it == response.end() || StringAt(*it, "result") != "failure") return "";
  const std::string message = StringAt(*it, "message");
  return "the daemon rejected its latest desired state" + (message.empty() ? "" : ": " + message);
}

std::string Names(const std::vector<ModelProblem>& problems) {
  std::string text;
  for (std::size_t i = 0; i < problems.size() && i < kMaxNamesPerLine; ++i) {
    if (i > 0) text += ", ";
    text += fmt::format("{} ({})", problems[i].name, problems[i].state);
  }
  if (problems.size() > kMaxNamesPerLine) {
    text += fmt::format(" and {} more", problems.size() - kMaxNamesPerLine);
  }
  return text;
}

std::string ModeText(WaitFor mode) {
  return mode == WaitFor::kSynced ? "Synced" : "Synced and Healthy";
}

std::string ProgressKey(const WaitDecision& decision) {
  std::string key = decision.note;
  for (const ModelProblem& problem : decision.problems) {
    key += "\n" + problem.name + "\t" + problem.state;
  }
  return key;
}

}  // namespace

WaitDecision DecideWait(const json& response, const WaitRequest& request) {
  WaitDecision decision;
  if (!response.is_object() || !response.contains("models") || !response["models"].is_array()) {
    decision.note = "the daemon's status answer has no models list";
    decision.models = request.names.size();
    return decision;
  }
  std::map<std::string, const json*> entries;
  for (const json& entry : response["models"]) {
    const std::string name = StringAt(entry, "name");
    if (!name.empty()) entries.emplace(name, &entry);
  }
  std::set<std::string> names(request.names.begin(), request.names.end());
  if (request.names.empty()) {
    for (const auto& [name, entry] : entries) {
      const auto removed = entry->find("removed");
      if (removed == entry->end() || !removed->is_boolean() || !removed->get<bool>()) {
        names.insert(name);
      }
    }
  }
  decision.models = names.size();

  std::vector<ModelProblem> waiting;
  std::vector<ModelProblem> stalled;
  for (const std::string& name : names) {
    const auto found = entries.find(name);
    if (found == entries.end()) {
      waiting.push_back({name, "NotKnown", "not known to the daemon yet"});
      continue;
    }
    const json& entry = *found->second;
    const auto removed = entry.find("removed");
    if (removed != entry.end() && removed->is_boolean() && removed->get<bool>()) {
      waiting.push_back({name, "Removed", "removed from the daemon's desired state"});
      continue;
    }
    if (request.revision && StringAt(entry, "revision") != *request.revision) {
      waiting.push_back({name, "OtherRevision",
                         fmt::format("status from revision {}, waiting for {}",
                                     OrNone(StringAt(entry, "revision")), *request.revision)});
      continue;
    }
    if (IsStalled(entry)) {
      const std::string why = Explanation(ConditionOf(entry, "Stalled"));
      stalled.push_back({name, "Stalled", why.empty() ? "Stalled" : why});
      continue;
    }
    if (IsReady(entry, request.mode)) continue;
    const std::string state =
        fmt::format("{}/{}", OrNone(StringAt(entry, "sync")), OrNone(StringAt(entry, "health")));
    const std::string why = Explanation(ConditionOf(entry, "Ready"));
    waiting.push_back({name, state, why.empty() ? state : state + ": " + why});
  }

  if (!DesiredStateLoaded(response)) {
    decision.note = "the daemon has not loaded a desired state yet";
  } else if (request.revision && StringAt(response, "revision") != *request.revision) {
    decision.note = fmt::format("the daemon serves revision {}, waiting for {}",
                                OrNone(StringAt(response, "revision")), *request.revision);
  }
  // Said while waiting only: the daemon goes on with the previous desired state.
  const std::string rejection = Rejection(response);
  if (!stalled.empty()) {
    decision.state = WaitState::kStalled;
    decision.problems = std::move(stalled);
  } else if (!waiting.empty() || !decision.note.empty()) {
    decision.state = WaitState::kWaiting;
    decision.problems = std::move(waiting);
    if (!rejection.empty()) {
      decision.note += (decision.note.empty() ? "" : "; ") + rejection;
    }
  } else {
    decision.state = WaitState::kDone;
  }
  return decision;
}

int RunWaitLoop(const WaitLoopOptions& options, const WaitLoopIo& io) {
  std::ostream& out = *io.out;
  std::ostream& err = *io.err;
  const common::TimePoint deadline = io.clock->Now() + options.timeout;
  std::optional<WaitDecision> last_decision;
  std::optional<common::Status> last_error;
  std::string last_progress;
  for (;;) {
    common::StatusOr<json> response = io.fetch();
    if (response.ok()) {
      WaitDecision decision = DecideWait(*response, options.request);
      if (decision.state == WaitState::kDone) {
        out << fmt::format("Ready: {} model{} {}", decision.models, decision.models == 1 ? "" : "s",
                           ModeText(options.request.mode));
        const std::string revision = StringAt(*response, "revision");
        if (!revision.empty()) out << " at revision " << revision;
        out << "\n";
        return 0;
      }
      if (decision.state == WaitState::kStalled) {
        err << "cml-reconciler wait: stalled, the daemon will not make progress without a "
               "change or a retry:\n";
        for (const ModelProblem& problem : decision.problems) {
          err << "  " << problem.name << ": " << problem.why << "\n";
        }
        return 3;
      }
      const std::string progress = ProgressKey(decision);
      if (progress != last_progress || last_error) {
        std::string line = fmt::format(
            "Waiting for {} of {} model{} to be {}", decision.problems.size(), decision.models,
            decision.models == 1 ? "" : "s", ModeText(options.request.mode));
        if (!decision.problems.empty()) line += ": " + Names(decision.problems);
        if (!decision.note.empty()) line += " (" + decision.note + ")";
        err << line << "\n";
        last_progress = progress;
      }
      last_decision = std::move(decision);
      last_error.reset();
    } else {
      if (!last_error || last_error->message() != response.status().message()) {
        err << "Waiting for the daemon: " << response.status().message() << "\n";
      }
      last_error = response.status();
    }
    const common::TimePoint now = io.clock->Now();
    if (now >= deadline) break;
    io.sleep(std::min<common::Duration>(options.interval, deadline - now));
  }

  err << "cml-reconciler wait: timed out after " << common::FormatDuration(options.timeout);
  if (last_error) {
    err << ": " << last_error->message() << "\n";
  } else {
    err << "\n";
  }
  if (last_decision) {
    if (!last_decision->note.empty()) err << "  " << last_decision->note << "\n";
    for (const ModelProblem& problem : last_decision->problems) {
      err << "  " << problem.name << " is not " << ModeText(options.request.mode) << ": "
          << problem.why << "\n";
    }
  }
  return 1;
}

}  // namespace cmlr::daemon
