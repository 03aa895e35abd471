#!/usr/bin/env python3
"""Writes deploy/kubernetes/common/prometheusrule.yaml from deploy/prometheus/alerts.yaml: the
same groups, text and comments included, as the spec of a prometheus-operator PrometheusRule.

    python3 tests/deploy/sync_prometheusrule.py           # rewrite the PrometheusRule
    python3 tests/deploy/sync_prometheusrule.py --check   # exit 1 if it differs (what
                                                          # check_kubernetes.py also verifies)

Run from the repository root.
"""

import argparse
import sys

ALERTS = "deploy/prometheus/alerts.yaml"
RULE = "deploy/kubernetes/common/prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/alerts.yaml by tests/deploy/sync_prometheusrule.py: edit that
# file, then run the script. The prometheus-operator loads these rules when this object matches
# your Prometheus's ruleSelector (kube-prometheus selects every PrometheusRule by default; with
# the Helm chart kube-prometheus-stack, add the label `release: <your release name>`).
# One copy per Prometheus is enough: the rules cover every reconciler it scrapes.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: cml-reconciler
  labels:
    app.kubernetes.io/name: cml-reconciler
    app.kubernetes.io/instance: cml-reconciler
    app.kubernetes.io/component: alerts
spec:
"""


def render():
    with open(ALERTS, encoding="utf-8") as f:
        lines = f.read().splitlines()
    start = lines.index("groups:")
    body = ["  " + line if line else line for line in lines[start:]]
    return HEADER + "\n".join(body) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render()
    if args.check:
        try:
            with open(RULE, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = ""
        if current != text:
            print(f"{RULE} differs from {ALERTS}: run python3 {sys.argv[0]}")
            return 1
        return 0
    with open(RULE, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
