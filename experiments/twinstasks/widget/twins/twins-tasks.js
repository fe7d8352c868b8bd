// twins-tasks: what lesson 15's two widgets (siamese-twins, multitask-trunk)
// share: a live race of a shared model against its unshared control, with
// the ledger of the shared weights' gradient split in two parts (two sides
// of a pair, or two tasks) beside their sum and the engine's dW. Every
// number comes from the server over /ws; this module only draws.

import { el, fill, reducedMotion, begin, narrator, settingsFields, liveWidget, field, niceValues, perFrame } from "/static/widgets/ui.js";
import { dequantize } from "/static/widgets/quant.js";
import { divergingAt, css } from "/static/widgets/palette.js";
import { lineChart, swatch } from "/static/widgets/charts.js";

// Okabe–Ito, in viz's series order, with viz's dashes and markers.
export const STYLES = [
  { color: "#0072b2", dash: [], marker: "circle" },
  { color: "#d55e00", dash: [8, 4], marker: "square" },
  { color: "#009e73", dash: [2, 3], marker: "triangle" },
  { color: "#cc79a7", dash: [6, 2, 2, 2], marker: "diamond" },
];

// mountRace builds a widget: cfg names the experiment and gives its
// strings and the parts that differ (table rows, chart series).
export function mountRace(root, initial, lang, strings, cfg) {
  const kit = begin(root, lang, strings, "tt");
  const { S, locale, nf } = kit;
  const pct = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
  // Small numbers as "5.1×10⁻¹⁷", as the other widgets write them (not "5.1e-17").
  const sup = (e) => String(e).replace("-", "⁻").replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
  const num2 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 2 });
  const num1 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 1 });
  const pow = (v, f) => {
    const e = Math.floor(Math.log10(Math.abs(v)));
    return `${f.format(v / 10 ** e)}×10${sup(e)}`;
  };
  const fmt = { S, nf, pct, num3, sci: (v) => (v === 0 || !Number.isFinite(v) ? String(v) : Math.abs(v) < 1e-3 ? pow(v, num2) : num3.format(v)) };

  let params = { ...initial };
  let statics = null;
  let frame = null;

  const stepLine = el("p", "tt-step");
  stepLine.dataset.testid = "step-line";
  const bar = document.createElement("progress");
  bar.className = "tt-bar";
  bar.max = 1;
  bar.value = 0;
  const note = el("p", "tt-note");
  const head = el("div", "tt-head");
  head.append(stepLine, bar, note);

  const divergedBox = el("p", "tt-diverged");
  divergedBox.setAttribute("role", "alert");
  divergedBox.dataset.testid = "diverged";
  divergedBox.hidden = true;

  // The race table: one row per model.
  const race = el("table", "tt-table");
  race.dataset.testid = "race-table";
  const rh = el("tr");
  for (const h of [S.model, ...cfg.columns.map((c) => S.col[c])]) {
    const th = el("th", "", h);
    th.scope = "col";
    rh.append(th);
  }
  const rhead = el("thead");
  rhead.append(rh);
  const rbody = el("tbody");
  const cells = cfg.models.map((m, i) => {
    const tr = el("tr");
    const th = el("th", "tt-model");
    th.scope = "row";
    th.append(swatch(STYLES[i], "tt-swatch"), el("span", "", S.models[m]));
    tr.append(th);
    const row = {};
    for (const c of cfg.columns) {
      const td = el("td", "tt-num", "—");
      td.dataset.testid = `${c}-${m}`;
      td.dataset.label = S.col[c];
      row[c] = td;
      tr.append(td);
    }
    rbody.append(tr);
    return row;
  });
  race.append(rhead, rbody);
  const raceWrap = el("div", "tt-table-wrap");
  const evalAt = el("p", "tt-note");
  evalAt.dataset.testid = "eval-at";
  raceWrap.append(race, evalAt);

  // The ledger: every shared weight's two parts, their sum and dW.
  const ledgerBox = el("section", "tt-ledger");
  ledgerBox.append(el("h3", "", S.ledgerTitle));
  const ledgerNote = el("p", "tt-note");
  const ledger = el("table", "tt-table");
  ledger.dataset.testid = "ledger";
  const lh = el("tr");
  for (const h of [S.weight, S.part[0], S.part[1], S.cos, S.sumCol, S.dwCol, S.diffCol]) {
    const th = el("th", "", h);
    th.scope = "col";
    lh.append(th);
  }
  const lhead = el("thead");
  lhead.append(lh);
  const lbody = el("tbody");
  ledger.append(lhead, lbody);
  const ledgerWrap = el("div", "tt-table-wrap");
  ledgerWrap.append(ledger);
  const kernBox = el("div", "tt-kernels");
  kernBox.dataset.testid = "kernels";
  ledgerBox.append(ledgerNote, ledgerWrap, kernBox);

  const charts = el("div", "tt-charts");
  const figs = cfg.charts.map((c) => {
    const fig = el("figure", "tt-chart");
    const cap = el("figcaption", "", S.chart[c]);
    const canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.dataset.testid = `${c}-chart`;
    fig.append(cap, canvas);
    charts.append(fig);
    return { name: c, canvas };
  });

  const settings = el("fieldset", "tt-settings");
  settings.append(el("legend", "", S.settings));
  const optNum = new Intl.NumberFormat(locale, { maximumSignificantDigits: 6 });
  const optionName = (v) => (typeof v === "number" ? optNum.format(v) : String(v));
  const { inputs, choice, numberField } = settingsFields(settings, {
    cls: "tt-field", current: (k) => params[k], set: (change) => setParams(change), outOfRange: S.outOfRange, format: (v) => nf.format(v),
  });

  const voice = narrator("tt", 4000);
  const w = liveWidget(root, kit, {
    experiment: cfg.experiment,
    prefix: "tt",
    params: () => params,
    player: { speed: reducedMotion.matches ? 4 : 20, seek: true },
    exports: { png: S.downloadPNG, svg: "SVG", json: S.json, "trace.json": S.trace },
    exportsNote: S.exportNote,
    ready(spec) {
      const f = (name) => field(spec, name);
      choice(f("batch"), S.batch, niceValues(f("batch"), { powersOf2: true }), optionName, Number);
      choice(f("lr"), S.lr, niceValues(f("lr"), { thirds: true }), optionName, Number);
      numberField(f("steps"), S.steps);
      numberField(f("seed"), S.seed);
    },
    frame(m) {
      if (m.static) {
        statics = m.static;
        syncSettings(statics.params);
      }
      if (!statics) return;
      const prev = frame?.step;
      frame = m.data;
      draw();
      if (frame.step !== prev) narrate(false);
    },
    state(m, changed) {
      if (changed) {
        voice.say(S.sayState[m.state] ?? "");
        if (m.state === "paused" || m.state === "done") setTimeout(() => narrate(true), 800);
      }
    },
    stateError: (m) => m.state !== "diverged",
    error() {
      if (statics) syncSettings(statics.params);
    },
  });

  root.append(w.status, head, w.controls, w.working, divergedBox, raceWrap, ledgerBox, charts, settings, w.exports, w.downloads, w.errorBox, voice.el);
  if ("ResizeObserver" in window) new ResizeObserver(() => draw()).observe(charts);

  function setParams(change) {
    w.send({ type: "set-params", params: change });
  }

  function syncSettings(p) {
    params = { ...p };
    for (const [key, input] of Object.entries(inputs)) {
      if (input.tagName === "SELECT") {
        if (![...input.options].some((o) => o.value === String(p[key]))) {
          const o = document.createElement("option");
          o.value = String(p[key]);
          o.textContent = optionName(p[key]);
          input.append(o);
        }
        input.value = String(p[key]);
      } else if (document.activeElement !== input && input.getAttribute("aria-invalid") !== "true") {
        input.value = String(p[key]);
      }
    }
  }

  function setCell(td, v, f) {
    td.textContent = v == null ? "—" : f(v);
    if (v == null) delete td.dataset.value;
    else td.dataset.value = String(v);
  }

  function drawLedger() {
    lbody.replaceChildren();
    ledgerNote.textContent = frame.ledger ? fill(S.ledgerNote, { k: nf.format(frame.step) }) : S.ledgerEmpty;
    for (const r of frame.ledger ?? []) {
      const tr = el("tr");
      const th = el("th", "tt-model", r.name);
      th.scope = "row";
      tr.append(th);
      const vals = [r.part[0], r.part[1], r.cos, r.sum, r.dW, r.maxDiff];
      const labels = [S.part[0], S.part[1], S.cos, S.sumCol, S.dwCol, S.diffCol];
      const ids = ["part0", "part1", "cos", "sum", "dw", "diff"];
      vals.forEach((v, j) => {
        const td = el("td", "tt-num");
        td.dataset.label = labels[j];
        td.dataset.testid = `ledger-${r.name}-${ids[j]}`;
        setCell(td, v, j === 5 ? (x) => (x === 0 || !Number.isFinite(x) ? String(x) : pow(x, num1)) : fmt.sci);
        tr.append(td);
      });
      lbody.append(tr);
    }
    drawKernels();
  }

  // drawKernels draws the first weight's kernels: part 0 + part 1 = sum,
  // one row per output channel, on one diverging scale.
  function drawKernels() {
    kernBox.replaceChildren();
    const k = frame.kernels;
    if (!k) return;
    const [out, , kh, kw] = k.shape;
    let lim = 0;
    for (const a of [k.parts[0], k.parts[1], k.sum]) for (const v of a) lim = Math.max(lim, Math.abs(v));
    kernBox.append(el("p", "tt-note", fill(S.kernelsNote, { name: k.name })));
    const grid = el("div", "tt-kgrid");
    const size = kh * kw;
    for (let o = 0; o < out; o++) {
      const triple = el("div", "tt-ktriple");
      triple.append(el("span", "tt-kidx", nf.format(o + 1)));
      [k.parts[0], "+", k.parts[1], "=", k.sum].forEach((arr, j) => {
        if (typeof arr === "string") triple.append(el("span", "tt-kop", arr));
        else triple.append(kernel(arr.slice(o * size, (o + 1) * size), kh, kw, lim, `${o}-${j}`, S.kparts[j >> 1]));
      });
      // A kernel whose every use got no gradient (e.g. a ReLU dead on this
      // batch) would show three blank squares: say why.
      const zero = [k.parts[0], k.parts[1], k.sum].every((a) => a.slice(o * size, (o + 1) * size).every((v) => v === 0));
      if (zero) triple.append(el("span", "tt-kzero", S.kzero));
      grid.append(triple);
    }
    kernBox.append(grid);
  }

  function kernel(vals, kh, kw, lim, id, what) {
    const c = document.createElement("canvas");
    const px = 14;
    c.width = kw * px;
    c.height = kh * px;
    c.className = "tt-kernel";
    c.dataset.testid = "kernel-" + id;
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", `${what}: ${vals.map((v) => fmt.sci(v)).join(", ")}`);
    c.title = what;
    if (vals.every((v) => v === 0)) c.classList.add("tt-kernel-zero");
    const g = c.getContext("2d");
    vals.forEach((v, i) => {
      g.fillStyle = css(divergingAt(v, lim));
      g.fillRect((i % kw) * px, Math.floor(i / kw) * px, px, px);
    });
    return c;
  }

  function narrate(force) {
    if (!frame || !voice.due(force || w.state !== "running")) return;
    voice.say(cfg.say(frame, statics, fmt));
  }

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    stepLine.textContent = fill(S.progress, { k: nf.format(frame.step), n: nf.format(frame.total) });
    bar.value = frame.total ? frame.step / frame.total : 0;
    const vars = cfg.noteVars(statics);
    note.textContent = fill(S.note, Object.fromEntries(Object.keys(vars).map((k) => [k, nf.format(vars[k])])));
    divergedBox.hidden = !frame.diverged;
    if (frame.diverged) divergedBox.textContent = lang === "zh" ? frame.diverged.Zh : frame.diverged.En;
    cfg.models.forEach((m, i) => {
      const vals = cfg.row(i, frame, statics);
      for (const c of cfg.columns) setCell(cells[i][c], vals[c], cfg.format[c](fmt));
    });
    const last = frame.evals[frame.evals.length - 1];
    evalAt.textContent = fill(S.evalAt, { s: nf.format(last.step) });
    drawLedger();
    for (const f of figs) cfg.chart(f.name, f.canvas, frame, statics, fmt, chart);
  });
  stepLine.textContent = S.connecting;

  // ---- Charts ----
  // chart draws a widget's chart (charts.js's lineChart); a series of one
  // or two points gets its markers, so an early evaluation shows.
  function chart(canvas, o) {
    lineChart(canvas, { locale, ...o, series: o.series.map((s) => ({ ...s, markers: s.markers || s.xs.length < 3 })) });
  }
}

// curve turns a quantized per-step curve into points (x = the last step
// each point averages).
export function curve(q, every, step) {
  const ys = q && q.shape[0] > 0 ? dequantize(q) : new Float64Array(0);
  return { xs: Array.from(ys, (_, i) => Math.min((i + 1) * every, step)), ys: Array.from(ys) };
}

export { fill };
