#!/usr/bin/env python3
"""Checks the Dockerfile and .dockerignore by reading them (there is no container engine here).

- build stage: Debian 12, and every command it runs is one that CI or the README runs
  (scripts/install-deps, `cmake --preset release`, `cmake --build --preset release`); the
  Makefile really runs those commands and CMakePresets.json has the release preset whose
  binaryDir the runtime stage copies from;
- runtime stage: debian:12-slim, packages installed without recommends and apt lists removed, no
  -dev packages, both binaries copied, a numeric non-root USER, EXPOSE 9464, an exec-form
  ENTRYPOINT `cml-reconciler run` listening on 0.0.0.0:9464;
- the runtime packages provide every shared library that the built binaries need (readelf
  NEEDED, resolved with ldd and dpkg -S), for the binaries given on the command line that exist
  (sanitizer runtimes of a debug build are ignored);
- .dockerignore keeps the host's build trees and tools out of the build context.

Usage: check_dockerfile.py [BINARY...]   (run from the repository root)
Exit 0 when every check passes, 1 otherwise, listing every failure.
"""

import json
import os
import re
import shlex
import subprocess
import sys

ALLOWED_BUILD_COMMANDS = {
    "./scripts/install-deps",
    "cmake --preset release",
    "cmake --build --preset release",
}
BINARIES = {"cml-reconciler": "build/release/daemon/cml-reconciler",
            "cml-emulator": "build/release/emulator/cml-emulator"}
# Present in every debian:12-slim image (Essential: yes, or required by apt itself).
BASE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
SANITIZER_LIBS = re.compile(r"^lib(asan|ubsan|tsan|lsan)\.so")


def parse_dockerfile(path):
    """[(stage_from_line, [(instruction, argument), ...]), ...]"""
    stages = []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # As Docker does: comment lines go first, then continuation lines are joined.
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, arg = line.partition(" ")
        instr = instr.upper()
        arg = arg.strip()
        if instr == "FROM":
            stages.append((arg, []))
        elif stages:
            stages[-1][1].append((instr, arg))
    return stages


def run_commands(arg):
    """Shell commands of a RUN argument (exec form or && chains)."""
    if arg.startswith("["):
        return [" ".join(json.loads(arg))]
    return [" ".join(c.split()) for c in arg.split("&&")]


def needed_packages(binary, fails):
    """{package: [libraries]} that binary links directly, beyond the base image."""
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True)
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    paths = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    packages = {}
    for lib in needed:
        if SANITIZER_LIBS.match(lib):
            continue
        path = paths.get(lib)
        if not path or path == "not":
            fails.append(f"{binary}: cannot resolve {lib}")
            continue
        real = os.path.realpath(path)
        owner = None
        for candidate in (path, real, "/usr" + path if not path.startswith("/usr") else path[4:]):
            proc = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if proc.returncode == 0:
                owner = proc.stdout.split(":")[0].strip()
                break
        if owner is None:
            fails.append(f"{binary}: no Debian package owns {path} ({lib})")
            continue
        if owner not in BASE_PACKAGES:
            packages.setdefault(owner, []).append(lib)
    return packages


def main():
    fails = []
    stages = parse_dockerfile("Dockerfile")
    if len(stages) != 2:
        fails.append(f"Dockerfile: expected 2 stages (build, runtime), found {len(stages)}")
        for f in fails:
            print(f"FAIL {f}")
        return 1
    (build_from, build), (run_from, runtime) = stages

    # Build stage.
    m = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", build_from, re.I)
    if not m or not re.fullmatch(r"debian:12(\.\d+)?", m.group(1)):
        fails.append(f"build stage: FROM {build_from}: must be `debian:12 AS <name>`")
    build_name = m.group(2) if m else "build"
    ran = []
    for instr, arg in build:
        if instr == "RUN":
            ran.extend(run_commands(arg))
        elif instr not in ("WORKDIR", "COPY", "ARG", "ENV"):
            fails.append(f"build stage: unexpected {instr} {arg}")
    for cmd in ran:
        if cmd not in ALLOWED_BUILD_COMMANDS:
            fails.append(f"build stage: runs `{cmd}`, which CI and the README do not run")
    for cmd in ALLOWED_BUILD_COMMANDS:
        if cmd not in ran:
            fails.append(f"build stage: does not run `{cmd}`")
    with open("Makefile", encoding="utf-8") as f:
        makefile = f.read()
    for cmd in ("./scripts/install-deps", "cmake --preset", "cmake --build --preset"):
        if cmd not in makefile:
            fails.append(f"Makefile: no longer runs `{cmd}`; the Dockerfile's build stage must "
                         "follow the project's build")
    with open("CMakePresets.json", encoding="utf-8") as f:
        presets = json.load(f)
    configure = {p["name"]: p for p in presets.get("configurePresets", [])}
    if "release" not in configure or "release" not in {p["name"] for p in presets.get("buildPresets", [])}:
        fails.append("CMakePresets.json: no release configure and build preset")
    else:
        base = configure.get(configure["release"].get("inherits", ""), {})
        binary_dir = configure["release"].get("binaryDir", base.get("binaryDir", ""))
        if binary_dir.replace("${sourceDir}/", "").replace("${presetName}", "release") != "build/release":
            fails.append(f"CMakePresets.json: release binaryDir {binary_dir} is not build/release, "
                         "where the runtime stage copies the binaries from")

    # Runtime stage.
    if run_from != "debian:12-slim":
        fails.append(f"runtime stage: FROM {run_from}: must be debian:12-slim")
    instrs = {}
    for instr, arg in runtime:
        instrs.setdefault(instr, []).append(arg)
    installed = set()
    for arg in instrs.get("RUN", []):
        for cmd in run_commands(arg):
            words = shlex.split(cmd)
            if words[:2] == ["apt-get", "install"]:
                if "--no-install-recommends" not in words:
                    fails.append("runtime stage: apt-get install without --no-install-recommends")
                installed |= {w for w in words[2:] if not w.startswith("-")}
        if "apt-get install" in arg and "rm -rf /var/lib/apt/lists" not in arg:
            fails.append("runtime stage: apt lists are not removed in the installing RUN")
    for pkg in sorted(installed):
        if pkg.endswith("-dev") or pkg in ("build-essential", "cmake", "gcc", "g++", "clang"):
            fails.append(f"runtime stage: installs build tool or headers {pkg}")
    if "ca-certificates" not in installed:
        fails.append("runtime stage: needs ca-certificates (TLS to CML uses the system store)")
    copies = " ".join(instrs.get("COPY", []))
    for name, path in BINARIES.items():
        if not re.search(rf"--from={re.escape(build_name)}\s+/\S*/{re.escape(path)}\s+\S*{name}\b", copies):
            fails.append(f"runtime stage: does not copy {path} from the {build_name} stage")
    users = instrs.get("USER", [])
    if not users or not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]):
        fails.append(f"runtime stage: USER {users[-1] if users else None} must be a numeric "
                     "non-root uid (Kubernetes runAsNonRoot needs a number)")
    if "9464" not in " ".join(instrs.get("EXPOSE", [])):
        fails.append("runtime stage: EXPOSE 9464")
    entry = instrs.get("ENTRYPOINT", [])
    try:
        argv = json.loads(entry[-1]) if entry else None
    except ValueError:
        argv = None
    if not isinstance(argv, list):
        fails.append("runtime stage: ENTRYPOINT must be in exec form (a JSON array), so that "
                     "SIGTERM reaches the daemon")
    else:
        if not (argv[0].endswith("/cml-reconciler") and argv[1:2] == ["run"]):
            fails.append(f"runtime stage: ENTRYPOINT {argv} must start with cml-reconciler run")
        listen = argv[argv.index("--listen") + 1] if "--listen" in argv[:-1] else None
        cmd = instrs.get("CMD", [])
        if listen != "0.0.0.0:9464" and "0.0.0.0:9464" not in " ".join(cmd):
            fails.append("runtime stage: the daemon must listen on 0.0.0.0:9464 in the container")

    # Runtime libraries of the binaries that exist.
    checked = 0
    for binary in sys.argv[1:]:
        if not os.path.exists(binary):
            print(f"note: {binary} not built; its libraries are not checked")
            continue
        checked += 1
        for pkg, libs in sorted(needed_packages(binary, fails).items()):
            if pkg not in installed:
                fails.append(f"runtime stage: {os.path.basename(binary)} needs {', '.join(libs)} "
                             f"from package {pkg}, which the runtime stage does not install")

    # Build context.
    with open(".dockerignore", encoding="utf-8") as f:
        ignored = {l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")}
    for entry_name in ("build", ".tools"):
        if entry_name not in ignored and f"/{entry_name}" not in ignored:
            fails.append(f".dockerignore: must exclude {entry_name}/ (a host CMake cache or tools "
                         "tree would break or bloat the image build)")

    for f in fails:
        print(f"FAIL {f}")
    print(f"Dockerfile: {len(ran)} build command(s), {len(installed)} runtime package(s), "
          f"{checked} binary(ies) checked for libraries; {len(fails)} problem(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
