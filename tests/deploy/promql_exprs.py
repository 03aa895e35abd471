"""Shared helpers of the deploy/ checks: the metric contract of design.md section 8, the PromQL
expressions of the Grafana dashboard and of the alert rules, and Grafana variable substitution.

Used by check_dashboard.py (static checks) and query_prometheus.py (end-to-end evaluation).
"""

import json
import os
import re
import subprocess
import tempfile

import yaml

# design.md section 8 (contract): metric name -> type. check_contract() compares this copy with
# the table in design.md when that file is present, so a contract change cannot go unnoticed.
CONTRACT_METRICS = {
    "cml_reconciler_build_info": "gauge",
    "cml_reconciler_reconcile_total": "counter",
    "cml_reconciler_reconcile_duration_seconds": "histogram",
    "cml_reconciler_model_info": "gauge",
    "cml_reconciler_model_condition": "gauge",
    "cml_reconciler_model_replicas": "gauge",
    "cml_reconciler_actions_total": "counter",
    "cml_reconciler_drift_total": "counter",
    "cml_reconciler_convergence_seconds": "histogram",
    "cml_reconciler_last_sync_timestamp_seconds": "gauge",
    "cml_reconciler_api_requests_total": "counter",
    "cml_reconciler_api_request_duration_seconds": "histogram",
    "cml_reconciler_api_throttled_seconds_total": "counter",
    "cml_reconciler_desired_state_loads_total": "counter",
    "cml_reconciler_desired_state_models": "gauge",
    "cml_reconciler_desired_state_last_success_timestamp_seconds": "gauge",
    "cml_reconciler_workqueue_depth": "gauge",
    "cml_reconciler_workqueue_retries_total": "counter",
    "cml_reconciler_workqueue_queue_duration_seconds": "histogram",
    "cml_reconciler_desired_state_info": "gauge",
    "cml_reconciler_desired_state_last_load_success": "gauge",
    "cml_reconciler_verifications_total": "counter",
    "cml_reconciler_rollbacks_total": "counter",
    "cml_reconciler_notifications_total": "counter",
    "cml_reconciler_api_retries_total": "counter",
    "cml_reconciler_workqueue_adds_total": "counter",
    "cml_reconciler_workqueue_work_duration_seconds": "histogram",
    "cml_reconciler_workqueue_unfinished_work_seconds": "gauge",
    "cml_reconciler_workqueue_longest_running_processor_seconds": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_start_time_seconds": "gauge",
}

# Families the daemon exports (issue #18) that design.md section 8 does not list yet. While a
# name is here and missing from design.md, check_contract() notes it instead of failing; once
# design.md lists it, remove it from here.
AWAITING_DESIGN = {
    "cml_reconciler_api_retries_total",
    "cml_reconciler_workqueue_adds_total",
    "cml_reconciler_workqueue_work_duration_seconds",
    "cml_reconciler_workqueue_unfinished_work_seconds",
    "cml_reconciler_workqueue_longest_running_processor_seconds",
}

# Metrics that alert rules may use besides the contract: git-sync's own counter (its sidecar is
# scraped with --http-metrics), for CMLReconcilerDesiredStateStale. Never in the dashboard.
RULE_ONLY_METRICS = {"git_sync_count_total"}

# Series that Prometheus itself adds to every target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

PROMQL_FUNCTIONS = set("""
abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month
deg delta deriv exp floor histogram_quantile holt_winters hour idelta increase irate label_join
label_replace last_over_time ln log10 log2 max_over_time min_over_time minute month pi
predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh
sort sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp
vector year
sum min max avg group stddev stdvar count count_values bottomk topk quantile
""".split())
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                   "group_right", "offset", "bool", "atan2", "inf", "nan", "start", "end"}

# What the checks put in place of Grafana's variables. `$model` becomes the "All" value.
GRAFANA_VALUES = {
    "namespace": ".*",
    "job": ".*",
    "instance": ".*",
    "model": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

_VAR_RE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")


def allowed_series():
    """Every series name a query may select: the contract plus histogram and scrape series."""
    names = set(SCRAPE_SERIES)
    for name, kind in CONTRACT_METRICS.items():
        if kind == "histogram":
            names.update({name + "_bucket", name + "_sum", name + "_count"})
        else:
            names.add(name)
    return names


def check_contract(design_path, notes=None):
    """Returns a list of differences between CONTRACT_METRICS and design.md section 8. Names of
    AWAITING_DESIGN missing from design.md go to `notes` (a list) instead."""
    with open(design_path, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## 8.", 1)[1].split("\n## ", 1)[0]
    design = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        kind = cells[1].split()[0] if cells[1] else ""
        for name in re.findall(r"`([a-z_:]+)`", cells[0]):
            design[name] = kind if kind in ("gauge", "counter", "histogram") else None
    problems = []
    for name in sorted(set(design) | set(CONTRACT_METRICS)):
        if name not in design:
            if name in AWAITING_DESIGN and notes is not None:
                notes.append(f"{name}: exported, awaiting its row in design.md section 8")
                continue
            problems.append(f"{name}: in the tests' copy of the contract, not in design.md")
        elif name not in CONTRACT_METRICS:
            problems.append(f"{name}: in design.md section 8, not in the tests' copy")
        elif design[name] is not None and design[name] != CONTRACT_METRICS[name]:
            problems.append(f"{name}: design says {design[name]}, tests say {CONTRACT_METRICS[name]}")
    return problems


def substitute(expr, values=None, known=None):
    """Replaces Grafana variables in expr. Raises ValueError for a variable that is neither in
    values nor in known (a typo such as $modle)."""
    values = dict(GRAFANA_VALUES if values is None else values)

    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in values:
            return values[name]
        if known is not None and name in known:
            raise ValueError(f"no test value for variable ${name}")
        raise ValueError(f"unknown variable ${name}")

    return _VAR_RE.sub(repl, expr)


def iter_panels(panels):
    for p in panels:
        yield p
        yield from iter_panels(p.get("panels", []))


def load_dashboard(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dashboard_queries(dash):
    """[(label, raw_expr)] of every panel target, label = 'panel ID "TITLE" ref A' (unique)."""
    out = []
    for p in iter_panels(dash.get("panels", [])):
        for t in p.get("targets", []) or []:
            if "expr" in t:
                out.append((f'panel {p.get("id")} "{p.get("title")}" ref {t.get("refId")}', t["expr"]))
    return out


def dashboard_annotations(dash):
    """[(label, raw_expr)] of every Prometheus annotation query of the dashboard."""
    out = []
    for a in dash.get("annotations", {}).get("list", []):
        expr = a.get("expr") or (a.get("target") or {}).get("expr")
        if expr:
            out.append((f'annotation "{a.get("name")}"', expr))
    return out


def load_rules(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def rule_exprs(doc):
    """[(label, expr)] of every alerting and recording rule."""
    out = []
    for g in doc.get("groups", []):
        for r in g.get("rules", []):
            name = r.get("alert") or r.get("record")
            out.append((f'rule {name}', r["expr"]))
    return out


def _strip(expr):
    """expr without strings, label matchers, ranges and grouping label lists."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"#[^\n]*", "", s)
    s = re.sub(r"\{[^}]*\}", "{}", s)
    s = re.sub(r"\[[^\]]*\]", "[]", s)
    s = re.sub(r"\b(on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1()", s)
    # Aggregation clauses go entirely, so that `sum by (le) (x)` reads as the call `sum (x)`.
    return re.sub(r"\b(by|without)\s*\([^)]*\)", " ", s)


def metric_names(expr):
    """(metric names selected by expr, problems): unknown functions are problems."""
    s = _strip(expr)
    names, problems = set(), []
    for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", s):
        ident, call = m.group(1), m.group(2)
        if re.fullmatch(r"\d", ident[:1] or ""):
            continue
        if ident in PROMQL_KEYWORDS:
            continue
        if call:
            if ident not in PROMQL_FUNCTIONS:
                problems.append(f"unknown function {ident}()")
            continue
        if re.fullmatch(r"[0-9.]+(ms|s|m|h|d|w|y)?", ident):
            continue
        names.add(ident)
    if "__name__" in expr:
        problems.append("selects by __name__ (use the metric name)")
    return names, problems


def promtool_check(exprs):
    """Runs every expression through `promtool check rules` as recording rules of a temporary
    file. Returns promtool's (returncode, output)."""
    rules = [{"record": f"cmlr_check:expr_{i}", "expr": e} for i, (_, e) in enumerate(exprs)]
    doc = {"groups": [{"name": "expressions-under-test", "rules": rules}]}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "exprs.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(doc, f)
        proc = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr
