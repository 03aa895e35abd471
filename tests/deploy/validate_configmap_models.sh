#!/usr/bin/env bash
# The desired state that the ConfigMap variant ships (deploy/kubernetes/configmap/models/) must
# pass `cml-reconciler validate`. Exits 77 (skipped) until `validate` is built.
#   validate_configmap_models.sh DAEMON
set -euo pipefail
cd "$(dirname "$0")/../.."
daemon="${1:?usage: $0 DAEMON}"
[[ -x "$daemon" ]] || { echo "SKIP: $daemon is not built"; exit 77; }
validate_help="$("$daemon" validate --help 2>&1 || true)"
if [[ "$validate_help" == *"(coming)"* ]]; then
  echo "SKIP: cml-reconciler validate is not built yet"
  exit 77
fi
shopt -s nullglob
files=(deploy/kubernetes/configmap/models/*.yaml)
((${#files[@]} > 0)) || { echo "FAIL: no desired-state files under deploy/kubernetes/configmap/models"; exit 1; }
"$daemon" validate "${files[@]}"
