#!/usr/bin/env python3
"""P1-P5 and P7 of design section 10: the real cml-reconciler against the real cml-emulator.

Run by bench/run (through bench/daemon.bench) from the project root. Prints one table row per
figure on stdout, in the format every bench/*.bench shares:

    printf '%-4s %-60s %-22s %-22s %s\\n' figure description measured target holds

and nothing else there; progress and per-figure details go to stderr.

    python3 bench/daemon_bench.py            # P1 P2 P3 P4 P5 P7
    python3 bench/daemon_bench.py P3 P5      # a subset, in the order given

Environment:
    CMLR_RELEASE_DIR          build tree holding daemon/cml-reconciler and emulator/cml-emulator
                              (default build/release, relative to the project root)
    CMLR_BENCH_IDLE_SECONDS   P5's idle CPU window (default 60; shorten only for trial runs)

Everything runs on loopback with port 0 and --port-file, in a temporary directory removed
afterwards. Every child process is killed when its figure ends, however it ends, and every
figure runs under a time limit so that a hang cannot stall bench/run.

Clocks: durations measured here use time.monotonic(). P1 alone compares a time taken here with
the emulator's record of a write, so it uses the wall clock (time.time()) on both sides; both
processes run on this machine, so they read the same clock.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import http.client
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable, Iterator

# What the emulator's default fixture (emulator/fixtures/default.yaml) holds, and what the models
# of P1, P2, P3 and P5 are made of.
PROJECT = "abcd-1234-efgh-5678"
REGISTERED_MODEL = "FraudCLF-alice"
REGISTERED_VERSION = 3
RUNTIME = ("docker.repository.cloudera.com/cloudera/cdsw/"
           "ml-runtime-workbench-python3.9-standard:2024.02.1-b4")

ROW_FORMAT = "%-4s %-60s %-22s %-22s %s"


class BenchError(Exception):
    """A figure could not be measured; the message is short enough for the table."""


class FigureTimeout(BenchError):
    """Raised by the SIGALRM handler when a figure overruns its time limit."""


def log(message: str) -> None:
    """Progress and details: stderr, so that stdout stays just the table rows."""
    print(message, file=sys.stderr, flush=True)


def row(figure: str, description: str, measured: str, target: str, holds: bool) -> None:
    print(ROW_FORMAT % (figure, description, measured, target, "yes" if holds else "NO"),
          flush=True)


# ---------------------------------------------------------------------------------------------
# Child processes


class Processes:
    """The child processes of one figure. stop_all() is safe to call more than once."""

    def __init__(self, workdir: Path, log_dir: Path) -> None:
        self.workdir = workdir
        self.log_dir = log_dir
        self._children: list[tuple[str, subprocess.Popen, Path]] = []

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as out:
            child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, cwd=self.workdir)
        self._children.append((name, child, log_path))
        return child

    def check_alive(self, child: subprocess.Popen) -> None:
        """Raises BenchError (with the end of its log on stderr) if the child has exited."""
        if child.poll() is None:
            return
        for name, known, log_path in self._children:
            if known is child:
                log(f"  {name} exited with status {child.returncode}; end of {log_path.name}:")
                log(tail(log_path))
                raise BenchError(f"{name} exited ({child.returncode})")
        raise BenchError(f"a child exited ({child.returncode})")

    def log_tails(self) -> None:
        for name, _, log_path in self._children:
            text = tail(log_path)
            if text:
                log(f"  end of the {name} log:\n{text}")

    def stop_all(self) -> None:
        """SIGTERM, then SIGKILL for whatever has not exited 3 s later; reaps them all."""
        for _, child, _ in self._children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.terminate()
        deadline = time.monotonic() + 3
        for _, child, _ in self._children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                child.wait()
        self._children.clear()


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


def read_port_file(path: Path, child: subprocess.Popen, procs: Processes, timeout: float,
                   interval: float) -> int:
    """Waits for the port a child writes once it listens. Both binaries write the file
    atomically (write a temporary file, rename), so a non-empty file is complete."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            text = path.read_text().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        procs.check_alive(child)
        if time.monotonic() > deadline:
            raise BenchError(f"no port file in {timeout:g} s")
        time.sleep(interval)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name (field 2) is in parentheses and may hold spaces; the fields after it
        # start with the state (field 3), so utime (14) and stime (15) are at 11 and 12.
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, key: str) -> int:
    """A "Vm..." line of /proc/<pid>/status (VmRSS: now, VmHWM: peak), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError(f"no {key} in /proc/{pid}/status")


# ---------------------------------------------------------------------------------------------
# HTTP


class Http:
    """A keep-alive HTTP/1.1 client of one loopback port; reconnects when the server closed the
    connection. Not for anything but loopback: no TLS, no redirects."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        # One retry on a fresh connection: a kept-alive connection may have been closed by the
        # server since the last request (the request never reached it, so a retry is safe for
        # these GETs and for the one idempotent-enough POST /api/v1/reconcile).
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                        timeout=self.timeout)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self._conn.request(method, path, body=body, headers=headers)
                response = self._conn.getresponse()
                body = response.read()
                if response.will_close:
                    self.close()
                return response.status, body
            except (ConnectionError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path: str) -> dict:
        status, body = self.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path}: HTTP {status}")
        return json.loads(body)


class Emulator:
    def __init__(self, procs: Processes, binary: Path, key_file: Path, build_seconds: float,
                 deploy_seconds: float, extra: list[str] = ()) -> None:
        port_file = procs.workdir / "emulator.port"
        self.process = procs.spawn("emulator", [
            str(binary), "--listen", "127.0.0.1:0", "--port-file", str(port_file),
            "--api-key-file", str(key_file), "--build-seconds", f"{build_seconds:g}",
            "--deploy-seconds", f"{deploy_seconds:g}", "--log-level", "warn", *extra])
        self.port = read_port_file(port_file, self.process, procs, timeout=10, interval=0.005)
        self.http = Http(self.port)
        self.url = f"http://127.0.0.1:{self.port}"

    def calls(self) -> dict:
        """{"reads", "writes", "by_operation", "writes_log": [{operation, at, path, status}]}"""
        return self.http.get_json("/_emulator/calls")

    def call_count(self) -> int:
        calls = self.calls()
        return calls["reads"] + calls["writes"]

    def wait_quiet(self, quiet_seconds: float, timeout: float) -> dict:
        """Waits until the call counters have not moved for quiet_seconds; returns the calls."""
        deadline = time.monotonic() + timeout
        calls = self.calls()
        last = (calls["reads"], calls["writes"])
        since = time.monotonic()
        while time.monotonic() - since < quiet_seconds:
            if time.monotonic() > deadline:
                raise BenchError(f"CML calls never quiet for {quiet_seconds:g} s")
            time.sleep(0.05)
            calls = self.calls()
            now = (calls["reads"], calls["writes"])
            if now != last:
                last, since = now, time.monotonic()
        return calls


class Daemon:
    """cml-reconciler run against an emulator. `started` is time.monotonic() just before the
    process was spawned; `port` is None until wait_port() (so that callers may time it)."""

    def __init__(self, procs: Processes, binary: Path, emulator: Emulator, key_file: Path,
                 desired: Path, extra: list[str], log_level: str) -> None:
        self.procs = procs
        self.port_file = procs.workdir / "daemon.port"
        argv = [str(binary), "run", "--desired", str(desired), "--cml-url", emulator.url,
                "--api-key-file", str(key_file), "--listen", "127.0.0.1:0",
                "--port-file", str(self.port_file), "--log-level", log_level, *extra]
        self.started = time.monotonic()
        self.process = procs.spawn("daemon", argv)
        self.port: int | None = None
        self.http: Http | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_port(self, interval: float = 0.001) -> int:
        self.port = read_port_file(self.port_file, self.process, self.procs, timeout=10,
                                   interval=interval)
        self.http = Http(self.port)
        return self.port

    def synced_healthy(self) -> tuple[int, int]:
        """(models Synced and Healthy, models) from GET /api/v1/status."""
        self.procs.check_alive(self.process)
        models = self.http.get_json("/api/v1/status")["models"]
        good = sum(1 for m in models if m.get("sync") == "Synced" and m.get("health") == "Healthy")
        return good, len(models)

    def wait_synced(self, count: int, timeout: float, interval: float) -> float:
        """Polls the status every `interval` s until `count` models are Synced and Healthy;
        returns time.monotonic() of the poll that saw it."""
        deadline = time.monotonic() + timeout
        while True:
            good, _ = self.synced_healthy()
            now = time.monotonic()
            if good >= count:
                return now
            if now > deadline:
                raise BenchError(f"{good}/{count} synced after {timeout:g} s")
            time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Desired state


def model_doc(name: str, project: str = PROJECT, cpu: float = 1,
              environment: dict[str, str] | None = None) -> str:
    """One ModelDeployment document serving FraudCLF-alice version 3."""
    lines = [
        "---",
        "apiVersion: cml-reconciler/v1",
        "kind: ModelDeployment",
        f"metadata: {{name: {name}}}",
        "spec:",
        f'  projectId: "{project}"',
        f"  registeredModel: {{name: {REGISTERED_MODEL}, version: {REGISTERED_VERSION}}}",
        f"  runtime: {RUNTIME}",
        f"  resources: {{cpu: {cpu:g}, memory: 2Gi, replicas: 1}}",
    ]
    if environment:
        lines.append("  environment:")
        lines += [f'    {key}: "{value}"' for key, value in environment.items()]
    return "\n".join(lines) + "\n"


def p4_fixture(projects: list[str]) -> dict:
    """An emulator fixture (JSON is YAML) with the given projects, FraudCLF-alice version 3 and
    the one runtime the models use: the default fixture has a single project."""
    return {
        "users": [{"username": "alice", "name": "Alice Example", "email": "alice@example.com"}],
        "projects": [{"public_identifier": p, "name": f"bench-{i}", "owner": "alice"}
                     for i, p in enumerate(projects)],
        "runtimes": [{"image_identifier": RUNTIME, "editor": "Workbench", "kernel": "Python 3.9",
                      "edition": "Standard", "full_version": "2024.02.1-b4",
                      "status": "ENABLED"}],
        "registered_models": [{
            "model_id": "f1tr-4tim-5zvf-kw5d", "name": REGISTERED_MODEL, "owner": "alice",
            "project": projects[0], "created_at": "2026-01-10T09:00:00Z",
            "versions": [{"model_version_id": "q7vn-2cb8-j5rt-6ys0",
                          "number": REGISTERED_VERSION, "experiment_id": "3bmr-ju29-om6c-5aeo",
                          "run_id": "3c4d5e6f7a8b49c0d1e2f3a4b5c6d7e8",
                          "created_at": "2026-01-14T09:00:00Z"}],
        }],
    }


def parse_emulator_time(text: str) -> float:
    """The emulator's write-log "at" ("2026-11-27T08:01:02.123Z": UTC, milliseconds, truncated
    rather than rounded) as Unix seconds."""
    stamp = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p % of the values at or below
    it (p99 of 100 values is the 99th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# ---------------------------------------------------------------------------------------------
# Figures

P1_EDITS = 100
P1_EDIT_PERIOD = 1.0  # seconds from one edit to the next


@dataclasses.dataclass
class Context:
    """What a figure needs: its temporary directory, its processes, the binaries."""
    workdir: Path
    procs: Processes
    daemon_binary: Path
    emulator_binary: Path
    daemon_log_level: str
    key_file: Path = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.key_file = self.workdir / "api-key"
        self.key_file.write_text("bench-key\n")

    def emulator(self, build_seconds: float, deploy_seconds: float,
                 extra: list[str] = ()) -> Emulator:
        return Emulator(self.procs, self.emulator_binary, self.key_file, build_seconds,
                        deploy_seconds, list(extra))

    def daemon(self, emulator: Emulator, desired: Path, extra: list[str] = ()) -> Daemon:
        return Daemon(self.procs, self.daemon_binary, emulator, self.key_file, desired,
                      list(extra), self.daemon_log_level)


@dataclasses.dataclass
class Figure:
    key: str
    description: str
    target: str
    timeout: float  # seconds; the figure is abandoned (NO) after this
    run: Callable[[Context], tuple[str, bool]]  # -> (measured, holds)


def run_p1(ctx: Context) -> tuple[str, bool]:
    """Desired-file edit (git-sync style symlink swap) to the first CML write, over 100 edits.

    The tree is laid out the way git-sync lays it out: <root>/worktree-N directories and a
    relative symbolic link <root>/current -> worktree-N, with the daemon given <root>/current.
    An edit writes worktree-N+1 with the model's environment variable changed, points a new
    temporary link at it and renames that over `current` (atomic, as git-sync does), then
    removes the old worktree at once (as git-sync does by default). The edit's time is
    time.time() right after the rename. Edits start P1_EDIT_PERIOD apart: a git-sync period,
    which is seconds at the least.

    The daemon runs with its default flags (--api-qps 10, --api-burst 20). Deployments never
    finish (deploy 3600 s), so once the first convergence (model, build, deployment) is done the
    model stays "deployment in progress" and every edit of the environment makes exactly one
    write: create_model_deployment with the new value. The write's time is the emulator's
    record of it, taken when the request has been read and routed, before the emulator does any
    work for it. That record has millisecond resolution and is truncated, so each latency reads
    up to 1 ms low.
    """
    root = ctx.workdir / "git"
    root.mkdir()
    current = root / "current"

    def write_worktree(n: int) -> None:
        tree = root / f"worktree-{n}"
        tree.mkdir()
        (tree / "model.yaml").write_text(
            model_doc("bench-edit", environment={"BENCH_EDIT": f"edit-{n}"}))

    def swap_to(n: int) -> float:
        link = root / f".current-{n}.tmp"
        link.symlink_to(f"worktree-{n}")
        os.rename(link, current)
        return time.time()

    write_worktree(0)
    current.symlink_to("worktree-0")
    emulator = ctx.emulator(build_seconds=0.05, deploy_seconds=3600)
    daemon = ctx.daemon(emulator, current)
    daemon.wait_port()

    # The first convergence: wait for its deployment, then for its writes to stop.
    deadline = time.monotonic() + 30
    while not any(w["operation"] == "create_model_deployment"
                  for w in emulator.calls()["writes_log"]):
        daemon.procs.check_alive(daemon.process)
        if time.monotonic() > deadline:
            raise BenchError("first deployment not created in 30 s")
        time.sleep(0.02)
    writes = wait_writes_settled(emulator, quiet_seconds=1.0, timeout=30)
    log(f"  first convergence made {writes} writes; editing {P1_EDITS} times, "
        f"{P1_EDIT_PERIOD:g} s apart")

    latencies_ms: list[float] = []
    unexpected: list[str] = []
    next_edit = time.monotonic()
    for n in range(1, P1_EDITS + 1):
        time.sleep(max(0.0, next_edit - time.monotonic()))
        next_edit = time.monotonic() + P1_EDIT_PERIOD
        # What the previous edit wrote in all, now that its pass has long ended.
        if n > 1:
            calls = emulator.calls()
            if calls["writes"] != writes:
                unexpected += [f"{w['operation']} after edit {n - 1}"
                               for w in calls["writes_log"][writes:]]
                writes = calls["writes"]
        write_worktree(n)
        edited_at = swap_to(n)
        shutil.rmtree(root / f"worktree-{n - 1}")
        # Wait for the edit's write; the emulator's log says when it arrived.
        deadline = time.monotonic() + 5
        while True:
            calls = emulator.calls()
            if calls["writes"] > writes:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"edit {n}: no CML write in 5 s")
            time.sleep(0.002)
        first = calls["writes_log"][writes]
        if first["operation"] != "create_model_deployment":
            unexpected.append(f"{first['operation']} first after edit {n}")
        latencies_ms.append((parse_emulator_time(first["at"]) - edited_at) * 1000)
        writes += 1

    p50, p99 = percentile(latencies_ms, 50), percentile(latencies_ms, 99)
    log(f"  edit to first write, ms: min {min(latencies_ms):.1f} p50 {p50:.1f} "
        f"p90 {percentile(latencies_ms, 90):.1f} p99 {p99:.1f} max {max(latencies_ms):.1f} "
        f"(the emulator's timestamps are whole ms, truncated)")
    if unexpected:
        log(f"  WARNING: writes other than one create_model_deployment per edit: "
            f"{', '.join(unexpected)}")
    return f"p50 {p50:.1f}, p99 {p99:.1f} ms", p50 <= 10 and p99 <= 50


def wait_writes_settled(emulator: Emulator, quiet_seconds: float, timeout: float) -> int:
    """Waits until the write count has not moved for quiet_seconds (reads go on: the daemon
    keeps polling a deployment in progress); returns the write count."""
    deadline = time.monotonic() + timeout
    writes = emulator.calls()["writes"]
    since = time.monotonic()
    while time.monotonic() - since < quiet_seconds:
        if time.monotonic() > deadline:
            raise BenchError(f"writes never quiet for {quiet_seconds:g} s")
        time.sleep(0.05)
        now = emulator.calls()["writes"]
        if now != writes:
            writes, since = now, time.monotonic()
    return writes


def run_p2(ctx: Context) -> tuple[str, bool]:
    """API calls of one resync of 100 synced models in one project.

    100 models converge (fast emulated build and deploy); once the emulator's call counters
    have been still for 1 s, POST /api/v1/reconcile queues every model, and the calls are
    counted until the counters are still again for 1 s. --resync 1h keeps the periodic resync
    out of the way.
    """
    models = 100
    desired = ctx.workdir / "desired"
    desired.mkdir()
    (desired / "models.yaml").write_text(
        "".join(model_doc(f"bench-{i:03}") for i in range(1, models + 1)))
    emulator = ctx.emulator(build_seconds=0.2, deploy_seconds=0.2)
    daemon = ctx.daemon(emulator, desired, ["--resync", "1h", "--concurrency", "16",
                                            "--api-qps", "500", "--api-burst", "500"])
    daemon.wait_port()
    daemon.wait_synced(models, timeout=120, interval=0.2)
    before = emulator.wait_quiet(quiet_seconds=1.0, timeout=30)

    status, _ = daemon.http.request("POST", "/api/v1/reconcile")
    if status != 202:
        raise BenchError(f"POST /api/v1/reconcile: HTTP {status}")
    # Wait for the resync to start (the counters move), then for it to end (1 s still).
    deadline = time.monotonic() + 10
    while emulator.call_count() == before["reads"] + before["writes"]:
        if time.monotonic() > deadline:
            break  # no call at all: reported as such
        time.sleep(0.01)
    after = emulator.wait_quiet(quiet_seconds=1.0, timeout=60)

    reads = after["reads"] - before["reads"]
    writes = after["writes"] - before["writes"]
    by_operation = {op: n - before["by_operation"].get(op, 0)
                    for op, n in after["by_operation"].items()
                    if n != before["by_operation"].get(op, 0)}
    log(f"  resync calls by operation: {json.dumps(by_operation, sort_keys=True)}")
    calls = reads + writes
    limit = int(1.1 * models + 2)
    return f"{calls} calls, {writes} writes", calls <= limit and writes == 0


def run_p3(ctx: Context) -> tuple[str, bool]:
    """Fresh deploy with an emulated 3 s build and 2 s deploy: the time from the daemon's start
    (just before it is spawned) to the first status poll that shows the model Synced and
    Healthy, over the 5 s the emulator needs, and the CML calls made by then. The status is
    polled every 5 ms."""
    desired = ctx.workdir / "desired"
    desired.mkdir()
    (desired / "model.yaml").write_text(model_doc("bench-fresh"))
    emulator = ctx.emulator(build_seconds=3, deploy_seconds=2)
    daemon = ctx.daemon(emulator, desired, ["--api-qps", "500", "--api-burst", "500"])
    daemon.wait_port()
    synced = daemon.wait_synced(1, timeout=30, interval=0.005)
    elapsed = synced - daemon.started
    calls = emulator.calls()
    count = calls["reads"] + calls["writes"]
    log(f"  {elapsed * 1000:.0f} ms to Synced+Healthy; calls by operation: "
        f"{json.dumps(calls['by_operation'], sort_keys=True)}")
    ratio = elapsed / 5
    return (f"{ratio:.2f} ({elapsed * 1000:.0f} ms), {count}",
            ratio <= 1.10 and count <= 25)


def thousand_models(ctx: Context) -> tuple[list[str], Emulator, Daemon]:
    """P4's setting (also P7's): 1000 models in 10 projects, an emulator with 5 ms latency,
    build 2 s and deploy 1 s, and the daemon started with --api-qps 500 (its other flags at
    their defaults). Returns once the daemon's port is known."""
    projects = [f"bench-{p:04}-proj-{p:04}" for p in range(10)]
    per_project = 100
    fixture = ctx.workdir / "fixture.yaml"
    fixture.write_text(json.dumps(p4_fixture(projects), indent=1))
    desired = ctx.workdir / "desired"
    desired.mkdir()
    names: list[str] = []
    for p, project in enumerate(projects):
        project_names = [f"bench-{p}-{i:03}" for i in range(per_project)]
        (desired / f"project-{p}.yaml").write_text(
            "".join(model_doc(name, project=project) for name in project_names))
        names += project_names

    emulator = ctx.emulator(build_seconds=2, deploy_seconds=1,
                            extra=["--fixture", str(fixture), "--latency", "5ms"])
    daemon = ctx.daemon(emulator, desired, ["--api-qps", "500"])
    daemon.wait_port()
    return names, emulator, daemon


def wait_synced_in_order(daemon: Daemon, names: list[str], limit: float) -> tuple[float, int]:
    """Checks the models one at a time, in order, with GET /api/v1/status/<name> (small): the
    first model not yet Synced+Healthy is re-checked every P4_POLL_INTERVAL, and every model
    before it has been seen Synced+Healthy. Returns time.monotonic() of the check that saw the
    last one, and the number of requests made."""
    deadline = daemon.started + limit
    next_report = daemon.started + 5
    done, requests = 0, 0
    while done < len(names):
        status, body = daemon.http.request("GET", f"/api/v1/status/{names[done]}")
        requests += 1
        now = time.monotonic()
        if status == 200:
            model = json.loads(body)
            if model.get("sync") == "Synced" and model.get("health") == "Healthy":
                done += 1
                continue
        elif status != 404:  # 404: not reconciled yet
            raise BenchError(f"GET /api/v1/status/{names[done]}: HTTP {status}")
        daemon.procs.check_alive(daemon.process)
        if now > deadline:
            raise BenchError(f"{done}/{len(names)} synced after {now - daemon.started:.0f} s")
        if now > next_report:
            log(f"  {now - daemon.started:5.1f} s: {done}/{len(names)} synced (in order)")
            next_report += 5
        time.sleep(P4_POLL_INTERVAL)
    return now, requests


def run_p4(ctx: Context) -> tuple[str, bool]:
    """1000 models in 10 projects, 5 ms emulated API latency, build 2 s, deploy 1 s, and
    --api-qps 500: the time from the daemon's start to all 1000 Synced and Healthy, its peak
    RSS (VmHWM) and the CPU it used by then (utime + stime).

    The daemon runs with its other flags at their defaults, --concurrency 8 and --api-burst 20
    among them: the figure is about the daemon as shipped, given the API rate.

    Watching must not weigh on what is measured: one GET /api/v1/status of 1000 models is a
    2.3 MB answer that cost the daemon ~0.1 s of CPU and raised its peak RSS by ~20 MiB when
    measured on the project's machine (2026-11-27). So the models are checked one at a time
    (wait_synced_in_order). Once the last one is Synced+Healthy, the CPU and peak RSS are read,
    and only then does one full status confirm all 1000 at once.
    """
    names, emulator, daemon = thousand_models(ctx)
    now, requests = wait_synced_in_order(daemon, names, limit=150)
    elapsed = now - daemon.started
    cpu = cpu_seconds(daemon.pid)
    peak_mib = memory_kib(daemon.pid, "VmHWM") / 1024

    good, total = daemon.synced_healthy()
    if good != len(names):
        raise BenchError(f"then only {good}/{total} Synced+Healthy")
    calls = emulator.calls()
    count = calls["reads"] + calls["writes"]
    log(f"  all synced after {elapsed:.1f} s, seen with {requests} single-model status "
        f"requests; {count} CML calls ({count / len(names):.1f} per model, "
        f"{calls['writes']} writes); VmHWM {peak_mib:.1f} MiB, CPU {cpu:.2f} s")
    measured = f"{elapsed:.1f} s, {peak_mib:.0f} MiB, {cpu:.1f} s"
    return measured, elapsed <= 30 and peak_mib <= 64 and cpu <= 10


P7_SCRAPES = 100
# The `model` label of a series line (not registered_model: the label name starts after { or ,).
MODEL_LABEL = re.compile(r'[{,]model="([^"]*)"')


def series_by_model(exposition: str) -> tuple[dict[str, int], int]:
    """({model: series labelled with it}, series without a model label) of a text exposition."""
    by_model: dict[str, int] = {}
    shared = 0
    for line in exposition.splitlines():
        if not line or line.startswith("#"):
            continue
        m = MODEL_LABEL.search(line)
        if m is None:
            shared += 1
            continue
        by_model[m.group(1)] = by_model.get(m.group(1), 0) + 1
    return by_model, shared


def run_p7(ctx: Context) -> tuple[str, bool]:
    """/metrics with 1000 models: series per model, and the time of one scrape.

    P4's setting (thousand_models) until all 1000 are Synced and Healthy, then 1 s of rest,
    then P7_SCRAPES GET /metrics over one keep-alive connection, back to back, each timed from
    the request's start to the last byte of the answer (time.monotonic()). The series of the
    last answer are counted per value of the `model` label: every model must hold at most 15
    (design section 8), and the slowest-but-one percent of scrapes (p99) must take at most
    25 ms. While it is scraped the daemon keeps reconciling (a resync every 60 s per model),
    as a production one does.
    """
    names, _, daemon = thousand_models(ctx)
    wait_synced_in_order(daemon, names, limit=150)
    time.sleep(1)
    times: list[float] = []
    body = b""
    for _ in range(P7_SCRAPES):
        started = time.monotonic()
        status, body = daemon.http.request("GET", "/metrics")
        times.append((time.monotonic() - started) * 1000)
        if status != 200:
            raise BenchError(f"GET /metrics: HTTP {status}")
    by_model, shared = series_by_model(body.decode())
    missing = [n for n in names if n not in by_model]
    if missing:
        raise BenchError(f"{len(missing)} models have no series (e.g. {missing[0]})")
    most = max(by_model.values())
    fewest = min(by_model.values())
    total = sum(by_model.values()) + shared
    p50, p99 = percentile(times, 50), percentile(times, 99)
    log(f"  {len(by_model)} models: {fewest}..{most} series each, {shared} series without a "
        f"model, {total} in all, {len(body) / 1024:.0f} KiB; {P7_SCRAPES} scrapes: p50 "
        f"{p50:.1f} ms, p99 {p99:.1f} ms, max {max(times):.1f} ms")
    measured = f"{most}/model, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    return measured, most <= 15 and p99 <= 25


P4_POLL_INTERVAL = 0.05  # seconds between checks of a model not yet synced


def idle_seconds() -> float:
    return float(os.environ.get("CMLR_BENCH_IDLE_SECONDS", "60"))


def run_p5(ctx: Context) -> tuple[str, bool]:
    """Idle with one synced model.

    Start to ready: from just before the daemon is spawned to its first 200 on GET /readyz,
    polling the port file and then /readyz every millisecond. Then, once the model is Synced
    and Healthy and 1 s has passed (the end of the last pass), the daemon's CPU over an idle
    window (60 s; CMLR_BENCH_IDLE_SECONDS for trials) during which nothing talks to it, and its
    RSS (VmRSS) at the end of the window. Flags are the defaults (the 60 s resync included).
    """
    desired = ctx.workdir / "desired"
    desired.mkdir()
    (desired / "model.yaml").write_text(model_doc("bench-idle"))
    emulator = ctx.emulator(build_seconds=0.2, deploy_seconds=0.2)
    daemon = ctx.daemon(emulator, desired)
    daemon.wait_port(interval=0.001)
    port_ms = (time.monotonic() - daemon.started) * 1000
    while True:
        try:
            status, _ = daemon.http.request("GET", "/readyz")
        except (ConnectionError, http.client.HTTPException):
            status = 0
        if status == 200:
            ready_ms = (time.monotonic() - daemon.started) * 1000
            break
        daemon.procs.check_alive(daemon.process)
        if time.monotonic() - daemon.started > 10:
            raise BenchError("not ready in 10 s")
        time.sleep(0.001)

    daemon.wait_synced(1, timeout=30, interval=0.05)
    daemon.http.close()
    time.sleep(1)
    window = idle_seconds()
    cpu_before = cpu_seconds(daemon.pid)
    time.sleep(window)
    cpu_percent = (cpu_seconds(daemon.pid) - cpu_before) / window * 100
    rss_mib = memory_kib(daemon.pid, "VmRSS") / 1024
    good, _ = daemon.synced_healthy()
    if good != 1:
        raise BenchError("the model left Synced+Healthy while idle")
    log(f"  port file after {port_ms:.1f} ms, ready after {ready_ms:.1f} ms; idle {window:g} s: "
        f"CPU {cpu_percent:.3f} %, VmRSS {rss_mib:.1f} MiB, "
        f"VmHWM {memory_kib(daemon.pid, 'VmHWM') / 1024:.1f} MiB")
    measured = f"{rss_mib:.1f}MiB, {cpu_percent:.2f}%, {ready_ms:.0f}ms"
    return measured, rss_mib <= 16 and cpu_percent <= 0.2 and ready_ms <= 100


FIGURES = {f.key: f for f in [
    Figure("P1", "symlink-swap edit to first CML write (ms), over 100 edits",
           "p50 <= 10, p99 <= 50", 240, run_p1),
    Figure("P2", "calls of one resync of 100 synced models", "<= 112, 0 writes", 240, run_p2),
    Figure("P3", "fresh deploy (3 s build + 2 s deploy) time / 5 s, calls", "<= 1.10, <= 25",
           60, run_p3),
    Figure("P4", "1000 models, 10 projects, 5 ms latency: sync, RSS, CPU",
           "<= 30 s, 64 MiB, 10 s", 240, run_p4),
    # P5's description and time limit follow the idle window: set in main().
    Figure("P5", "", "<= 16MiB, 0.2%, 100ms", 0, run_p5),
    Figure("P7", "/metrics with 1000 models: series per model, scrape time",
           "<= 15/model, p99 <= 25 ms", 240, run_p7),
]}


# ---------------------------------------------------------------------------------------------
# Driver


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raises FigureTimeout in the main thread after `seconds` (SIGALRM). Blocking sleeps and
    socket reads are interrupted by it."""
    def on_alarm(signum, frame):
        raise FigureTimeout(f"timed out after {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_figure(figure: Figure, daemon_binary: Path, emulator_binary: Path,
               log_level: str, log_dir: Path | None) -> None:
    log(f"{figure.key}: {figure.description}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"cmlr-bench-{figure.key}-") as tmp:
        workdir = Path(tmp)
        logs = workdir
        if log_dir is not None:
            logs = log_dir / figure.key
            logs.mkdir(parents=True, exist_ok=True)
        procs = Processes(workdir, logs)
        try:
            with time_limit(figure.timeout):
                ctx = Context(workdir, procs, daemon_binary, emulator_binary, log_level)
                measured, holds = figure.run(ctx)
        except BenchError as e:
            measured, holds = str(e), False
            log(f"  {figure.key} failed: {e}")
            procs.log_tails()
        except Exception as e:  # a bug here or a surprising answer: still a row, and go on
            measured, holds = f"error: {type(e).__name__}", False
            log(f"  {figure.key} failed:\n{traceback.format_exc()}")
            procs.log_tails()
        finally:
            # Outside the time limit, so that an alarm cannot cut the clean-up short.
            procs.stop_all()
    log(f"  ({time.monotonic() - started:.0f} s)")
    row(figure.key, figure.description, measured, figure.target, holds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("figures", nargs="*", metavar="FIGURE",
                        help="figures to run (default: all of " + " ".join(FIGURES) + ")")
    parser.add_argument("--daemon-log-level", default="warn",
                        choices=["trace", "debug", "info", "warn", "error"],
                        help="the daemon's --log-level (default warn)")
    parser.add_argument("--log-dir", type=Path,
                        help="keep each figure's emulator and daemon logs in DIR/<figure>/")
    args = parser.parse_args()
    selected = [f.upper() for f in args.figures] or list(FIGURES)
    unknown = [f for f in selected if f not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {' '.join(unknown)}; known: {' '.join(FIGURES)}")

    # Paths are relative to the project root, as for every bench/*.bench.
    os.chdir(Path(__file__).resolve().parent.parent)
    release = Path(os.environ.get("CMLR_RELEASE_DIR", "build/release")).resolve()
    daemon_binary = release / "daemon" / "cml-reconciler"
    emulator_binary = release / "emulator" / "cml-emulator"
    built = all(os.access(b, os.X_OK) for b in (daemon_binary, emulator_binary))
    log_dir = args.log_dir.resolve() if args.log_dir else None

    FIGURES["P5"].description = (f"idle, one synced model: RSS, CPU over {idle_seconds():g} s, "
                                 "start to ready")
    FIGURES["P5"].timeout = idle_seconds() + 60
    # SIGTERM (bench/run interrupted) unwinds like Ctrl-C, so every child is still killed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    for key in selected:
        figure = FIGURES[key]
        if not built:
            row(figure.key, figure.description, "not built", figure.target, False)
            continue
        run_figure(figure, daemon_binary, emulator_binary, args.daemon_log_level, log_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
