// netop's dashboard: per-process traffic over a range, live from the
// server's event stream (5m, 30m, 1h) or from its history (24h, 7d, all),
// drawn on a canvas by the small renderer below (no libraries, no build).
// The page's state is the URL's too: ?range=30m&focus=curl&paused=1.
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token");
const COLORS = ["#4fb3ff", "#f2cc60", "#7ee787", "#ff7b72", "#d2a8ff", "#ffa657", "#79c0ff", "#56d4dd", "#e3b341"];
const SERIES = 8; // processes drawn; the rest are summed as "others"
const LIVE = { "5m": 1, "30m": 5, "1h": 10 };
const SPAN = { "5m": 300, "30m": 1800, "1h": 3600, "24h": 86400, "7d": 604800, "all": 0 };

const state = {
  range: SPAN[params.get("range")] !== undefined ? params.get("range") : "5m",
  focus: params.get("focus"),
  paused: params.get("paused") === "1",
  step: 1,
  points: [], // [{t, p: [[name, rx, tx], ...]}], oldest first
  back: 0, // seconds scrolled back while paused
  anchor: null, // the newest second shown when paused (the view stays put)
  hover: null,
};

function url(path) {
  if (!token) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

// Base-10 units, as the monitor shows rates.
function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  n = Math.abs(n);
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : 1)) + " " + units[i];
}
const rate = (n) => bytes(n) + "/s";

function clock(t, long) {
  const d = new Date(t * 1000);
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: long ? undefined : "2-digit" });
  return long ? d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + hm : hm;
}

function setStatus(text, bad) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = bad ? "bad" : "";
}

// ---- data -------------------------------------------------------------

async function load() {
  const range = state.range;
  const res = await fetch(url("/api/series?range=" + range));
  if (!res.ok) {
    setStatus(res.status === 503 ? "no history yet" : "error " + res.status, true);
    state.points = [];
    render();
    return;
  }
  const data = await res.json();
  if (range !== state.range) return;
  state.step = data.step;
  state.points = data.points;
  setStatus((state.paused ? "paused" : "live") + " · " + data.source);
  render();
}

// One second from the event stream, added to its bucket.
function addSecond(sec) {
  if (!(state.range in LIVE)) return;
  const step = state.step;
  const t = sec.t - (sec.t % step);
  let last = state.points[state.points.length - 1];
  if (!last || last.t !== t) {
    last = { t, p: [] };
    state.points.push(last);
  }
  for (const [name, rx, tx] of sec.p) {
    const e = last.p.find((x) => x[0] === name);
    if (e) { e[1] += rx; e[2] += tx; } else last.p.push([name, rx, tx]);
  }
  const oldest = sec.t - SPAN[state.range];
  while (state.points.length && state.points[0].t < oldest) state.points.shift();
}

let events = null;

// The event stream opens once the page is live: a page opened paused
// (?paused=1) reads the range once and streams only after "resume".
function connect() {
  if (events) return;
  events = new EventSource(url("/api/live"));
  events.onmessage = (e) => {
    addSecond(JSON.parse(e.data));
    if (!state.paused) render();
  };
  events.onerror = () => setStatus("reconnecting…", true);
  events.onopen = () => setStatus(state.paused ? "paused" : "live");
}

async function loadDns() {
  const res = await fetch(url("/api/dns"));
  if (!res.ok) return;
  const log = await res.json();
  const body = document.querySelector("#dns tbody");
  body.replaceChildren(...log.slice(0, 50).map((q) => row([
    q.time.slice(11, 19), q.process, q.query, [q.type, "wide"],
    [q.latency_ms == null ? "" : q.latency_ms.toFixed(1), "num"], [q.status, "wide" + (q.status === "answered" ? "" : " bad")],
  ])));
}

// ---- what is shown ----------------------------------------------------

// Totals per process over the visible points, largest first.
function totals(points) {
  const sum = new Map();
  for (const pt of points) for (const [name, rx, tx] of pt.p) {
    const e = sum.get(name) || [0, 0];
    e[0] += rx; e[1] += tx;
    sum.set(name, e);
  }
  return [...sum.entries()].sort((a, b) => (b[1][0] + b[1][1]) - (a[1][0] + a[1][1]));
}

// The newest second shown: the latest one live, the anchor less what was
// scrolled back while paused.
function viewEnd() {
  return state.paused ? (state.anchor ?? latest()) - state.back : latest();
}

function visible() {
  if (!state.paused) return state.points;
  const end = viewEnd();
  const span = SPAN[state.range] || Infinity;
  return state.points.filter((p) => p.t <= end && p.t > end - span);
}

function latest() {
  return state.points.length ? state.points[state.points.length - 1].t : Date.now() / 1000;
}

// The series to draw: each of the top processes (or the focused one's
// received and sent), as bytes per second per bucket.
function series(points) {
  const step = state.step;
  if (state.focus) {
    const pick = (i) => points.map((pt) => {
      const e = pt.p.find((x) => x[0] === state.focus);
      return [pt.t, e ? e[i] / step : 0];
    });
    return [
      { name: state.focus + " received", color: COLORS[0], data: pick(1) },
      { name: state.focus + " sent", color: COLORS[1], data: pick(2) },
    ];
  }
  const top = totals(points).slice(0, SERIES).map((e) => e[0]);
  const out = top.map((name, i) => ({
    name, color: COLORS[i % COLORS.length],
    data: points.map((pt) => {
      const e = pt.p.find((x) => x[0] === name);
      return [pt.t, e ? (e[1] + e[2]) / step : 0];
    }),
  }));
  if (totals(points).length > SERIES) {
    out.push({
      name: "others", color: "#8a96a3",
      data: points.map((pt) => [pt.t, pt.p.filter((x) => !top.includes(x[0])).reduce((s, x) => s + x[1] + x[2], 0) / step]),
    });
  }
  return out;
}

// ---- the renderer -----------------------------------------------------

// A "nice" axis maximum and tick step for values up to `max`.
function niceScale(max) {
  if (max <= 0) return { top: 1000, tick: 250 };
  const exp = Math.pow(10, Math.floor(Math.log10(max)));
  for (const m of [1, 2, 2.5, 5, 10]) {
    if (m * exp >= max) return { top: m * exp, tick: (m * exp) / 4 };
  }
  return { top: 10 * exp, tick: 2.5 * exp };
}

let layout = null;

function draw(canvas, list, span) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  g.font = "11px system-ui, sans-serif";
  const left = 70, right = 10, top = 10, bottom = 24;
  const pw = w - left - right, ph = h - top - bottom;
  // The time axis ends at the view's end even when nothing in it moved
  // bytes (scrolled back into a quiet stretch).
  const t1 = viewEnd() + state.step;
  const t0 = span ? t1 - span : (list.length && list[0].data.length ? list[0].data[0][0] : t1 - 60);
  const max = Math.max(0, ...list.flatMap((s) => s.data.map((d) => d[1])));
  const { top: ymax, tick } = niceScale(max);
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * pw;
  const y = (v) => top + ph - (v / ymax) * ph;
  layout = { x, t0, t1, left, pw };
  // Grid and the y axis, in bytes per second.
  g.strokeStyle = "#2a333c";
  g.fillStyle = "#8a96a3";
  g.textAlign = "right";
  g.textBaseline = "middle";
  const yLabels = [], xLabels = [];
  for (let v = 0; v <= ymax + 1e-9; v += tick) {
    g.beginPath(); g.moveTo(left, y(v)); g.lineTo(w - right, y(v)); g.stroke();
    g.fillText(rate(v), left - 6, y(v));
    yLabels.push(rate(v));
  }
  // The x axis: about one label per 110 px.
  g.textAlign = "center";
  g.textBaseline = "top";
  const labels = Math.max(2, Math.floor(pw / 110));
  const long = t1 - t0 > 86400;
  for (let i = 0; i <= labels; i++) {
    const t = t0 + ((t1 - t0) * i) / labels;
    // The last label ends at the plot's edge rather than past it.
    g.textAlign = i === labels ? "right" : "center";
    g.fillText(clock(t, long), x(t), top + ph + 6);
    xLabels.push(clock(t, long));
  }
  // The axes' labels, for assistive technology and the browser test.
  canvas.dataset.yaxis = yLabels.join("|");
  canvas.dataset.xaxis = xLabels.join("|");
  canvas.dataset.end = String(Math.round(t1));
  // The lines.
  for (const s of list) {
    g.strokeStyle = s.color;
    g.lineWidth = 1.5;
    g.beginPath();
    let first = true;
    for (const [t, v] of s.data) {
      if (t < t0) continue;
      if (first) { g.moveTo(x(t), y(v)); first = false; } else g.lineTo(x(t), y(v));
    }
    g.stroke();
  }
  if (state.hover != null) {
    g.strokeStyle = "#d8dee4";
    g.lineWidth = 1;
    g.beginPath(); g.moveTo(state.hover, top); g.lineTo(state.hover, top + ph); g.stroke();
  }
  if (!list.length || max === 0) {
    g.fillStyle = "#8a96a3";
    g.textAlign = "center";
    g.fillText("no traffic in this range", left + pw / 2, top + ph / 2);
  }
}

function row(cells, onclick, focused) {
  return fillRow(document.createElement("tr"), cells, onclick, focused);
}

// Writes `cells` into `tr`, reusing its cells: a row the user is clicking
// must not be replaced under the pointer by the next second's update.
function fillRow(tr, cells, onclick, focused) {
  cells.forEach((c, i) => {
    const td = tr.cells[i] || tr.appendChild(document.createElement("td"));
    const [text, cls] = Array.isArray(c) ? c : [c, ""];
    if (td.textContent !== text) td.textContent = text;
    td.className = cls;
    td.title = text;
  });
  while (tr.cells.length > cells.length) tr.deleteCell(-1);
  tr.onclick = onclick || null;
  tr.className = focused ? "focus" : "";
  return tr;
}

// Updates a table body in place: existing rows are kept and rewritten,
// extra ones added or removed.
function fillBody(body, rows) {
  rows.forEach(([cells, onclick, focused], i) => {
    if (body.rows[i]) fillRow(body.rows[i], cells, onclick, focused);
    else body.appendChild(row(cells, onclick, focused));
  });
  while (body.rows.length > rows.length) body.deleteRow(-1);
}

function render() {
  const points = visible();
  const list = series(points);
  const canvas = document.getElementById("chart");
  canvas.dataset.series = list.map((s) => s.name).join("\n");
  draw(canvas, list, SPAN[state.range]);
  // The legend's entries are kept and rewritten too (they are clickable).
  const legend = document.getElementById("legend");
  list.forEach((s, i) => {
    let span = legend.children[i];
    if (!span) {
      span = legend.appendChild(document.createElement("span"));
      span.append(document.createElement("i"), "");
    }
    span.firstChild.style.background = s.color;
    span.lastChild.textContent = s.name;
    span.onclick = () => setFocus(state.focus ? null : s.name);
  });
  while (legend.children.length > list.length) legend.lastChild.remove();
  document.getElementById("chart-title").textContent =
    state.focus ? "traffic of " + state.focus + " (click again to show all)" : "traffic per process";
  document.getElementById("range-label").textContent = "· " + state.range;
  fillBody(document.querySelector("#processes tbody"), totals(points).map(([name, [rx, tx]]) =>
    [[name, [bytes(rx), "num"], [bytes(tx), "num"], [bytes(rx + tx), "num wide"]],
      () => setFocus(state.focus === name ? null : name), state.focus === name]));
  for (const b of document.querySelectorAll("#ranges button")) b.setAttribute("aria-pressed", String(b.dataset.range === state.range));
  const pause = document.getElementById("pause");
  pause.setAttribute("aria-pressed", String(state.paused));
  pause.textContent = state.paused ? "resume" : "pause";
  document.body.dataset.range = state.range;
  document.body.dataset.paused = String(state.paused);
}

// ---- input ------------------------------------------------------------

function remember() {
  const p = new URLSearchParams();
  if (token) p.set("token", token);
  p.set("range", state.range);
  if (state.focus) p.set("focus", state.focus);
  if (state.paused) p.set("paused", "1");
  history.replaceState(null, "", "?" + p.toString());
}

function setFocus(name) {
  state.focus = name;
  remember();
  render();
}

function setRange(range) {
  state.range = range;
  state.back = 0;
  remember();
  load();
}

function setPaused(paused) {
  state.paused = paused;
  state.anchor = paused ? latest() : null;
  setStatus(paused ? "paused" : "live");
  remember();
  if (!paused) {
    state.back = 0;
    if (!events) {
      // Opened paused: catch up, then stream.
      connect();
      load();
      return;
    }
  }
  render();
}

function tooltip(ev) {
  const tip = document.getElementById("tip");
  const canvas = document.getElementById("chart");
  const rect = canvas.getBoundingClientRect();
  const px = ev.clientX - rect.left;
  if (!layout || px < layout.left) { tip.style.display = "none"; state.hover = null; return; }
  const t = layout.t0 + ((px - layout.left) / layout.pw) * (layout.t1 - layout.t0);
  const list = series(visible());
  let lines = [];
  for (const s of list) {
    let best = null;
    for (const d of s.data) if (best === null || Math.abs(d[0] - t) < Math.abs(best[0] - t)) best = d;
    if (best) lines.push([s.name, best[1], best[0]]);
  }
  if (!lines.length) return;
  state.hover = px;
  tip.replaceChildren();
  const head = document.createElement("div");
  head.textContent = clock(lines[0][2], layout.t1 - layout.t0 > 86400);
  tip.appendChild(head);
  for (const [name, v] of lines.sort((a, b) => b[1] - a[1])) {
    const div = document.createElement("div");
    div.textContent = name + ": " + rate(v);
    tip.appendChild(div);
  }
  tip.style.display = "block";
  tip.style.left = Math.min(px + 12, rect.width - 180) + "px";
  tip.style.top = "40px";
  render();
}

function init() {
  for (const b of document.querySelectorAll("#ranges button")) b.onclick = () => setRange(b.dataset.range);
  document.getElementById("pause").onclick = () => setPaused(!state.paused);
  const canvas = document.getElementById("chart");
  canvas.addEventListener("mousemove", tooltip);
  canvas.addEventListener("mouseleave", () => { state.hover = null; document.getElementById("tip").style.display = "none"; render(); });
  // Scrolling back: the wheel (or a drag) moves a paused chart in time.
  canvas.addEventListener("wheel", (ev) => {
    if (!state.paused) return;
    ev.preventDefault();
    const span = SPAN[state.range] || (latest() - (state.points[0] || { t: latest() }).t);
    state.back = Math.max(0, state.back + Math.sign(ev.deltaY) * span / 10);
    render();
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("pointerdown", (ev) => { if (state.paused) drag = ev.clientX; });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("pointermove", (ev) => {
    if (drag === null || !layout) return;
    const dt = ((ev.clientX - drag) / layout.pw) * (layout.t1 - layout.t0);
    drag = ev.clientX;
    state.back = Math.max(0, state.back + dt);
    render();
  });
  window.addEventListener("resize", render);
  render();
  load();
  if (!state.paused) connect();
  loadDns();
  setInterval(loadDns, 5000);
  // The longer ranges come from the history: read them again each minute.
  setInterval(() => { if (!(state.range in LIVE) && !state.paused) load(); }, 60000);
}

init();
