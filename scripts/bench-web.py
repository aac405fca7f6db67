#!/usr/bin/env python3
"""The web map's first paint, as a dispatcher opening the page sees it: from
navigation to the frame after the coloured grids are drawn, in Debian's
headless Chromium with a fresh profile (cold cache) each run, over loopback.

- the county (the demo's database, var/wangge.sqlite, else the sample county
  with a generated population): one GeoJSON answer per level;
- a generated province of 20,000 grids (`wangge sample province`): vector
  tiles, beside the same page forced to one GeoJSON answer (?areas=geojson),
  which is what the tiles avoid;
Tile times beside GeoJSON are scripts/bench-tiles.sh's.

Not a test: `make bench` runs it after the release build. Figures depend on
the machine; the command that reproduces them is printed with them.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WANGGE = os.environ.get("WANGGE", os.path.join(ROOT, ".build/release/wangge"))
RUNS = int(os.environ.get("RUNS", "5"))


def wangge(*args):
    result = subprocess.run([WANGGE, *args], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "WANGGE_LANGUAGE": "en"})
    if result.returncode != 0:
        raise SystemExit(f"wangge {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, db):
        self.db = db
        self.token = wangge("token", "create", "--db", db, "--role", "dispatcher", "--name", "bench-web").strip().splitlines()[-1]
        self.base = f"http://127.0.0.1:{free_port()}"
        port = self.base.rsplit(":", 1)[1]
        self.process = subprocess.Popen([WANGGE, "serve", "--db", db, "--host", "127.0.0.1", "--port", port], cwd=ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the server did not start")

    def get(self, path):
        request = urllib.request.Request(self.base + path, headers={"Authorization": "Bearer " + self.token})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
        return time.perf_counter() - started, len(body), response.status

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def first_paint(server, query="", done="wangge.state.timings.painted"):
    """Milliseconds from navigation to `done`, and the bytes the page transferred."""
    with Browser(width=1400, height=900, extra_args=["--lang=zh-CN"]) as b:
        b.navigate(server.base + "/")
        b.set_session_storage({"wangge.token": server.token})
        b.navigate(server.base + "/" + query, timeout=120)
        b.wait_for(done, timeout=300)
        painted = b.evaluate(done)
        transferred = b.evaluate("performance.getEntriesByType('resource').reduce((s, e) => s + e.transferSize, 0)"
                                 " + performance.getEntriesByType('navigation')[0].transferSize")
        grids = b.evaluate("wangge.state.gridCount")
        return painted, transferred, grids


def report(label, runs):
    """The first run meets a server that has cut no tile yet; the others a warm one (each browser is new)."""
    later = [r[0] for r in runs[1:]] or [runs[0][0]]
    print(f"{label:<58} first {runs[0][0]:6.0f} ms, then median {statistics.median(later):6.0f} ms (max {max(later):6.0f})"
          f"  {runs[0][1] / 1e6:6.2f} MB  ({runs[0][2]:,} grids, {len(runs)} runs)")


def main():
    work = tempfile.mkdtemp(prefix="wangge-bench-web-")
    county = os.path.join(ROOT, "var/wangge.sqlite")
    if not os.path.exists(county):
        county = os.path.join(work, "county.sqlite")
        wangge("sample", "points", "--output-directory", work)
        wangge("import", "grids", "--db", county, "GeoData/grids.geojson")
        for layer in ("households", "cameras", "incidents"):
            wangge("import", layer, "--db", county, os.path.join(work, f"{layer}.csv"))
    print(f"web map first paint, headless Chromium, cold cache each run ({os.uname().nodename}, {os.cpu_count()} cores)")
    server = Server(county)
    try:
        report("county, GeoJSON", [first_paint(server) for _ in range(RUNS)])
    finally:
        server.close()

    # The same generated province as scripts/bench-tiles.sh, made once.
    province = os.path.join(ROOT, "var/bench-tiles/province-20000.sqlite")
    if not os.path.exists(province):
        os.makedirs(os.path.dirname(province), exist_ok=True)
        started = time.perf_counter()
        wangge("sample", "province", "--db", province, "--grids", "20000")
        print(f"(province generated and imported in {time.perf_counter() - started:.1f} s)")
    server = Server(province)
    try:
        report("province, vector tiles (until the first view's tiles)",
               [first_paint(server, done="wangge.state.timings.tilesLoaded") for _ in range(RUNS)])
        report("province, forced to one GeoJSON answer (?areas=geojson)",
               [first_paint(server, "?areas=geojson") for _ in range(min(RUNS, 3))])
    finally:
        server.close()
    print(f"reproduce: make build && RUNS={RUNS} scripts/bench-web.py")


if __name__ == "__main__":
    main()
