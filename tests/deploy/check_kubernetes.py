#!/usr/bin/env python3
"""Renders the Kubernetes manifests under deploy/kubernetes/ and checks what matters to run
cml-reconciler safely next to git-sync (or on a ConfigMap).

Rendering follows kustomize for the features the manifests use (resources: files and
directories with their own kustomization.yaml; configMapGenerator with files; generatorOptions);
anything else in a kustomization fails the check, so that it cannot be silently skipped. Every
document is read with yaml.safe_load_all.

Checks, for both variants (git-sync: deploy/kubernetes, ConfigMap: deploy/kubernetes/configmap):
- one Deployment (1 replica, Recreate), the Service and ServiceMonitor `cml-reconciler`, wired by
  labels and port names, scraping /metrics as job="cml-reconciler" (jobLabel), whatever an
  overlay renames the Service to;
- every object carries app.kubernetes.io/name and app.kubernetes.io/instance, and every selector
  (Deployment, Services, ServiceMonitors, NetworkPolicy) includes the instance, so that two
  reconcilers can share a namespace;
- a NetworkPolicy selects the pod and admits only listed peers (no open `from`) to the daemon's
  port, using matchExpressions in `from` (kustomize's includeSelectors rewrites matchLabels);
- one PrometheusRule whose groups equal deploy/prometheus/alerts.yaml's, text included
  (tests/deploy/sync_prometheusrule.py writes it);
- pod and every container: non-root, read-only root filesystem, no privilege escalation, all
  capabilities dropped, RuntimeDefault seccomp, no service account token, requests and limits;
- termination grace period covers the daemon's 10 s shutdown;
- liveness on /healthz and readiness on /readyz of the port the daemon listens on (9464);
- the API key comes from a Secret mounted read-only as a directory (no subPath, so that a rotated
  key reaches the daemon) holding the file that CML_API_KEY_FILE names;
- the container's args start with `run` and listen on 0.0.0.0:9464: they replace the image's CMD;
- git-sync: an init clone and a sidecar with the same --root/--link on one emptyDir, and
  CMLR_DESIRED is that link as the reconciler (read-only) sees it; the sidecar serves metrics
  (--http-bind, --http-metrics) on a named port it is probed on, exposed by a Service and
  scraped by a ServiceMonitor as job="cml-reconciler-git-sync", the job the alert rules name;
- ConfigMap: the mounted ConfigMap exists, has a fixed name, and holds ModelDeployment documents;
- the two variants run the same reconciler container apart from where the desired state is;
- with `kubectl` present (its built-in kustomize): both variants render the same as here, and the
  second-instance overlay renders a reconciler whose names and selectors are disjoint from the
  first's, without a second PrometheusRule.

Usage: check_kubernetes.py [ROOT]   (default deploy/kubernetes; run from the repository root)
Exit 0 when every check passes, 1 otherwise, listing every failure.
"""

import json
import os
import posixpath
import re
import shutil
import subprocess
import sys

import yaml

KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "configMapGenerator", "generatorOptions",
                      "configurations"}
DAEMON_PORT = 9464
ALERTS = "deploy/prometheus/alerts.yaml"
DAEMON_JOB = "cml-reconciler"
GIT_SYNC_JOB = "cml-reconciler-git-sync"
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
SHUTDOWN_SECONDS = 10


class Failures(list):
    def check(self, ok, message):
        if not ok:
            self.append(message)
        return ok


def render(directory, fails, seen_files):
    """Returns the list of documents of the kustomization in directory."""
    path = os.path.join(directory, "kustomization.yaml")
    if not fails.check(os.path.isfile(path), f"{directory}: no kustomization.yaml"):
        return []
    seen_files.add(os.path.normpath(path))
    with open(path, encoding="utf-8") as f:
        kust = yaml.safe_load(f) or {}
    for key in sorted(set(kust) - KUSTOMIZATION_KEYS):
        fails.append(f"{path}: `{key}` is not understood by this check; extend the renderer")
    fails.check(kust.get("kind") == "Kustomization", f"{path}: kind must be Kustomization")
    for conf in kust.get("configurations", []) or []:
        conf_path = os.path.normpath(os.path.join(directory, conf))
        if fails.check(os.path.isfile(conf_path), f"{path}: configuration {conf} missing"):
            seen_files.add(conf_path)  # it only teaches kustomize selectors; nothing to render
    docs = []
    for res in kust.get("resources", []):
        target = os.path.normpath(os.path.join(directory, res))
        if os.path.isdir(target):
            docs.extend(render(target, fails, seen_files))
        elif fails.check(os.path.isfile(target), f"{path}: resource {res} does not exist"):
            fails.check(not os.path.relpath(target, directory).startswith(".."),
                        f"{path}: file resource {res} is outside the kustomization root "
                        "(kustomize refuses it)")
            seen_files.add(target)
            with open(target, encoding="utf-8") as f:
                docs.extend(d for d in yaml.safe_load_all(f) if d)
    options = kust.get("generatorOptions", {}) or {}
    for gen in kust.get("configMapGenerator", []) or []:
        name = gen["name"]
        if not options.get("disableNameSuffixHash"):
            fails.append(f"{path}: ConfigMap {name} gets a hash suffix: kubelet could not update "
                         "the mounted files in place")
        data = {}
        for entry in gen.get("files", []):
            key, _, rel = entry.partition("=") if "=" in entry else (posixpath.basename(entry), "", entry)
            file_path = os.path.normpath(os.path.join(directory, rel))
            if fails.check(os.path.isfile(file_path), f"{path}: generator file {rel} missing"):
                seen_files.add(file_path)
                with open(file_path, encoding="utf-8") as f:
                    data[key] = f.read()
        labels = dict(options.get("labels", {}) or {})
        docs.append({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": name, "labels": labels}, "data": data})
    return docs


def one(docs, kind, where, fails, name=None):
    found = [d for d in docs if d.get("kind") == kind
             and (name is None or d["metadata"]["name"] == name)]
    what = f"{kind} {name}" if name else kind
    fails.check(len(found) == 1, f"{where}: expected one {what}, found {len(found)}")
    return found[0] if found else None


def selector_labels(selector):
    """The matchLabels of a selector (a Service's selector is the map itself)."""
    if selector is None:
        return {}
    return selector.get("matchLabels", selector) if "matchLabels" in selector else selector


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def quantity(value):
    """cpu or memory quantity -> float (cores or bytes)."""
    s = str(value)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if s.endswith(unit):
            return float(s[: -len(unit)]) * factor
    return float(s)


def check_container(c, pod_sc, where, fails):
    sc = c.get("securityContext") or {}
    run_as_non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    run_as_user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    fails.check(run_as_non_root is True, f"{where}: runAsNonRoot must be true")
    fails.check(run_as_user is None or run_as_user != 0, f"{where}: runs as uid 0")
    fails.check(sc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
    fails.check(sc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation")
    fails.check(sc.get("privileged") in (None, False), f"{where}: privileged")
    caps = sc.get("capabilities") or {}
    fails.check("ALL" in (caps.get("drop") or []), f"{where}: capabilities must drop ALL")
    fails.check(not caps.get("add"), f"{where}: adds capabilities {caps.get('add')}")
    image = c.get("image", "")
    fails.check(re.search(r":[\w][\w.-]*$", image) and not image.endswith(":latest"),
                f"{where}: image {image!r} must carry a version tag")
    res = c.get("resources") or {}
    for kind in ("cpu", "memory"):
        req = (res.get("requests") or {}).get(kind)
        lim = (res.get("limits") or {}).get(kind)
        if fails.check(req is not None and lim is not None,
                       f"{where}: needs a {kind} request and limit"):
            fails.check(quantity(req) <= quantity(lim), f"{where}: {kind} request above limit")


def mounts_by_path(container):
    return {m["mountPath"]: m for m in container.get("volumeMounts", [])}


def mount_of(container, path):
    """(mount, rest) of the deepest volume mount of container that contains path."""
    best = None
    for m in container.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    if best is None:
        return None, None
    return best, path[len(best["mountPath"].rstrip("/")):].lstrip("/")


def flag(args, name):
    """Value of --name=V or --name V in args; True for a bare --name; None when absent."""
    for i, a in enumerate(args):
        if a == f"--{name}":
            nxt = args[i + 1] if i + 1 < len(args) else None
            return nxt if nxt is not None and not nxt.startswith("--") else True
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_variant(root, variant, fails):
    where = f"{variant} ({root})"
    seen = set()
    docs = render(root, fails, seen)
    dep = one(docs, "Deployment", where, fails)
    svc = one(docs, "Service", where, fails, name="cml-reconciler")
    mon = one(docs, "ServiceMonitor", where, fails, name="cml-reconciler")
    if not (dep and svc and mon):
        return None, seen, docs
    check_instance_labels(docs, where, fails)
    check_prometheus_rule(docs, where, fails)

    spec = dep["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"]["metadata"].get("labels", {})
    fails.check(spec.get("replicas") == 1, f"{where}: exactly one replica (one writer to CML)")
    fails.check((spec.get("strategy") or {}).get("type") == "Recreate",
                f"{where}: strategy Recreate, so that two reconcilers never run at once")
    fails.check(matches(spec["selector"]["matchLabels"], pod_labels),
                f"{where}: Deployment selector does not match its pod labels")
    fails.check(pod.get("automountServiceAccountToken") is False,
                f"{where}: automountServiceAccountToken must be false")
    pod_sc = pod.get("securityContext") or {}
    fails.check(pod_sc.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot")
    fails.check((pod_sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
                f"{where}: pod seccompProfile RuntimeDefault")
    grace = pod.get("terminationGracePeriodSeconds")
    fails.check(isinstance(grace, int) and SHUTDOWN_SECONDS + 2 <= grace <= 60,
                f"{where}: terminationGracePeriodSeconds {grace} must cover the daemon's "
                f"{SHUTDOWN_SECONDS} s shutdown with a margin (12..60)")
    containers = {c["name"]: c for c in pod.get("containers", [])}
    inits = {c["name"]: c for c in pod.get("initContainers", []) or []}
    for name, c in {**containers, **inits}.items():
        check_container(c, pod_sc, f"{where} container {name}", fails)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for name, c in {**containers, **inits}.items():
        for m in c.get("volumeMounts", []):
            fails.check(m["name"] in volumes, f"{where} container {name}: mounts unknown volume "
                        f"{m['name']}")

    rec = containers.get("cml-reconciler")
    if not fails.check(rec is not None, f"{where}: no container named cml-reconciler"):
        return None, seen, docs
    w = f"{where} container cml-reconciler"
    ports = {p.get("name"): p for p in rec.get("ports", [])}
    fails.check(any(p.get("containerPort") == DAEMON_PORT for p in ports.values()),
                f"{w}: must expose containerPort {DAEMON_PORT} (the image listens there)")

    def port_number(port):
        return ports[port]["containerPort"] if port in ports else port

    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = (rec.get(probe) or {}).get("httpGet") or {}
        fails.check(get.get("path") == path and port_number(get.get("port")) == DAEMON_PORT,
                    f"{w}: {probe} must GET {path} on port {DAEMON_PORT}")
    live = rec.get("livenessProbe") or {}
    fails.check(live.get("periodSeconds", 10) * live.get("failureThreshold", 3) >= 15,
                f"{w}: liveness probe too eager (a pod restart is not a cure for CML outages)")

    env = env_of(rec)
    args = rec.get("args", []) + rec.get("command", [])
    fails.check(flag(args, "api-key") is None and flag(args, "api-key-file") is None,
                f"{w}: the key file is set through CML_API_KEY_FILE, never on the command line")
    fails.check("CDSW_APIV2_KEY" not in env, f"{w}: the API key must not be in the environment")
    for e in env.values():
        fails.check("secretKeyRef" not in (e.get("valueFrom") or {}),
                    f"{w}: env {e['name']} comes from a Secret; mount secrets as files")
    fails.check(rec.get("args", [])[:1] == ["run"] and not rec.get("command"),
                f"{w}: args must start with `run`: they replace the image's CMD "
                "(`run --listen 0.0.0.0:9464`), the ENTRYPOINT stays `cml-reconciler`")
    fails.check(flag(args, "listen") == f"0.0.0.0:{DAEMON_PORT}",
                f"{w}: args must say --listen 0.0.0.0:{DAEMON_PORT} (they replace the image's CMD)")
    key_file = (env.get("CML_API_KEY_FILE") or {}).get("value")
    if fails.check(bool(key_file), f"{w}: CML_API_KEY_FILE must name the key file"):
        m, rest = mount_of(rec, key_file)
        vol = volumes.get(m["name"]) if m else None
        if fails.check(vol is not None and "secret" in vol,
                       f"{w}: CML_API_KEY_FILE {key_file} is not on a Secret volume"):
            fails.check(m.get("readOnly") is True, f"{w}: the Secret mount must be readOnly")
            fails.check("subPath" not in m and "subPathExpr" not in m and rest,
                        f"{w}: mount the key's Secret as a directory, never with subPath: "
                        "kubelet does not update subPath mounts, so a rotated key would never "
                        "reach the daemon")
            items = vol["secret"].get("items")
            fails.check(items is None or any(i["path"] == rest for i in items),
                        f"{w}: the Secret volume has no file {rest}")
            mode = vol["secret"].get("defaultMode", 0o644)
            fails.check(mode & 0o007 == 0, f"{w}: the key file is world-readable ({oct(mode)})")
    fails.check((env.get("CML_URL") or {}).get("value", "").startswith("https://"),
                f"{w}: CML_URL must be an https:// URL")

    desired = (env.get("CMLR_DESIRED") or {}).get("value")
    if not fails.check(bool(desired), f"{w}: CMLR_DESIRED must name the desired state"):
        return rec, seen, docs
    d_mount, d_rest = mount_of(rec, desired)
    if not fails.check(d_mount is not None, f"{w}: CMLR_DESIRED {desired} is on no volume"):
        return rec, seen, docs
    fails.check(d_mount.get("readOnly") is True, f"{w}: the desired state must be mounted readOnly")
    d_vol = volumes.get(d_mount["name"], {})

    # Service and ServiceMonitor wiring.
    fails.check(matches(svc["spec"].get("selector"), pod_labels),
                f"{where}: Service selector does not match the pod")
    svc_ports = {p.get("name"): p for p in svc["spec"].get("ports", [])}
    http = svc_ports.get("http")
    if fails.check(http is not None, f"{where}: Service needs a port named http"):
        fails.check(port_number(http.get("targetPort")) == DAEMON_PORT,
                    f"{where}: Service port http must target {DAEMON_PORT}")
    fails.check(mon["apiVersion"] == "monitoring.coreos.com/v1", f"{where}: ServiceMonitor version")
    fails.check(matches(mon["spec"]["selector"].get("matchLabels"), svc["metadata"].get("labels", {})),
                f"{where}: ServiceMonitor selector does not match the Service")
    job_label = mon["spec"].get("jobLabel")
    fails.check(job_label and svc["metadata"].get("labels", {}).get(job_label) == DAEMON_JOB,
                f"{where}: the ServiceMonitor's jobLabel must name a Service label whose value is "
                f"{DAEMON_JOB!r}: the alerts expect job=\"{DAEMON_JOB}\" whatever the Service is "
                "called")
    endpoints = mon["spec"].get("endpoints", [])
    fails.check(any(e.get("port") in svc_ports and e.get("path", "/metrics") == "/metrics"
                    for e in endpoints),
                f"{where}: ServiceMonitor must scrape /metrics on a Service port")
    check_network_policy(docs, pod_labels, rec, containers, where, fails)

    if variant == "git-sync":
        check_git_sync(where, containers, inits, volumes, rec, desired, d_mount, d_rest, fails)
        check_git_sync_metrics(where, docs, pod_labels, containers, fails)
    else:
        fails.check(not any("git-sync" in c.get("image", "") for c in {**containers, **inits}.values()),
                    f"{where}: the ConfigMap variant runs no git-sync")
        cm_name = (d_vol.get("configMap") or {}).get("name")
        if fails.check(cm_name is not None, f"{where}: the desired-state volume must be a ConfigMap"):
            fails.check(d_rest == "", f"{where}: CMLR_DESIRED must be the ConfigMap mount itself "
                        "(subPath or file mounts are not updated by kubelet)")
            fails.check("subPath" not in d_mount, f"{where}: a subPath mount never updates")
            cms = [d for d in docs if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == cm_name]
            if fails.check(len(cms) == 1, f"{where}: ConfigMap {cm_name} is not rendered"):
                check_desired_configmap(where, cms[0], fails)
    return rec, seen, docs


def check_instance_labels(docs, where, fails):
    for d in docs:
        what = f"{where}: {d['kind']} {d['metadata']['name']}"
        labels = d["metadata"].get("labels") or {}
        fails.check(NAME_LABEL in labels and INSTANCE_LABEL in labels,
                    f"{what}: needs the labels {NAME_LABEL} and {INSTANCE_LABEL}")
        spec = d.get("spec") or {}
        selectors = []
        if d["kind"] == "Deployment":
            selectors = [spec["selector"].get("matchLabels", {}),
                         spec["template"]["metadata"].get("labels", {})]
        elif d["kind"] == "Service":
            selectors = [spec.get("selector") or {}]
        elif d["kind"] == "ServiceMonitor":
            selectors = [selector_labels(spec.get("selector"))]
        elif d["kind"] == "NetworkPolicy":
            selectors = [selector_labels(spec.get("podSelector"))]
        for sel in selectors:
            fails.check(INSTANCE_LABEL in sel and NAME_LABEL in sel,
                        f"{what}: its selector must include {NAME_LABEL} and {INSTANCE_LABEL}, "
                        "or a second reconciler in the namespace would be selected too")


def check_prometheus_rule(docs, where, fails):
    rule = one(docs, "PrometheusRule", where, fails)
    if rule is None:
        return
    fails.check(rule["apiVersion"] == "monitoring.coreos.com/v1", f"{where}: PrometheusRule version")
    with open(ALERTS, encoding="utf-8") as f:
        groups = yaml.safe_load(f)["groups"]
    fails.check((rule.get("spec") or {}).get("groups") == groups,
                f"{where}: the PrometheusRule's groups differ from {ALERTS}: run "
                "python3 tests/deploy/sync_prometheusrule.py")


def named_port(container, port):
    """containerPort of a container port given by name or number, or None."""
    for p in container.get("ports", []):
        if port in (p.get("name"), p.get("containerPort")):
            return p.get("containerPort")
    return None


def check_network_policy(docs, pod_labels, rec, containers, where, fails):
    policy = one(docs, "NetworkPolicy", where, fails)
    if policy is None:
        return
    spec = policy["spec"]
    fails.check(matches(selector_labels(spec.get("podSelector")), pod_labels),
                f"{where}: the NetworkPolicy does not select the reconciler's pod")
    fails.check("Ingress" in (spec.get("policyTypes") or []),
                f"{where}: the NetworkPolicy must restrict Ingress")
    admitted, scraped = set(), set()
    for i, rule in enumerate(spec.get("ingress") or []):
        peers = rule.get("from") or []
        fails.check(bool(peers), f"{where}: NetworkPolicy ingress rule {i} admits everyone "
                    "(no `from`)")
        fails.check(bool(rule.get("ports")), f"{where}: NetworkPolicy ingress rule {i} opens "
                    "every port (no `ports`)")
        for peer in peers:
            fails.check("ipBlock" not in peer, f"{where}: NetworkPolicy rule {i}: no ipBlock peers")
            for key in ("podSelector", "namespaceSelector"):
                if peer.get(key) is not None:
                    fails.check(not peer[key].get("matchLabels"),
                                f"{where}: NetworkPolicy rule {i} {key}: use matchExpressions; "
                                "kustomize's includeSelectors would rewrite matchLabels")
                    fails.check(bool(peer[key].get("matchExpressions")),
                                f"{where}: NetworkPolicy rule {i} {key} is empty (selects all)")
        from_monitoring = any(peer.get("namespaceSelector") is not None for peer in peers)
        for port in rule.get("ports") or []:
            for c in containers.values():
                number = named_port(c, port.get("port"))
                if number is not None:
                    admitted.add(number)
                    if from_monitoring:
                        scraped.add(number)
    fails.check(DAEMON_PORT in admitted,
                f"{where}: the NetworkPolicy admits nobody to the daemon's port {DAEMON_PORT}")
    # Prometheus runs in its own namespace: a rule with a namespaceSelector must admit it to
    # every metrics port (the daemon's, and git-sync's where it runs).
    metrics_ports = {DAEMON_PORT}
    for c in containers.values():
        bind = flag(c.get("args", []), "http-bind")
        if isinstance(bind, str) and ":" in bind:
            metrics_ports.add(int(bind.rsplit(":", 1)[1]))
    for port in sorted(metrics_ports - scraped):
        fails.append(f"{where}: the NetworkPolicy does not admit Prometheus (a peer with a "
                     f"namespaceSelector) to metrics port {port}")


def check_git_sync_metrics(where, docs, pod_labels, containers, fails):
    syncs = [c for c in containers.values() if "git-sync/git-sync:v4" in c.get("image", "")]
    if not syncs:
        return
    sidecar = syncs[0]
    w = f"{where} container {sidecar['name']}"
    bind = flag(sidecar.get("args", []), "http-bind")
    port = int(bind.rsplit(":", 1)[1]) if isinstance(bind, str) and ":" in bind else None
    if not fails.check(port is not None, f"{w}: needs --http-bind=:PORT for its metrics"):
        return
    fails.check(flag(sidecar.get("args", []), "http-metrics") in (True, "true"),
                f"{w}: needs --http-metrics")
    names = [p.get("name") for p in sidecar.get("ports", []) if p.get("containerPort") == port]
    if not fails.check(len(names) == 1 and names[0], f"{w}: needs a named containerPort {port}"):
        return
    for probe in ("readinessProbe", "livenessProbe"):
        get = (sidecar.get(probe) or {}).get("httpGet") or {}
        fails.check(get.get("port") in (port, names[0]), f"{w}: needs a {probe} on port {port}")
    services = [d for d in docs if d["kind"] == "Service"
                and matches(d["spec"].get("selector"), pod_labels)
                and any(p.get("targetPort") in (port, names[0]) for p in d["spec"].get("ports", []))]
    if not fails.check(len(services) == 1, f"{where}: one Service must expose git-sync's port"):
        return
    svc = services[0]
    svc_port_names = {p.get("name") for p in svc["spec"]["ports"]
                      if p.get("targetPort") in (port, names[0])}
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"
                and matches(selector_labels(d["spec"].get("selector")), svc["metadata"].get("labels", {}))
                and any(e.get("port") in svc_port_names for e in d["spec"].get("endpoints", []))]
    if not fails.check(len(monitors) == 1, f"{where}: one ServiceMonitor must scrape git-sync's port"):
        return
    for e in monitors[0]["spec"]["endpoints"]:
        if e.get("port") not in svc_port_names:
            continue
        fails.check(e.get("path", "/metrics") == "/metrics", f"{where}: git-sync metrics are at /metrics")
        jobs = [r.get("replacement") for r in e.get("relabelings", [])
                if r.get("targetLabel") == "job" and r.get("action", "replace") == "replace"]
        fails.check(jobs == [GIT_SYNC_JOB], f"{where}: the git-sync endpoint must relabel job to "
                    f"{GIT_SYNC_JOB!r}, the job the alert rules select")
    with open(ALERTS, encoding="utf-8") as f:
        fails.check(f'job="{GIT_SYNC_JOB}"' in f.read(), f"{ALERTS}: no rule selects {GIT_SYNC_JOB}")


def check_git_sync(where, containers, inits, volumes, rec, desired, d_mount, d_rest, fails):
    syncs = [c for c in containers.values() if "git-sync/git-sync:v4" in c.get("image", "")]
    init_syncs = [c for c in inits.values() if "git-sync/git-sync:v4" in c.get("image", "")]
    if not (fails.check(len(syncs) == 1, f"{where}: expected one git-sync v4 sidecar")
            and fails.check(len(init_syncs) == 1,
                            f"{where}: expected one git-sync v4 init container (first clone "
                            "before the reconciler starts)")):
        return
    sidecar, init = syncs[0], init_syncs[0]
    fails.check(flag(init["args"], "one-time") is True, f"{where}: the init git-sync needs --one-time")
    fails.check(flag(sidecar["args"], "one-time") is None, f"{where}: the sidecar must keep syncing")
    fails.check(flag(sidecar["args"], "period") not in (None, True), f"{where}: sidecar --period")
    for c in (init, sidecar):
        w = f"{where} container {c['name']}"
        root, link = flag(c["args"], "root"), flag(c["args"], "link")
        if not fails.check(isinstance(root, str) and isinstance(link, str) and "/" not in link,
                           f"{w}: needs --root=DIR and --link=NAME"):
            continue
        fails.check(flag(c["args"], "repo") not in (None, True), f"{w}: needs --repo")
        for a in ("repo", "ref", "root", "link", "depth"):
            fails.check(flag(init["args"], a) == flag(sidecar["args"], a),
                        f"{where}: init and sidecar git-sync differ in --{a}")
        m = mounts_by_path(c).get(root)
        if not fails.check(m is not None, f"{w}: --root {root} must be a volume mount"):
            continue
        fails.check(not m.get("readOnly"), f"{w}: --root must be writable")
        fails.check(m["name"] == d_mount["name"],
                    f"{w}: git-sync writes volume {m['name']}, the reconciler reads {d_mount['name']}")
        fails.check("emptyDir" in volumes.get(m["name"], {}), f"{w}: the shared volume must be an emptyDir")
        fails.check(d_rest == link or d_rest.startswith(link + "/"),
                    f"{where}: CMLR_DESIRED {desired} must be git-sync's link "
                    f"{d_mount['mountPath'].rstrip('/')}/{link} (or below it)")
        home = (env_of(c).get("HOME") or {}).get("value")
        home_mount, _ = mount_of(c, home) if home else (None, None)
        fails.check(home_mount is not None and not home_mount.get("readOnly")
                    and "emptyDir" in volumes.get(home_mount["name"], {}),
                    f"{w}: git needs a writable HOME on an emptyDir (read-only root filesystem)")


def check_desired_configmap(where, cm, fails):
    data = cm.get("data") or {}
    fails.check(bool(data), f"{where}: ConfigMap {cm['metadata']['name']} is empty")
    for key, text in data.items():
        fails.check(key.endswith((".yaml", ".yml")) and not key.startswith("."),
                    f"{where}: ConfigMap key {key} is not read as desired state (*.yaml)")
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            fails.append(f"{where}: ConfigMap key {key}: {e}")
            continue
        fails.check(bool(docs), f"{where}: ConfigMap key {key} holds no document")
        for d in docs:
            ok = (isinstance(d, dict) and d.get("apiVersion") == "cml-reconciler/v1"
                  and d.get("kind") == "ModelDeployment"
                  and re.fullmatch(r"[a-z0-9-]{1,63}", str((d.get("metadata") or {}).get("name")))
                  and isinstance(d.get("spec"), dict) and d["spec"].get("projectId")
                  and d["spec"].get("registeredModel"))
            fails.check(ok, f"{where}: ConfigMap key {key}: not a ModelDeployment (design.md 3)")


def comparable(container):
    """The reconciler container minus where the desired state comes from."""
    c = yaml.safe_load(yaml.safe_dump(container))
    c["env"] = [e for e in c.get("env", []) if e["name"] != "CMLR_DESIRED"]
    c["volumeMounts"] = [m for m in c.get("volumeMounts", []) if m["name"] != "desired-state"]
    return c


def kubectl_kustomize(directory):
    """Documents rendered by `kubectl kustomize`, or None when kubectl is not installed."""
    if shutil.which("kubectl") is None:
        return None
    proc = subprocess.run(["kubectl", "kustomize", directory], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory}: {proc.stderr.strip()}")
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def canonical(docs):
    return sorted(json.dumps(d, sort_keys=True) for d in docs)


def pods_of(docs):
    return [d["spec"]["template"]["metadata"].get("labels", {}) for d in docs
            if d["kind"] == "Deployment"]


def check_second_instance(root, first_docs, fails, seen):
    """The overlay in second-instance/: names and selectors disjoint from the first's."""
    overlay = os.path.join(root, "second-instance")
    path = os.path.join(overlay, "kustomization.yaml")
    if not fails.check(os.path.isfile(path), f"{overlay}: no kustomization.yaml"):
        return
    seen.add(os.path.normpath(path))
    try:
        second = kubectl_kustomize(overlay)
    except RuntimeError as e:
        fails.append(str(e))
        return
    if second is None:
        print(f"note: kubectl not installed; {overlay} is not rendered")
        return
    where = f"second instance ({overlay})"
    names = {(d["kind"], d["metadata"]["name"]) for d in first_docs}
    for d in second:
        fails.check((d["kind"], d["metadata"]["name"]) not in names,
                    f"{where}: {d['kind']} {d['metadata']['name']} collides with the first instance")
    fails.check(not any(d["kind"] == "PrometheusRule" for d in second),
                f"{where}: repeats the PrometheusRule (every alert would be evaluated twice)")
    for mine, other, label in ((second, first_docs, "second"), (first_docs, second, "first")):
        other_pods = pods_of(other)
        other_services = [d["metadata"].get("labels", {}) for d in other if d["kind"] == "Service"]
        for d in mine:
            spec = d.get("spec") or {}
            if d["kind"] in ("Deployment", "Service", "NetworkPolicy"):
                sel = (spec.get("selector") or {}).get("matchLabels") if d["kind"] == "Deployment" \
                    else spec.get("selector") if d["kind"] == "Service" \
                    else selector_labels(spec.get("podSelector"))
                fails.check(not any(matches(sel, pod) for pod in other_pods),
                            f"{where}: the {label} instance's {d['kind']} {d['metadata']['name']} "
                            "selects the other instance's pods")
            if d["kind"] == "ServiceMonitor":
                sel = selector_labels(spec.get("selector"))
                fails.check(not any(matches(sel, s) for s in other_services),
                            f"{where}: the {label} instance's ServiceMonitor "
                            f"{d['metadata']['name']} selects the other instance's Service")
    deps = [d for d in second if d["kind"] == "Deployment"]
    if fails.check(len(deps) == 1, f"{where}: expected one Deployment"):
        first_dep = [d for d in first_docs if d["kind"] == "Deployment"][0]
        secret = lambda dep: sorted(v["secret"]["secretName"] for v in dep["spec"]["template"]
                                    ["spec"]["volumes"] if "secret" in v)
        fails.check(secret(deps[0]) != secret(first_dep),
                    f"{where}: uses the first instance's API key Secret (patch secretName)")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "deploy/kubernetes"
    fails = Failures()
    rec_git, seen_git, docs_git = check_variant(root, "git-sync", fails)
    rec_cm, seen_cm, docs_cm = check_variant(os.path.join(root, "configmap"), "configmap", fails)
    if rec_git and rec_cm:
        fails.check(comparable(rec_git) == comparable(rec_cm),
                    "the two variants' cml-reconciler containers differ beyond the desired state")
    for directory, docs in ((root, docs_git), (os.path.join(root, "configmap"), docs_cm)):
        try:
            real = kubectl_kustomize(directory)
        except RuntimeError as e:
            fails.append(str(e))
            continue
        if real is not None:
            fails.check(canonical(real) == canonical(docs),
                        f"{directory}: kubectl kustomize renders something else than this check "
                        "reads: extend the renderer")
    proc = subprocess.run([sys.executable, "tests/deploy/sync_prometheusrule.py", "--check"],
                          capture_output=True, text=True)
    fails.check(proc.returncode == 0, proc.stdout.strip() or proc.stderr.strip())
    seen = seen_git | seen_cm
    check_second_instance(root, docs_git, fails, seen)
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.normpath(os.path.join(dirpath, name))
            if name.endswith((".yaml", ".yml")) and path not in seen:
                fails.append(f"{path}: not part of any rendered variant")
    for f in fails:
        print(f"FAIL {f}")
    print(f"checked the git-sync and configmap variants under {root}; {len(fails)} problem(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
