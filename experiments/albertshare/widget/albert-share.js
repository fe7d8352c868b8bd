// albert-share: four stacks of N transformer blocks trained side by side on
// the server (the same sequences, optimizer and steps): every block holding
// one set of weights, only the attention shared, only the feed-forward part
// shared, nothing shared. Per mode: the engine's parameter count beside the
// count by hand, each block's part of the shared gradients (the engine's
// UseLayer contributions) and one bias vector's ledger, and how far each
// block turns the hidden state (ALBERT's Figure 1). Every number comes
// from the engine over /ws (this package's README); this module only draws.

import {
  el, fill, reducedMotion, begin, narrator, settingsFields, liveWidget, field, niceValues, perFrame,
} from "/static/widgets/ui.js";
import { dequantize } from "/static/widgets/quant.js";
import { divergingAt, css } from "/static/widgets/palette.js";
import { lineChart, sizeCanvas, swatch } from "/static/widgets/charts.js";

const MODES = ["none", "all", "attention", "ffn"];
// Okabe–Ito in viz's series order, with viz's dashes and markers.
const STYLE = {
  none: { color: "#0072b2", dash: [], marker: "circle" },
  all: { color: "#d55e00", dash: [8, 4], marker: "square" },
  attention: { color: "#009e73", dash: [2, 3], marker: "triangle" },
  ffn: { color: "#cc79a7", dash: [10, 3, 2, 3], marker: "diamond" },
};

const strings = {
  en: {
    mode: { none: "Nothing shared", all: "All shared", attention: "Attention shared", ffn: "Feed-forward shared" },
    tasks: { reverse: "Reverse", copy: "Copy" },
    progress: "Step {k} of {n}",
    budgetNote: "Each step trains all four on the same {b} sequences of {t} tokens. Every mode does the same {u} multiply-adds per sequence: sharing saves parameters and memory, not arithmetic. Fixed-set accuracy every {e} steps on {n} sequences.",
    handNote: "By hand: embedding {v}·{d} = {emb}, output {d}·{v} + {v} = {out}; one block's attention part (ln1 + W_Q, W_K, W_V, W_O with biases) {a}, feed-forward part (ln2 + ff1 + ff2) {f}. A shared part is counted once, a part of its own {N} times.",
    model: "Mode", params: "Parameters (engine)", hand: "By hand", ratio: "× nothing shared", uses: "Multiply-adds / sequence", loss: "Loss (batch)", acc: "Accuracy (batch)", evalAcc: "Fixed set",
    notYet: "—",
    partsTitle: "Where each shared gradient comes from (probe batch, weights of this step)",
    partsNote: "Bars: the norm of each block's part of the gradient of the attention part (A) and the feed-forward part (F). A shared part has one gradient, the sum of every block's part; a part of its own keeps its block's.",
    attnShort: "A", ffnShort: "F",
    sharedTag: "shared: the {N} parts add into one dW", ownTag: "own: {N} separate gradients",
    ledgerTitle: "{p}, element by element",
    ledgerRows: "rows: block 1 … {N}",
    ledgerSum: ", then Σ",
    ledgerDW: ", then the engine's dW",
    sumErr: "max |Σ − dW| = {e}",
    sumNone: "nothing shared: each block keeps a gradient of its own — no sum",
    block: "block {l}", sigma: "Σ", dw: "dW",
    lossChart: "Training loss (each step's batch)",
    accChart: "Token accuracy: thin = batches (smoothed), marks = fixed set",
    angleChart: "Angle between each block's input and output (degrees)",
    l2Chart: "L2 distance between each block's input and output",
    stepAxis: "step", lossAxis: "loss", accAxis: "accuracy", blockAxis: "block", degAxis: "degrees", l2Axis: "L2 distance",
    settings: "Race settings (changing one restarts the race)",
    task: "Task", blocks: "Blocks N", d: "Width d", lr: "Learning rate", steps: "Steps", seed: "Seed",
    outOfRange: "Enter a whole number from {min} to {max}; this value was not applied.",
    diverged: "Diverged — lower the learning rate, then reset.",
    downloadPNG: "Download charts (PNG)", downloadSVG: "SVG", json: "Race data (JSON)", trace: "All-shared step trace (JSON)",
    exportNote: "The server re-trains to this step to draw it (a few seconds).",
    say: "Step {k} of {n}. Fixed-set accuracy: {scores}.",
    sayState: { running: "Training.", paused: "Paused.", done: "The race is over.", error: "The run stopped with an error.", diverged: "Diverged." },
    chartAlt: "{title}. Latest values: {values}.",
    list: ", ",
  },
  zh: {
    mode: { none: "不共享", all: "全部共享", attention: "只共享注意力", ffn: "只共享前馈层" },
    tasks: { reverse: "倒序", copy: "复制" },
    progress: "第 {k} / {n} 步",
    budgetNote: "每一步让四个模型在同样的 {b} 条序列（每条 {t} 个词元）上各训练一次。每种模式对每条序列都做同样的 {u} 次乘加：共享节省的是参数和内存，不是计算量。每隔 {e} 步在 {n} 条固定序列上测准确率。",
    handNote: "手算：嵌入 {v}·{d} = {emb}，输出层 {d}·{v} + {v} = {out}；一个块的注意力部分（ln1 + 带偏置的 W_Q、W_K、W_V、W_O）{a}，前馈部分（ln2 + ff1 + ff2）{f}。共享的部分只算一次，各自独有的部分算 {N} 次。",
    model: "模式", params: "参数量（引擎）", hand: "手算", ratio: "× 不共享", uses: "每条序列的乘加次数", loss: "损失（批次）", acc: "准确率（批次）", evalAcc: "固定集",
    notYet: "—",
    partsTitle: "每个共享梯度来自哪里（探针批次，本步的权重）",
    partsNote: "条形：每个块对注意力部分（A）和前馈部分（F）梯度的贡献的范数。共享的部分只有一个梯度，即所有块的贡献之和；独有的部分各自保留自己块的梯度。",
    attnShort: "A", ffnShort: "F",
    sharedTag: "共享：{N} 份贡献加成一个 dW", ownTag: "独有：{N} 个各自的梯度",
    ledgerTitle: "{p}，逐个元素",
    ledgerRows: "行：块 1 … {N}",
    ledgerSum: "，然后是 Σ",
    ledgerDW: "，然后是引擎的 dW",
    sumErr: "max |Σ − dW| = {e}",
    sumNone: "不共享：每个块有自己的梯度——没有求和",
    block: "块 {l}", sigma: "Σ", dw: "dW",
    lossChart: "训练损失（每一步的批次）",
    accChart: "词元准确率：细线 = 批次（平滑），标记 = 固定集",
    angleChart: "每个块的输入与输出之间的夹角（度）",
    l2Chart: "每个块的输入与输出之间的 L2 距离",
    stepAxis: "步", lossAxis: "损失", accAxis: "准确率", blockAxis: "块", degAxis: "度", l2Axis: "L2 距离",
    settings: "比赛设置（修改任何一项都会重新开始比赛）",
    task: "任务", blocks: "块数 N", d: "宽度 d", lr: "学习率", steps: "步数", seed: "随机种子",
    outOfRange: "请输入 {min} 到 {max} 之间的整数；此值未被采用。",
    diverged: "发散了——请降低学习率，然后重置。",
    downloadPNG: "下载图表（PNG）", downloadSVG: "SVG", json: "比赛数据（JSON）", trace: "全部共享模型的单步追踪（JSON）",
    exportNote: "服务器会重新训练到这一步再绘图（需要几秒钟）。",
    say: "第 {k} / {n} 步。固定集准确率：{scores}。",
    sayState: { running: "正在训练。", paused: "已暂停。", done: "比赛结束。", error: "运行因错误而停止。", diverged: "发散了。" },
    chartAlt: "{title}。最新数值：{values}。",
    list: "、",
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "as");
  const { S, locale, nf } = kit;
  const pct = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
  const times = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  // sci writes "1.72×10⁻⁶" as the other widgets do (not "0.00000172" or "1.7e-6").
  const sup = (e) => String(e).replace("-", "⁻").replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
  const sci = (v) => {
    if (v === 0 || !Number.isFinite(v)) return v === 0 ? "0" : String(v);
    const e = Math.floor(Math.log10(Math.abs(v)));
    return `${num3.format(v / 10 ** e)}×10${sup(e)}`;
  };
  const g3 = (v) => (v !== 0 && Math.abs(v) < 1e-3 ? sci(v) : num3.format(v));

  let params = { ...initial };
  let statics = null;
  let frame = null;

  // ---- Layout ----
  const head = el("div", "as-head");
  const stepLine = el("p", "as-step");
  stepLine.dataset.testid = "step-line";
  const bar = document.createElement("progress");
  bar.className = "as-bar";
  bar.dataset.testid = "progress";
  bar.max = 1;
  bar.value = 0;
  const note = el("p", "as-note");
  const handNote = el("p", "as-note");
  handNote.dataset.testid = "hand-note";
  head.append(stepLine, bar, note, handNote);

  const divergedBox = el("p", "as-diverged");
  divergedBox.setAttribute("role", "alert");
  divergedBox.dataset.testid = "diverged";
  divergedBox.hidden = true;

  const tableWrap = el("div", "as-table-wrap");
  const table = el("table", "as-table");
  table.dataset.testid = "race-table";
  const columns = [S.params, S.hand, S.ratio, S.uses, S.loss, S.acc, S.evalAcc];
  const keys = ["params", "hand", "ratio", "uses", "loss", "acc", "eval"];
  const hr = el("tr");
  for (const h of [S.model, ...columns]) {
    const th = el("th", "", h);
    th.scope = "col";
    hr.append(th);
  }
  const thead = el("thead");
  thead.append(hr);
  const tbody = el("tbody");
  const cells = {};
  for (const m of MODES) {
    const tr = el("tr");
    const th = el("th", "as-model");
    th.scope = "row";
    th.append(swatch(STYLE[m], "as-swatch"), el("span", "", S.mode[m]));
    tr.append(th);
    cells[m] = {};
    keys.forEach((k, j) => {
      const td = el("td", "as-num", S.notYet);
      td.dataset.testid = `${k}-${m}`;
      td.dataset.label = columns[j];
      cells[m][k] = td;
      tr.append(td);
    });
    tbody.append(tr);
  }
  table.append(thead, tbody);
  tableWrap.append(table);

  // The ledgers: one card per mode.
  const partsBox = el("section", "as-parts");
  partsBox.append(el("h3", "as-h", S.partsTitle), el("p", "as-note", S.partsNote));
  const cardsBox = el("div", "as-cards");
  const cards = {};
  for (const m of MODES) {
    const card = el("div", "as-card");
    card.dataset.testid = `card-${m}`;
    const h = el("p", "as-card-h");
    h.append(swatch(STYLE[m], "as-swatch"), el("span", "", S.mode[m]));
    const tagA = el("p", "as-tag"), tagF = el("p", "as-tag");
    const bars = document.createElement("canvas");
    bars.className = "as-bars";
    bars.setAttribute("role", "img");
    bars.dataset.testid = `bars-${m}`;
    const lt = el("p", "as-ledger-h");
    const ledger = document.createElement("canvas");
    ledger.className = "as-ledger";
    ledger.setAttribute("role", "img");
    ledger.dataset.testid = `ledger-${m}`;
    const err = el("p", "as-err");
    err.dataset.testid = `sumerr-${m}`;
    card.append(h, tagA, tagF, bars, lt, ledger, err);
    cardsBox.append(card);
    cards[m] = { tagA, tagF, bars, lt, ledger, err };
  }
  partsBox.append(cardsBox);

  const legend = el("ul", "as-legend");
  for (const m of MODES) {
    const li = el("li");
    li.append(swatch(STYLE[m], "as-swatch"), el("span", "", S.mode[m]));
    legend.append(li);
  }
  const charts = el("div", "as-charts");
  function chartFig(title, testid) {
    const fig = el("figure", "as-chart");
    const cap = el("figcaption", "", title);
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.dataset.testid = testid;
    fig.append(cap, c);
    return { fig, canvas: c, cap };
  }
  const lossFig = chartFig(S.lossChart, "loss-chart");
  const accFig = chartFig(S.accChart, "acc-chart");
  const angleFig = chartFig(S.angleChart, "angle-chart");
  const l2Fig = chartFig(S.l2Chart, "l2-chart");
  charts.append(angleFig.fig, l2Fig.fig, lossFig.fig, accFig.fig);

  const settings = el("fieldset", "as-settings");
  settings.append(el("legend", "", S.settings));
  const optNum = new Intl.NumberFormat(locale, { maximumSignificantDigits: 6 });
  const optionName = (v) => (typeof v === "number" ? optNum.format(v) : String(v));
  const { inputs, choice, numberField } = settingsFields(settings, {
    cls: "as-field", current: (k) => params[k], set: (change) => setParams(change), outOfRange: S.outOfRange, format: (v) => nf.format(v),
  });

  const voice = narrator("as", 4000);
  const w = liveWidget(root, kit, {
    experiment: "albert-share",
    prefix: "as",
    params: () => params,
    player: { speed: reducedMotion.matches ? 4 : 20, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    exportsNote: S.exportNote,
    ready(spec) {
      const f = (name) => field(spec, name);
      choice(f("task"), S.task, f("task").choices, (v) => S.tasks[v] ?? v, String);
      const b = f("blocks");
      choice(b, S.blocks, Array.from({ length: b.max - b.min + 1 }, (_, i) => b.min + i), optionName, Number);
      choice(f("d"), S.d, f("d").choices, String, String);
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
      draw();
    },
    stateError: (m) => m.state !== "diverged",
    error() {
      if (statics) syncSettings(statics.params);
    },
  });

  root.append(w.status, head, w.controls, w.working, divergedBox, tableWrap, partsBox, legend, charts, settings, w.exports, w.downloads, w.errorBox, voice.el);
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

  // ---- Drawing ----
  const sized = (c, ratio) => sizeCanvas(c, ratio, { min: 200, fallback: 320 });
  const dark = () => matchMedia("(prefers-color-scheme: dark)").matches;
  const chart = (canvas, o) => lineChart(canvas, { locale, ...o });

  function curve(q, every, step) {
    const ys = q && q.shape[0] > 0 ? dequantize(q) : new Float64Array(0);
    return { xs: Array.from(ys, (_, i) => Math.min((i + 1) * every, step)), ys: Array.from(ys) };
  }

  const latest = (vals) => MODES.map((m, i) => `${S.mode[m]} ${vals[i]}`).join(S.list);

  function drawCharts() {
    const total = statics.total, N = statics.blocks;
    const c = frame.curves;
    const loss = MODES.map((m, i) => ({ style: STYLE[m], ...curve(c.loss[i], c.every, frame.step) }));
    let lossMax = Math.log(statics.vocab);
    for (const s of loss) for (const y of s.ys) if (Number.isFinite(y)) lossMax = Math.max(lossMax, y);
    chart(lossFig.canvas, { xMax: total, yMin: 0, yMax: Math.min(lossMax * 1.05, 10), xLabel: S.stepAxis, yLabel: S.lossAxis, series: loss });
    const batch = MODES.map((m, i) => ({ style: STYLE[m], ...curve(c.acc[i], c.every, frame.step), width: 1.5, alpha: 0.55 }));
    const evals = MODES.map((m, i) => ({ style: STYLE[m], xs: frame.evals.map((e) => e.step), ys: frame.evals.map((e) => e.acc[i]), width: 2.5, markers: true }));
    chart(accFig.canvas, { xMax: total, yMin: 0, yMax: 1, xLabel: S.stepAxis, yLabel: S.accAxis, series: [...batch, ...evals], yPercent: true, hline: statics.chance });
    const blocks = Array.from({ length: N }, (_, l) => l + 1);
    const per = (key) => MODES.map((m, i) => ({ style: STYLE[m], xs: blocks, ys: frame.models[i].probe[key], width: 2.5, markers: true }));
    let aMax = 10, lMax = 1;
    for (const md of frame.models) {
      for (const v of md.probe.angle) aMax = Math.max(aMax, v);
      for (const v of md.probe.l2) lMax = Math.max(lMax, v);
    }
    chart(angleFig.canvas, { xMin: 1, xMax: N, yMin: 0, yMax: Math.ceil(aMax / 10) * 10, xLabel: S.blockAxis, yLabel: S.degAxis, series: per("angle"), intX: true });
    chart(l2Fig.canvas, { xMin: 1, xMax: N, yMin: 0, yMax: lMax * 1.1, xLabel: S.blockAxis, yLabel: S.l2Axis, series: per("l2"), intX: true });
    const lastEval = frame.evals[frame.evals.length - 1];
    lossFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.lossChart, values: latest(frame.models.map((x) => (x.loss == null ? S.notYet : g3(x.loss)))) }));
    accFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.accChart, values: latest(lastEval.acc.map((v) => pct.format(v))) }));
    angleFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.angleChart, values: latest(frame.models.map((x) => x.probe.angle.map((v) => num3.format(v)).join(" → "))) }));
    l2Fig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.l2Chart, values: latest(frame.models.map((x) => x.probe.l2.map((v) => num3.format(v)).join(" → "))) }));
  }

  // barsChart draws, per block, the two parts' norms side by side, on one
  // scale for the four cards so that their sizes compare.
  function barsChart(canvas, p, scale) {
    const { g, w: wd, h } = sized(canvas, 0.42);
    const fs = Math.max(12, Math.min(14, wd / 26));
    const N = p.parts[0].length;
    const pad = { l: 4, r: 4, t: fs * 1.3, b: fs * 1.6 };
    const pw = wd - pad.l - pad.r, ph = h - pad.t - pad.b;
    const slot = pw / N, bw = Math.min(slot * 0.36, 28);
    const ink = dark() ? "#ddd" : "#333";
    g.font = `${fs}px system-ui, sans-serif`;
    g.textAlign = "center";
    for (let l = 0; l < N; l++) {
      const x0 = pad.l + slot * l + slot / 2;
      [0, 1].forEach((k) => {
        const v = p.parts[k][l];
        const bh = scale > 0 ? (v / scale) * ph : 0;
        const x = x0 + (k === 0 ? -bw - 1 : 1);
        g.fillStyle = k === 0 ? "#0072b2" : "#e69f00";
        if (!p.shared[k]) g.globalAlpha = 0.55;
        g.fillRect(x, pad.t + ph - bh, bw, bh);
        g.globalAlpha = 1;
        g.fillStyle = ink;
        g.textBaseline = "bottom";
        g.fillText(k === 0 ? S.attnShort : S.ffnShort, x + bw / 2, pad.t + ph - bh - 1);
      });
      g.textBaseline = "top";
      g.fillText(String(l + 1), x0, pad.t + ph + 3);
    }
    g.strokeStyle = ink;
    g.beginPath();
    g.moveTo(pad.l, pad.t + ph + 0.5);
    g.lineTo(pad.l + pw, pad.t + ph + 0.5);
    g.stroke();
  }

  // ledgerChart draws the bias's rows as a strip of coloured cells on one
  // diverging scale: blocks, then Σ and dW when the bias is shared.
  function ledgerChart(canvas, q, shared, N) {
    const rows = q.shape[0], cols = q.shape[1];
    const vals = dequantize(q);
    let lim = 0;
    for (const v of vals) if (Number.isFinite(v)) lim = Math.max(lim, Math.abs(v));
    const { g, w: wd } = sized(canvas, 0);
    const fs = Math.max(12, Math.min(13, wd / 28));
    const lw = fs * 3.6, cw = (wd - lw) / cols, ch = Math.max(9, Math.min(16, cw * 2));
    const ht = Math.round(rows * ch + (rows > N ? 4 : 0) + 2);
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    if (canvas.height !== Math.round(ht * dpr)) {
      canvas.height = Math.round(ht * dpr);
      canvas.style.height = `${ht}px`;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    g.clearRect(0, 0, wd, ht);
    g.font = `${fs}px system-ui, sans-serif`;
    g.textAlign = "right";
    g.textBaseline = "middle";
    g.fillStyle = dark() ? "#ddd" : "#333";
    for (let r = 0; r < rows; r++) {
      const y = r * ch + (r >= N ? 4 : 0);
      const label = r < N ? String(r + 1) : r === N ? S.sigma : S.dw;
      g.fillStyle = dark() ? "#ddd" : "#333";
      g.fillText(label, lw - 4, y + ch / 2);
      for (let c = 0; c < cols; c++) {
        g.fillStyle = css(divergingAt(vals[r * cols + c], lim));
        g.fillRect(lw + c * cw, y, Math.ceil(cw), ch - 1);
      }
    }
  }

  function drawCards() {
    let scale = 0;
    for (const md of frame.models) for (const part of md.probe.parts) for (const v of part) scale = Math.max(scale, v);
    const N = statics.blocks;
    MODES.forEach((m, i) => {
      const p = frame.models[i].probe, c = cards[m];
      c.tagA.textContent = `${S.attnShort}: ${fill(p.shared[0] ? S.sharedTag : S.ownTag, { N: nf.format(N) })}`;
      c.tagF.textContent = `${S.ffnShort}: ${fill(p.shared[1] ? S.sharedTag : S.ownTag, { N: nf.format(N) })}`;
      barsChart(c.bars, p, scale);
      c.bars.setAttribute("aria-label", `${S.mode[m]}: ${S.attnShort} ${p.parts[0].map((v) => num3.format(v)).join(", ")}; ${S.ffnShort} ${p.parts[1].map((v) => num3.format(v)).join(", ")}`);
      c.bars.dataset.ffn = p.parts[1].join(",");
      c.lt.textContent = `${fill(S.ledgerTitle, { p: statics.modes[i].ledger })} — ${fill(S.ledgerRows, { N: nf.format(N) })}${p.ledgerShared ? S.ledgerSum + S.ledgerDW : ""}`;
      ledgerChart(c.ledger, p.ledger, p.ledgerShared, N);
      c.ledger.setAttribute("aria-label", c.lt.textContent);
      c.err.textContent = p.shared[0] || p.shared[1] ? fill(S.sumErr, { e: sci(p.sumErr) }) : S.sumNone;
      c.err.dataset.value = String(p.sumErr);
    });
  }

  function drawTable() {
    const lastEval = frame.evals[frame.evals.length - 1];
    const base = statics.modes[0].params;
    MODES.forEach((m, i) => {
      const st = statics.modes[i], d = frame.models[i], c = cells[m];
      const set = (cell, v, f) => {
        cell.textContent = v == null ? S.notYet : f(v);
        if (v == null) delete cell.dataset.value;
        else cell.dataset.value = String(v);
      };
      set(c.params, st.params, (v) => nf.format(v));
      set(c.hand, st.hand, (v) => nf.format(v));
      set(c.ratio, st.params / base, (v) => `${times.format(v)}×`);
      set(c.uses, st.uses, (v) => nf.format(v));
      set(c.loss, d.loss, g3);
      set(c.acc, d.acc, (v) => pct.format(v));
      set(c.eval, lastEval?.acc[i], (v) => pct.format(v));
    });
  }

  function drawText() {
    const p = statics.params, s = statics;
    const comma = lang === "zh" ? "，" : ", ";
    stepLine.textContent = `${S.tasks[p.task] ?? p.task}${comma}N = ${nf.format(s.blocks)}${comma}d = ${nf.format(s.d)} — ${fill(S.progress, { k: nf.format(frame.step), n: nf.format(frame.total) })}`;
    bar.value = frame.total ? frame.step / frame.total : 0;
    note.textContent = fill(S.budgetNote, { b: nf.format(s.batch), t: nf.format(s.T), u: nf.format(s.modes[0].uses), e: nf.format(s.evalEvery), n: nf.format(s.evalSize) });
    handNote.textContent = fill(S.handNote, { v: nf.format(s.vocab), d: nf.format(s.d), emb: nf.format(s.embed), out: nf.format(s.out), a: nf.format(s.attnPart), f: nf.format(s.ffnPart), N: nf.format(s.blocks) });
    const div = frame.diverged;
    divergedBox.hidden = !div;
    if (div) divergedBox.textContent = `${S.diverged} ${lang === "zh" ? div.Zh : div.En}`;
  }

  function narrate(force) {
    if (!frame || !voice.due(force || w.state !== "running")) return;
    const e = frame.evals[frame.evals.length - 1];
    voice.say(fill(S.say, { k: nf.format(frame.step), n: nf.format(frame.total), scores: latest(e.acc.map((v) => pct.format(v))) }));
  }

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    drawText();
    drawTable();
    drawCards();
    drawCharts();
  });
  stepLine.textContent = S.connecting;
}
