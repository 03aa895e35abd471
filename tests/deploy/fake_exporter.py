#!/usr/bin/env python3
"""Serves a metrics fixture on 127.0.0.1 (port 0, written to --port-file) as /metrics, in the
Prometheus text format, for the fixture run of prometheus_e2e.sh. Counters and histogram series
(`_total`, `_bucket`, `_sum`, `_count`) are multiplied by the number of scrapes so far, so that
rates are non-zero; gauges stay as written. /healthz and /readyz answer 200. Stops by itself
after --lifetime seconds.
"""

import argparse
import http.server
import os
import re
import threading

LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()
    with open(args.fixture, encoding="utf-8") as f:
        lines = f.read().splitlines()
    scrapes = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path in ("/healthz", "/readyz"):
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")
                return
            if self.path != "/metrics":
                self.send_error(404)
                return
            scrapes[0] += 1
            out = []
            for line in lines:
                m = LINE.match(line)
                if m and re.search(r"_(total|bucket|sum|count)$", m.group(1)):
                    value = float(m.group(3)) * scrapes[0]
                    line = f"{m.group(1)}{m.group(2) or ''} {value:g}"
                out.append(line)
            body = ("\n".join(out) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    threading.Timer(args.lifetime, server.shutdown).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
