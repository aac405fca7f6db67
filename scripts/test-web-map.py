#!/usr/bin/env python3
"""The web map in a real browser (Debian's headless Chromium), as its users
meet it: a dispatcher logs in, sees every grid drawn, clicks a grid and an
incident, acts on it, and sees an incident reported through the API appear
within 5 s; a viewer sees names masked; a planner reviews a draft, validates
and activates it. Nothing may leave loopback, nothing may fail in the console.

Run by `make test` (after the debug build): scripts/test-web-map.py
Screenshots of each view are kept in .build/test-artefacts/web-map-*.png.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WANGGE = os.environ.get("WANGGE", os.path.join(ROOT, ".build/debug/wangge"))
ARTEFACTS = os.path.join(ROOT, ".build/test-artefacts")
passed = failed = 0


def check(description, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print(f"ok: {description}")
    else:
        failed += 1
        print(f"FAILED: {description}" + (f"\n    {detail}" if detail else ""))


def wangge(*args, env=None):
    result = subprocess.run([WANGGE, *args], cwd=ROOT, capture_output=True, text=True, env={**os.environ, "WANGGE_LANGUAGE": "en", **(env or {})})
    if result.returncode != 0:
        raise SystemExit(f"wangge {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def token(db, role, *extra):
    return wangge("token", "create", "--db", db, "--role", role, "--name", f"web-{role}", *extra).strip().splitlines()[-1]


class API:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def __call__(self, path, body=None, method=None):
        request = urllib.request.Request(self.base + path, method=method or ("POST" if body is not None else "GET"),
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_in(b, base, secret):
    """As a person does: the login form, the token typed, Enter."""
    b.navigate(base + "/")
    b.wait_for("!document.getElementById('login').hidden", timeout=20)
    b.evaluate("document.getElementById('token').focus()")
    b.type_text(secret)
    b.key("Enter")
    b.wait_for("document.body.dataset.ready === 'true'", timeout=60)


def click_at(b, point):
    b.click(round(point["x"]), round(point["y"]))


def click_incident(b, incident):
    """Bring the incident into view (the map may be elsewhere), click its marker, wait for its record."""
    b.evaluate(f"wangge.state.map.setView(wangge.state.incidents.get({json.dumps(incident)}).marker.getLatLng(), 15, {{ animate: false }}) && true")
    time.sleep(0.3)
    click_at(b, b.evaluate(f"wangge.incidentScreenPoint({json.dumps(incident)})"))
    b.wait_for(f"document.querySelector('#panel section.incident[data-incident=\"{incident}\"]') !== null", timeout=10)


def panel_text(b):
    return b.evaluate("document.getElementById('panel').innerText")


def quiet_grid(b, codes):
    """A grid whose label point has no incident marker near it, so a click there lands on the grid."""
    for code in codes:
        free = b.evaluate(f"""(() => {{
            const p = wangge.gridScreenPoint({json.dumps(code)});
            if (!p) return false;
            for (const id of wangge.state.incidents.keys()) {{
                const q = wangge.incidentScreenPoint(id);
                if (Math.hypot(q.x - p.x, q.y - p.y) < 14) return false;
            }}
            return true;
        }})()""")
        if free:
            return code
    return None


def main():
    os.makedirs(ARTEFACTS, exist_ok=True)
    work = tempfile.mkdtemp(prefix="wangge-web-")
    db = os.path.join(work, "web.sqlite")
    # The sample county with a small generated population: households, cameras, incidents.
    wangge("sample", "points", "--households", "6000", "--output-directory", work)
    wangge("import", "grids", "--db", db, "GeoData/grids.geojson")
    for layer in ("households", "cameras", "incidents"):
        wangge("import", layer, "--db", db, os.path.join(work, f"{layer}.csv"))
    # An incident file from elsewhere whose texts are markup: the page must show them as text.
    hostile = os.path.join(work, "hostile.csv")
    with open(hostile, "w") as f:
        f.write('id,lon,lat,category,channel,severity,status,description,reporter\n'
                '"<img src=x id=pwn1>",112.36,28.84,矛盾纠纷,12345,一般,reported,"<img src=x id=pwn2>描述",<b id=pwn3>张三</b>\n')
    wangge("import", "incidents", "--db", db, hostile)
    # A draft that splits the fullest grids, for the planner.
    wangge("plan", "suggest", "--db", db, "--max-households", "45")
    secrets = {role: token(db, role) for role in ("dispatcher", "viewer", "planner")}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([WANGGE, "serve", "--db", db, "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "serve.log"), "w"))
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        dispatcher = API(base, secrets["dispatcher"])
        grids = dispatcher("/v1/grids")
        grid_codes = [g["code"] for g in grids]

        # ---- the dispatcher ------------------------------------------------------
        with Browser(width=1400, height=900, extra_args=["--lang=zh-CN", "--accept-lang=zh-CN"]) as b:
            log_in(b, base, secrets["dispatcher"])
            drawn = b.evaluate("document.querySelectorAll('#map path.wg-grid').length")
            check(f"all {len(grids)} grids are drawn", drawn == len(grids), f"{drawn} paths")
            check("the page speaks Chinese to a Chinese browser", b.evaluate("document.getElementById('view-dispatch').textContent") == "调度")
            legend = b.evaluate("document.getElementById('legend').innerText")
            check("the legend names the metric and its classes", "户数" in legend and legend.count("户") >= 3, legend)
            open_count = sum(len(dispatcher(f"/v1/incidents?status=reported,accepted,in_progress,escalated,reopened,returned&limit=1000&offset={o}")["items"])
                             for o in range(0, 5000, 1000))
            b.wait_for(f"wangge.state.incidents.size === {open_count}", timeout=20)
            check(f"the {open_count} open incidents are on the map",
                  b.evaluate("document.querySelectorAll('#map path.wg-incident').length") == open_count)

            code = quiet_grid(b, grid_codes[::7])
            check("a grid free of incident markers to click", code is not None)
            if code:
                click_at(b, b.evaluate(f"wangge.gridScreenPoint({json.dumps(code)})"))
                b.wait_for(f"document.querySelector('#panel section.grid[data-grid=\"{code}\"]') !== null", timeout=10)
                worker = dispatcher(f"/v1/grids/{code}")["worker"]["name"]
                text = panel_text(b)
                check(f"clicking grid {code} shows its worker {worker}", worker in text and "网格员" in text, text[:300])
                check("the click located the point (定位)", "网格内" in text or "inside" in text, text[:200])
            b.screenshot(os.path.join(ARTEFACTS, "web-map-dispatcher.png"))

            # A caller gives an address: the search box finds the household and the map its grid.
            household = next(h for c in grid_codes[40:] for h in dispatcher(f"/v1/grids/{c}/households?limit=1")["households"])
            address = household["address"]
            b.evaluate("(() => { const s = document.getElementById('search-text'); s.value = ''; s.focus(); })()")
            b.type_text(address)
            b.wait_for("document.querySelector('#search-results li.match-household a') !== null", timeout=10)
            shown = b.evaluate("document.querySelector('#search-results li.match-household a').textContent")
            check(f"searching the address {address} lists the household", address in shown, shown)
            b.evaluate("document.querySelector('#search-results li.match-household a').click()")
            b.wait_for(f"document.querySelector('#panel section.grid[data-grid=\"{household['grid']}\"]') !== null", timeout=10)
            check(f"choosing it shows its grid {household['grid']}", True)

            # An incident reported through the API shows on the open page within 5 s.
            lon, lat = grids_point(dispatcher, code or grid_codes[0])
            reported = dispatcher("/v1/incidents", {"lon": lon, "lat": lat, "category": "矛盾纠纷", "channel": "网格员上报",
                                                    "severity": "一般", "description": "网页测试：邻里纠纷", "reporter": "张三丰"})
            new_id = reported["id"]
            started = time.monotonic()
            b.wait_for(f"wangge.state.incidents.has({json.dumps(new_id)})", timeout=5)
            check(f"incident {new_id} posted through the API appears within 5 s ({time.monotonic() - started:.1f} s)", True)

            click_incident(b, new_id)
            actions = b.evaluate("[...document.querySelectorAll('#panel .actions button')].map(b => b.dataset.action)")
            check("the incident shows the actions a dispatcher may take from 'reported'", "accept" in actions and "close" not in actions, str(actions))
            text = panel_text(b)
            check("the incident shows its history", "办理记录" in text and "上报" in text, text[:400])
            check("a dispatcher sees the reporter masked (张**), as the privacy policy says, never in full", "张**" in text and "张三丰" not in text, text[:500])
            button = b.evaluate("(() => { const r = document.querySelector('#panel .actions button[data-action=accept]').getBoundingClientRect();"
                                " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()")
            click_at(b, button)
            b.wait_until(lambda: dispatcher(f"/v1/incidents/{new_id}")["status"] == "accepted", timeout=10, what="accepted")
            b.wait_for("document.getElementById('panel').innerText.includes('已受理')", timeout=10)
            check("accepting from the page changes the incident (API says accepted, the panel 已受理)", True)
            # Failed mediations use up the level's 2+1+N ladder and escalate it: the history gives the reason in Chinese.
            for _ in range(5):
                record = dispatcher(f"/v1/incidents/{new_id}")
                if record["status"] == "escalated":
                    break
                dispatcher(f"/v1/incidents/{new_id}/actions", {"action": "mediate", "result": "failed", "version": record["version"]})
            click_incident(b, new_id)
            b.wait_for("document.getElementById('panel').innerText.includes('2+1+N：')", timeout=10)
            text = panel_text(b)
            check("an escalation by the ladder reads 2+1+N：…调解 N 次未成功 in the history", "次未成功" in text and "2+1+N: " not in text, text[-300:])
            b.screenshot(os.path.join(ARTEFACTS, "web-map-incident.png"))

            # Markup in an imported incident stays text: in its tooltip, its record and its history.
            hostile_id = "<img src=x id=pwn1>"
            b.evaluate(f"wangge.state.incidents.get({json.dumps(hostile_id)}).marker.openTooltip() && true")
            # Its place is crowded with others: the marker's own click, not a click at its pixel.
            b.evaluate(f"wangge.state.incidents.get({json.dumps(hostile_id)}).marker.fire('click') && true")
            b.wait_for(f"document.querySelector('#panel section.incident') && document.querySelector('#panel section.incident').dataset.incident === {json.dumps(hostile_id)}", timeout=10)
            injected = b.evaluate("['pwn1', 'pwn2', 'pwn3'].filter(id => document.getElementById(id) !== null)")
            shown = panel_text(b) + b.evaluate("[...document.querySelectorAll('.leaflet-tooltip')].map(t => t.textContent).join(' ')")
            check("markup in an imported incident is shown as text, never made into elements",
                  injected == [] and "<img src=x id=pwn1>" in shown and "<img src=x id=pwn2>描述" in shown, f"{injected} {shown[:300]}")
            history = b.evaluate("[...document.querySelectorAll('#panel table.history tr.event td:nth-child(3)')].map(td => td.textContent)")
            check("an imported incident's first event is by the system (系统（文件导入）), shown to a dispatcher unmasked",
                  history[:1] == ["系统（文件导入）"], str(history))
            time.sleep(0.5)  # late network events (see browser.py)
            problems = b.problems()
            check("no console errors, failed requests or requests leaving loopback", problems == [], "\n    ".join(problems))
            check("the page made requests only to this server", all(r.startswith(base) or r.startswith("data:") for r in b.requests()),
                  str([r for r in b.requests() if not r.startswith(base)][:5]))

        # ---- the same county as vector tiles (a province's way), forced with ?areas=tiles ----------
        with Browser(width=1200, height=800, extra_args=["--lang=zh-CN", "--accept-lang=zh-CN"]) as b:
            b.navigate(base + "/")  # the page (its icon is inline), so session storage has the origin
            b.set_session_storage({"wangge.token": secrets["dispatcher"]})
            b.navigate(base + "/?areas=tiles")
            b.wait_for("document.body.dataset.ready === 'true' && wangge.state.timings.tilesLoaded", timeout=60)
            tiles = [r for r in b.requests() if "/collections/grids/tiles/WebMercatorQuad/" in r]
            check(f"the tiled page drew the grids from {len(tiles)} vector tiles", b.evaluate("wangge.state.tiled") and len(tiles) > 0)
            # The canvases hold the choropleth's colours (decoded MVT, restyled once the classes arrived).
            painted = b.evaluate("""(() => {
                const colours = new Set(wangge.state.choropleth.classes.map(c => c.colour));
                let hits = 0;
                for (const canvas of document.querySelectorAll('#map canvas')) {
                    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                    for (let i = 0; i < d.length; i += 4 * 97) if (d[i + 3] > 0) hits++;
                }
                return hits;
            })()""")
            check("the tiles are painted", painted > 100, f"{painted} painted samples")
            # A place inside a grid, on screen and away from every incident marker.
            point = located = None
            b.wait_for("wangge.state.lastRefresh !== null", timeout=10)
            for code in grid_codes[5::9]:
                lon, lat = grids_point(dispatcher, code)
                point = b.evaluate(f"""(() => {{
                    const map = wangge.state.map, p = map.latLngToContainerPoint([{lat}, {lon}]), size = map.getSize();
                    if (p.x < 20 || p.y < 20 || p.x > size.x - 20 || p.y > size.y - 20) return null;
                    for (const known of wangge.state.incidents.values()) {{
                        if (map.latLngToContainerPoint(known.marker.getLatLng()).distanceTo(p) < 14) return null;
                    }}
                    const box = document.getElementById('map').getBoundingClientRect();
                    return {{x: p.x + box.left, y: p.y + box.top}};
                }})()""")
                if point:
                    located = dispatcher(f"/v1/locate?lon={lon}&lat={lat}")["grid"]
                    if located:
                        break
            click_at(b, point)
            try:
                b.wait_for(f"document.querySelector('#panel section.grid[data-grid=\"{located}\"]') !== null", timeout=10)
                check(f"a click on the tiled map shows the grid there ({located})", True)
            except TimeoutError:
                check(f"a click on the tiled map shows the grid there ({located})", False, f"{point}: " + panel_text(b)[:300])
            time.sleep(0.5)
            check("the tiled page is clean", b.problems() == [], "\n    ".join(b.problems()))
            b.screenshot(os.path.join(ARTEFACTS, "web-map-tiles.png"))

        # ---- the viewer: names masked ----------------------------------------------
        with Browser(width=1400, height=900, extra_args=["--lang=zh-CN", "--accept-lang=zh-CN"]) as b:
            log_in(b, base, secrets["viewer"])
            b.wait_for(f"wangge.state.incidents.has({json.dumps(new_id)})", timeout=10)
            check("a viewer sees no planning tab", b.evaluate("document.getElementById('view-plan').hidden"))
            click_incident(b, new_id)
            text = panel_text(b)
            check("a viewer sees neither the reporter nor the description (hidden for viewers)",
                  "张" not in text and "网页测试" not in text and "邻里纠纷" not in text, text[:500])
            check("a viewer is offered no actions", b.evaluate("document.querySelectorAll('#panel .actions button').length") == 0)
            check("the viewer's page is clean", b.problems() == [], "\n    ".join(b.problems()))
            b.screenshot(os.path.join(ARTEFACTS, "web-map-viewer.png"))

        # ---- the planner: review a draft, validate, activate -----------------------------
        planner = API(base, secrets["planner"])
        draft = next(p for p in planner("/v1/plans") if p["status"] == "draft")
        impact = planner(f"/v1/plans/{draft['id']}/impact")
        with Browser(width=1400, height=900, extra_args=["--lang=zh-CN", "--accept-lang=zh-CN"]) as b:
            log_in(b, base, secrets["planner"])
            b.evaluate("document.getElementById('view-plan').click()")
            b.wait_for("document.getElementById('draft') !== null", timeout=10)
            check("planning hides the incidents and their key", b.evaluate(
                "document.querySelector('#legend .statuses').hidden && !wangge.state.map.hasLayer(wangge.state.incidentLayer)"))
            b.evaluate(f"(() => {{ const s = document.getElementById('draft'); s.value = '{draft['id']}'; s.dispatchEvent(new Event('change')); }})()")
            b.wait_for("document.querySelectorAll('#panel table.impact tr').length > 1", timeout=20)
            rows = b.evaluate("document.querySelectorAll('#panel table.impact tr').length") - 1
            check(f"the impact table lists the {len(impact['grids'])} changed grids", rows == len(impact["grids"]), f"{rows} rows")
            added = sum(1 for g in impact["grids"] if g["change"] == "added")
            highlighted = b.evaluate("document.querySelectorAll('#map path.wg-draft-changed').length")
            check(f"the draft's {added} new grids are highlighted over the active ones", highlighted == added, f"{highlighted} highlighted")
            b.evaluate("document.getElementById('validate').click()")
            b.wait_for("document.querySelector('#problems h3') !== null", timeout=20)
            check("validation shows its findings", "校验" in panel_text(b), panel_text(b)[:300])
            b.screenshot(os.path.join(ARTEFACTS, "web-map-planner.png"))
            # The confirmation a person answers with OK; the page's alerts collected.
            b.evaluate("window.confirm = () => true; window.alerts = []; window.alert = (m) => window.alerts.push(m);")
            b.evaluate("document.getElementById('activate').click()")
            b.wait_until(lambda: any(p["id"] == draft["id"] and p["status"] == "active" for p in planner("/v1/plans")), timeout=60, what="activation")
            b.wait_for("window.alerts.length > 0", timeout=20)
            check("activating from the page makes the draft the active generation", True)
            b.wait_for(f"document.querySelectorAll('#map path.wg-grid').length === {draft['grids']}", timeout=30)
            check(f"after activation the map draws the {draft['grids']} grids of the new generation", True)
            time.sleep(0.5)
            check("the planner's page is clean", b.problems() == [], "\n    ".join(b.problems()))
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


GRID_FEATURES = {}


def grids_point(api, code):
    """A point of the grid's outline's average: usually inside it (callers locate it to be sure)."""
    if "grids" not in GRID_FEATURES:
        GRID_FEATURES["grids"] = api("/collections/grids/items?limit=10000")["features"]
    for f in GRID_FEATURES["grids"]:
        if f["properties"]["grid"] == code:
            ring = f["geometry"]["coordinates"][0] if f["geometry"]["type"] == "Polygon" else f["geometry"]["coordinates"][0][0]
            lon = sum(c[0] for c in ring) / len(ring)
            lat = sum(c[1] for c in ring) / len(ring)
            return lon, lat
    raise SystemExit(f"no grid {code}")


if __name__ == "__main__":
    sys.exit(main())
