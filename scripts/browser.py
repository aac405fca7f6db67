"""A small driver for Debian's headless Chromium over the DevTools protocol.

Used by the browser tests of the web map (issue 17): no downloaded browser
builds, only `chromium` and `python3-websocket` from Debian.

    from browser import Browser
    with Browser(width=1280, height=800) as b:
        b.navigate("http://127.0.0.1:8080/")
        b.wait_for("document.querySelector('.leaflet-pane') !== null")
        b.click(640, 400)
        b.screenshot("/tmp/map.png")
        assert b.problems() == []

From its creation the page's console messages, uncaught exceptions and network
requests are recorded. By default no request may leave loopback: the page's
requests to any other host are failed by interception (Fetch domain) before
they are sent, and the whole browser goes through a proxy on a closed loopback
port for anything else, so a missed interception fails too instead of leaving
the machine. Every wait is bounded; a reader thread owns the socket's receive
side, so a command never waits on another one's answer.
"""
import base64
import ipaddress
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

try:
    import websocket  # websocket-client (Debian: python3-websocket)
except ImportError:  # a Python outside Debian's (pyenv, venv) still reads Debian's pure-Python package
    if os.path.isdir("/usr/lib/python3/dist-packages/websocket"):
        sys.path.append("/usr/lib/python3/dist-packages")
        import websocket
    else:
        raise ImportError("browser.py needs websocket-client: apt-get install python3-websocket") from None

# Schemes that never reach the network; not counted as requests leaving loopback.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-extension", "devtools", "chrome", "javascript"}

# A loopback port nobody listens on (tcpmux): the proxy that catches what interception missed.
DEAD_PROXY = "http://127.0.0.1:1"

KEYS = {  # name: (code, windowsVirtualKeyCode, text)
    "Enter": ("Enter", 13, "\r"),
    "Escape": ("Escape", 27, ""),
    "Tab": ("Tab", 9, ""),
    "Backspace": ("Backspace", 8, ""),
    "Delete": ("Delete", 46, ""),
    "ArrowLeft": ("ArrowLeft", 37, ""),
    "ArrowUp": ("ArrowUp", 38, ""),
    "ArrowRight": ("ArrowRight", 39, ""),
    "ArrowDown": ("ArrowDown", 40, ""),
}


class BrowserError(Exception):
    """Chromium did not start, a command failed, or the connection was lost."""


class JavaScriptError(BrowserError):
    """An evaluated expression threw; the message is the exception's text."""


def is_loopback_url(url):
    """True for URLs that stay on this machine: 127.0.0.0/8, localhost, [::1],
    or a scheme without a network (data:, blob:, about:, …)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    host = (parts.hostname or "").rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _remote_object_text(obj):
    if "value" in obj:
        value = obj["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return obj.get("description") or obj.get("unserializableValue") or obj.get("type", "")


class _Pending:
    def __init__(self, method):
        self.method = method
        self.done = threading.Event()
        self.message = None


class Browser:
    def __init__(self, width=1280, height=800, block_non_loopback=True, start_timeout=20.0,
                 command_timeout=15.0, chromium=None, extra_args=()):
        self.width, self.height = width, height
        self.block_non_loopback = block_non_loopback
        self.command_timeout = command_timeout
        self._lock = threading.Lock()  # guards the recorders and the pending/waiter tables
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending = {}
        self._waiters = []  # (method, predicate, _Pending)
        self._console = []  # {"level", "text", "source", "url"}
        self._exceptions = []
        self._requests = []  # {"id", "url", "method", "type"}
        self._urls_by_id = {}
        self._failed = []  # {"url", "status"} or {"url", "error"}
        self._blocked = []
        self._driver_errors = []  # events the driver could not record
        self._closed_reason = None
        self._ws = None
        self._reader = None
        self._process = None
        self._temp = tempfile.mkdtemp(prefix="wangge-chromium-")
        try:
            self._launch(chromium or os.environ.get("CHROMIUM", "chromium"), extra_args, start_timeout)
            self._connect(start_timeout)
        except BaseException:
            self.close()
            raise

    # ---- lifecycle -------------------------------------------------------

    def _launch(self, chromium, extra_args, timeout):
        self._profile = os.path.join(self._temp, "profile")
        os.mkdir(self._profile)
        args = [
            chromium, "--headless=new", "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-gpu", f"--window-size={self.width},{self.height}",
            "--force-device-scale-factor=1", "--hide-scrollbars", "--mute-audio",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage",
            "--no-pings", "--disable-breakpad",
        ]
        if self.block_non_loopback:
            args.append(f"--proxy-server={DEAD_PROXY}")  # loopback bypasses proxies implicitly
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root (CI containers)
        args += list(extra_args)
        args.append("about:blank")
        self._stderr_path = os.path.join(self._temp, "chromium.stderr")
        with open(self._stderr_path, "wb") as stderr:
            try:
                self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                 stderr=stderr, start_new_session=True)
            except FileNotFoundError:
                raise BrowserError(f"{chromium} not found: apt-get install chromium") from None
        port_file = os.path.join(self._profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise BrowserError(f"chromium exited with status {self._process.returncode} before "
                                   f"opening its DevTools port; stderr:\n{self.stderr_tail()}")
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].strip().isdigit():
                    self.port = int(lines[0])
                    return
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise BrowserError(f"chromium did not write {port_file} within {timeout:g} s; "
                                   f"stderr:\n{self.stderr_tail()}")
            time.sleep(0.05)

    def _connect(self, timeout):
        # Chromium asks for PUT on /json/new (GET is refused since version 111).
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            target = json.load(response)
        self.target_id = target["id"]
        # No Origin header: Chromium refuses websocket origins not named in --remote-allow-origins.
        self._ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=timeout,
                                               suppress_origin=True, enable_multithread=True)
        self._ws.settimeout(None)  # the reader blocks; close() shuts the socket down to wake it
        self._reader = threading.Thread(target=self._read_loop, name="cdp-reader", daemon=True)
        self._reader.start()
        if self.block_non_loopback:
            self.send("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]})
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable")
        self.set_viewport(self.width, self.height)

    def stderr_tail(self, lines=30):
        try:
            with open(self._stderr_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no stderr)"
        return "\n".join(text.rstrip().split("\n")[-lines:])

    def close(self):
        """Kill chromium's whole process group and remove its profile; safe to call twice."""
        if self._ws is not None:
            try:
                self._ws.sock and self._ws.sock.shutdown(2)
            except OSError:
                pass
        if self._process is not None and self._process.poll() is None:
            pgid = self._process.pid  # start_new_session: the group id is the leader's pid
            for sig, grace in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    break
                try:
                    self._process.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._process is not None:
            try:  # helpers left in the group after the leader went
                os.killpg(self._process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._ws is not None:
            try:
                self._ws.close(timeout=0.5)
            except Exception:
                pass
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._temp and os.path.isdir(self._temp):
            for _ in range(10):  # a dying helper may still write a file
                shutil.rmtree(self._temp, ignore_errors=True)
                if not os.path.exists(self._temp):
                    break
                time.sleep(0.1)
        self._temp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # ---- protocol ---------------------------------------------------------

    def send(self, method, params=None, timeout=None):
        """Sends one command and returns its result; raises BrowserError on a protocol
        error or a lost connection and TimeoutError after `timeout` seconds."""
        timeout = self.command_timeout if timeout is None else timeout
        pending = _Pending(method)
        with self._lock:
            if self._closed_reason:
                raise BrowserError(f"{method}: connection closed ({self._closed_reason})")
            message_id = next(self._ids)
            self._pending[message_id] = pending
        try:
            self._post({"id": message_id, "method": method, "params": params or {}})
            if not pending.done.wait(timeout):
                raise TimeoutError(f"{method} got no answer within {timeout:g} s")
        finally:
            with self._lock:
                self._pending.pop(message_id, None)
        message = pending.message
        if message is None:
            raise BrowserError(f"{method}: connection closed ({self._closed_reason})")
        if "error" in message:
            raise BrowserError(f"{method}: {message['error'].get('message')} {message['error'].get('data', '')}".rstrip())
        return message.get("result", {})

    def _post(self, message):
        with self._send_lock:
            self._ws.send(json.dumps(message))

    def _post_quietly(self, method, params):
        """A command whose answer nobody waits for (sent from the reader thread)."""
        try:
            self._post({"id": next(self._ids), "method": method, "params": params})
        except Exception:
            pass

    def expect_event(self, method, predicate=None):
        """Registers interest in the next `method` event (matching `predicate`) before the action
        that causes it; returns a waiter for wait_event()."""
        waiter = _Pending(method)
        with self._lock:
            self._waiters.append((method, predicate, waiter))
        return waiter

    def wait_event(self, waiter, timeout):
        try:
            if not waiter.done.wait(timeout):
                raise TimeoutError(f"no {waiter.method} event within {timeout:g} s")
        finally:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[2] is not waiter]
        if waiter.message is None:
            raise BrowserError(f"waiting for {waiter.method}: connection closed ({self._closed_reason})")
        return waiter.message

    def _read_loop(self):
        reason = "reader stopped"
        try:
            while True:
                raw = self._ws.recv()
                if not raw:
                    reason = "chromium closed the connection"
                    break
                message = json.loads(raw)
                if "id" in message:
                    with self._lock:
                        pending = self._pending.get(message["id"])
                    if pending:
                        pending.message = message
                        pending.done.set()
                else:
                    try:
                        self._on_event(message.get("method", ""), message.get("params", {}))
                    except Exception as error:  # an event shaped unlike the protocol says: keep reading
                        with self._lock:
                            self._driver_errors.append(f"{message.get('method')}: {type(error).__name__}: {error}")
        except Exception as error:  # socket shut down by close(), or chromium died
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        finally:
            with self._lock:
                self._closed_reason = reason
                waiting = list(self._pending.values()) + [w[2] for w in self._waiters]
            for pending in waiting:
                pending.done.set()  # message stays None: the waiter raises "connection closed"

    def _on_event(self, method, params):
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            if is_loopback_url(url):
                self._post_quietly("Fetch.continueRequest", {"requestId": params["requestId"]})
            else:
                with self._lock:
                    self._blocked.append(url)
                self._post_quietly("Fetch.failRequest", {"requestId": params["requestId"],
                                                         "errorReason": "BlockedByClient"})
        with self._lock:
            if method == "Runtime.consoleAPICalled":
                level = {"warning": "warning", "error": "error", "assert": "error"}.get(params["type"], params["type"])
                text = " ".join(_remote_object_text(arg) for arg in params.get("args", []))
                frame = (params.get("stackTrace") or {}).get("callFrames") or [{}]
                self._console.append({"level": level, "text": text, "source": "console-api",
                                      "url": frame[0].get("url", "")})
            elif method == "Log.entryAdded":
                entry = params["entry"]
                self._console.append({"level": entry["level"], "text": entry.get("text", ""),
                                      "source": entry.get("source", ""), "url": entry.get("url", "")})
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = (details.get("exception") or {}).get("description") or details.get("text", "")
                self._exceptions.append({"text": text, "url": details.get("url", ""),
                                         "line": details.get("lineNumber", 0) + 1})
            elif method == "Network.requestWillBeSent":
                request = params["request"]
                self._urls_by_id[params["requestId"]] = request["url"]
                self._requests.append({"id": params["requestId"], "url": request["url"],
                                       "method": request.get("method", ""), "type": params.get("type", "")})
            elif method == "Network.webSocketCreated":
                self._urls_by_id[params["requestId"]] = params["url"]
                self._requests.append({"id": params["requestId"], "url": params["url"],
                                       "method": "GET", "type": "WebSocket"})
            elif method == "Network.responseReceived":
                response = params["response"]
                if response.get("status", 0) >= 400:
                    self._failed.append({"url": response["url"], "status": response["status"]})
            elif method == "Network.loadingFailed":
                url = self._urls_by_id.get(params["requestId"], "?")
                error = params.get("errorText", "") or params.get("blockedReason", "")
                if params.get("canceled"):
                    error += " (canceled)"
                self._failed.append({"url": url, "error": error})
            matched = [w for w in self._waiters if w[0] == method and (w[1] is None or w[1](params))]
        for _, _, waiter in matched:
            waiter.message = params
            waiter.done.set()

    # ---- recorders ----------------------------------------------------------

    def console_messages(self, level=None):
        """Console API calls and browser log entries: dicts with level, text, source, url."""
        with self._lock:
            return [dict(m) for m in self._console if level is None or m["level"] == level]

    def console_errors(self):
        """Texts of console messages at level error (console.error, console.assert, browser log errors)."""
        return [m["text"] for m in self.console_messages("error")]

    def exceptions(self):
        """Uncaught exceptions: dicts with text (message and stack), url, line."""
        with self._lock:
            return [dict(e) for e in self._exceptions]

    def requests(self):
        """Every URL the page requested, in order (redirects repeat their request)."""
        with self._lock:
            return [r["url"] for r in self._requests]

    def non_loopback_requests(self):
        """Requested URLs whose host is not loopback (blocked or not), skipping data:, blob:, about: …"""
        with self._lock:
            urls = [r["url"] for r in self._requests] + self._blocked
        seen, result = set(), []
        for url in urls:
            if not is_loopback_url(url) and url not in seen:
                seen.add(url)
                result.append(url)
        return result

    def blocked_requests(self):
        """URLs the driver failed before they were sent because they were not loopback."""
        with self._lock:
            return list(self._blocked)

    def failed_requests(self):
        """Loads that failed ({"url", "error"}) or answered 400 or more ({"url", "status"})."""
        with self._lock:
            return [dict(f) for f in self._failed]

    def problems(self):
        """Everything a clean page load must not have, as readable lines (empty when clean)."""
        lines = [f"console error: {t}" for t in self.console_errors()]
        lines += [f"uncaught exception: {e['text']} ({e['url']}:{e['line']})" for e in self.exceptions()]
        lines += [f"failed request: {f['url']} {f.get('status') or f.get('error')}" for f in self.failed_requests()]
        lines += [f"request leaving loopback: {u}" for u in self.non_loopback_requests()]
        with self._lock:
            lines += [f"driver could not record an event: {e}" for e in self._driver_errors]
        return lines

    def clear_records(self):
        with self._lock:
            for record in (self._console, self._exceptions, self._requests, self._failed, self._blocked):
                record.clear()

    # ---- page actions -------------------------------------------------------

    def navigate(self, url, timeout=15.0):
        """Loads url and waits for its load event; raises BrowserError when navigation fails.
        (A change of the #fragment alone fires no load event: use evaluate and wait_for.)"""
        deadline = time.monotonic() + timeout
        loaded = self.expect_event("Page.loadEventFired")
        try:
            result = self.send("Page.navigate", {"url": url}, timeout=timeout)
            if result.get("errorText"):
                raise BrowserError(f"navigating to {url}: {result['errorText']}")
            self.wait_event(loaded, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise TimeoutError(f"{url} did not finish loading within {timeout:g} s") from None
        finally:
            with self._lock:
                self._waiters = [w for w in self._waiters if w[2] is not loaded]

    def evaluate(self, expression, await_promise=True, timeout=10.0):
        """Value of a JavaScript expression (JSON-serialisable; undefined is None). A promise is
        awaited when await_promise. Raises JavaScriptError with the exception's text."""
        result = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": await_promise,
                                                "returnByValue": True, "userGesture": True}, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = (details.get("exception") or {}).get("description") or details.get("text", "")
            raise JavaScriptError(f"{expression!r} threw: {text}")
        value = result.get("result", {})
        if "unserializableValue" in value:
            return value["unserializableValue"]
        return value.get("value")

    def wait_for(self, expression, timeout=10.0, interval=0.1):
        """Polls expression until it is truthy and returns its value; a throwing expression counts
        as not yet. Raises TimeoutError naming the expression and its last value."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            remaining = deadline - time.monotonic()
            try:
                last = self.evaluate(expression, timeout=max(0.5, remaining))
                if last:
                    return last
            except JavaScriptError as error:
                last = error
            except TimeoutError:
                last = "(evaluation did not answer)"
            if time.monotonic() + interval > deadline:
                raise TimeoutError(f"{expression!r} not truthy within {timeout:g} s; last value: {last!r}")
            time.sleep(interval)

    def wait_until(self, condition, timeout=10.0, interval=0.05, what=None):
        """Polls a Python callable (e.g. over the recorders, whose network events may arrive
        after the page saw its answer) until it returns something truthy, and returns that."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() + interval > deadline:
                raise TimeoutError(f"{what or getattr(condition, '__name__', 'condition')} not met "
                                   f"within {timeout:g} s; last value: {value!r}")
            time.sleep(interval)

    def set_session_storage(self, items):
        """Sets sessionStorage keys of the current page's origin (strings as they are, other values as
        JSON): navigate to the origin first (about:blank has none), then reload or navigate on."""
        for key, value in items.items():
            text = value if isinstance(value, str) else json.dumps(value)
            self.evaluate(f"sessionStorage.setItem({json.dumps(key)}, {json.dumps(text)})")

    def click(self, x, y, button="left"):
        """A real mouse click at viewport coordinates: move, press, release."""
        base = {"x": x, "y": y, "button": button}
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        self.send("Input.dispatchMouseEvent", {**base, "type": "mousePressed", "clickCount": 1})
        self.send("Input.dispatchMouseEvent", {**base, "type": "mouseReleased", "clickCount": 1})

    def type_text(self, text):
        """Inserts text into the focused element as an IME would (any script, Chinese included)."""
        self.send("Input.insertText", {"text": text})

    def key(self, name):
        """Presses and releases a named key: Enter, Escape, Tab, Backspace, Delete, Arrow*."""
        if name not in KEYS:
            raise ValueError(f"unknown key {name!r}; known: {', '.join(KEYS)}")
        code, virtual, text = KEYS[name]
        base = {"key": name, "code": code, "windowsVirtualKeyCode": virtual, "nativeVirtualKeyCode": virtual}
        self.send("Input.dispatchKeyEvent", {**base, "type": "keyDown" if text else "rawKeyDown", "text": text})
        self.send("Input.dispatchKeyEvent", {**base, "type": "keyUp"})

    def set_viewport(self, width, height):
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False})
        self.width, self.height = width, height

    def screenshot(self, path, timeout=15.0):
        """Writes a PNG of the viewport to path and returns path."""
        result = self.send("Page.captureScreenshot", {"format": "png"}, timeout=timeout)
        with open(path, "wb") as f:
            f.write(base64.b64decode(result["data"]))
        return path
