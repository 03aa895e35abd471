#!/usr/bin/env python3
"""Checks the Dockerfile and .dockerignore by reading them (there is no container engine here).

- base images: Debian 12, pinned (a dated snapshot tag such as debian:bookworm-20251229, or a
  digest), given as build arguments with defaults; the runtime base is the slim variant;
- build stage: every command it runs is one that CI or the README runs (scripts/install-deps,
  `cmake --preset release`, `cmake --build --preset release`) plus stripping the two release
  binaries; the Makefile really runs those commands and CMakePresets.json has the release preset
  whose binaryDir the runtime stages copy from;
- a shared runtime base: packages installed without recommends and apt lists removed, no -dev
  packages, ca-certificates, a numeric non-root user;
- an `emulator` target holding cml-emulator only; the default (last) target holds cml-reconciler
  only: ENTRYPOINT ["cml-reconciler"] in exec form and CMD ["run", "--listen", "0.0.0.0:9464",
  ...], so that `docker run IMAGE validate ...` runs another command; numeric USER, EXPOSE 9464,
  OCI labels (title, description, version, revision);
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
    """(global ARG defaults, [(stage_from_line, [(instruction, argument), ...]), ...])"""
    stages = []
    global_args = {}
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
        elif instr == "ARG":
            name, _, default = arg.partition("=")
            global_args[name.strip()] = default.strip()
    return global_args, stages


def resolve(text, args):
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), text)


# Debian 12, pinned: a dated snapshot tag and/or a digest, never a moving tag.
PINNED_DEBIAN = re.compile(r"debian:(?:bookworm-\d{8}|12\.\d+)(?P<slim>-slim)?"
                           r"(?:@sha256:[0-9a-f]{64})?|debian(?::[\w.-]+)?@sha256:[0-9a-f]{64}")


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


def stage_instrs(body):
    instrs = {}
    for instr, arg in body:
        instrs.setdefault(instr, []).append(arg)
    return instrs


def exec_form(values):
    try:
        argv = json.loads(values[-1]) if values else None
    except ValueError:
        return None
    return argv if isinstance(argv, list) else None


def main():
    fails = []
    global_args, stages = parse_dockerfile("Dockerfile")
    named = {}
    for i, (from_line, body) in enumerate(stages):
        m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", from_line, re.I)
        image, name = (m.group(1), m.group(2)) if m else (from_line, None)
        named[name or f"#{i}"] = (resolve(image, global_args), body, image)
    if "build" not in named or len(stages) < 3:
        fails.append(f"Dockerfile: expected a build stage, a runtime base, an emulator target and "
                     f"the daemon's, found {list(named)}")
        for f in fails:
            print(f"FAIL {f}")
        return 1
    final_name = list(named)[-1]
    final_image, final_body, _ = named[final_name]

    # Base images.
    build_image, build, build_raw = named["build"]
    m = PINNED_DEBIAN.fullmatch(build_image)
    if not m or m.groupdict().get("slim"):
        fails.append(f"build stage: FROM {build_raw} ({build_image}): must be Debian 12 pinned to "
                     "a dated tag (debian:bookworm-YYYYMMDD) or a digest")
    if not build_raw.startswith("$"):
        fails.append("build stage: name the base image in a build argument (ARG BUILD_IMAGE=...)")
    bases = {n: img for n, (img, _, _) in named.items() if n != "build" and ":" in img}
    if len(bases) != 1:
        fails.append(f"runtime stages: expected one external base image, found {bases}")
    for n, img in bases.items():
        m = PINNED_DEBIAN.fullmatch(img)
        if not m or not (m.groupdict().get("slim") or "slim" in img):
            fails.append(f"stage {n}: FROM {img}: must be Debian 12 slim pinned to a dated tag "
                         "(debian:bookworm-YYYYMMDD-slim) or a digest")
        if not named[n][2].startswith("$"):
            fails.append(f"stage {n}: name the base image in a build argument (ARG RUNTIME_IMAGE=...)")
    base_name = next(iter(bases), None)

    # Build stage.
    ran = []
    for instr, arg in build:
        if instr == "RUN":
            ran.extend(run_commands(arg))
        elif instr not in ("WORKDIR", "COPY", "ARG", "ENV"):
            fails.append(f"build stage: unexpected {instr} {arg}")
    strip_cmds = [c for c in ran if c.startswith("strip ")]
    for cmd in ran:
        if cmd not in ALLOWED_BUILD_COMMANDS and cmd not in strip_cmds:
            fails.append(f"build stage: runs `{cmd}`, which CI and the README do not run")
    for cmd in ALLOWED_BUILD_COMMANDS:
        if cmd not in ran:
            fails.append(f"build stage: does not run `{cmd}`")
    stripped = {w for c in strip_cmds for w in c.split()[1:] if not w.startswith("-")}
    for name, path in BINARIES.items():
        if path not in stripped:
            fails.append(f"build stage: does not strip {path} (the release preset keeps debug "
                         "information: over 100 MiB per binary)")
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
                         "where the runtime stages copy the binaries from")

    # The shared runtime base.
    installed = set()
    if base_name is not None:
        base_instrs = stage_instrs(named[base_name][1])
        for arg in base_instrs.get("RUN", []):
            for cmd in run_commands(arg):
                words = shlex.split(cmd)
                if words[:2] == ["apt-get", "install"]:
                    if "--no-install-recommends" not in words:
                        fails.append("runtime base: apt-get install without --no-install-recommends")
                    installed |= {w for w in words[2:] if not w.startswith("-")}
            if "apt-get install" in arg and "rm -rf /var/lib/apt/lists" not in arg:
                fails.append("runtime base: apt lists are not removed in the installing RUN")
        for pkg in sorted(installed):
            if pkg.endswith("-dev") or pkg in ("build-essential", "cmake", "gcc", "g++", "clang"):
                fails.append(f"runtime base: installs build tool or headers {pkg}")
        if "ca-certificates" not in installed:
            fails.append("runtime base: needs ca-certificates (TLS to CML uses the system store)")

    # The two targets: each copies its one binary, built on the runtime base.
    def check_target(stage, binary, others):
        image, body, _ = named[stage]
        instrs = stage_instrs(body)
        where = f"stage {stage}"
        if image != base_name:
            fails.append(f"{where}: must build on the runtime base {base_name}, not {image}")
        copies = " ".join(instrs.get("COPY", []))
        path = BINARIES[binary]
        if not re.search(rf"--from=build\s+/\S*/{re.escape(path)}\s+\S*{binary}\b", copies):
            fails.append(f"{where}: does not copy {path} from the build stage")
        for other in others:
            if other in copies:
                fails.append(f"{where}: copies {other}; the {binary} image holds {binary} only")
        users = instrs.get("USER", [])
        if not users or not re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]):
            fails.append(f"{where}: USER {users[-1] if users else None} must be a numeric non-root "
                         "uid (Kubernetes runAsNonRoot needs a number)")
        entry = exec_form(instrs.get("ENTRYPOINT", []))
        if entry is None:
            fails.append(f"{where}: ENTRYPOINT must be in exec form (a JSON array), so that "
                         "SIGTERM reaches the process")
        elif len(entry) != 1 or os.path.basename(entry[0]) != binary:
            fails.append(f"{where}: ENTRYPOINT {entry} must be [\"{binary}\"] alone, the command "
                         "and flags in CMD")
        return instrs

    emulators = [n for n, (img, body, _) in named.items()
                 if n not in ("build", base_name, final_name)]
    if "emulator" not in emulators:
        fails.append("Dockerfile: no `emulator` target (cml-emulator gets an image of its own)")
    else:
        check_target("emulator", "cml-emulator", ["daemon/cml-reconciler"])
    instrs = check_target(final_name, "cml-reconciler", ["emulator/cml-emulator"])
    cmd = exec_form(instrs.get("CMD", []))
    if cmd is None or cmd[:1] != ["run"]:
        fails.append(f"stage {final_name}: CMD {cmd} must be in exec form and start with run, so "
                     "that `docker run IMAGE validate ...` replaces it")
    elif "--listen" not in cmd[:-1] or cmd[cmd.index("--listen") + 1] != "0.0.0.0:9464":
        fails.append(f"stage {final_name}: CMD must listen on 0.0.0.0:9464 in the container")
    if "9464" not in " ".join(instrs.get("EXPOSE", [])):
        fails.append(f"stage {final_name}: EXPOSE 9464")
    labels = " ".join(instrs.get("LABEL", []))
    for key in ("title", "description", "version", "revision"):
        if f"org.opencontainers.image.{key}=" not in labels:
            fails.append(f"stage {final_name}: no OCI label org.opencontainers.image.{key}")

    # Runtime libraries of the binaries that exist.
    checked = 0
    for binary in sys.argv[1:]:
        if not os.path.exists(binary):
            print(f"note: {binary} not built; its libraries are not checked")
            continue
        checked += 1
        for pkg, libs in sorted(needed_packages(binary, fails).items()):
            if pkg not in installed:
                fails.append(f"runtime base: {os.path.basename(binary)} needs {', '.join(libs)} "
                             f"from package {pkg}, which the runtime base does not install")

    # Build context.
    with open(".dockerignore", encoding="utf-8") as f:
        ignored = {l.strip().rstrip("/") for l in f if l.strip() and not l.startswith("#")}
    for entry_name in ("build", ".tools"):
        if entry_name not in ignored and f"/{entry_name}" not in ignored:
            fails.append(f".dockerignore: must exclude {entry_name}/ (a host CMake cache or tools "
                         "tree would break or bloat the image build)")

    for f in fails:
        print(f"FAIL {f}")
    print(f"Dockerfile: {len(stages)} stages, {len(ran)} build command(s), {len(installed)} "
          f"runtime package(s), {checked} binary(ies) checked for libraries; {len(fails)} "
          "problem(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
