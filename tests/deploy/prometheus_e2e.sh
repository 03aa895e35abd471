#!/usr/bin/env bash
# End-to-end check of the dashboard and the alert rules against a real Prometheus server.
#
#   prometheus_e2e.sh DAEMON EMULATOR
#       starts cml-emulator and `cml-reconciler run --desired deploy/examples` against it, and a
#       Prometheus server on loopback scraping the daemon every second with the alert rules
#       loaded; after a few scrapes every alert and dashboard expression is evaluated through the
#       HTTP API (query_prometheus.py): each must be accepted, every dashboard panel query must
#       return data, every rule must evaluate without error. The daemon's /healthz and /readyz
#       (the Kubernetes probes) must answer 2xx.
#       Exits 77 (skipped) when a binary is missing or `run` is not built yet.
#   prometheus_e2e.sh --fixture METRICS_FILE
#       the same against fake_exporter.py serving METRICS_FILE instead of the daemon.
#
# Runs from the repository root. Every wait is bounded; every process started is killed on exit,
# and runs under timeout(1) so that it ends by itself even if this script is SIGKILLed.
set -euo pipefail

cd "$(dirname "$0")/../.."
here=tests/deploy
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }

command -v prometheus >/dev/null || skip "prometheus is not installed (scripts/install-deps installs it)"

mode=daemon
if [[ "${1:-}" == "--fixture" ]]; then
  mode=fixture
  fixture="${2:?usage: $0 --fixture METRICS_FILE}"
else
  daemon="${1:?usage: $0 DAEMON EMULATOR | --fixture METRICS_FILE}"
  emulator="${2:?usage: $0 DAEMON EMULATOR | --fixture METRICS_FILE}"
  [[ -x "$daemon" ]] || skip "$daemon is not built"
  [[ -x "$emulator" ]] || skip "$emulator is not built"
  run_help="$("$daemon" run --help 2>&1 || true)"
  if [[ "$run_help" == *"(coming)"* ]]; then
    skip "cml-reconciler run is not built yet ('run --help' says '(coming)')"
  fi
fi

tmp="$(mktemp -d)"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ $status -ne 0 && $status -ne 77 ]]; then
    for log in "$tmp"/*.log; do
      [[ -s "$log" ]] || continue
      echo "---- $(basename "$log") (last 40 lines)"
      tail -n 40 "$log"
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# Called as `bounded CMD... &`: exec makes $! the pid of timeout itself.
bounded() { exec timeout --kill-after=5 300 "$@"; }

# wait_for_file FILE PID SECONDS: until FILE is non-empty, PID is alive, and the time lasts.
wait_for_file() {
  local file=$1 pid=$2 deadline=$((SECONDS + $3))
  while [[ ! -s "$file" ]]; do
    kill -0 "$pid" 2>/dev/null || die "process $pid exited before writing $file"
    ((SECONDS < deadline)) || die "no $file after $3 s"
    sleep 0.1
  done
}

if [[ $mode == fixture ]]; then
  bounded python3 "$here/fake_exporter.py" --fixture "$fixture" --port-file "$tmp/target.port" \
    --lifetime 300 >"$tmp/exporter.log" 2>&1 &
  pids+=($!)
  wait_for_file "$tmp/target.port" "${pids[-1]}" 20
else
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$tmp/api-key"
  bounded "$emulator" --listen 127.0.0.1:0 --port-file "$tmp/emulator.port" --api-key-file "$tmp/api-key" \
    --build-seconds 1 --deploy-seconds 1 >"$tmp/emulator.log" 2>&1 &
  pids+=($!)
  wait_for_file "$tmp/emulator.port" "${pids[-1]}" 20
  bounded "$daemon" run --desired deploy/examples --cml-url "http://127.0.0.1:$(cat "$tmp/emulator.port")" \
    --api-key-file "$tmp/api-key" --listen 127.0.0.1:0 --port-file "$tmp/target.port" \
    >"$tmp/daemon.log" 2>&1 &
  pids+=($!)
  wait_for_file "$tmp/target.port" "${pids[-1]}" 20
fi
target="127.0.0.1:$(cat "$tmp/target.port")"
echo "target: http://$target/metrics ($mode)"

if [[ $mode == daemon ]]; then
  # The Kubernetes probes' endpoints: alive at once, ready once the desired state has loaded.
  curl -fsS --max-time 5 "http://$target/healthz" >/dev/null || die "GET /healthz failed"
  deadline=$((SECONDS + 30))
  until curl -fsS --max-time 5 "http://$target/readyz" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "GET /readyz did not answer 2xx within 30 s"
    sleep 0.2
  done
  echo "probes: /healthz and /readyz answer 2xx"
fi

# Prometheus cannot report the port it bound, so pick a free one and retry if it gets taken.
started=0
for attempt in 1 2 3; do
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  cat >"$tmp/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/deploy/prometheus/alerts.yaml
scrape_configs:
  - job_name: cml-reconciler
    static_configs:
      - targets: ["$target"]
YAML
  bounded prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data-$attempt" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
  prom_pid=$!
  pids+=("$prom_pid")
  deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)) && kill -0 "$prom_pid" 2>/dev/null; do
    if curl -fsS --max-time 2 "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
      started=1
      break
    fi
    sleep 0.2
  done
  ((started)) && break
  kill "$prom_pid" 2>/dev/null || true
  wait "$prom_pid" 2>/dev/null || true
done
((started)) || die "prometheus did not become ready"
echo "prometheus: http://127.0.0.1:$port"

python3 "$here/query_prometheus.py" --url "http://127.0.0.1:$port" --job cml-reconciler \
  --scrapes 3 --timeout "${CMLR_E2E_TIMEOUT:-90}"
