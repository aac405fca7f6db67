// The web map of `wangge serve`: dispatchers watch incidents over a grid
// choropleth, planners review a draft generation before it goes live.
// Everything comes from this server: Leaflet from Debian's libjs-leaflet,
// the areas as GeoJSON (a county) or vector tiles (a province), the texts
// from the same catalogue as the command line (what this script passes to t is the template).
"use strict";

(() => {
  /** Above this many grids the areas come as vector tiles, not one GeoJSON answer. */
  const GEOJSON_GRID_LIMIT = 3000;
  const OPEN_STATUSES = ["reported", "accepted", "in_progress", "escalated", "reopened", "returned"];
  const STATUS_COLOURS = {
    reported: "#ff7f0e", accepted: "#1f77b4", in_progress: "#17becf",
    escalated: "#e377c2", reopened: "#9467bd", returned: "#8c564b",
  };
  const OVERDUE_RING = "#ff1744";
  const LABEL_ZOOMS = { towns: [0, 11], villages: [12, 13], grids: [14, 30] };

  const state = {
    texts: {}, language: "zh", refreshSeconds: 3, baseTiles: null,
    token: null, me: null, map: null,
    grids: new Map(),          // code → {feature, layer} (GeoJSON mode)
    gridCount: 0, tiled: false, tileLayers: [],
    areaLayers: {}, labels: {}, boundsOfCounty: null,
    choropleth: null, classOf: new Map(), metric: "households",
    incidents: new Map(),      // id → {record, marker}
    incidentLayer: null, refreshTimer: null, lastRefresh: null,
    view: "dispatch", draft: null, draftLayer: null, changes: new Map(),
    selectedOutline: null, timings: {},
  };

  // ---- texts ---------------------------------------------------------------

  /** The reader's language for `template`, with `{n}` replaced by the n-th value. */
  function t(template, ...values) {
    const text = state.texts[template] ?? template;
    return text.replace(/\{(\d+)\}/g, (whole, n) => (values[n - 1] ?? whole));
  }

  const $ = (id) => document.getElementById(id);

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function number(value, digits = 0) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString(state.language === "zh" ? "zh-CN" : "en", { maximumFractionDigits: digits });
  }

  function time(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(state.language === "zh" ? "zh-CN" : "en", { hour12: false });
  }

  function applyStaticTexts() {
    document.documentElement.lang = state.language === "zh" ? "zh-CN" : "en";
    document.title = t("Grid map") + " · Wangge";
    $("title").textContent = t("Grid map");
    $("login-title").textContent = t("Grid map");
    $("view-dispatch").textContent = t("Dispatch");
    $("view-plan").textContent = t("Planning");
    $("search-text").placeholder = t("Grid code or name, village, town, address, incident number");
    $("logout").textContent = t("Log out");
    $("token-label").textContent = t("Access token");
    $("token-hint").textContent = t("Ask the centre's administrator for a token (wangge token create). It is kept until this browser window closes.");
    $("login-button").textContent = t("Log in");
  }

  // ---- the server ------------------------------------------------------------

  class ProblemError extends Error {
    constructor(status, problem) {
      super(problem?.detail || problem?.title || String(status));
      this.status = status;
    }
  }

  /** A JSON answer from the server with the token; 401 goes back to the login. */
  async function api(path, options = {}) {
    const headers = { Accept: "application/json", ...(options.headers || {}) };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method: options.method || "GET", headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
    });
    if (response.status === 204) return null;
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      if (response.status === 401 && state.token) logout(body?.detail || t("Your token is no longer valid."));
      throw new ProblemError(response.status, body);
    }
    return body;
  }

  function setStatus(text, isError = false) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", isError);
  }

  // ---- logging in --------------------------------------------------------------

  function showLogin(message) {
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function logout(message) {
    sessionStorage.removeItem("wangge.token");
    state.token = null;
    clearTimeout(state.refreshTimer);
    showLogin(message);
  }

  async function logIn(token) {
    state.token = token;
    try {
      state.me = await api("/v1/me");
    } catch (error) {
      state.token = null;
      showLogin(error.status === 401 ? t("This token is not valid, has expired or has been revoked.") : error.message);
      return false;
    }
    sessionStorage.setItem("wangge.token", token);
    $("login").hidden = true;
    $("logout").hidden = false;
    $("who").textContent = `${state.me.name} · ${roleName(state.me.role)}`;
    $("view-plan").hidden = !["admin", "planner"].includes(state.me.role);
    return true;
  }

  function roleName(role) {
    return {
      admin: t("administrator"), planner: t("planner"), dispatcher: t("dispatcher"),
      grid_worker: t("grid worker"), viewer: t("viewer"),
    }[role] || role;
  }

  // ---- the map and its areas ------------------------------------------------

  function createMap() {
    const map = L.map("map", { zoomControl: true, minZoom: 5, maxZoom: 19, zoomSnap: 0.25, attributionControl: true });
    map.attributionControl.setPrefix(false);
    if (state.baseTiles) {
      L.tileLayer(state.baseTiles.url, { attribution: state.baseTiles.attribution || "", maxZoom: 19 }).addTo(map);
    }
    map.createPane("areas").style.zIndex = 350;
    map.createPane("borders").style.zIndex = 420;
    map.createPane("changes").style.zIndex = 430;
    map.createPane("labels").style.zIndex = 440;
    map.on("click", (event) => locateAt(event.latlng));
    map.on("zoomend", showLabelsForZoom);
    state.map = map;
  }

  async function loadAreas() {
    // /healthz counts the active generation's grids (OGC items stop counting past a limit).
    state.gridCount = (await api("/healthz")).grids ?? 0;
    // ?areas=geojson|tiles overrides the choice (the benchmark compares both on a province).
    const forced = new URLSearchParams(location.search).get("areas");
    state.tiled = forced ? forced === "tiles" : state.gridCount > GEOJSON_GRID_LIMIT;
    if (state.tiled) return loadTiledAreas();
    const [grids, villages, towns] = await Promise.all(
      ["grids", "villages", "towns"].map((c) => api(`/collections/${c}/items?limit=10000`)));
    state.areaLayers.grids = L.geoJSON(grids, {
      pane: "areas", style: gridStyle,
      onEachFeature: (feature, layer) => state.grids.set(feature.properties.grid, { feature, layer }),
    }).addTo(state.map);
    state.areaLayers.villages = L.geoJSON(villages, { pane: "borders", interactive: false, style: { color: "#ffffff", weight: 1.2, opacity: 0.8, fill: false } }).addTo(state.map);
    state.areaLayers.towns = L.geoJSON(towns, { pane: "borders", interactive: false, style: { color: "#202020", weight: 2.5, opacity: 0.9, fill: false } }).addTo(state.map);
    state.boundsOfCounty = state.areaLayers.grids.getBounds();
    state.map.fitBounds(state.boundsOfCounty, { padding: [8, 8] });
    makeLabels("towns", towns, (p) => p.name);
    makeLabels("villages", villages, (p) => p.name);
    makeLabels("grids", grids, (p) => p.name);
    showLabelsForZoom();
  }

  /** A province: grids and towns as vector tiles (OGC API - Tiles, MVT), coloured by code. */
  async function loadTiledAreas() {
    const collection = await api("/collections/grids");
    const box = collection.extent.spatial.bbox[0];
    state.boundsOfCounty = L.latLngBounds([box[1], box[0]], [box[3], box[2]]);
    // Below zoom 7 a province's grids are specks: the towns alone, which cost far less to cut.
    const grids = WanggeVectorTiles.layer({
      url: "/collections/grids/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt", token: () => state.token, pane: "areas", minZoom: 7,
      style: (properties) => gridStyle({ properties: { grid: properties.code } }),
    });
    const towns = WanggeVectorTiles.layer({
      url: "/collections/towns/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt", token: () => state.token, pane: "borders",
      style: () => ({ color: "#202020", weight: 2, fill: false }),
    });
    grids.on("load", () => { state.timings.tilesLoaded = performance.now(); });
    state.tileLayers = [grids.addTo(state.map), towns.addTo(state.map)];
    state.map.fitBounds(state.boundsOfCounty, { padding: [8, 8] });
  }

  function makeLabels(level, collection, name) {
    const group = L.layerGroup();
    for (const feature of collection.features) {
      const inside = labelPoint(feature) || L.geoJSON(feature).getBounds().getCenter();
      L.marker(inside, {
        pane: "labels", interactive: false, keyboard: false,
        icon: L.divIcon({ className: `wg-label wg-label-${level}`, html: "<span></span>", iconSize: null }),
      }).on("add", (event) => { event.target.getElement().firstChild.textContent = name(feature.properties); }).addTo(group);
    }
    state.labels[level] = group;
  }

  /** A point inside the polygon for its label: the middle of the widest inside stretch across its largest part. */
  function labelPoint(feature) {
    const geometry = feature.geometry;
    if (!geometry) return null;
    const polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
    let biggest = null, biggestArea = -1;
    for (const polygon of polygons) {
      const ring = polygon[0];
      let area = 0;
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) area += (ring[j][0] + ring[i][0]) * (ring[j][1] - ring[i][1]);
      if (Math.abs(area) > biggestArea) { biggestArea = Math.abs(area); biggest = polygon; }
    }
    if (!biggest) return null;
    // The horizontal line through the middle of the largest part: the midpoint of its widest inside stretch.
    const ring = biggest[0];
    const lats = ring.map((c) => c[1]);
    const y = (Math.min(...lats) + Math.max(...lats)) / 2;
    const crossings = [];
    for (const r of biggest) {
      for (let i = 0, j = r.length - 1; i < r.length; j = i++) {
        const [x1, y1] = r[j], [x2, y2] = r[i];
        if ((y1 > y) !== (y2 > y)) crossings.push(x1 + (y - y1) / (y2 - y1) * (x2 - x1));
      }
    }
    crossings.sort((a, b) => a - b);
    let best = null, width = -1;
    for (let i = 0; i + 1 < crossings.length; i += 2) {
      if (crossings[i + 1] - crossings[i] > width) { width = crossings[i + 1] - crossings[i]; best = (crossings[i] + crossings[i + 1]) / 2; }
    }
    return best === null ? null : L.latLng(y, best);
  }

  function showLabelsForZoom() {
    const zoom = state.map.getZoom();
    for (const [level, group] of Object.entries(state.labels)) {
      const [from, to] = LABEL_ZOOMS[level];
      const wanted = zoom >= from && zoom <= to;
      if (wanted && !state.map.hasLayer(group)) group.addTo(state.map);
      if (!wanted && state.map.hasLayer(group)) group.remove();
    }
  }

  // ---- the choropleth ----------------------------------------------------------

  function gridStyle(feature) {
    const code = feature.properties.grid;
    const band = state.classOf.get(code);
    const colour = band === undefined || band === null ? state.choropleth?.no_data_colour || "#5a5a5a" : state.choropleth.classes[band].colour;
    const change = state.view === "plan" ? state.changes.get(code) : undefined;
    return {
      color: change === "removed" ? "#d62728" : "#555555", weight: change === "removed" ? 3 : 0.6,
      dashArray: change === "removed" ? "6 4" : null,
      fillColor: colour, fillOpacity: state.view === "plan" ? 0.35 : 0.7, className: "wg-grid",
    };
  }

  async function loadChoropleth(metric) {
    const choropleth = await api(`/v1/map/choropleth?metric=${encodeURIComponent(metric)}`);
    state.choropleth = choropleth;
    state.metric = metric;
    state.classOf = new Map(choropleth.grids.map((g) => [g.code, g.class]));
    restyleGrids();
    renderLegend();
  }

  function restyleGrids() {
    if (state.areaLayers.grids) state.areaLayers.grids.setStyle(gridStyle);
    for (const layer of state.tileLayers) layer.restyle();
  }

  let legendControl = null;
  function renderLegend() {
    if (!legendControl) {
      legendControl = L.control({ position: "bottomright" });
      legendControl.onAdd = () => {
        const box = element("div", { class: "wg-legend leaflet-bar", id: "legend" });
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      };
      legendControl.addTo(state.map);
    }
    const c = state.choropleth;
    const box = $("legend");
    box.replaceChildren();
    const picker = element("select", { id: "metric", "aria-label": t("Colour grids by"), onchange: (e) => loadChoropleth(e.target.value).catch(showError) },
      c.metrics.map((m) => element("option", { value: m.key, selected: m.key === c.metric.key }, m.title)));
    box.append(element("label", {}, t("Colour grids by"), " ", picker));
    const table = element("table", { class: "classes" });
    c.classes.forEach((band, index) => table.append(element("tr", {},
      element("td", {}, element("span", { class: "swatch", style: `background:${band.colour}` })),
      element("td", {}, index === 0 ? `${number(band.from, 1)} – ${number(band.to, 1)}` : `> ${number(band.from, 1)} – ${number(band.to, 1)}`),
      element("td", { class: "unit" }, c.metric.unit))));
    table.append(element("tr", {}, element("td", {}, element("span", { class: "swatch", style: `background:${c.no_data_colour}` })),
      element("td", { colspan: 2 }, t("no data"))));
    box.append(table);
    const statuses = element("div", { class: "statuses" }, element("strong", {}, t("Open incidents")));
    for (const status of OPEN_STATUSES) {
      statuses.append(element("div", {}, element("span", { class: "dot", style: `background:${STATUS_COLOURS[status]}` }), statusName(status)));
    }
    statuses.append(element("div", {}, element("span", { class: "dot ring", style: `border-color:${OVERDUE_RING}` }), t("overdue")));
    // Planning hides the incidents, and so their key.
    statuses.hidden = state.view === "plan";
    box.append(statuses);
  }

  // ---- incidents ---------------------------------------------------------------

  function statusName(status) {
    return {
      reported: t("reported, awaiting acceptance"), accepted: t("accepted"), in_progress: t("in progress"),
      resolved: t("resolved, awaiting the reporter"), closed: t("closed"), escalated: t("escalated"),
      reopened: t("reopened"), returned: t("returned"),
    }[status] || status;
  }

  function incidentStyle(record) {
    return {
      radius: record.overdue ? 7 : 5, color: record.overdue ? OVERDUE_RING : "#ffffff", weight: record.overdue ? 3 : 1.5,
      fillColor: STATUS_COLOURS[record.status] || "#999999", fillOpacity: 0.95, className: "wg-incident",
    };
  }

  /** Every open incident as a marker (GET /v1/map/incidents: no names, so no audit entry per poll);
   *  an unchanged answer is a 304. Markers are added, restyled or removed to match. */
  let incidentsTag = null;
  async function refreshIncidents() {
    clearTimeout(state.refreshTimer);
    try {
      const response = await fetch("/v1/map/incidents", {
        headers: { Authorization: "Bearer " + state.token, ...(incidentsTag ? { "If-None-Match": incidentsTag } : {}) }, cache: "no-store",
      });
      if (response.status === 401) { logout(t("Your token is no longer valid.")); return; }
      if (response.status === 304) {
        await response.arrayBuffer(); // read to its (empty) end, so the request ends as loaded, not cancelled
      } else {
        if (!response.ok) throw new ProblemError(response.status, await response.json().catch(() => null));
        incidentsTag = response.headers.get("ETag");
        showIncidents(await response.json());
      }
      state.lastRefresh = new Date();
      const overdue = [...state.incidents.values()].filter((k) => k.record.overdue).length;
      setStatus(t("{1} open · {2} overdue · updated {3}", number(state.incidents.size), number(overdue),
        state.lastRefresh.toLocaleTimeString("zh-CN", { hour12: false })));
    } catch (error) {
      if (!state.token) return;
      setStatus(t("Could not refresh incidents: {1}", error.message), true);
    }
    if (state.token) state.refreshTimer = setTimeout(refreshIncidents, state.refreshSeconds * 1000);
  }

  function showIncidents(records) {
    const seen = new Set();
    for (const record of records) {
      seen.add(record.id);
      const known = state.incidents.get(record.id);
      if (!known) {
        const marker = L.circleMarker([record.lat, record.lon], { ...incidentStyle(record), pane: "markerPane", bubblingMouseEvents: false })
          .on("click", () => showIncident(record.id).catch(showError))
          // A node, not a string: Leaflet would read a string as HTML, and an imported id is anyone's text.
          .bindTooltip(() => element("span", {}, `${record.id} · ${statusName(state.incidents.get(record.id).record.status)}`));
        marker.addTo(state.incidentLayer);
        state.incidents.set(record.id, { record, marker });
      } else if (known.record.version !== record.version || known.record.overdue !== record.overdue) {
        known.record = record;
        known.marker.setLatLng([record.lat, record.lon]).setStyle(incidentStyle(record));
      }
    }
    for (const [id, known] of state.incidents) {
      if (!seen.has(id)) { known.marker.remove(); state.incidents.delete(id); }
    }
  }

  // ---- the side panel -------------------------------------------------------------

  function panel(...children) {
    const box = $("panel");
    box.replaceChildren(...children.flat().filter(Boolean));
    box.scrollTop = 0;
  }

  function showError(error) {
    panel(element("p", { class: "error", role: "alert" }, error.message || String(error)));
  }

  function facts(rows) {
    return element("dl", { class: "facts" }, rows.filter(Boolean).flatMap(([label, value]) => [element("dt", {}, label), element("dd", {}, value ?? "–")]));
  }

  async function highlight(code) {
    if (state.selectedOutline) { state.selectedOutline.remove(); state.selectedOutline = null; }
    if (!code) return;
    // Tiled areas are not kept in the page: the one grid's outline comes from the server.
    const feature = state.grids.get(code)?.feature ?? await api(`/collections/grids/items/${encodeURIComponent(code)}`).catch(() => null);
    if (!feature) return;
    if (state.selectedOutline) state.selectedOutline.remove();
    state.selectedOutline = L.geoJSON(feature, { pane: "changes", interactive: false, style: { color: "#00e5ff", weight: 4, fill: false } }).addTo(state.map);
  }

  async function locateAt(latlng) {
    const lon = latlng.lng.toFixed(6), lat = latlng.lat.toFixed(6);
    const result = await api(`/v1/locate?lon=${lon}&lat=${lat}`).catch((e) => { showError(e); return null; });
    if (!result) return;
    const where = element("section", { class: "locate" },
      element("h2", {}, t("Located point")),
      facts([
        [t("position"), `${lon}, ${lat}`],
        [t("method"), methodName(result.method)],
        result.distance_m !== null ? [t("distance"), `${number(result.distance_m, 1)} m`] : null,
        result.runner_up ? [t("runner-up grid"), `${result.runner_up} (${number(result.runner_up_distance_m, 1)} m)`] : null,
        result.nearest_grid && !result.grid ? [t("nearest grid"), result.nearest_grid] : null,
      ]));
    if (result.grid) {
      await showGrid(result.grid, where);
    } else {
      highlight(null);
      panel(where, element("p", {}, t("This point is in no grid of the county.")));
    }
  }

  function methodName(method) {
    return {
      inside: t("inside a grid"), boundary: t("on a boundary"), nearest: t("nearest grid within tolerance"), none: t("outside every grid"),
    }[method] || method;
  }

  async function showGrid(code, before = null) {
    const [grid, incidents] = await Promise.all([
      api(`/v1/grids/${encodeURIComponent(code)}`),
      api(`/v1/incidents?grid=${encodeURIComponent(code)}&status=${OPEN_STATUSES.join(",")}&limit=50`),
    ]);
    highlight(code);
    const counts = grid.counts || {};
    const list = element("ul", { class: "incidents" }, incidents.items.map((record) =>
      element("li", {}, element("a", { href: "#", onclick: (e) => { e.preventDefault(); showIncident(record.id).catch(showError); } },
        `${record.id} · ${record.category || ""} · ${statusName(record.status)}${record.overdue ? " · " + t("overdue") : ""}`))));
    panel(before,
      element("section", { class: "grid", "data-grid": grid.code },
        element("h2", {}, grid.name),
        facts([
          [t("grid code"), grid.code],
          [t("village"), `${grid.village?.name ?? ""} ${grid.village?.code ?? ""}`],
          [t("town"), `${grid.town?.name ?? ""} ${grid.town?.code ?? ""}`],
          [t("grid worker"), grid.worker ? `${grid.worker.name ?? "–"} ${grid.worker.phone ?? ""}` : "–"],
          [t("households"), number(counts.households)],
          [t("residents"), number(counts.residents)],
          [t("cameras"), `${number(counts.cameras)} (${t("{1} online", number(counts.cameras_online))})`],
          [t("open incidents"), number(counts.open_incidents)],
          [t("area"), `${number(grid.area_m2 / 1e6, 2)} km²`],
        ]),
        element("h3", {}, t("Open incidents")),
        incidents.items.length ? list : element("p", {}, t("none"))));
  }

  const ACTIONS_NEEDING_NOTE = new Set(["return", "escalate", "reopen", "mediate"]);

  async function showIncident(id) {
    const record = await api(`/v1/incidents/${encodeURIComponent(id)}`);
    const actions = element("div", { class: "actions" }, (record.allowed_actions || []).map((action) =>
      element("button", { type: "button", "data-action": action, onclick: () => act(record, action).catch(showError) }, actionName(action))));
    // An event's words (reason, note, particulars) get a line of their own under
    // it, the panel's whole width: in a fifth column they wrapped word by word.
    const history = element("table", { class: "history" },
      element("tr", {}, element("th", {}, t("time")), element("th", {}, t("action")), element("th", {}, t("by")), element("th", {}, t("to"))),
      (record.history || []).flatMap((e) => {
        const words = [e.reason_text, e.note, e.detail_text].filter(Boolean).join(" · ");
        return [
          element("tr", { class: words ? "event" : "event alone" },
            element("td", {}, time(e.at)), element("td", {}, actionName(e.action)), element("td", {}, e.actor_text ?? e.actor ?? "–"),
            element("td", {}, e.to_status ? statusName(e.to_status) : "")),
          words ? element("tr", { class: "words" }, element("td", { colspan: 4 }, words)) : null,
        ];
      }));
    if (record.grid) highlight(record.grid);
    panel(element("section", { class: "incident", "data-incident": record.id },
      element("h2", {}, `${t("Incident")} ${record.id}`),
      facts([
        [t("status"), statusName(record.status) + (record.overdue ? ` · ${t("overdue")}` : "")],
        [t("category"), record.category], [t("severity"), record.severity], [t("channel"), record.channel],
        record.external_id ? [t("ticket number"), record.external_id] : null,
        [t("description"), record.description], [t("reporter"), record.reporter],
        [t("reported at"), time(record.reported_at)], [t("deadline"), time(record.deadline)],
        [t("grid"), record.grid], [t("handled at"), `${levelName(record.level)} ${record.unit ?? ""}`],
      ]),
      record.allowed_actions?.length ? [element("h3", {}, t("Actions")), actions] : null,
      element("h3", {}, t("History")), history));
    const known = state.incidents.get(record.id);
    if (known) state.map.panInside(known.marker.getLatLng(), { padding: [40, 40] });
  }

  function levelName(level) {
    return { grid: t("grid"), village: t("village"), town: t("town"), county: t("county level") }[level] || level || "";
  }

  function actionName(action) {
    return {
      report: t("report"), accept: t("accept"), start: t("start"), mediate: t("mediate"), resolve: t("resolve"), close: t("close"),
      reopen: t("reopen"), escalate: t("escalate"), return: t("return to dispatcher"), reroute: t("reroute"),
      move: t("move"), recategorize: t("recategorize"), regrid: t("regrid"),
    }[action] || action;
  }

  async function act(record, action) {
    const body = { action, version: record.version };
    if (action === "reroute") {
      const grid = prompt(t("Send it to which grid (code)?"), record.grid || "");
      if (!grid) return;
      body.grid = grid.trim();
    }
    if (ACTIONS_NEEDING_NOTE.has(action) || action === "resolve") {
      const note = prompt(t("Note for the history ({1})", actionName(action)), "");
      if (note === null) return;
      if (note.trim()) body.note = note.trim();
    }
    if (action === "mediate") body.result = confirm(t("Did the mediation settle it? OK: settled; Cancel: not settled")) ? "settled" : "failed";
    try {
      await api(`/v1/incidents/${encodeURIComponent(record.id)}/actions`, { method: "POST", body });
    } catch (error) {
      if (error.status === 409) alert(t("Someone changed this incident meanwhile: it is shown again as it is now."));
      else alert(error.message);
    }
    await showIncident(record.id);
    refreshIncidents();
  }

  // ---- search ----------------------------------------------------------------------

  function searchMatches(text) {
    const needle = text.trim().toLowerCase();
    if (!needle) return [];
    const found = [];
    for (const [code, entry] of state.grids) {
      const p = entry.feature.properties;
      if (code.toLowerCase().includes(needle) || (p.name || "").toLowerCase().includes(needle)) found.push({ kind: "grid", code, label: `${p.name} ${code}` });
      if (found.length >= 12) break;
    }
    for (const level of ["villages", "towns"]) {
      const layer = state.areaLayers[level];
      if (!layer) continue;
      layer.eachLayer((l) => {
        const p = l.feature.properties;
        const code = p.village ?? p.town ?? p.code ?? "";
        if (found.length < 20 && ((p.name || "").toLowerCase().includes(needle) || String(code).toLowerCase() === needle)) {
          found.push({ kind: level, code, label: `${p.name} ${code}`, layer: l });
        }
      });
    }
    if (/^[a-z]?\d+$/i.test(needle)) found.push({ kind: "incident", code: text.trim().toUpperCase(), label: `${t("Incident")} ${text.trim().toUpperCase()}` });
    return found;
  }

  let searchTimer = null, searchRound = 0;
  /** The areas and incident numbers at once; households by address from the server after a pause in typing. */
  function renderSearch() {
    const text = $("search-text").value;
    const round = ++searchRound;
    showMatches(searchMatches(text));
    clearTimeout(searchTimer);
    if (text.trim().length < 2 || state.me?.role === "viewer") return;
    searchTimer = setTimeout(async () => {
      const answer = await api(`/v1/households?q=${encodeURIComponent(text.trim())}&limit=10`).catch(() => null);
      if (!answer || round !== searchRound) return;
      showMatches(searchMatches(text).concat(answer.households.map((h) => ({
        kind: "household", code: h.id, label: `${h.address || h.id} · ${h.head || ""} (${h.grid || "–"})`, at: L.latLng(h.lat, h.lon),
      }))));
    }, 300);
  }

  function showMatches(matches) {
    const list = $("search-results");
    list.replaceChildren(...matches.map((m) => element("li", { class: `match-${m.kind}` },
      element("a", { href: "#", onclick: (e) => { e.preventDefault(); choose(m); } }, m.label))));
    list.hidden = matches.length === 0;
  }

  function choose(match) {
    $("search-results").hidden = true;
    if (match.kind === "grid") {
      state.map.fitBounds(state.grids.get(match.code).layer.getBounds(), { maxZoom: 15 });
      showGrid(match.code).catch(showError);
    } else if (match.kind === "incident") {
      showIncident(match.code).catch(showError);
    } else if (match.kind === "household") {
      state.map.setView(match.at, Math.max(state.map.getZoom(), 16));
      locateAt(match.at);
    } else {
      state.map.fitBounds(match.layer.getBounds());
    }
  }

  // ---- planning ----------------------------------------------------------------------

  async function showPlanning() {
    const plans = await api("/v1/plans");
    const drafts = plans.filter((p) => p.status === "draft");
    const picker = element("select", { id: "draft", onchange: (e) => openDraft(Number(e.target.value)).catch(showError) },
      element("option", { value: "" }, t("choose a draft")),
      drafts.map((p) => element("option", { value: p.id, selected: state.draft === p.id }, `${p.id} · ${p.name} · ${t("{1} grids", p.grids)}`)));
    panel(element("section", { class: "plan" },
      element("h2", {}, t("Planning")),
      drafts.length ? element("label", {}, t("Draft generation"), " ", picker) : element("p", {}, t("No drafts. Planners start one with wangge plan draft or POST /v1/plans.")),
      element("div", { id: "plan-body" })));
    if (state.draft && drafts.some((p) => p.id === state.draft)) await openDraft(state.draft);
  }

  async function openDraft(id) {
    if (!id) return;
    state.draft = id;
    const [draftGrids, impact] = await Promise.all([
      api(`/collections/grids/items?limit=10000&generation=${id}`),
      api(`/v1/plans/${id}/impact`),
    ]);
    state.changes = new Map(impact.grids.map((g) => [g.code, g.change]));
    if (state.draftLayer) state.draftLayer.remove();
    state.draftLayer = L.geoJSON(draftGrids, {
      pane: "changes", interactive: false,
      style: (f) => {
        const change = state.changes.get(f.properties.grid);
        return change ? { color: "#ff9800", weight: 3, fillColor: change === "added" ? "#4caf50" : "#ff9800", fillOpacity: 0.45, className: "wg-draft-changed" }
          : { color: "#ff9800", weight: 0.8, dashArray: "3 3", fill: false, className: "wg-draft" };
      },
    }).addTo(state.map);
    restyleGrids();
    const moved = impact.moves.reduce((sum, m) => ({
      households: sum.households + (m.counts?.households || 0), incidents: sum.incidents + (m.counts?.open_incidents || 0),
    }), { households: 0, incidents: 0 });
    const gridTable = element("table", { class: "impact" },
      element("tr", {}, element("th", {}, t("grid")), element("th", {}, t("change")), element("th", {}, t("households before")),
        element("th", {}, t("households after")), element("th", {}, t("open incidents before")), element("th", {}, t("open incidents after"))),
      impact.grids.map((g) => element("tr", { class: `change-${g.change}` },
        element("td", {}, `${g.name ?? ""} ${g.code}`), element("td", {}, changeName(g.change)),
        element("td", {}, number(g.before?.households)), element("td", {}, number(g.after?.households)),
        element("td", {}, number(g.before?.open_incidents)), element("td", {}, number(g.after?.open_incidents)))));
    const moveTable = element("table", { class: "moves" },
      element("tr", {}, element("th", {}, t("from grid")), element("th", {}, t("to grid")), element("th", {}, t("households")),
        element("th", {}, t("open incidents")), element("th", {}, t("cameras"))),
      impact.moves.map((m) => element("tr", {},
        element("td", {}, m.from ?? "–"), element("td", {}, m.to ?? "–"), element("td", {}, number(m.counts?.households)),
        element("td", {}, number(m.counts?.open_incidents)), element("td", {}, number(m.counts?.cameras)))));
    const body = $("plan-body");
    body.replaceChildren(
      element("p", { class: "summary" }, t("{1} grids change; {2} households and {3} open incidents move to another grid.",
        number(impact.grids.length), number(moved.households), number(moved.incidents))),
      element("div", { class: "actions" },
        element("button", { type: "button", id: "validate", onclick: () => validateDraft(id).catch(showError) }, t("Validate")),
        element("button", { type: "button", id: "activate", class: "danger", onclick: () => activateDraft(id).catch(showError) }, t("Activate"))),
      element("div", { id: "problems" }),
      element("h3", {}, t("Changed grids")), gridTable,
      element("h3", {}, t("What moves")), moveTable);
  }

  function changeName(change) {
    return { added: t("added"), removed: t("removed"), reshaped: t("reshaped"), renamed: t("renamed") }[change] || change;
  }

  async function validateDraft(id) {
    const problems = await api(`/v1/plans/${id}/problems`);
    const box = $("problems");
    box.replaceChildren(element("h3", {}, t("Validation")),
      problems.length === 0 ? element("p", { class: "ok" }, t("No problems: the draft tiles the county.")) :
        element("ul", {}, problems.map((p) => element("li", { class: p.severity },
          element("a", { href: "#", onclick: (e) => { e.preventDefault(); if (p.lat !== null) state.map.setView([p.lat, p.lon], 15); } },
            t("{1}: {2}", p.severity === "error" ? t("error") : t("warning"), p.message))))));
  }

  async function activateDraft(id) {
    if (!confirm(t("Activate draft {1}? Every household, camera and incident is assigned again to its grids, and the current generation can be restored with a rollback.", id))) return;
    try {
      await api(`/v1/plans/${id}/activate`, { method: "POST" });
    } catch (error) {
      alert(error.message);
      return;
    }
    state.draft = null;
    if (state.draftLayer) { state.draftLayer.remove(); state.draftLayer = null; }
    state.changes = new Map();
    alert(t("Draft {1} is now the active generation.", id));
    await reloadAreas();
    await showPlanning();
  }

  async function reloadAreas() {
    for (const layer of Object.values(state.areaLayers)) layer.remove();
    for (const group of Object.values(state.labels)) group.remove();
    for (const layer of state.tileLayers) layer.remove();
    state.areaLayers = {}; state.labels = {}; state.tileLayers = []; state.grids = new Map();
    await loadAreas();
    await loadChoropleth(state.metric);
  }

  function switchView(view) {
    state.view = view;
    $("view-dispatch").classList.toggle("active", view === "dispatch");
    $("view-plan").classList.toggle("active", view === "plan");
    if (view === "plan") {
      state.incidentLayer.remove();
      showPlanning().catch(showError);
    } else {
      state.incidentLayer.addTo(state.map);
      if (state.draftLayer) state.draftLayer.remove();
      panel(element("p", { class: "hint" }, t("Click the map to find its grid, or an incident to see its history.")));
    }
    if (view === "plan" && state.draftLayer) state.draftLayer.addTo(state.map);
    const statuses = document.querySelector("#legend .statuses");
    if (statuses) statuses.hidden = view === "plan";
    restyleGrids();
  }

  // ---- start ------------------------------------------------------------------------

  async function start() {
    if (!state.map) createMap();
    state.incidentLayer = state.incidentLayer || L.layerGroup().addTo(state.map);
    await loadAreas();
    await loadChoropleth(state.metric);
    switchView("dispatch");
    refreshIncidents();
    // For the benchmark: when the coloured areas reach the screen (the frame after they are added).
    requestAnimationFrame(() => requestAnimationFrame(() => { state.timings.painted = performance.now(); }));
    document.body.dataset.ready = "true";
  }

  async function boot() {
    const config = await fetch("/web/config.json", { cache: "no-store" }).then((r) => r.json());
    state.texts = config.texts || {};
    state.language = config.language;
    state.refreshSeconds = Math.max(1, config.refresh_seconds || 3);
    state.baseTiles = config.base_tiles || null;
    applyStaticTexts();
    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = $("token").value.trim();
      if (!token) return;
      if (await logIn(token)) start().catch(showError);
    });
    $("logout").addEventListener("click", () => { logout(); location.reload(); });
    $("view-dispatch").addEventListener("click", () => switchView("dispatch"));
    $("view-plan").addEventListener("click", () => switchView("plan"));
    $("search-text").addEventListener("input", renderSearch);
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      const first = searchMatches($("search-text").value)[0];
      if (first) choose(first);
    });
    const saved = sessionStorage.getItem("wangge.token");
    if (saved && await logIn(saved)) await start();
    else showLogin();
  }

  // For the browser test: where a grid is on screen, and what is drawn.
  window.wangge = {
    state,
    gridScreenPoint(code) {
      const entry = state.grids.get(code);
      if (!entry) return null;
      const p = state.map.latLngToContainerPoint(labelPoint(entry.feature) || entry.layer.getBounds().getCenter());
      const box = $("map").getBoundingClientRect();
      return { x: p.x + box.left, y: p.y + box.top };
    },
    incidentScreenPoint(id) {
      const known = state.incidents.get(id);
      if (!known) return null;
      const p = state.map.latLngToContainerPoint(known.marker.getLatLng());
      const box = $("map").getBoundingClientRect();
      return { x: p.x + box.left, y: p.y + box.top };
    },
  };

  boot().catch((error) => { document.body.dataset.ready = "failed"; setStatus(String(error), true); });
})();
