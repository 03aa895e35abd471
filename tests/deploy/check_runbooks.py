#!/usr/bin/env python3
"""Checks that every alert of deploy/prometheus/alerts.yaml has a runbook, and every runbook an
alert.

- each alerting rule carries `severity` (warning or critical), a summary, a description and a
  `runbook_url` ending in docs/runbooks.md#<anchor>, where <anchor> is the lower-cased alert
  name, all under one base URL;
- docs/runbooks.md has a `## <AlertName>` section for every alert (GitHub's anchor of that
  heading is the lower-cased name), each with the three parts "What it means", "How to look"
  and "How to fix", and no section for an alert that does not exist.

Usage: check_runbooks.py   (run from the repository root)
Exit 0 when every check passes, 1 otherwise, listing every failure.
"""

import re
import sys

import yaml

ALERTS = "deploy/prometheus/alerts.yaml"
RUNBOOKS = "docs/runbooks.md"
PARTS = ("What it means", "How to look", "How to fix")
SUFFIX = "/docs/runbooks.md#"


def main():
    fails = []
    with open(ALERTS, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    alerts = {}
    bases = set()
    for group in doc["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert")
            if not name:
                continue
            alerts.setdefault(name, []).append(rule)
            annotations = rule.get("annotations") or {}
            if (rule.get("labels") or {}).get("severity") not in ("warning", "critical"):
                fails.append(f"{name}: severity must be warning or critical")
            for key in ("summary", "description", "runbook_url"):
                if not annotations.get(key):
                    fails.append(f"{name}: no {key} annotation")
            url = annotations.get("runbook_url", "")
            base, sep, anchor = url.partition(SUFFIX)
            if not sep or not base.startswith("https://"):
                fails.append(f"{name}: runbook_url {url!r} must be https://.../docs/runbooks.md#...")
                continue
            bases.add(base)
            if anchor != name.lower():
                fails.append(f"{name}: runbook_url anchor #{anchor} is not #{name.lower()}")
    if len(bases) > 1:
        fails.append(f"runbook_url: more than one base URL: {sorted(bases)}")

    with open(RUNBOOKS, encoding="utf-8") as f:
        text = f.read()
    sections = {}
    for m in re.finditer(r"^## (\S+)\n(.*?)(?=^## |\Z)", text, re.M | re.S):
        sections[m.group(1)] = m.group(2)
    for name in sorted(alerts):
        body = sections.get(name)
        if body is None:
            fails.append(f"{RUNBOOKS}: no section `## {name}`")
            continue
        for part in PARTS:
            if f"**{part}.**" not in body:
                fails.append(f"{RUNBOOKS} ## {name}: no **{part}.** part")
    for name in sorted(sections):
        if name.startswith("CML") and name not in alerts:
            fails.append(f"{RUNBOOKS}: section {name} names no alert of {ALERTS}")

    for f in fails:
        print(f"FAIL {f}")
    print(f"{len(alerts)} alerts, {len(sections)} runbook sections checked; {len(fails)} problem(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
