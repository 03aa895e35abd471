#!/usr/bin/env python3
"""Static checks of deploy/grafana/cml-reconciler.json and deploy/prometheus/alerts.yaml.

- the dashboard is a Grafana 10 dashboard JSON that imports anywhere: no fixed id, a uid, a
  Prometheus data-source variable used by every panel and target, multi-value `namespace`,
  `job`, `instance` and `model` variables, each narrowed by the ones before it;
- every selector of a reconciler metric (cml_reconciler_*, process_*) in a panel or annotation
  query filters on the namespace, job and instance variables, so that two reconcilers are never
  summed together, and per-model ones on the model variable too;
- panels have unique ids, sit on the 24-column grid without overlapping, are of core types, and
  state their unit, which matches what each query returns (seconds for duration quantiles,
  bytes, ratios, per-second rates, timestamps);
- annotations mark CML writes, desired-state loads and rollbacks; a dashboard link leads to the status
  page (GET / of the instance);
- every panel and annotation query, with Grafana's variables replaced by concrete values, is
  valid PromQL (`promtool check rules` on a generated rules file) and selects only metrics of
  design.md section 8 (plus the process_* ones); the same holds for every alert expression,
  which may also use git-sync's own counter;
- the dashboard covers every topic issues #8 and #18 ask for (each required metric appears);
- the tests' copy of the metric contract equals design.md section 8 (when design.md is present).

Usage: check_dashboard.py [--design PATH]   (run from the repository root)
Exit 0 when every check passes, 1 otherwise, listing every failure.
"""

import argparse
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql_exprs as px  # noqa: E402

DASHBOARD = "deploy/grafana/cml-reconciler.json"
ALERTS = "deploy/prometheus/alerts.yaml"
CORE_PANEL_TYPES = {"row", "stat", "timeseries", "table", "bargauge", "gauge", "piechart",
                    "state-timeline", "status-history", "text", "barchart", "heatmap"}
DS_REFS = {"${datasource}", "$datasource"}
# Issue #8: what the dashboard must show, as the metrics that show it.
REQUIRED_METRICS = {
    "models by sync and health state": "cml_reconciler_model_info",
    "replicas live/desired": "cml_reconciler_model_replicas",
    "last sync": "cml_reconciler_last_sync_timestamp_seconds",
    "reconcile rate and errors": "cml_reconciler_reconcile_total",
    "convergence time": "cml_reconciler_convergence_seconds_bucket",
    "API request rate by operation and code": "cml_reconciler_api_requests_total",
    "API latency": "cml_reconciler_api_request_duration_seconds_bucket",
    "throttled time": "cml_reconciler_api_throttled_seconds_total",
    "work queue depth": "cml_reconciler_workqueue_depth",
    "work queue retries": "cml_reconciler_workqueue_retries_total",
    "desired-state load errors": "cml_reconciler_desired_state_loads_total",
    "desired-state last success": "cml_reconciler_desired_state_last_success_timestamp_seconds",
    "process memory": "process_resident_memory_bytes",
    "process CPU": "process_cpu_seconds_total",
    # Issue #18.
    "latest desired-state load result": "cml_reconciler_desired_state_last_load_success",
    "work queue adds": "cml_reconciler_workqueue_adds_total",
    "work duration": "cml_reconciler_workqueue_work_duration_seconds_bucket",
    "unfinished work": "cml_reconciler_workqueue_unfinished_work_seconds",
    "longest running pass": "cml_reconciler_workqueue_longest_running_processor_seconds",
    "verifications": "cml_reconciler_verifications_total",
    "rollbacks": "cml_reconciler_rollbacks_total",
    "notifications": "cml_reconciler_notifications_total",
}
# Issue #18: what the annotations must mark.
REQUIRED_ANNOTATION_METRICS = {
    "CML writes": "cml_reconciler_actions_total",
    "desired-state loads": "cml_reconciler_desired_state_loads_total",
    "rollbacks": "cml_reconciler_rollbacks_total",
}
# The variables every reconciler metric is filtered on, in the order each narrows the next.
SCOPE_VARIABLES = ["namespace", "job", "instance"]
SCOPED_METRIC_RE = re.compile(r"\b((?:cml_reconciler|process)_[a-z_]+)\b(\{[^}]*\})?")

# design.md section 8: the metrics labelled by model.
PER_MODEL_METRICS = [
    "cml_reconciler_reconcile_total", "cml_reconciler_model_info",
    "cml_reconciler_model_condition", "cml_reconciler_model_replicas",
    "cml_reconciler_actions_total", "cml_reconciler_drift_total",
    "cml_reconciler_last_sync_timestamp_seconds", "cml_reconciler_verifications_total",
    "cml_reconciler_rollbacks_total",
]
DATE_UNITS = {"dateTimeFromNow", "dateTimeAsIso", "dateTimeAsLocal"}
RATE_UNITS = {"ops", "reqps", "rps", "wps", "cps"}


def check_structure(dash, errors):
    if dash.get("id") is not None:
        errors.append("dashboard: `id` must be null so that import creates a new dashboard")
    if not dash.get("uid") or not dash.get("title"):
        errors.append("dashboard: needs a uid and a title")
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        errors.append("dashboard: schemaVersion must be >= 36 (Grafana 9.x/10 model)")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("templating: needs a `datasource` variable of type datasource/prometheus")
    order = [v.get("name") for v in dash.get("templating", {}).get("list", [])]
    expected = ["datasource", *SCOPE_VARIABLES, "model"]
    if [n for n in order if n in expected] != expected:
        errors.append(f"templating: variables must come in the order {expected}, found {order}")
    for i, name in enumerate(SCOPE_VARIABLES + ["model"]):
        var = variables.get(name)
        if not var or var.get("type") != "query":
            errors.append(f"templating: needs a `{name}` variable of type query")
            continue
        if (var.get("datasource") or {}).get("uid") not in DS_REFS:
            errors.append(f"templating: `{name}` must query the ${{datasource}} data source")
        query = var.get("query")
        query = (query.get("query") if isinstance(query, dict) else query) or ""
        source = "cml_reconciler_model_info" if name == "model" else "cml_reconciler_build_info"
        if not re.fullmatch(rf"label_values\({source}(\{{[^}}]*\}})?, {name}\)", query):
            errors.append(f"templating: `{name}` must be label_values({source}{{...}}, {name})")
        for before in SCOPE_VARIABLES[:i]:
            if f'{before}=~"${before}"' not in query:
                errors.append(f"templating: `{name}` must be narrowed by {before}=~\"${before}\"")
        if not (var.get("multi") and var.get("includeAll") and var.get("allValue") == ".*"):
            errors.append(f"templating: `{name}` must be multi-value with All = .* (which also "
                          "matches a missing label, e.g. no namespace outside Kubernetes)")
    for name, v in variables.items():
        if (v.get("datasource") or {}).get("uid") not in (None, *DS_REFS):
            errors.append(f"templating: variable {name} names a fixed data source")

    ids, cells = set(), {}
    panels = list(px.iter_panels(dash.get("panels", [])))
    if not panels:
        errors.append("dashboard: no panels")
    for p in panels:
        where = f'panel {p.get("id")} "{p.get("title")}"'
        if p.get("id") in ids or not isinstance(p.get("id"), int):
            errors.append(f"{where}: id missing or not unique")
        ids.add(p.get("id"))
        if p.get("type") not in CORE_PANEL_TYPES:
            errors.append(f"{where}: type {p.get('type')!r} is not a core Grafana 10 panel")
        if not p.get("title"):
            errors.append(f"{where}: no title")
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["w"] < 1 or g["h"] < 1 \
                or g["x"] < 0 or g["x"] + g["w"] > 24:
            errors.append(f"{where}: gridPos {g} is not on the 24-column grid")
        else:
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        errors.append(f"{where}: overlaps panel {cells[(x, y)]}")
                        break
                    cells[(x, y)] = p.get("id")
                else:
                    continue
                break
        if p.get("type") == "row":
            continue
        if p.get("type") != "text" and "unit" not in ((p.get("fieldConfig") or {}).get("defaults") or {}):
            errors.append(f"{where}: no unit (fieldConfig.defaults.unit)")
        if (p.get("datasource") or {}).get("uid") not in DS_REFS:
            errors.append(f"{where}: data source must be ${{datasource}}")
        targets = p.get("targets") or []
        if p.get("type") != "text" and not targets:
            errors.append(f"{where}: no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or None in refs:
            errors.append(f"{where}: refIds missing or repeated")
        for t in targets:
            if (t.get("datasource") or {}).get("uid") not in DS_REFS:
                errors.append(f"{where} ref {t.get('refId')}: data source must be ${{datasource}}")
            if not (t.get("expr") or "").strip():
                errors.append(f"{where} ref {t.get('refId')}: empty expr")


def expected_units(expr):
    """The units a query's result can honestly be shown in, or None for no opinion."""
    if "histogram_quantile" in expr and "_seconds_bucket" in expr:
        return {"s"}
    if "_bytes" in expr:
        return {"bytes"}
    if "timestamp_seconds" in expr and "* 1000" in expr:
        return DATE_UNITS
    if "time() -" in expr and "start_time_seconds" in expr:
        return {"s", "dtdurations"}
    if re.search(r"rate\([^/]*\)\)?\s*(or [^/]*)?\)?\s*/\s*\(?\s*sum", expr):
        return {"percentunit"}  # a ratio of two rates
    if re.search(r"\brate\(\w+_seconds_total\b", expr):
        return {"percentunit"}  # seconds per second
    if re.search(r"\brate\(\w+_total\b", expr):
        return RATE_UNITS
    if re.search(r"\bincrease\(", expr):
        return {"short", "none"}
    if re.search(r"\b\w+_seconds\b(?!_)", expr):
        return {"s"}
    return None


def target_unit(panel, target):
    """The unit Grafana shows `target` in: the panel default, or an override that matches the
    target by refId or its literal legend."""
    fc = panel.get("fieldConfig") or {}
    unit = (fc.get("defaults") or {}).get("unit")
    for o in fc.get("overrides") or []:
        m = o.get("matcher") or {}
        hit = False
        if m.get("id") == "byFrameRefID":
            hit = m.get("options") == target.get("refId")
        elif m.get("id") == "byRegexp":
            pattern = str(m.get("options", "")).strip("/")
            hit = bool(re.fullmatch(pattern, target.get("legendFormat") or ""))
        if hit:
            for prop in o.get("properties") or []:
                if prop.get("id") == "unit":
                    unit = prop.get("value")
    return unit


def check_units(dash, errors):
    for p in px.iter_panels(dash.get("panels", [])):
        if p.get("type") in ("row", "text", "table"):
            continue  # tables set units per column (checked by name below)
        for t in p.get("targets") or []:
            want = expected_units(t.get("expr", ""))
            got = target_unit(p, t)
            if want is not None and got not in want:
                errors.append(f'panel {p.get("id")} "{p.get("title")}" ref {t.get("refId")}: unit '
                              f"{got!r}, but the query returns {' or '.join(sorted(want))}")


def check_scope(label, expr, errors):
    """Every reconciler metric selector filters on the namespace, job and instance variables."""
    for m in SCOPED_METRIC_RE.finditer(expr):
        matchers = m.group(2) or ""
        for var in SCOPE_VARIABLES:
            if f'{var}=~"${var}"' not in matchers:
                errors.append(f"{label}: {m.group(1)} must filter on {var}=~\"${var}\"")


def check_exprs(exprs, errors, extra_allowed=frozenset()):
    allowed = px.allowed_series() | set(extra_allowed)
    used = set()
    concrete = []
    for label, raw in exprs:
        try:
            expr = px.substitute(raw)
        except ValueError as e:
            errors.append(f"{label}: {e}")
            continue
        concrete.append((label, expr))
        names, problems = px.metric_names(expr)
        errors.extend(f"{label}: {p}" for p in problems)
        if not names:
            errors.append(f"{label}: selects no metric")
        for n in sorted(names - allowed):
            errors.append(f"{label}: metric {n} is not in design.md section 8")
        used |= names
    rc, out = px.promtool_check(concrete)
    if rc != 0:
        for label, expr in concrete:
            one_rc, one_out = px.promtool_check([(label, expr)])
            if one_rc != 0:
                errors.append(f"{label}: promtool rejects {expr!r}: {one_out.strip()}")
        if not any("promtool rejects" in e for e in errors):
            errors.append(f"promtool check rules failed: {out.strip()}")
    return used


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--design", default=os.path.join("..", "shared", "design.md"))
    args = ap.parse_args()
    errors = []

    if os.path.exists(args.design):
        notes = []
        errors.extend(f"contract: {p}" for p in px.check_contract(args.design, notes))
        for n in notes:
            print(f"note: {n}")
    else:
        print(f"note: {args.design} not found; the contract copy is not compared with it")

    dash = px.load_dashboard(DASHBOARD)
    check_structure(dash, errors)
    check_units(dash, errors)
    queries = px.dashboard_queries(dash)
    annotations = px.dashboard_annotations(dash)
    used = check_exprs(queries, errors)
    annotated = check_exprs(annotations, errors)
    for label, e in queries + annotations:
        check_scope(label, e, errors)
    for topic, metric in REQUIRED_METRICS.items():
        if metric not in used:
            errors.append(f"dashboard: nothing shows {topic} ({metric})")
    for topic, metric in REQUIRED_ANNOTATION_METRICS.items():
        if metric not in annotated:
            errors.append(f"dashboard: no annotation marks {topic} ({metric})")
    links = [l for l in dash.get("links", []) if l.get("type") == "link"]
    if not any(re.fullmatch(r"https?://\$\{?instance\}?/", l.get("url", "")) for l in links):
        errors.append("dashboard: needs a link to the status page, http://${instance}/")
    # Every selector of a metric with a `model` label honours the Model variable.
    model_filtered = []
    for label, e in queries + annotations:
        stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', e)
        for m in re.finditer(r"\b(%s)(_bucket)?\b(\{[^}]*\})?" % "|".join(PER_MODEL_METRICS), e):
            if 'model=~"$model"' not in (m.group(3) or ""):
                errors.append(f"{label}: {m.group(0)} must filter on model=~\"$model\"")
        if any(name in stripped for name in PER_MODEL_METRICS):
            model_filtered.append(label)

    rules = px.rule_exprs(px.load_rules(ALERTS))
    rule_errors = []
    check_exprs(rules, rule_errors, px.RULE_ONLY_METRICS)
    errors.extend(rule_errors)

    for e in errors:
        print(f"FAIL {e}")
    print(f"{len(queries)} dashboard queries ({len(model_filtered)} per-model), "
          f"{len(annotations)} annotations, {len(rules)} rule expressions checked; "
          f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
