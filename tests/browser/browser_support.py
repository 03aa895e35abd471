"""Helpers for the status page's browser tests: the real binaries on loopback, a fake daemon for
what the real one does not report yet, and a headless Chromium driven by Debian's Selenium.

Everything binds port 0 and runs on 127.0.0.1; every process started is ended on exit and every
wait is bounded.
"""

import base64
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SKIP = 77


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def fail(message):
    raise AssertionError(message)


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as error:  # pylint: disable=broad-except
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            fail(f"timed out after {timeout} s waiting for {what}{detail}")
        time.sleep(interval)


class Http:
    """Blocking loopback HTTP with a deadline."""

    @staticmethod
    def request(method, url, body=None, headers=None, timeout=10):
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    @staticmethod
    def json(method, url, body=None, headers=None):
        status, _, data = Http.request(method, url, body, headers)
        return status, (json.loads(data) if data else None)


class Processes:
    """Child processes with output in files; all ended (SIGTERM, then SIGKILL) by close()."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.children = []

    def start(self, name, args):
        out = open(os.path.join(self.workdir, f"{name}.log"), "wb")
        # timeout(1) ends the child even if this script is killed before close() runs.
        proc = subprocess.Popen(["timeout", "--kill-after=5", "300"] + args, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.children.append((name, proc, out))
        return proc

    def log(self, name):
        try:
            with open(os.path.join(self.workdir, f"{name}.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        for _, proc, _ in self.children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _, proc, out in self.children:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out.close()


def read_port_file(path, proc, timeout=20):
    def ready():
        if proc.poll() is not None:
            fail(f"process exited ({proc.returncode}) before writing {path}")
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
        return int(text) if text else 0
    return wait_until(ready, timeout, what=f"port file {path}")


def daemon_supports(daemon, flag):
    result = subprocess.run([daemon, "run", "--help"], capture_output=True, text=True, timeout=20,
                            check=False)
    return flag in result.stdout + result.stderr


class RealSystem:
    """cml-emulator and `cml-reconciler run` on loopback, against a desired tree of our own."""

    def __init__(self, daemon, emulator, desired_files, admin_token=None, extra_daemon_args=()):
        for binary in (daemon, emulator):
            if not os.access(binary, os.X_OK):
                fail(f"{binary} is not built")
        self.tmp = tempfile.mkdtemp(prefix="cmlr-browser-")
        self.procs = Processes(self.tmp)
        self.desired = os.path.join(self.tmp, "desired")
        os.makedirs(self.desired)
        for name, text in desired_files.items():
            with open(os.path.join(self.desired, name), "w", encoding="utf-8") as f:
                f.write(text)
        key_file = os.path.join(self.tmp, "api-key")
        with open(key_file, "w", encoding="ascii") as f:
            f.write(base64.b32encode(os.urandom(20)).decode().lower())
        emulator_port_file = os.path.join(self.tmp, "emulator.port")
        proc = self.procs.start("emulator", [
            emulator, "--listen", "127.0.0.1:0", "--port-file", emulator_port_file,
            "--api-key-file", key_file, "--build-seconds", "0.3", "--deploy-seconds", "0.3"])
        self.emulator_url = f"http://127.0.0.1:{read_port_file(emulator_port_file, proc)}"
        self.admin_token = admin_token
        args = [daemon, "run", "--desired", self.desired, "--cml-url", self.emulator_url,
                "--api-key-file", key_file, "--listen", "127.0.0.1:0", "--port-file",
                os.path.join(self.tmp, "daemon.port")]
        if admin_token:
            token_file = os.path.join(self.tmp, "admin-token")
            with open(token_file, "w", encoding="ascii") as f:
                f.write(admin_token + "\n")
            args += ["--admin-token-file", token_file]
        args += list(extra_daemon_args)
        self.daemon = self.procs.start("daemon", args)
        self.url = (f"http://127.0.0.1:"
                    f"{read_port_file(os.path.join(self.tmp, 'daemon.port'), self.daemon)}")

    def status(self):
        if self.daemon.poll() is not None:
            fail(f"cml-reconciler exited ({self.daemon.returncode}): "
                 + " | ".join(self.procs.log("daemon").splitlines()[-5:]))
        status, body = Http.json("GET", self.url + "/api/v1/status")
        if status != 200:
            fail(f"GET /api/v1/status answered {status}")
        return body

    def entry(self, name):
        for model in self.status()["models"]:
            if model["name"] == name:
                return model
        fail(f"no model {name} in the status")

    def post(self, target):
        headers = {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        status, _, _ = Http.request("POST", self.url + target, b"", headers)
        return status

    def metric_sum(self, name, label_filter):
        """Sum of the series of `name` whose labels contain `label_filter` (e.g. model="x")."""
        status, _, body = Http.request("GET", self.url + "/metrics")
        if status != 200:
            fail(f"GET /metrics answered {status}")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name + "{") and label_filter in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def has_event_stream(self):
        """True when GET /api/v1/events answers an event stream (the lead's SSE endpoint)."""
        try:
            with socket.create_connection(("127.0.0.1", int(self.url.rsplit(":", 1)[1])), 5) as s:
                s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Accept: text/event-stream\r\n\r\n")
                s.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    head += chunk
        except OSError:
            return False
        first, _, rest = head.partition(b"\r\n")
        return b" 200 " in first + b" " and b"text/event-stream" in rest.lower()

    def page(self):
        """The status page as the daemon serves it: (headers, body bytes)."""
        status, headers, body = Http.request("GET", self.url + "/")
        if status != 200:
            fail(f"GET / answered {status}")
        return headers, body

    def close(self, keep_logs_on_failure=False):
        self.procs.close()
        if keep_logs_on_failure:
            for name in ("daemon", "emulator"):
                text = self.procs.log(name)
                print(f"---- {name}.log (last 40 lines)")
                print("\n".join(text.splitlines()[-40:]))
        shutil.rmtree(self.tmp, ignore_errors=True)


class FakeDaemon:
    """A stand-in for the daemon's JSON and event endpoints, serving the real page bytes: for
    what the real daemon cannot be made to show at will (1000 models, event bursts, a rejected
    desired state, the fields of later issues, an admin token, no event stream)."""

    def __init__(self, page_headers, page_body, models, events=True, admin_token=None,
                 revision=None, desired_state=None):
        self.page_headers = page_headers
        self.page_body = page_body
        self.lock = threading.Lock()
        self.models = {m["name"]: m for m in models}
        self.events_enabled = events
        self.admin_token = admin_token
        self.revision = revision
        self.desired_state = desired_state
        self.clients = []
        self.posts = []  # (path, authorization header)
        self.status_gets = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def send(self, status, body, content_type="application/json", extra=None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 (http.server's naming)
                path = self.path.split("?")[0]
                if path == "/":
                    keep = ("Content-Security-Policy", "Cache-Control", "X-Content-Type-Options",
                            "Referrer-Policy")
                    self.send(200, fake.page_body, fake.page_headers["Content-Type"],
                              {k: v for k, v in fake.page_headers.items() if k in keep})
                elif path == "/api/v1/status":
                    with fake.lock:
                        fake.status_gets += 1
                        body = {"revision": fake.revision,
                                "models": [fake.models[n] for n in sorted(fake.models)]}
                        if fake.desired_state is not None:
                            body["desiredState"] = fake.desired_state
                    self.send(200, body)
                elif path == "/api/v1/events" and fake.events_enabled:
                    self.stream()
                else:
                    self.send(404, {"error": "not found"})

            def stream(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(b": hello\n\n")
                self.wfile.flush()
                q = queue.Queue()
                with fake.lock:
                    fake.clients.append(q)
                try:
                    while True:
                        try:
                            chunk = q.get(timeout=1)
                        except queue.Empty:
                            chunk = b": keep-alive\n\n"
                        if chunk is None:
                            return
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:
                    pass
                finally:
                    with fake.lock:
                        if q in fake.clients:
                            fake.clients.remove(q)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                auth = self.headers.get("Authorization", "")
                with fake.lock:
                    fake.posts.append((self.path, auth))
                if fake.admin_token and auth != f"Bearer {fake.admin_token}":
                    self.send(401, {"error": "missing or wrong admin token"})
                elif self.path.startswith("/api/v1/models/") and self.path.endswith("/retry"):
                    self.send(202, {"retrying": self.path.split("/")[4]})
                elif self.path.startswith("/api/v1/reconcile"):
                    self.send(202, {"queued": []})
                else:
                    self.send(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set_model(self, entry, publish=True):
        with self.lock:
            self.models[entry["name"]] = entry
        if publish:
            self.publish([entry])

    def publish(self, entries):
        """Sends one `event: model` per entry to every connected event stream, in one write."""
        chunk = b"".join(b"event: model\ndata: " + json.dumps(e).encode() + b"\n\n"
                         for e in entries)
        with self.lock:
            for e in entries:
                self.models[e["name"]] = e
            clients = list(self.clients)
        for q in clients:
            q.put(chunk)
        return len(clients)

    def connected_streams(self):
        with self.lock:
            return len(self.clients)

    def close(self):
        with self.lock:
            for q in self.clients:
                q.put(None)
        self.server.shutdown()
        self.server.server_close()


def chromium_binary():
    for path in ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(path, os.X_OK):
            return path
    return None


def new_browser(user_data_dir, width=1280, height=900):
    """Headless Chromium (Debian's) through Debian's chromedriver. Nothing is downloaded."""
    binary = chromium_binary()
    if binary is None:
        skip("chromium is not installed (scripts/install-deps installs chromium, chromium-driver "
             "and python3-selenium)")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not os.access(driver_path, os.X_OK):
        fail("chromium is installed but chromedriver is not: run scripts/install-deps "
             "(Debian package chromium-driver)")
    try:
        from selenium import webdriver  # pylint: disable=import-outside-toplevel
        from selenium.webdriver.chrome.service import Service  # pylint: disable=import-outside-toplevel
    except ImportError:
        fail(f"chromium is installed but {sys.executable} has no selenium: run scripts/install-deps "
             "(Debian package python3-selenium, for /usr/bin/python3)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
                "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                "--force-device-scale-factor=1", "--lang=en-US",
                f"--window-size={width},{height}", f"--user-data-dir={user_data_dir}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=driver_path, log_output=os.devnull) \
        if "log_output" in Service.__init__.__code__.co_varnames \
        else Service(executable_path=driver_path)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


def console_problems(driver, allowed=()):
    """Browser console entries that point at a bug: script errors, CSP violations, anything
    SEVERE except failed requests whose URL contains one of `allowed`."""
    problems = []
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        if "Content Security Policy" in message or "Uncaught" in message:
            problems.append(message)
        elif entry.get("level") == "SEVERE" and not any(a in message for a in allowed):
            problems.append(message)
    return problems
