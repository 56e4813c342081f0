/* odeserve dashboard: plain JavaScript over the JSON API (docs/dashboard.md).
 * No framework, no build step; plots with Debian's Chart.js when the server
 * has it. Every view is a function of the URL's hash, so a view can be
 * bookmarked and the test (tests/ui_test.py) can open each one directly. */
"use strict";

const view = document.getElementById("view");
const TOKEN_KEY = "odeserve.token";
let pollTimer = null;
const charts = [];

/* ---- API ---- */

class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status; this.code = code; this.field = field || "";
  }
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (token()) headers["Authorization"] = "Bearer " + token();
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "unreachable", "the daemon could not be reached: " + e.message, "");
  }
  const text = await resp.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
  if (!resp.ok) {
    const er = doc && doc.error ? doc.error : {};
    throw new ApiError(resp.status, er.code || "http_" + resp.status,
                       er.message || text.slice(0, 200) || resp.statusText, er.field);
  }
  return doc;
}

/* ---- DOM helpers ---- */

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function fmt(x) {
  if (typeof x !== "number") return x === null || x === undefined ? "" : String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return (+x.toPrecision(5)).toExponential();
  return String(+x.toPrecision(6));
}

function errorBox(err) {
  const box = el("div", { class: "error", role: "alert", "data-code": err.code || "" });
  box.append(el("strong", {}, err.status ? `${err.status} ${err.code}` : err.code || "error"),
             ": ", err.message || String(err));
  if (err.field) box.append(" (field ", el("span", { class: "field" }, err.field), ")");
  if (err.status === 401) box.append(el("div", {}, "Enter an API token with the Token button."));
  if (err.status === 403) box.append(el("div", {}, "The token lacks the scope this needs."));
  return box;
}

function table(headers, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, headers.map(h => el("th", {}, h)))),
            el("tbody", {}, rows.map(r => el("tr", {}, r.map(c =>
              c instanceof Node ? el("td", {}, c)
                : el("td", typeof c === "number" ? { class: "num" } : {}, fmt(c)))))));
}

function kv(pairs) {
  return el("table", { class: "kv" },
            el("tbody", {}, pairs.filter(p => p[1] !== undefined && p[1] !== null)
              .map(([k, v]) => el("tr", {}, el("td", {}, k),
                                  el("td", {}, v instanceof Node ? v : fmt(v))))));
}

function link(href, text) { return el("a", { href }, text); }
const enc = encodeURIComponent;

/* ---- plots ---- */

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"];

/* A line chart of `series` ([{label, points: [{x, y}], dash?, fill?}]); the
 * container records how many series and points it drew (data-series,
 * data-points) for the page's test. */
function plot(title, series, opts) {
  opts = opts || {};
  const box = el("div", { class: "plot" + (opts.square ? " square" : ""), "data-title": title,
                          "data-series": series.length,
                          "data-points": series.reduce((n, s) => n + s.points.length, 0) });
  if (!window.Chart) {
    box.append(el("p", { class: "error" },
      "Plots are off: Chart.js is not installed on the server (Debian: apt-get install " +
      "libjs-chart.js)."));
    box.setAttribute("data-chart", "missing");
    return box;
  }
  const canvas = el("canvas", { "aria-label": title, role: "img" });
  box.append(canvas);
  const chart = new window.Chart(canvas, {
    type: "scatter",
    data: {
      datasets: series.map((s, i) => ({
        label: s.label, data: s.points, showLine: !s.markers, pointRadius: s.markers ? 3 : 0,
        borderWidth: s.width || 1.5, borderDash: s.dash || [],
        borderColor: s.color || COLORS[i % COLORS.length],
        backgroundColor: s.fillColor || s.color || COLORS[i % COLORS.length],
        fill: s.fill === undefined ? false : s.fill,
      })),
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { title: { display: true, text: title },
                 legend: { display: series.length <= 12 } },
      scales: {
        x: { type: "linear", title: { display: true, text: opts.xlabel || "t" } },
        y: { type: opts.logy ? "logarithmic" : "linear",
             title: { display: !!opts.ylabel, text: opts.ylabel || "" } },
      },
    },
  });
  charts.push(chart);
  box.setAttribute("data-chart", "drawn");
  return box;
}

/* ---- shared: document summary ---- */

function networkRows(name, net) {
  if (!net || !net.layers) return [];
  let width = null;
  const rows = [];
  net.layers.forEach((l, i) => {
    if (l.weight) {
      const inW = l.weight[0] ? l.weight[0].length : 0, outW = l.weight.length;
      rows.push([i === 0 ? name : "", `${inW} → ${outW}`, l.activation || "identity",
                 outW * inW + outW]);
      width = outW;
    } else {
      rows.push([i === 0 ? name : "", `${width ?? "·"} (elementwise)`, l.activation, 0]);
    }
  });
  return rows;
}

function documentSummary(doc) {
  const nets = Object.entries(doc).filter(([, v]) => v && typeof v === "object" && v.layers);
  const rows = nets.flatMap(([k, v]) => networkRows(k, v));
  const params = rows.reduce((n, r) => n + r[3], 0);
  const dims = Object.entries(doc).filter(([k, v]) => typeof v === "number" ||
    (typeof v === "string" && k !== "description"));
  const parts = [el("h2", {}, "Document"),
                 kv([...dims.map(([k, v]) => [k, v]), ["network parameters", params],
                     ["description", doc.description]])];
  if (rows.length) parts.push(table(["network", "layer", "activation", "parameters"], rows));
  /* a hybrid model: its equations and named constants (docs/hybrid.md) */
  if (Array.isArray(doc.equations)) {
    const names = doc.state_names || [];
    parts.push(el("h2", {}, "Equations"),
               table(["", "equation"], doc.equations.map((eq, i) =>
                 [`d ${names[i] ?? "y" + i}/dt`, eq])));
  }
  if (doc.parameters && typeof doc.parameters === "object" && !Array.isArray(doc.parameters))
    parts.push(el("h2", {}, "Parameters"), kv(Object.entries(doc.parameters)));
  if (doc.solver) parts.push(el("h2", {}, "Solver defaults"),
                             kv(Object.entries(doc.solver)));
  return parts;
}

/* ---- views ---- */

async function viewModels() {
  const { models } = await api("GET", "/v1/models");
  const details = await Promise.all(models.slice(0, 100).map(m =>
    api("GET", "/v1/models/" + enc(m.name)).catch(() => null)));
  const rows = models.map((m, i) => {
    const d = details[i];
    const aliases = d && d.aliases ? Object.entries(d.aliases).map(([a, v]) => `${a}→${v}`)
      .join(", ") : "";
    const desc = d && d.versions && d.versions.length ?
      d.versions[d.versions.length - 1].description || "" : "";
    return [link("#/models/" + enc(m.name), m.name), m.kind, m.state_dim ?? "",
            m.latest_version, m.versions ?? "", aliases, desc.slice(0, 80)];
  });
  return [el("h1", {}, "Models"),
          models.length ? el("div", { id: "model-list", "data-count": models.length },
            table(["name", "kind", "state", "latest", "versions", "aliases", "description"], rows))
            : el("p", { id: "model-list", "data-count": 0 },
                 "No models yet: upload one with POST /v1/models/{name}/versions.")];
}

function numbers(text, what) {
  const out = text.split(/[\s,]+/).filter(s => s.length).map(Number);
  if (out.some(x => !Number.isFinite(x)))
    throw new ApiError(0, "invalid_input", "numbers separated by commas", what);
  return out;
}

function grid(a, b, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(n === 1 ? a : a + (b - a) * i / (n - 1));
  return out;
}

function field(label, input) { return [el("label", { for: input.id }, label), input]; }

async function solverOptions(current) {
  let names = ["dopri5"];
  try {
    const r = await api("GET", "/v1/solvers");
    names = (r.solvers || []).map(s => s.name);
  } catch (e) { /* the default list will do */ }
  return el("select", { id: "f-method" }, el("option", { value: "" }, "(model default)"),
            names.map(n => el("option", { value: n, selected: n === current }, n)));
}

function markField(form, name) {
  form.querySelectorAll(".bad-field").forEach(x => x.classList.remove("bad-field"));
  const map = { y0: "f-y0", t: "f-tlist", "solver.method": "f-method", "solver.rtol": "f-rtol",
                "solver.atol": "f-atol", samples: "f-samples", seed: "f-seed",
                observations: "f-obs" };
  const key = Object.keys(map).find(k => name === k || (name || "").startsWith(k + "["));
  if (key) { const i = form.querySelector("#" + map[key]); if (i) i.classList.add("bad-field"); }
}

function evalForm(info, doc, solverSelect) {
  const kind = info.kind;
  const n = info.state_dim || 1;
  const y0default = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0)).join(", ");
  const inputs = [];
  if (kind === "cde") {
    const ch = info.data_channels || 1;
    const lines = ["t," + Array.from({ length: ch }, (_, i) => "x" + (i + 1)).join(",")];
    for (let k = 0; k < 6; k++)
      lines.push([k * 0.5, ...Array.from({ length: ch }, (_, i) =>
        +Math.sin(k * 0.5 + i).toFixed(3))].join(","));
    inputs.push(field("observations (CSV: t, then one column per channel; empty = missing)",
                      el("textarea", { id: "f-obs" }, lines.join("\n"))));
    inputs.push(field("query points", el("input", { id: "f-n", type: "number", value: 100,
                                                  min: 1, max: 10000 })));
  } else {
    inputs.push(field("initial state y0", el("input", { id: "f-y0", value: y0default })));
    inputs.push(field("t from", el("input", { id: "f-t0", value: 0 })));
    inputs.push(field("t to", el("input", { id: "f-t1", value: 10 })));
    inputs.push(field("points", el("input", { id: "f-n", type: "number", value: 200, min: 1,
                                            max: 10000 })));
    inputs.push(field("or times", el("input", { id: "f-tlist", placeholder: "0.5, 1, 2.5 (instead of the range)" })));
    if (kind === "sde") {
      inputs.push(field("samples", el("input", { id: "f-samples", type: "number", value: 200 })));
      inputs.push(field("seed", el("input", { id: "f-seed", type: "number", value: 1 })));
    }
  }
  if (kind !== "sde") {
    inputs.push(field("method", solverSelect));
    inputs.push(field("rtol", el("input", { id: "f-rtol", placeholder: "(model default)" })));
    inputs.push(field("atol", el("input", { id: "f-atol", placeholder: "(model default)" })));
  }
  const out = el("div", { id: "result" });
  const form = el("form", { class: "eval", id: "eval-form" }, inputs.flat(),
                  el("div", { class: "actions" },
                     el("button", { class: "primary", type: "submit" }, "Evaluate")));
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    evaluate(info, form, out);
  });
  return [el("h2", {}, "Evaluate"), form, out];
}

function solverPart(form) {
  const s = {};
  const m = form.querySelector("#f-method");
  if (m && m.value) s.method = m.value;
  for (const k of ["rtol", "atol"]) {
    const i = form.querySelector("#f-" + k);
    if (i && i.value.trim()) s[k] = Number(i.value);
  }
  return Object.keys(s).length ? s : undefined;
}

function parseObservations(text) {
  const lines = text.split(/\r?\n/).map(l => l.trim()).filter(l => l.length);
  if (lines.length && /[a-df-zA-DF-Z]/.test(lines[0])) lines.shift(); /* a header */
  const t = [], x = [];
  for (const l of lines) {
    const cells = l.split(",").map(c => c.trim());
    t.push(Number(cells[0]));
    x.push(cells.slice(1).map(c => (c === "" || c.toLowerCase() === "na" ? null : Number(c))));
  }
  return { t, x };
}

async function evaluate(info, form, out) {
  out.replaceChildren(el("p", {}, "Solving…"));
  markField(form, "");
  const name = info.name;
  try {
    let body, reply;
    if (info.kind === "cde") {
      const obs = parseObservations(form.querySelector("#f-obs").value);
      const n = Number(form.querySelector("#f-n").value) || 100;
      const t = grid(obs.t[0], obs.t[obs.t.length - 1], Math.max(1, n));
      body = { observations: obs, t, output: "readout", solver: solverPart(form) };
      reply = await api("POST", `/v1/models/${enc(name)}/trajectory`, body);
      const width = reply.readout.length ? reply.readout[0].length : 0;
      const readout = Array.from({ length: width }, (_, j) => ({
        label: `readout[${j}]`, points: reply.t.map((tt, i) => ({ x: tt, y: reply.readout[i][j] })),
      }));
      const chans = obs.x.length ? obs.x[0].length : 0;
      const observed = Array.from({ length: chans }, (_, j) => ({
        label: `x${j + 1}`, markers: true,
        points: obs.t.map((tt, i) => ({ x: tt, y: obs.x[i][j] })).filter(p => p.y !== null),
      }));
      out.replaceChildren(el("div", { class: "plots" },
                             plot("Readout over the observations", readout),
                             plot("Observations", observed)), statsLine(reply.stats));
      return;
    }
    const y0 = numbers(form.querySelector("#f-y0").value, "y0");
    const t0 = Number(form.querySelector("#f-t0").value), t1 = Number(form.querySelector("#f-t1").value);
    const n = Math.max(1, Number(form.querySelector("#f-n").value) || 200);
    const tlist = form.querySelector("#f-tlist").value.trim();
    const t = tlist ? numbers(tlist, "t") : grid(t0, t1, n);
    body = { y0, t, t0 };
    if (info.kind === "sde") {
      body.samples = Number(form.querySelector("#f-samples").value);
      body.seed = Number(form.querySelector("#f-seed").value);
      body.quantiles = [0.05, 0.95];
      body.t = t.filter(x => x >= t0);
      reply = await api("POST", `/v1/models/${enc(name)}/trajectory`, body);
      const d = reply.mean.length ? reply.mean[0].length : 0;
      const series = [];
      for (let j = 0; j < d; j++) {
        const c = COLORS[j % COLORS.length];
        series.push({ label: `mean y${j}`, color: c, width: 2,
                      points: reply.t.map((tt, i) => ({ x: tt, y: reply.mean[i][j] })) });
        for (const q of ["0.05", "0.95"])
          series.push({ label: `${q} y${j}`, color: c, dash: [4, 3], width: 1,
                        points: reply.t.map((tt, i) => ({ x: tt, y: reply.quantiles[q][i][j] })) });
      }
      out.replaceChildren(el("div", { class: "plots" },
                             plot(`Mean and 90% band of ${reply.n_samples} samples (seed ${reply.seed})`, series)),
                          statsLine(reply.stats));
      return;
    }
    body.solver = solverPart(form);
    reply = await api("POST", `/v1/models/${enc(name)}/trajectory`, body);
    const d = reply.y.length ? reply.y[0].length : 0;
    const comps = Array.from({ length: d }, (_, j) => ({
      label: `y${j}`, points: reply.t.map((tt, i) => ({ x: tt, y: reply.y[i][j] })),
    }));
    const plots = [plot("State against time", comps)];
    if (d === 2)
      plots.push(plot("Phase portrait", [{ label: "y1 against y0",
        points: reply.y.map(v => ({ x: v[0], y: v[1] })) }], { square: true, xlabel: "y0", ylabel: "y1" }));
    if (reply.energy)
      plots.push(plot("Energy", [{ label: "H", points: reply.t.map((tt, i) => ({ x: tt, y: reply.energy[i] })) }]));
    out.replaceChildren(el("div", { class: "plots" }, plots), statsLine(reply.stats));
  } catch (e) {
    markField(form, e.field);
    out.replaceChildren(errorBox(e));
  }
}

function statsLine(stats) {
  if (!stats) return "";
  return el("p", { class: "stats", id: "stats" },
            Object.entries(stats).filter(([, v]) => typeof v !== "object")
              .map(([k, v]) => `${k} ${fmt(v)}`).join(" · "));
}

async function viewModel(name) {
  const info = await api("GET", "/v1/models/" + enc(name));
  info.name = info.name || name;
  const doc = await api("GET", `/v1/models/${enc(name)}/versions/latest`);
  const versions = table(["version", "created", "parameters", "checksum", "description"],
    (info.versions || []).map(v => [v.version, v.created_at, v.n_params, v.checksum,
                                    (v.description || "").slice(0, 100)]));
  const aliases = Object.entries(info.aliases || {});
  const parts = [el("h1", {}, `${name} `, el("small", {}, `(${info.kind})`))];
  /* every kind whose trajectory route takes y0 and t (a hybrid's request is an ode's) */
  if (["ode", "sde", "cde", "hamiltonian", "lagrangian", "hybrid"].includes(info.kind)) {
    const sel = await solverOptions(doc.solver && doc.solver.method);
    const f = evalForm(info, doc, sel);
    parts.push(...f);
    /* draw once on arrival, so the page shows an answer without a click */
    setTimeout(() => f[1].requestSubmit(), 0);
  } else {
    parts.push(el("p", { id: "no-form" }, `No evaluation form for kind ${info.kind}: ` +
                  (info.kind === "cnf" ? "a flow answers POST .../log_prob and .../sample " +
                   "(docs/cnf.md)." : "see docs/api.md.")));
  }
  parts.push(el("div", { class: "columns" },
                el("div", {}, ...documentSummary(doc)),
                el("div", {}, el("h2", {}, "Versions"), versions,
                   aliases.length ? el("h2", {}, "Aliases") : "",
                   aliases.length ? kv(aliases) : "")));
  return parts;
}

async function viewJobs() {
  const { jobs } = await api("GET", "/v1/jobs");
  return [el("h1", {}, "Training jobs"),
          jobs.length ? el("div", { id: "job-list", "data-count": jobs.length },
            table(["id", "status", "model", "dataset", "iteration", "train loss", "created"],
              jobs.slice().reverse().map(j => [link("#/jobs/" + j.id, String(j.id)),
                el("span", { class: "status-" + j.status }, j.status), j.model, j.dataset,
                `${j.iteration ?? 0} / ${j.iterations}`, j.train_loss, j.created_at])))
            : el("p", { id: "job-list", "data-count": 0 }, "No jobs yet: POST /v1/jobs queues one.")];
}

async function viewJob(id) {
  const box = el("div", { id: "job" });
  const render = async () => {
    const [job, m] = await Promise.all([api("GET", "/v1/jobs/" + enc(id)),
                                        api("GET", `/v1/jobs/${enc(id)}/metrics`)]);
    const running = job.status === "queued" || job.status === "running";
    const cancel = el("button", { type: "button", disabled: !running }, "Cancel");
    const msg = el("div");
    cancel.addEventListener("click", async () => {
      try { await api("POST", `/v1/jobs/${enc(id)}/cancel`); render(); }
      catch (e) { msg.replaceChildren(errorBox(e)); }
    });
    const series = [{ label: "train loss", points: m.iteration.map((it, i) =>
      ({ x: it, y: m.train_loss[i] })).filter(p => p.y !== null && p.y > 0) }];
    if (m.validation_loss && m.validation_loss.some(v => v !== null))
      series.push({ label: "validation loss", markers: true, points: m.iteration.map((it, i) =>
        ({ x: it, y: m.validation_loss[i] })).filter(p => p.y !== null && p.y > 0) });
    box.replaceChildren(
      el("h1", {}, `Job ${id} `, el("span", { class: "status-" + job.status, id: "job-status" },
                                   job.status)),
      kv([["model", job.result_version ? link(`#/models/${enc(job.model)}`, `${job.model} v${job.result_version}`) : job.model],
          ["dataset", job.dataset], ["iteration", `${job.iteration ?? 0} / ${job.iterations}`],
          ["train loss", job.train_loss], ["best validation loss", job.best_validation_loss],
          ["iterations / s", job.iterations_per_second], ["elapsed s", job.elapsed_seconds],
          ["error", job.error]]),
      el("div", {}, cancel), msg,
      el("div", { class: "plots" }, plot("Loss", series, { xlabel: "iteration", logy: true })));
    if (running) pollTimer = setTimeout(() => render().catch(e => box.append(errorBox(e))), 1500);
  };
  await render();
  return [box];
}

async function viewDatasets() {
  const { datasets } = await api("GET", "/v1/datasets");
  return [el("h1", {}, "Datasets"),
          datasets.length ? el("div", { id: "dataset-list", "data-count": datasets.length },
            table(["name", "series", "points", "channels", "time range", "missing", "label"],
              datasets.map(d => [link("#/datasets/" + enc(d.name), d.name), d.series, d.points,
                d.channels, d.time_range ? `${fmt(d.time_range[0])} … ${fmt(d.time_range[1])}` : "",
                d.missing_fraction, d.label])))
            : el("p", { id: "dataset-list", "data-count": 0 }, "No datasets yet.")];
}

async function viewDataset(name) {
  const [d, s] = await Promise.all([api("GET", "/v1/datasets/" + enc(name)),
                                    api("GET", `/v1/datasets/${enc(name)}/series?limit=5`)]);
  if (s.kind === "points") {
    const pts = await api("GET", `/v1/datasets/${enc(name)}/series?limit=1000`);
    const dims = pts.points.length ? pts.points[0].length : 0;
    const cloud = [{ label: dims >= 2 ? "x2 against x1" : "x1", markers: true,
                     points: pts.points.map((p, i) => dims >= 2 ? { x: p[0], y: p[1] } : { x: i, y: p[0] }) }];
    return [el("h1", {}, name),
            kv([["kind", "points"], ["points", d.points], ["dimensions", d.channels],
                ["created", d.created_at]]),
            el("h2", {}, `Preview: the first ${pts.points.length} of ${pts.total} points`),
            el("div", { class: "plots" }, plot("Points", cloud, { square: true, xlabel: "x1",
                                                             ylabel: dims >= 2 ? "x2" : "" }))];
  }
  const series = [];
  s.series.forEach((ser, k) => {
    const ch = ser.y.length ? ser.y[0].length : 0;
    for (let j = 0; j < ch; j++)
      series.push({ label: `series ${s.offset + k} y${j + 1}`, markers: ser.t.length < 60,
                    points: ser.t.map((tt, i) => ({ x: tt, y: ser.y[i][j] })).filter(p => p.y !== null) });
  });
  return [el("h1", {}, name),
          kv([["series", d.series], ["points", d.points], ["channels", d.channels],
              ["time range", d.time_range ? `${fmt(d.time_range[0])} … ${fmt(d.time_range[1])}` : ""],
              ["missing fraction", d.missing_fraction], ["label", d.label], ["created", d.created_at]]),
          el("h2", {}, `Preview: the first ${s.series.length} of ${s.total} series`),
          el("div", { class: "plots" }, plot("Observations", series))];
}

/* ---- router and token ---- */

const routes = [
  [/^#?\/?$/, viewModels, "models"],
  [/^#\/models\/([^/]+)$/, viewModel, "models"],
  [/^#\/jobs$/, viewJobs, "jobs"],
  [/^#\/jobs\/([^/]+)$/, viewJob, "jobs"],
  [/^#\/datasets$/, viewDatasets, "datasets"],
  [/^#\/datasets\/([^/]+)$/, viewDataset, "datasets"],
];

async function route() {
  if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
  while (charts.length) charts.pop().destroy();
  const h = location.hash || "#/";
  const r = routes.find(([re]) => re.test(h));
  document.querySelectorAll("nav a").forEach(a =>
    a.classList.toggle("active", !!r && a.dataset.nav === r[2]));
  view.setAttribute("data-view", r ? r[2] : "none");
  view.setAttribute("aria-busy", "true");
  try {
    if (!r) throw new ApiError(404, "not_found", "no such page: " + h, "");
    const args = h.match(r[0]).slice(1).map(decodeURIComponent);
    view.replaceChildren(...(await r[1](...args)));
  } catch (e) {
    view.replaceChildren(errorBox(e));
  }
  view.setAttribute("aria-busy", "false");
}

function setupToken() {
  const panel = document.getElementById("token-panel");
  const input = document.getElementById("token-input");
  const button = document.getElementById("token-button");
  const label = () => { button.textContent = token() ? "Token ✓" : "Token"; };
  button.addEventListener("click", () => { panel.hidden = !panel.hidden; input.focus(); });
  document.getElementById("token-save").addEventListener("click", () => {
    const v = input.value.trim();
    if (v) sessionStorage.setItem(TOKEN_KEY, v);
    input.value = ""; panel.hidden = true; label(); route();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY); input.value = ""; panel.hidden = true; label(); route();
  });
  label();
}

async function serverLine() {
  try {
    const v = await api("GET", "/v1/version");
    document.getElementById("server").textContent = `odeserved ${v.version || ""}`;
  } catch (e) { /* a 401 here shows on the page itself */ }
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  if (!window.Chart) {
    const n = document.getElementById("notice");
    n.textContent = "Plots are off: the server has no Chart.js (Debian: apt-get install " +
      "libjs-chart.js, or set ui_lib_dir). Everything else works.";
    n.hidden = false;
  }
  setupToken();
  serverLine();
  route();
});
