#!/usr/bin/env python3
"""The status page (GET /, design section 13) in a real headless Chromium.

  status_page_test.py --suite daemon   --daemon BIN --emulator BIN --artifacts DIR [--update-docs]
      The real cml-reconciler against the real cml-emulator with four models (healthy, drifting,
      stalled, suspended): the page shows every model with the states the status API reports,
      the counts, filter and sorting work, a model changed in the emulator changes on the page
      within a few seconds, the detail view opens (mouse and keyboard), Retry and Reconcile reach
      their endpoints, the layout holds at phone width, the console has no script or CSP error.
      Saves screenshots in DIR; --update-docs copies the desktop one to docs/status-page.png.
  status_page_test.py --suite contract --daemon BIN --emulator BIN --artifacts DIR
      The page as the daemon serves it, against a fake daemon: without an event stream it polls;
      a rejected desired state, the revision, diffs, verification and last good show when the
      status carries them and are hidden when it does not; an admin token is asked for on a 401,
      kept in sessionStorage and sent as a Bearer header, never in the address.
  status_page_test.py --suite perf     --daemon BIN --emulator BIN --artifacts DIR
      1000 models: the time to render the table, to apply a burst of 1000 events, to filter and
      to sort, and the longest main-thread task, measured in the browser (performance.now and
      the Long Tasks API); written to DIR/perf.json and checked against generous bounds.

Exit 0 pass, 1 fail, 77 skip (only when chromium is not installed).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser_support as bs  # noqa: E402  pylint: disable=wrong-import-position

PROJECT = "abcd-1234-efgh-5678"
RUNTIME = ("docker.repository.cloudera.com/cloudera/cdsw/"
           "ml-runtime-workbench-python3.9-standard:2024.02.1-b4")
REVISION = "5f0c6b1e9d2a4c7b8e3f1a0d9c8b7a6f5e4d3c2b"


def model_yaml(name, model_name, version, extra_sync="", labels="{team: risk}"):
    return f"""apiVersion: cml-reconciler/v1
kind: ModelDeployment
metadata:
  name: {name}
  labels: {labels}
spec:
  projectId: "{PROJECT}"
  modelName: {model_name}
  registeredModel: {{name: FraudCLF-alice, version: {version}}}
  runtime: {RUNTIME}
  resources: {{cpu: 1, memory: 2Gi, replicas: 1}}
{extra_sync}"""


DESIRED = {
    "page-healthy.yaml": model_yaml("page-healthy", "FraudCLF-page-healthy", 3,
                                    labels="{team: risk, tier: production}"),
    # selfHeal off: a deployment stopped by hand stays stopped and the model stays OutOfSync.
    "page-drift.yaml": model_yaml("page-drift", "FraudCLF-page-drift", 2,
                                  "  sync: {selfHeal: false}\n"),
    # No version 99 in the emulator's registry: Stalled, RegisteredModelVersionNotFound.
    "page-stalled.yaml": model_yaml("page-stalled", "FraudCLF-page-stalled", 99),
    "page-suspended.yaml": model_yaml("page-suspended", "FraudCLF-page-suspended", 1,
                                      "  sync:\n    suspend: {reason: Investigating INC-4711}\n"),
    # Design section 12: the source revision from a REVISION file when there is no git.
    "REVISION": REVISION + "\n",
}

# Requests that fail by design and so appear in the console: an absent event stream (404) and
# the 401 that makes the page ask for the token.
ALLOWED_CONSOLE = ("api/v1/events", "401", "favicon")


# ---- page access ---------------------------------------------------------------------------

ROWS_JS = """
return Array.from(document.querySelectorAll('#rows > [role=row]')).map(tr => ({
  name: tr.dataset.name,
  sync: (tr.children[1].querySelector('[data-state]') || {}).dataset?.state,
  health: (tr.children[2].querySelector('[data-state]') || {}).dataset?.state,
  stalled: !!tr.children[2].querySelector('[data-state="Stalled"]'),
  version: tr.children[3].textContent,
  replicas: tr.children[4].textContent,
  last: tr.children[5].textContent,
  message: tr.children[6].textContent,
  next: tr.children[7].textContent,
  attention: tr.classList.contains('attention'),
}));
"""


def rows(driver):
    return driver.execute_script(ROWS_JS)


def row(driver, name):
    for r in rows(driver):
        if r["name"] == name:
            return r
    return None


def chips(driver):
    return driver.execute_script("""
      const out = {};
      for (const b of document.querySelectorAll('#counts button[data-chip]'))
        out[b.dataset.chip || 'all'] = Number(b.querySelector('.n').textContent);
      return out;""")


def text(driver, element_id):
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def toast(driver):
    return text(driver, "toast")


def dialog_open(driver, element_id="detail"):
    return driver.execute_script(f"return document.getElementById('{element_id}').open")


def detail_sections(driver):
    return driver.execute_script("""
      const out = {};
      for (const s of document.querySelectorAll('#detail-body section'))
        out[s.dataset.section] = s.innerText;
      return out;""")


def screenshot(driver, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not driver.save_screenshot(path):
        bs.fail(f"could not save {path}")
    print(f"screenshot: {path}")


def by_css(driver, css):
    from selenium.webdriver.common.by import By  # pylint: disable=import-outside-toplevel
    return driver.find_element(By.CSS_SELECTOR, css)


def keys():
    from selenium.webdriver.common.keys import Keys  # pylint: disable=import-outside-toplevel
    return Keys


def actions(driver):
    from selenium.webdriver.common.action_chains import ActionChains  # pylint: disable=C0415
    return ActionChains(driver)


def check(condition, message):
    if not condition:
        bs.fail(message)
    print(f"ok: {message}")


# ---- suite: the real daemon and emulator -----------------------------------------------------

def suite_daemon(args, tmp):
    token = "page-test-token-" + os.urandom(6).hex()
    with_token = bs.daemon_supports(args.daemon, "--admin-token-file")
    system = bs.RealSystem(args.daemon, args.emulator, DESIRED,
                           admin_token=token if with_token else None,
                           extra_daemon_args=["--resync", "60s"])
    driver = None
    ok = False
    try:
        def settled():
            models = {m["name"]: m for m in system.status()["models"]}
            if len(models) != 4:
                return False
            stalled = [c for c in models["page-stalled"]["conditions"]
                       if c["type"] == "Stalled" and c["status"] == "True"]
            return (all(models[n]["sync"] == "Synced" and models[n]["health"] == "Healthy"
                        for n in ("page-healthy", "page-drift"))
                    and models["page-suspended"]["health"] == "Suspended" and stalled
                    and models["page-drift"]["live"]["deploymentId"])
        bs.wait_until(settled, 45, 0.2, "the daemon to settle the four models")
        print(f"daemon: {system.url} (admin token: {'yes' if with_token else 'no'}; event stream: "
              f"{'yes' if system.has_event_stream() else 'no'})")

        headers, body = system.page()
        check(headers.get("Content-Type") == "text/html; charset=utf-8",
              f"GET / is text/html; charset=utf-8 ({headers.get('Content-Type')})")
        csp = headers.get("Content-Security-Policy", "")
        check("default-src 'none'" in csp and "script-src 'sha256-" in csp
              and "style-src 'sha256-" in csp and "connect-src 'self'" in csp
              and "unsafe" not in csp, f"GET / has a strict Content-Security-Policy: {csp}")
        check("no-cache" in headers.get("Cache-Control", ""), "GET / has Cache-Control: no-cache")
        check(b"http://" not in body.replace(b"http://www.w3.org", b"")
              and b"https://" not in body, "the page loads nothing from another origin")
        status, _, _ = bs.Http.request("POST", system.url + "/")
        check(status == 405, f"POST / is 405 ({status})")

        driver = bs.new_browser(os.path.join(tmp, "profile"))
        driver.get(system.url + "/")
        bs.wait_until(lambda: len(rows(driver)) == 4, 15, what="four rows")

        # Every model with the states the API reports.
        api = {m["name"]: m for m in system.status()["models"]}

        def page_matches_api():
            current = {m["name"]: m for m in system.status()["models"]}
            for r in rows(driver):
                m = current[r["name"]]
                stalled = any(c["type"] == "Stalled" and c["status"] == "True"
                              for c in m["conditions"])
                if (r["sync"], r["health"], r["stalled"]) != (m["sync"], m["health"], stalled):
                    return False
            return True
        bs.wait_until(page_matches_api, 10, 0.2, "the page to show the API's states")
        shown = {r["name"]: r for r in rows(driver)}
        check(sorted(shown) == sorted(api), f"the page lists every model: {sorted(shown)}")
        check(shown["page-healthy"]["sync"] == "Synced" and shown["page-healthy"]["health"] == "Healthy",
              "page-healthy shows Synced and Healthy")
        check(shown["page-stalled"]["stalled"] and shown["page-stalled"]["attention"],
              "page-stalled shows Stalled and is marked for attention")
        check(shown["page-suspended"]["health"] == "Suspended", "page-suspended shows Suspended")
        check(shown["page-healthy"]["version"] == "v3" and shown["page-healthy"]["replicas"] == "1/1",
              f"version and live/desired replicas: {shown['page-healthy']['version']}, "
              f"{shown['page-healthy']['replicas']}")
        check("create_model_deployment" in shown["page-healthy"]["last"]
              or "stop_model_deployment" in shown["page-healthy"]["last"]
              or shown["page-healthy"]["last"] != "\u2014",
              f"the last action with its HTTP status: {shown['page-healthy']['last']!r}")
        stalled_reason = next(c for c in api["page-stalled"]["conditions"] if c["type"] == "Stalled")
        check(stalled_reason["message"] and shown["page-stalled"]["message"] == stalled_reason["message"],
              f"the stalled model's message: {shown['page-stalled']['message']!r}")
        check(shown["page-healthy"]["next"].startswith("in "),
              f"the next check: {shown['page-healthy']['next']!r}")
        counts = chips(driver)
        check(counts.get("all") == 4 and counts.get("stalled") == 1
              and counts.get("health:Suspended") == 1 and counts.get("health:Healthy") == 2,
              f"the counts by state: {counts}")
        mode = driver.execute_script("return cmlrStatusPage.mode()")
        check(mode == ("events" if system.has_event_stream() else "polling") or mode == "events",
              f"live updates: {mode}")
        revision = system.status().get("revision")
        if revision:
            check(text(driver, "revision").startswith(revision[:12]),
                  f"the header shows the revision {revision[:12]}")
        else:
            print("note: the daemon reports no revision yet; the header says 'unknown'")

        # Filter and sort.
        driver.find_element("id", "filter").send_keys("stalled")
        bs.wait_until(lambda: [r["name"] for r in rows(driver)] == ["page-stalled"], 5,
                      what="the filter to leave page-stalled alone")
        check(True, "the filter 'stalled' shows only page-stalled")
        driver.find_element("id", "filter").send_keys(keys().ESCAPE)
        bs.wait_until(lambda: len(rows(driver)) == 4, 5, what="Escape to clear the filter")
        by_css(driver, "[data-sort='name'] button").click()
        bs.wait_until(lambda: [r["name"] for r in rows(driver)] == sorted(api, reverse=True), 5,
                      what="the name column to sort descending")
        check(True, "clicking Name sorts descending")
        by_css(driver, "[data-sort='name'] button").click()
        by_css(driver, "#counts button[data-chip='stalled']").click()
        bs.wait_until(lambda: [r["name"] for r in rows(driver)] == ["page-stalled"], 5,
                      what="the Stalled chip to filter")
        by_css(driver, "#counts button[data-chip='stalled']").click()
        bs.wait_until(lambda: len(rows(driver)) == 4, 5, what="the chip to toggle off")
        check(True, "the Stalled chip filters and toggles off")

        # A model changed in CML changes on the page within a few seconds.
        deployment = system.entry("page-drift")["live"]["deploymentId"]
        status, _, _ = bs.Http.request("POST", system.emulator_url + "/_emulator/drift/stop_deployment",
                                       {"deployment_id": deployment})
        check(status == 200, f"the emulator stopped page-drift's deployment {deployment}")
        changed_at = time.monotonic()
        check(system.post("/api/v1/reconcile?name=page-drift") == 202,
              "the test asked the daemon to look at page-drift (a webhook)")
        bs.wait_until(lambda: (row(driver, "page-drift") or {}).get("sync") == "OutOfSync", 10,
                      0.05, "page-drift to show OutOfSync")
        latency = time.monotonic() - changed_at
        check(latency < 10, f"page-drift shows OutOfSync {latency:.2f} s after the change")
        bs.wait_until(page_matches_api, 10, 0.2, "the page to agree with the API after the change")

        # The detail view, opened with the mouse; Retry reaches the endpoint.
        by_css(driver, "a[href='#model=page-stalled']").click()
        bs.wait_until(lambda: dialog_open(driver), 5, what="the detail view to open")
        sections = bs.wait_until(lambda: detail_sections(driver), 5, what="detail sections")
        check("Stalled" in sections["d-conditions"] and "True" in sections["d-conditions"]
              and stalled_reason["reason"] in sections["d-conditions"],
              f"the detail view lists the conditions with reason {stalled_reason['reason']}")
        check("d-history" in sections and "d-live" in sections and "d-resources" in sections
              and "d-plan" in sections, f"the detail view has its sections: {sorted(sections)}")
        entry = system.entry("page-stalled")
        for field, section in (("verification", "d-verify"), ("lastGood", "d-lastgood")):
            check(bool(entry.get(field)) == (section in sections),
                  f"'{section}' is shown exactly when the status has '{field}' (null or absent: "
                  f"hidden)")
        history_rows = driver.execute_script(
            "return document.querySelectorAll('#detail-body [data-section=d-history] tbody tr').length")
        check(history_rows == min(20, len(entry["history"])),
              f"the history shows the last {history_rows} entries")
        before = system.metric_sum("cml_reconciler_reconcile_total", 'model="page-stalled"')
        driver.find_element("id", "btn-retry").click()
        if with_token:
            bs.wait_until(lambda: dialog_open(driver, "token-dialog"), 5,
                          what="the token dialog after a 401")
            driver.find_element("id", "token-input").send_keys(token + keys().ENTER)
            check(True, "a 401 asks for the admin token")
        bs.wait_until(lambda: "Retry page-stalled: accepted (202)" in toast(driver), 5,
                      what="the Retry toast")
        check(True, "Retry answered 202")
        bs.wait_until(lambda: system.metric_sum("cml_reconciler_reconcile_total",
                                                'model="page-stalled"') > before, 10,
                      0.2, "a reconcile pass of page-stalled after Retry")
        check(True, "Retry reached the daemon: page-stalled was reconciled again")
        if with_token:
            check(token not in driver.current_url, "the token is not in the address")
        screenshot(driver, os.path.join(args.artifacts, "status-page-detail.png"))
        actions(driver).send_keys(keys().ESCAPE).perform()
        bs.wait_until(lambda: not dialog_open(driver), 5, what="Escape to close the detail view")
        check(driver.execute_script("return document.activeElement.getAttribute('href')")
              == "#model=page-stalled", "closing returns the focus to the model's link")

        # Keyboard only: '/' focuses the filter, Enter on a link opens it, Reconcile from there.
        actions(driver).send_keys("/").perform()
        check(driver.execute_script("return document.activeElement.id") == "filter",
              "'/' focuses the filter")
        driver.execute_script("document.querySelector(\"a[href='#model=page-drift']\").focus()")
        actions(driver).send_keys(keys().ENTER).perform()
        bs.wait_until(lambda: dialog_open(driver) and
                      driver.execute_script("return document.getElementById('detail').dataset.model")
                      == "page-drift", 5, what="Enter on a link to open its detail view")
        check(True, "Enter on a model's link opens its detail view")
        driver.find_element("id", "btn-reconcile").send_keys(keys().ENTER)
        bs.wait_until(lambda: "Reconcile page-drift: accepted (202)" in toast(driver), 5,
                      what="the Reconcile toast")
        check(True, "Reconcile answered 202")
        actions(driver).send_keys(keys().ESCAPE).perform()
        bs.wait_until(lambda: not dialog_open(driver), 5, what="Escape to close")

        # The screenshot for the README: desktop width, every state on screen.
        driver.execute_script("document.activeElement.blur()")
        driver.execute_script("document.getElementById('toast').textContent = ''")
        driver.set_window_size(1280, 580)
        time.sleep(0.3)  # one layout at the new size before the picture (a fixed, short wait)
        desktop = os.path.join(args.artifacts, "status-page.png")
        screenshot(driver, desktop)

        # Phone width: no horizontal scrolling, one card per model.
        driver.set_window_size(390, 844)
        bs.wait_until(lambda: driver.execute_script(
            "return getComputedStyle(document.querySelector('#rows > [role=row]'))"
            ".gridTemplateColumns.split(' ').length") == 2, 5, what="cards at phone width")
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 0, f"no horizontal scrolling at 390 px ({overflow} px too wide)")
        screenshot(driver, os.path.join(args.artifacts, "status-page-phone.png"))

        problems = bs.console_problems(driver, ALLOWED_CONSOLE)
        check(not problems, f"no script or CSP error in the console {problems}")
        if args.update_docs:
            target = os.path.join(bs_project_dir(), "docs", "status-page.png")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(desktop, target)
            print(f"updated {target}")
        ok = True
    finally:
        if driver is not None:
            driver.quit()
        system.close(keep_logs_on_failure=not ok)


def bs_project_dir():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---- synthetic entries for the fake daemon ---------------------------------------------------

def iso(seconds_from_now):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds_from_now))


def synthetic_entry(i, health="Healthy", sync="Synced", stalled=False, generation=0, **extra):
    name = f"model-{i:04d}"
    history = [{"time": iso(-600 + k * 10), "operation": "create_model_deployment" if k % 2 else
                "get_model", "httpStatus": 200, "durationSeconds": 0.012, "error": False,
                "message": f"step {k} of {name}"} for k in range(20)]
    if generation:
        history = history[1:] + [{"time": iso(0), "operation": "create_model_build",
                                  "httpStatus": 503 if health == "Degraded" else 200,
                                  "durationSeconds": 0.2, "error": health == "Degraded",
                                  "message": f"generation {generation}"}]
    conditions = [
        {"type": "Ready", "status": "True" if health == "Healthy" else "False",
         "reason": "Synced" if health == "Healthy" else "BuildFailed",
         "message": "" if health == "Healthy" else f"build {i} failed: out of memory",
         "observedGeneration": "sha256:abc", "lastTransitionTime": iso(-300)},
        {"type": "Reconciling", "status": "False", "reason": "Idle", "message": "",
         "observedGeneration": "sha256:abc", "lastTransitionTime": iso(-300)},
        {"type": "Stalled", "status": "True" if stalled else "False",
         "reason": "RegisteredModelVersionNotFound" if stalled else "NotStalled",
         "message": "registered model version 99 not found" if stalled else "",
         "observedGeneration": "sha256:abc", "lastTransitionTime": iso(-300)},
    ]
    entry = {
        "name": name, "labels": {"team": ["risk", "ads", "search"][i % 3], "tier": "production"},
        "sync": sync, "health": health, "conditions": conditions,
        "live": {"projectId": PROJECT, "modelId": f"m-{i}", "buildId": f"b-{i}",
                 "buildStatus": "built", "deploymentId": f"d-{i}-{generation}",
                 "deploymentStatus": "deployed", "registeredModelId": "rm-1",
                 "registeredModelVersionId": "rmv-3", "version": 3, "runtime": RUNTIME, "cpu": 1,
                 "memoryGiB": 2, "gpus": 0, "replicas": 1, "desiredReplicas": 1,
                 "authEnabled": True},
        "history": history, "lastSyncedAt": iso(-60), "nextReconcileAt": iso(60 + i % 50),
        "desiredDigest": "sha256:" + "ab" * 32, "resolvedRuntime": RUNTIME,
        "plannedAction": None, "removed": False,
    }
    entry.update(extra)
    return entry


# ---- suite: the contracts the daemon does not serve yet, against a fake daemon ---------------

def suite_contract(args, tmp):
    system = bs.RealSystem(args.daemon, args.emulator,
                           {"page-suspended.yaml": DESIRED["page-suspended.yaml"]})
    fake = driver = None
    ok = False
    try:
        headers, body = system.page()
        token = "fake-admin-token"
        models = [
            synthetic_entry(0),
            synthetic_entry(1, health="Degraded", sync="OutOfSync",
                            plannedAction="create_model_build: version 3 on runtime python3.9",
                            diffs=[{"field": "resources.replicas", "live": 1, "desired": 3},
                                   {"field": "version", "live": 2, "desired": 3}],
                            verification={"result": "Failed", "at": iso(-30),
                                          "message": "2 of 3 probe requests failed"},
                            lastGood={"version": 2, "buildId": "b-good", "deploymentId": "d-good"}),
            synthetic_entry(2, health="Progressing", sync="OutOfSync"),
        ]
        fake = bs.FakeDaemon(headers, body, models, events=False, admin_token=token,
                             revision=REVISION,
                             desired_state={"result": "error", "at": iso(-5), "errors": 2,
                                            "message": "model-0001.yaml:7:3: spec.resources.cpu: "
                                                       "expected a number"})
        driver = bs.new_browser(os.path.join(tmp, "profile"))
        driver.get(fake.url + "/")
        bs.wait_until(lambda: len(rows(driver)) == 3, 15, what="three rows")
        bs.wait_until(lambda: driver.execute_script("return cmlrStatusPage.mode()") == "polling",
                      10, what="polling without an event stream")
        check(True, "without /api/v1/events the page polls")
        check(text(driver, "revision") == REVISION[:12], "the header shows the revision")
        desired = text(driver, "desired")
        check("rejected" in desired and "2 errors" in desired and "spec.resources.cpu" in desired,
              f"the header shows the rejected desired state: {desired!r}")

        # A change shows within a few seconds by polling.
        gets = fake.status_gets
        fake.set_model(synthetic_entry(2, health="Healthy", generation=1), publish=False)
        started = time.monotonic()
        bs.wait_until(lambda: (row(driver, "model-0002") or {}).get("health") == "Healthy", 8,
                      0.05, "the polled change")
        check(fake.status_gets > gets,
              f"a polled change shows after {time.monotonic() - started:.2f} s")

        # The fields of later issues show when present ...
        by_css(driver, "a[href='#model=model-0001']").click()
        bs.wait_until(lambda: dialog_open(driver), 5, what="the detail view")
        sections = detail_sections(driver)
        check("resources.replicas" in sections["d-plan"] and "create_model_build" in sections["d-plan"],
              "the planned action and its diffs")
        check("Failed" in sections.get("d-verify", "") and "probe" in sections["d-verify"],
              "the verification result")
        check("b-good" in sections.get("d-lastgood", "") and "d-good" in sections["d-lastgood"],
              "the last good version, build and deployment")
        check(len(driver.execute_script(
            "return document.querySelectorAll('#detail-body [data-section=d-history] tbody tr')"))
              == 20, "20 history entries")
        # ... and Retry asks for the token on a 401, then sends it as a Bearer header.
        driver.find_element("id", "btn-retry").click()
        bs.wait_until(lambda: dialog_open(driver, "token-dialog"), 5, what="the token dialog")
        driver.find_element("id", "token-input").send_keys("wrong" + keys().ENTER)
        bs.wait_until(lambda: dialog_open(driver, "token-dialog") and
                      "refused" in text(driver, "token-note"), 5, what="the wrong token refused")
        check(True, "a wrong token is refused and asked for again")
        driver.find_element("id", "token-input").send_keys(token + keys().ENTER)
        bs.wait_until(lambda: "Retry model-0001: accepted (202)" in toast(driver), 5,
                      what="Retry accepted with the token")
        check(fake.posts[-1] == ("/api/v1/models/model-0001/retry", f"Bearer {token}"),
              f"Retry sent the token as a Bearer header: {fake.posts[-1]}")
        stored = driver.execute_script("return sessionStorage.getItem('cmlr-admin-token')")
        check(stored == token and token not in driver.current_url,
              "the token is kept in sessionStorage, not in the address")
        driver.find_element("id", "btn-reconcile").click()
        bs.wait_until(lambda: "Reconcile model-0001: accepted (202)" in toast(driver), 5,
                      what="Reconcile with the stored token")
        check(fake.posts[-1] == ("/api/v1/reconcile?name=model-0001", f"Bearer {token}"),
              "Reconcile reuses the stored token without asking")
        actions(driver).send_keys(keys().ESCAPE).perform()
        bs.wait_until(lambda: not dialog_open(driver), 5, what="Escape to close")

        # ... and are hidden when absent.
        by_css(driver, "a[href='#model=model-0000']").click()
        bs.wait_until(lambda: dialog_open(driver) and "d-conditions" in detail_sections(driver),
                      5, what="the detail view of model-0000")
        sections = detail_sections(driver)
        check("d-verify" not in sections and "d-lastgood" not in sections,
              "verification and last good are hidden when the status lacks them")
        actions(driver).send_keys(keys().ESCAPE).perform()

        # With an event stream, an event shows without waiting for a poll.
        fake.events_enabled = True
        driver.get("about:blank")  # a new page load: only the fragment would differ otherwise
        driver.get(fake.url + "/#model=model-0002")
        bs.wait_until(lambda: driver.execute_script("return cmlrStatusPage.mode()") == "events",
                      10, what="the event stream")
        bs.wait_until(lambda: dialog_open(driver), 5, what="a model named in the address to open")
        check(True, "a model named in the address (#model=NAME) opens its detail view")
        bs.wait_until(lambda: fake.connected_streams() > 0, 5, what="the stream to connect")
        started = time.monotonic()
        fake.publish([synthetic_entry(2, health="Degraded", sync="OutOfSync", generation=2)])
        bs.wait_until(lambda: (row(driver, "model-0002") or {}).get("health") == "Degraded", 5,
                      0.02, "the event to show")
        bs.wait_until(lambda: "generation 2" in detail_sections(driver).get("d-history", ""), 5,
                      0.05, "the open detail view to update")
        check(True, f"an event shows on the table and in the open detail view after "
                    f"{time.monotonic() - started:.2f} s")
        screenshot(driver, os.path.join(args.artifacts, "status-page-contract.png"))
        problems = bs.console_problems(driver, ALLOWED_CONSOLE)
        check(not problems, f"no script or CSP error in the console {problems}")
        ok = True
    finally:
        if driver is not None:
            driver.quit()
        if fake is not None:
            fake.close()
        system.close(keep_logs_on_failure=not ok)


# ---- suite: 1000 models ------------------------------------------------------------------------

LONGTASKS_JS = """
window.__longtasks = [];
new PerformanceObserver(list => {
  for (const e of list.getEntries()) window.__longtasks.push(e.duration);
}).observe({type: 'longtask', buffered: true});
"""


def renders_since(driver, start):
    return driver.execute_script(
        "return cmlrStatusPage.stats.renderLog.filter(r => r.start >= arguments[0])", start)


def suite_perf(args, tmp):
    system = bs.RealSystem(args.daemon, args.emulator,
                           {"page-suspended.yaml": DESIRED["page-suspended.yaml"]})
    fake = driver = None
    ok = False
    results = {}
    try:
        headers, body = system.page()
        n = 1000
        models = [synthetic_entry(i, health="Degraded" if i % 97 == 0 else "Healthy",
                                  sync="OutOfSync" if i % 97 == 0 else "Synced",
                                  stalled=i % 211 == 0) for i in range(n)]
        fake = bs.FakeDaemon(headers, body, models, events=True, revision=REVISION)
        driver = bs.new_browser(os.path.join(tmp, "profile"))
        driver.get(fake.url + "/")
        bs.wait_until(lambda: driver.execute_script(
            "return cmlrStatusPage.shown().length") == n, 30, what=f"{n} rows")
        driver.execute_script(LONGTASKS_JS)
        # The first load spreads the rows over a few frames: sum them up to the one that shows
        # all 1000.
        log = driver.execute_script("return cmlrStatusPage.stats.renderLog")
        initial = [r for r in log if r["rows"] or r["shown"]]
        complete = next(i for i, r in enumerate(initial) if r["shown"] >= n)
        initial = initial[:complete + 1]
        results["initial_render_ms"] = round(sum(r["ms"] for r in initial), 1)
        results["initial_frames"] = len(initial)
        results["initial_longest_render_ms"] = round(max(r["ms"] for r in initial), 1)
        results["load_to_table_ms"] = round(initial[-1]["end"], 1)  # from navigation start
        initial_longtasks = driver.execute_script("return window.__longtasks.slice()")
        results["initial_longest_task_ms"] = round(max(initial_longtasks or [0]), 1)
        check(len(rows(driver)) == n, f"{n} rows in the table")

        # A burst of 1000 events (every model changes once), one write on the stream.
        bs.wait_until(lambda: driver.execute_script("return cmlrStatusPage.mode()") == "events",
                      10, what="the event stream")
        bs.wait_until(lambda: fake.connected_streams() > 0, 5, what="the stream to connect")
        time.sleep(0.5)  # let the snapshot fetched on open settle before measuring the burst
        driver.execute_script("window.__longtasks = []")
        before = driver.execute_script("return cmlrStatusPage.stats.eventsRendered")
        mark = driver.execute_script("return performance.now()")
        burst = [synthetic_entry(i, health="Degraded" if i % 10 == 0 else "Healthy",
                                 sync="OutOfSync" if i % 10 == 0 else "Synced", generation=1)
                 for i in range(n)]
        fake.publish(burst)
        bs.wait_until(lambda: driver.execute_script(
            "return cmlrStatusPage.stats.eventsRendered") >= before + n, 30, 0.05,
            f"{n} events rendered")
        log = [r for r in renders_since(driver, mark) if r["events"]]
        first_event = min(r["firstEventAt"] for r in log)
        results["burst_events"] = n
        results["burst_first_event_to_painted_ms"] = round(log[-1]["end"] - first_event, 1)
        results["burst_renders"] = len(log)
        results["burst_longest_render_ms"] = round(max(r["ms"] for r in log), 1)
        results["burst_longest_task_ms"] = round(max(
            driver.execute_script("return window.__longtasks.slice()") or [0]), 1)
        degraded = sum(1 for r in rows(driver) if r["health"] == "Degraded")
        check(degraded == n // 10, f"after the burst {degraded} rows show Degraded")

        # Filter and sort over 1000 rows.
        mark = driver.execute_script("return performance.now()")
        driver.find_element("id", "filter").send_keys("degraded")
        bs.wait_until(lambda: len(rows(driver)) == n // 10, 10, what="the filtered rows")
        results["filter_render_ms"] = round(max(r["ms"] for r in renders_since(driver, mark)), 1)
        driver.find_element("id", "filter").send_keys(keys().ESCAPE)
        bs.wait_until(lambda: len(rows(driver)) == n, 10, what="the filter cleared")
        mark = driver.execute_script("return performance.now()")
        by_css(driver, "[data-sort='health'] button").click()
        bs.wait_until(lambda: rows(driver)[0]["health"] == "Degraded", 10, what="sorted by health")
        results["sort_render_ms"] = round(max(r["ms"] for r in renders_since(driver, mark)), 1)
        results["max_render_ms"] = round(driver.execute_script(
            "return cmlrStatusPage.stats.maxRenderMs"), 1)

        # Still responsive: a detail view opens at once among 1000 models.
        # Click to the frame after the dialog opened, measured in the page.
        results["detail_open_ms"] = round(driver.execute_async_script("""
          const done = arguments[arguments.length - 1];
          const t0 = performance.now();
          window.addEventListener('hashchange', () => requestAnimationFrame(
              () => setTimeout(() => done(performance.now() - t0), 0)), {once: true});
          document.querySelector("a[href='#model=model-0500']").click();"""), 1)
        check(dialog_open(driver), "the detail view opens among 1000 models")
        actions(driver).send_keys(keys().ESCAPE).perform()
        screenshot(driver, os.path.join(args.artifacts, "status-page-1000.png"))
        problems = bs.console_problems(driver, ALLOWED_CONSOLE)
        check(not problems, f"no script or CSP error in the console {problems}")

        os.makedirs(args.artifacts, exist_ok=True)
        with open(os.path.join(args.artifacts, "perf.json"), "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        print("1000 models: " + json.dumps(results))
        # Bounds with room for a machine busy with compilers and other tests (2 cores); the
        # measured values are far below them.
        check(results["load_to_table_ms"] < 5000,
              "1000 models are on screen within 5 s of opening the page (4.7 MB of status)")
        check(results["initial_longest_task_ms"] < 750 and results["burst_longest_task_ms"] < 400,
              "no main-thread task of 750 ms or more while loading (parsing 4.7 MB of JSON), of "
              "400 ms or more during the burst")
        check(results["burst_first_event_to_painted_ms"] < 1500,
              "1000 events are on screen within 1.5 s of the first")
        check(results["filter_render_ms"] < 250 and results["sort_render_ms"] < 250,
              "filtering and sorting 1000 rows take under 0.25 s")
        ok = True
    finally:
        if driver is not None:
            driver.quit()
        if fake is not None:
            fake.close()
        system.close(keep_logs_on_failure=not ok)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", choices=("daemon", "contract", "perf"), required=True)
    parser.add_argument("--daemon", required=True)
    parser.add_argument("--emulator", required=True)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--update-docs", action="store_true",
                        default=os.environ.get("CMLR_UPDATE_SCREENSHOT") == "1",
                        help="copy the desktop screenshot to docs/status-page.png "
                             "(also CMLR_UPDATE_SCREENSHOT=1)")
    args = parser.parse_args()
    if bs.chromium_binary() is None:
        bs.skip("chromium is not installed (scripts/install-deps installs chromium, "
                "chromium-driver and python3-selenium)")
    tmp = tempfile.mkdtemp(prefix="cmlr-chromium-")
    started = time.monotonic()
    try:
        {"daemon": suite_daemon, "contract": suite_contract, "perf": suite_perf}[args.suite](args, tmp)
    except AssertionError as error:
        print(f"FAIL: {error}", file=sys.stderr)
        traceback.print_exc()
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"PASS ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
