#!/usr/bin/env python3
"""Self-test of scripts/browser.py against a tiny page served on 127.0.0.1.

Checks every recorder (console, uncaught exceptions, requests, failures, requests
leaving loopback), that non-loopback requests are failed before they are sent
(both guards: interception and the dead proxy, against a server on this
machine's own non-loopback address that would otherwise receive them), click,
typing, keys, evaluate, wait_for, session storage, screenshots, and that the
browser's processes and profile are gone afterwards, also after an exception.

Needs: chromium, python3-websocket (Debian). Usage: scripts/test-browser-driver.py
"""
import http.server
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
import zlib

sys.dont_write_bytecode = True  # no scripts/__pycache__ left in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser, BrowserError, JavaScriptError, is_loopback_url  # noqa: E402

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>driver self-test</title>
<style>
body { margin: 0; font: 16px sans-serif; }
#thrower { position: absolute; left: 100px; top: 100px; width: 200px; height: 80px; }
form { position: absolute; left: 100px; top: 250px; }
#box { width: 300px; height: 40px; font-size: 20px; }
#corner { position: absolute; right: 0; bottom: 0; width: 50px; height: 50px; background: #f00; }
</style></head>
<body>
<button id="thrower">网格 throw</button>
<form id="form"><input id="box" autocomplete="off"></form>
<div id="corner"></div>
<script>
console.error("self-test console error");
console.warn("self-test warning");
window.clicks = 0;
window.keys = [];
document.getElementById("thrower").addEventListener("click", event => {
  window.clicks += 1;
  window.clickAt = [event.clientX, event.clientY];
  throw new Error("self-test uncaught on click");
});
document.getElementById("box").addEventListener("keydown", event => window.keys.push(event.key));
document.getElementById("form").addEventListener("submit", event => {
  event.preventDefault();
  window.submitted = document.getElementById("box").value;
});
window.fetched = fetch("/data.json").then(response => response.json()).then(json => { window.data = json; });
fetch("/missing.json");
const image = new Image();
image.onerror = () => { window.imageFailed = true; };
image.src = "http://203.0.113.1/tile.png";
</script>
</body></html>
"""

results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        results["passed"] += 1
        print(f"ok   {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


def raises(kind, function):
    """The exception function raised if it is a kind, else None."""
    try:
        function()
    except kind as error:
        return error
    return None


class Server:
    """An http.server in a thread that remembers every path it was asked for."""

    def __init__(self, host, files):
        self.paths = []
        paths = self.paths

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                paths.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                kind = "application/json" if self.path.endswith(".json") else "text/html; charset=utf-8"
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def own_non_loopback_address():
    """This machine's address on its default route (no packet is sent), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("203.0.113.1", 9))
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def read_png(path):
    """(width, height, pixel(x, y) -> (r, g, b)) of an 8-bit RGB or RGBA PNG, or None if not one."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        return None
    step = 3 if colour == 2 else 4
    stride = width * step
    raw, rows, previous = zlib.decompress(idat), [], bytearray(stride)
    for y in range(height):  # undo the per-row filters (PNG spec 9.2)
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(line)
        previous = line
    return width, height, lambda x, y: tuple(rows[y][x * step:x * step + 3])


def check_screenshot(name, path, width, height):
    """The PNG is width × height and shows the page's red corner square at its bottom right."""
    png = read_png(path)
    size = png and png[:2]
    red = png and png[2](width - 10, height - 10) == (255, 0, 0) and png[2](5, 5) == (255, 255, 255)
    check(name, size == (width, height) and red, (size, png and png[2](width - 10, height - 10)))


def group_alive(pgid):
    """True while a process of the group runs (zombies count as gone: in a container whose
    PID 1 does not reap, chromium's orphaned helpers stay zombies after they died)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def test_page(site, leak, workdir):
    with Browser(width=800, height=600) as b:
        b.navigate(site.url + "/")
        b.wait_for("window.imageFailed && window.data", timeout=5)
        # Network events come from the browser process, not in step with the page: wait for them.
        missing = {"url": site.url + "/missing.json", "status": 404}
        b.wait_until(lambda: missing in b.failed_requests() and len(b.failed_requests()) >= 2
                     and site.url + "/data.json" in b.requests(), timeout=5,
                     what="the fetch, the 404 and the blocked image in the recorders")

        check("console error recorded", "self-test console error" in b.console_errors(), b.console_errors())
        check("console warning recorded by level",
              any(m["text"] == "self-test warning" for m in b.console_messages("warning")))
        check("loopback fetch requested and answered",
              site.url + "/data.json" in b.requests() and b.evaluate("window.data.answer") == 42, b.requests())
        failed = b.failed_requests()
        check("404 recorded with its status", missing in failed, failed)
        check("TEST-NET image is the only request leaving loopback",
              b.non_loopback_requests() == ["http://203.0.113.1/tile.png"], b.non_loopback_requests())
        check("TEST-NET image blocked before it was sent",
              b.blocked_requests() == ["http://203.0.113.1/tile.png"]
              and any(f["url"] == "http://203.0.113.1/tile.png" and "BLOCKED_BY_CLIENT" in f.get("error", "")
                      for f in failed), failed)
        check("problems() lists each kind", len(b.problems()) >= 4 and any("leaving loopback" in p for p in b.problems()),
              b.problems())
        check("no exception before the click", b.exceptions() == [], b.exceptions())

        b.click(200, 140)
        b.wait_for("window.clicks === 1", timeout=3)
        check("click lands at its coordinates", b.evaluate("window.clickAt") == [200, 140])
        b.wait_until(b.exceptions, timeout=3)
        check("uncaught exception recorded", any("self-test uncaught on click" in e["text"] for e in b.exceptions()),
              b.exceptions())

        b.click(250, 270)
        b.wait_for("document.activeElement.id === 'box'", timeout=3)
        b.type_text("网格 grid")
        b.key("Escape")
        b.key("Enter")
        b.wait_for("window.submitted !== undefined", timeout=3)
        check("type_text inserts Chinese and Latin text", b.evaluate("window.submitted") == "网格 grid",
              b.evaluate("window.submitted"))
        check("keys Escape and Enter reach the page", b.evaluate("window.keys") == ["Escape", "Enter"],
              b.evaluate("window.keys"))

        check("evaluate awaits promises", b.evaluate("new Promise(r => setTimeout(() => r({n: 7}), 50))") == {"n": 7})
        error = raises(JavaScriptError, lambda: b.evaluate("(() => { throw new TypeError('nope') })()"))
        check("evaluate raises with the JS exception text", error is not None and "TypeError: nope" in str(error), error)
        error = raises(JavaScriptError, lambda: b.evaluate("Promise.reject(new Error('rejected'))"))
        check("evaluate raises on a rejected promise", error is not None and "rejected" in str(error), error)
        started = time.monotonic()
        error = raises(TimeoutError, lambda: b.evaluate("new Promise(() => {})", timeout=0.5))
        check("evaluate of a never-settling promise times out", error is not None and time.monotonic() - started < 2)
        check("driver still answers after a timed-out command", b.evaluate("1 + 1") == 2)
        error = raises(TimeoutError, lambda: b.wait_for("window.neverSet", timeout=0.5, interval=0.1))
        check("wait_for timeout names the expression and last value",
              error is not None and "window.neverSet" in str(error) and "None" in str(error), error)

        b.set_session_storage({"token": "abc", "roles": ["viewer"]})
        b.navigate(site.url + "/")
        check("session storage kept across a reload",
              b.evaluate("sessionStorage.getItem('token') + ' ' + sessionStorage.getItem('roles')") == 'abc ["viewer"]')

        check_screenshot("screenshot is a PNG of the viewport",
                         b.screenshot(os.path.join(workdir, "page-800x600.png")), 800, 600)
        b.set_viewport(640, 480)
        check("set_viewport resizes the page", b.evaluate("[innerWidth, innerHeight]") == [640, 480])
        check_screenshot("screenshot follows set_viewport",
                         b.screenshot(os.path.join(workdir, "page-640x480.png")), 640, 480)

        error = raises(BrowserError, lambda: b.navigate("http://127.0.0.1:1/", timeout=5))
        check("navigate to a closed port raises", error is not None and "ERR_" in str(error), error)

        if leak:
            image = "new Promise(r => { const i = new Image(); i.onload = () => r('loaded'); i.onerror = () => r('failed'); i.src = %s; })"
            fetch_url = leak.url + "/leak-fetch.png"
            outcome = b.evaluate(image % json.dumps(fetch_url), timeout=5)
            check("own non-loopback address blocked by interception",
                  outcome == "failed" and fetch_url in b.blocked_requests() and leak.paths == [], (outcome, leak.paths))
            b.send("Fetch.disable")  # the second guard alone: the proxy on a closed loopback port
            proxy_url = leak.url + "/leak-proxy.png"
            outcome = b.evaluate(image % json.dumps(proxy_url), timeout=5)
            proxy_failure = b.wait_until(lambda: [f for f in b.failed_requests() if f["url"] == proxy_url],
                                         timeout=3, what="the proxied request in failed_requests()")
            check("without interception the dead proxy still stops it",
                  outcome == "failed" and leak.paths == [] and proxy_failure
                  and "PROXY" in proxy_failure[0].get("error", ""), (outcome, leak.paths, proxy_failure))
        pgid, profile = b._process.pid, b._profile
        check("processes and profile there while running", group_alive(pgid) and os.path.isdir(profile))
    check("processes and profile gone after exit", not group_alive(pgid) and not os.path.exists(profile))

    if leak:  # control: the same request does arrive when nothing blocks it, so the checks above mean something
        with Browser(width=320, height=240, block_non_loopback=False) as b:
            control_url = leak.url + "/control.png"
            b.evaluate("new Promise(r => { const i = new Image(); i.onload = i.onerror = r; i.src = %s; })"
                       % json.dumps(control_url), timeout=5)
            check("control: unblocked browser reaches the leak server", leak.paths == ["/control.png"], leak.paths)
    else:
        print("skip leak-server checks: no non-loopback address on this machine")


def test_cleanup_on_exception():
    state = {}
    try:
        with Browser(width=320, height=240) as b:
            state["pgid"], state["profile"] = b._process.pid, b._profile
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    check("processes and profile gone after an exception",
          not group_alive(state["pgid"]) and not os.path.exists(state["profile"]))


def test_start_timeout(workdir):
    fake = os.path.join(workdir, "fake-chromium")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\necho 'fake chromium cannot start' >&2\nexec sleep 30\n")
    os.chmod(fake, 0o755)
    started = time.monotonic()
    error = raises(BrowserError, lambda: Browser(chromium=fake, start_timeout=1))
    elapsed = time.monotonic() - started
    check("start-up timeout raises with chromium's stderr",
          error is not None and "fake chromium cannot start" in str(error) and elapsed < 5, (error, elapsed))
    error = raises(BrowserError, lambda: Browser(chromium=os.path.join(workdir, "no-such-chromium")))
    check("missing chromium named in the error", error is not None and "not found" in str(error), error)


def test_loopback_rule():
    cases = {"http://127.0.0.1:8080/": True, "http://127.9.9.9/": True, "http://localhost/": True,
             "http://[::1]:80/": True, "data:text/plain,x": True, "blob:http://127.0.0.1/x": True,
             "about:blank": True, "http://203.0.113.1/": False, "http://localhost.example.com/": False,
             "https://unpkg.com/leaflet": False, "http://[2001:db8::1]/": False, "http://10.0.0.1/": False}
    wrong = {url: want for url, want in cases.items() if is_loopback_url(url) != want}
    check("loopback rule", not wrong, wrong)


def main():
    started = time.monotonic()
    site = Server("127.0.0.1", {"/": PAGE, "/data.json": json.dumps({"answer": 42})})
    address = own_non_loopback_address()
    leak = Server(address, {}) if address else None
    keep = os.environ.get("KEEP_SCREENSHOTS")  # a folder to keep the screenshots in, for a look
    workdir = keep or tempfile.mkdtemp(prefix="browser-driver-test-")
    try:
        test_loopback_rule()
        test_page(site, leak, workdir)
        test_cleanup_on_exception()
        test_start_timeout(workdir)
    except Exception:
        traceback.print_exc()
        results["failed"] += 1
    finally:
        site.close()
        if leak:
            leak.close()
        if not keep:
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{results['passed']} passed, {results['failed']} failed ({time.monotonic() - started:.1f} s)")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
