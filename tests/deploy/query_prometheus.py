#!/usr/bin/env python3
"""Evaluates the dashboard's and the alert rules' PromQL through a running Prometheus's HTTP API.

Waits (bounded) until the scrape job has been scraped a few times, then:
- every alert rule expression and every dashboard annotation query is accepted by /api/v1/query;
- every dashboard panel query (Grafana variables replaced as in check_dashboard.py) is accepted
  and returns data; queries are retried until --timeout, since some series (convergence, actions)
  appear only after the daemon has done some work;
- every rule that Prometheus loaded from the rules file has been evaluated with health "ok".

Usage: query_prometheus.py --url http://127.0.0.1:PORT [--job cml-reconciler] [--timeout 90]
Exit 0 when every check passes, 1 otherwise.
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql_exprs as px  # noqa: E402


def api(url, path, **params):
    full = f"{url}{path}?{urllib.parse.urlencode(params)}" if params else f"{url}{path}"
    try:
        with urllib.request.urlopen(full, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400/422 carry the PromQL error as JSON
        try:
            return json.load(e)
        except ValueError:
            return {"status": "error", "error": f"HTTP {e.code}"}


def query(url, expr):
    return api(url, "/api/v1/query", query=expr)


def wait_for_scrapes(url, job, scrapes, deadline):
    expr = f'count_over_time(up{{job="{job}"}}[5m])'
    up_expr = f'up{{job="{job}"}}'
    while time.monotonic() < deadline:
        r = query(url, expr)
        up = query(url, up_expr)
        got = r.get("data", {}).get("result", [])
        ups = up.get("data", {}).get("result", [])
        if got and float(got[0]["value"][1]) >= scrapes and ups and ups[0]["value"][1] == "1":
            return True
        time.sleep(0.5)
    targets = api(url, "/api/v1/targets").get("data", {}).get("activeTargets", [])
    print(f"FAIL job {job} was not scraped {scrapes} times in time; targets: "
          + json.dumps([{k: t.get(k) for k in ("scrapeUrl", "health", "lastError")} for t in targets]))
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--job", default="cml-reconciler")
    ap.add_argument("--dashboard", default="deploy/grafana/cml-reconciler.json")
    ap.add_argument("--rules", default="deploy/prometheus/alerts.yaml")
    ap.add_argument("--scrapes", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=90)
    args = ap.parse_args()
    deadline = time.monotonic() + args.timeout
    fails = []

    if not wait_for_scrapes(args.url, args.job, args.scrapes, deadline):
        return 1

    rules = px.rule_exprs(px.load_rules(args.rules))
    for label, expr in rules:
        r = query(args.url, expr)
        if r.get("status") != "success":
            fails.append(f"{label}: rejected: {r.get('error')}")

    dashboard = px.load_dashboard(args.dashboard)
    # Annotation queries: accepted (they mark events, so they may well return nothing yet).
    for label, raw in px.dashboard_annotations(dashboard):
        try:
            r = query(args.url, px.substitute(raw))
        except ValueError as e:
            fails.append(f"{label}: {e}")
            continue
        if r.get("status") != "success":
            fails.append(f"{label}: rejected: {r.get('error')}")

    pending = {}
    queries = px.dashboard_queries(dashboard)
    if len({label for label, _ in queries}) != len(queries):
        fails.append("dashboard: two panel queries share an id and refId")
    for label, raw in queries:
        try:
            pending[label] = px.substitute(raw)
        except ValueError as e:
            fails.append(f"{label}: {e}")
    results = {}
    while pending and time.monotonic() < deadline:
        for label, expr in list(pending.items()):
            r = query(args.url, expr)
            if r.get("status") != "success":
                fails.append(f"{label}: rejected: {r.get('error')} in {expr}")
                del pending[label]
            elif r["data"]["result"]:
                results[label] = r["data"]["result"]
                del pending[label]
        if pending:
            time.sleep(1)
    for label, expr in pending.items():
        fails.append(f"{label}: returned no data before the deadline: {expr}")
    nan = sorted(l for l, res in results.items()
                 if all(str(s.get("value", [0, ""])[1]).lower() == "nan" for s in res))
    if nan:
        print("note: only NaN so far (no events in the window) for: " + "; ".join(nan))

    # Rules loaded by Prometheus itself: evaluated, and without evaluation errors.
    expected = {name.split(" ", 1)[1] for name, _ in rules}
    loaded = {}
    rules_deadline = max(deadline, time.monotonic() + 15)
    while time.monotonic() < rules_deadline:
        groups = api(args.url, "/api/v1/rules").get("data", {}).get("groups", [])
        loaded = {r["name"]: r for g in groups for r in g.get("rules", [])}
        if set(loaded) >= expected and all(
                not loaded[n].get("lastEvaluation", "").startswith("0001") for n in expected):
            break
        time.sleep(0.5)
    for name in sorted(expected):
        rule = loaded.get(name)
        if rule is None:
            fails.append(f"rule {name}: not loaded by Prometheus")
        elif rule.get("health") != "ok":
            fails.append(f"rule {name}: health {rule.get('health')}: {rule.get('lastError')}")

    for f in fails:
        print(f"FAIL {f}")
    print(f"{len(results)} of {len(queries)} dashboard queries returned data, {len(rules)} rule expressions "
          f"accepted and evaluated; {len(fails)} problem(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
