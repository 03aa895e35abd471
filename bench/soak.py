#!/usr/bin/env python3
"""make soak: the daemon under continuous edits, drift and faults for a long while.

Runs the release cml-reconciler against the release cml-emulator on loopback:
  - 20 models in a git-sync style tree (a `current` symbolic link swapped to a new worktree);
  - the emulator answers a share of calls with 500/503, resets, 429s and ambiguous writes;
  - an edit every few seconds (one model's cpu or an environment value), and a hand-made
    drift every minute.
After a warm-up it samples the daemon's resident memory and open file descriptors, soaks for
SOAK_MINUTES (default 30), lets everything converge, samples again, and fails when either grew
by 5 % or more, or when the models did not converge.

Environment: SOAK_MINUTES (default 30), SOAK_WARMUP_SECONDS (default 300),
CMLR_RELEASE_DIR (default build/release), SOAK_HISTORY_LIMIT (default unset: CML keeps every
stopped deployment, as the real one does; N: the emulator keeps the newest N stopped or failed
deployments per model, a fixed-size history, to tell a leak from growth that follows the data).
The work directory (logs) is kept when it fails.
"""

import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from daemon_bench import BenchError, Daemon, Emulator, Processes, memory_kib, model_doc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RELEASE = Path(os.environ.get("CMLR_RELEASE_DIR", ROOT / "build" / "release"))
EMULATOR = RELEASE / "emulator" / "cml-emulator"
DAEMON = RELEASE / "daemon" / "cml-reconciler"
MODELS = 20
GROWTH_LIMIT = 0.05
FAULTS = ["--error-rate", "0.03", "--reset-rate", "0.02", "--ambiguous-rate", "0.02",
          "--throttle-rate", "0.02"]


def log(message):
    print(f"soak: {time.strftime('%H:%M:%S')} {message}", flush=True)


class GitSyncTree:
    """A desired-state tree published the way git-sync does: new worktree, atomic link swap,
    the worktree swapped away from removed."""

    def __init__(self, root):
        self.root = root
        self.link = root / "current"
        self.revision = 0
        self.cpu = {i: 1 for i in range(MODELS)}
        self.label = {i: "0" for i in range(MODELS)}

    def publish(self):
        self.revision += 1
        worktree = self.root / f"rev-{self.revision:06d}"
        worktree.mkdir()
        (worktree / "models.yaml").write_text("".join(
            model_doc(f"soak-{i:02d}", cpu=self.cpu[i], environment={"REVISION": self.label[i]})
            for i in range(MODELS)))
        temp_link = self.root / "current.tmp"
        temp_link.symlink_to(worktree.name)
        os.replace(temp_link, self.link)
        old = self.root / f"rev-{self.revision - 1:06d}"
        if old.exists():
            shutil.rmtree(old)

    def edit(self, rng):
        """Changes one model: its cpu (a new deployment) or an environment value (likewise)."""
        index = rng.randrange(MODELS)
        if rng.random() < 0.5:
            self.cpu[index] = 2 if self.cpu[index] == 1 else 1
        else:
            self.label[index] = str(self.revision)
        self.publish()


def sample(pid):
    """(resident KiB, open file descriptors) of a process."""
    return memory_kib(pid, "VmRSS"), len(os.listdir(f"/proc/{pid}/fd"))


def resident_split(pid):
    """(anonymous KiB, file-backed KiB) of the resident set."""
    return memory_kib(pid, "RssAnon"), memory_kib(pid, "RssFile")


def settled_sample(pid, count=14, interval=5.0):
    """The least RSS, anonymous and file-backed KiB, and fd count over `count` samples
    `interval` s apart (65 s by default).

    The daemon hands freed heap pages back to the system once a minute (daemon/heap_trimmer.h),
    so one sample taken between two trims reads up to a megabyte of pages already freed, and
    one sample can catch a pooled connection or a status request in flight. A minute and a bit
    holds at least one trim; a leak raises the floor, which the least of the samples still shows.
    """
    samples = []
    for i in range(count):
        if i:
            time.sleep(interval)
        rss, fds = sample(pid)
        anon, file_backed = resident_split(pid)
        samples.append((rss, anon, file_backed, fds))
    return tuple(min(column) for column in zip(*samples))


def converged(daemon, timeout):
    try:
        daemon.wait_synced(MODELS, timeout=timeout, interval=0.5)
        return True
    except BenchError as error:
        log(f"not converged: {error}")
        status_file = daemon.procs.workdir / "unconverged-status.json"
        models = daemon.http.get_json("/api/v1/status")["models"]
        stuck = [m for m in models if (m.get("sync"), m.get("health")) != ("Synced", "Healthy")]
        status_file.write_text(json.dumps(stuck, indent=2))
        for m in stuck:
            reasons = "; ".join(f"{c.get('type')}={c.get('status')} {c.get('reason')}: "
                                f"{c.get('message', '')}" for c in m.get("conditions", []))
            log(f"  {m['name']}: {m.get('sync')}/{m.get('health')}, planned "
                f"{m.get('plannedAction')!r}; {reasons}")
        return False


def main():
    for binary in (EMULATOR, DAEMON):
        if not binary.exists():
            sys.exit(f"soak: {binary} is missing: run `make release` first")
    minutes = float(os.environ.get("SOAK_MINUTES", "30"))
    warmup = float(os.environ.get("SOAK_WARMUP_SECONDS", "300"))
    rng = random.Random(20261127)
    work = Path(tempfile.mkdtemp(prefix="cmlr-soak-"))
    procs = Processes(work, work)
    passed = False
    try:
        key_file = work / "api-key"
        key_file.write_text("soak-key\n")
        tree_root = work / "tree"
        tree_root.mkdir()
        tree = GitSyncTree(tree_root)
        tree.publish()
        history_limit = os.environ.get("SOAK_HISTORY_LIMIT")
        history = ["--history-limit", history_limit] if history_limit else []
        emulator = Emulator(procs, EMULATOR, key_file, build_seconds=1, deploy_seconds=1,
                            extra=FAULTS + history)
        daemon = Daemon(procs, DAEMON, emulator, key_file, tree.link, ["--resync", "30s"], "warn")
        daemon.wait_port()
        log(f"emulator :{emulator.port}, daemon :{daemon.port} (pid {daemon.pid}), {MODELS} "
            f"models, {minutes:g} min after a {warmup:g} s warm-up, CML history "
            f"{'limited to ' + history_limit + ' per model' if history_limit else 'unlimited'}; "
            f"logs in {work}")
        if not converged(daemon, 180):
            sys.exit("soak: FAIL: the models did not converge at the start")

        def churn(seconds, report_every):
            end = time.monotonic() + seconds
            next_drift = time.monotonic() + 60
            next_report = time.monotonic() + report_every
            edits = drifts = 0
            while time.monotonic() < end:
                procs.check_alive(daemon.process)
                tree.edit(rng)
                edits += 1
                if time.monotonic() >= next_drift:
                    next_drift += 60
                    models = daemon.http.get_json("/api/v1/status")["models"]
                    serving = [m["live"]["deploymentId"] for m in models
                               if m["live"]["deploymentId"]]
                    if serving:
                        body = json.dumps({"deployment_id": rng.choice(serving)}).encode()
                        emulator.http.request("POST", "/_emulator/drift/stop_deployment", body)
                        drifts += 1
                if time.monotonic() >= next_report:
                    next_report += report_every
                    rss, fds = sample(daemon.pid)
                    anon, _ = resident_split(daemon.pid)
                    good, _ = daemon.synced_healthy()
                    log(f"{edits} edits, {drifts} drifts; RSS {rss} KiB (anon {anon}), {fds} fds, "
                        f"{good}/{MODELS} synced")
                time.sleep(rng.uniform(1, 4))
            return edits, drifts

        churn(warmup, report_every=60)
        if not converged(daemon, 180):
            sys.exit("soak: FAIL: the models did not converge after the warm-up")
        rss_start, anon_start, file_start, fds_start = settled_sample(daemon.pid)
        log(f"start: RSS {rss_start} KiB (anon {anon_start}, file {file_start}), "
            f"{fds_start} open fds")

        edits, drifts = churn(minutes * 60, report_every=300)
        settled = converged(daemon, 180)
        rss_end, anon_end, file_end, fds_end = settled_sample(daemon.pid)
        log(f"end:   RSS {rss_end} KiB (anon {anon_end}, file {file_end}), {fds_end} open fds "
            f"({edits} edits, {drifts} drifts)")

        rss_growth = (rss_end - rss_start) / rss_start
        fd_growth = (fds_end - fds_start) / fds_start
        print(f"soak: RSS {rss_start} -> {rss_end} KiB ({rss_growth:+.1%}), "
              f"fds {fds_start} -> {fds_end} ({fd_growth:+.1%}), limit +{GROWTH_LIMIT:.0%}; "
              f"anon {anon_start} -> {anon_end} KiB, file {file_start} -> {file_end} KiB")
        failures = []
        if not settled:
            failures.append("the models did not converge at the end")
        if rss_growth >= GROWTH_LIMIT:
            failures.append(f"RSS grew {rss_growth:.1%}")
        if fd_growth >= GROWTH_LIMIT:
            failures.append(f"open fds grew {fd_growth:.1%}")
        if failures:
            sys.exit("soak: FAIL: " + "; ".join(failures))
        print("soak: PASS")
        passed = True
    finally:
        procs.stop_all()
        if passed:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"soak: logs kept in {work}")


if __name__ == "__main__":
    main()
