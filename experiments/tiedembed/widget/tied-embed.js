// tied-embed: a word-level language model with its output layer tied to
// the input embedding, racing its untied twin on the same batches on the
// server. Beside the perplexity curves: the ledger of the tied matrix's
// gradient — what the input side (the embedding) and the output side (the
// output layer) each added, and their sum against the engine's dW. Every
// number comes from the engine over /ws (README.md); this module draws.

import { el, fill, reducedMotion, begin, narrator, settingsFields, liveWidget, field, niceValues, perFrame } from "/static/widgets/ui.js";
import { dequantize } from "/static/widgets/quant.js";
import { axes, lineChart, logTicks } from "/static/widgets/charts.js";

const MODELS = ["tied", "untied"];
// Okabe–Ito blue and vermillion; training dashed, validation solid.
const COLOR = { tied: "#0072b2", untied: "#d55e00", in: "#009e73", out: "#cc79a7" };

const strings = {
  en: {
    name: { tied: "Tied", untied: "Untied" },
    progress: "Step {k} of {n}",
    note: "Both models train on the same {b} windows of {t} words each step (Adam). Perplexities every {e} steps on {w} fixed windows of each split.",
    corpus: "The text: a generated language of {v} words ({tr} training and {va} validation tokens). It begins:",
    model: "Model", params: "Parameters", embedP: "Embedding", outP: "Output layer", loss: "Loss (batch)", trainPPL: "Training ppl", validPPL: "Validation ppl",
    saved: "Tying saves {s} parameters: V·d = {v}·{d}.",
    ledgerTitle: "The tied matrix's gradient, step {k}",
    ledgerProbe: "The tied matrix's gradient on a probe batch (step 0: press step to train)",
    inSide: "‖input side‖ (embedding)", outSide: "‖output side‖ (output layer)", sum: "‖input + output‖", dw: "‖dW‖ (engine)", maxErr: "max |input + output − dW|",
    rows: "The input side touched {i} of {v} rows (the words in the batch); the output side touched {o}.",
    check: "Input side + output side = the engine's dW (largest difference {e}).",
    wordTable: "Rows of a few words", word: "Word", rank: "Rank", count: "Count", rowIn: "Input side", rowOut: "Output side", rowSum: "Sum", rowDW: "dW row", colIn: "‖input side‖", colOut: "‖output side‖", colSum: "‖sum‖", colDW: "‖dW row‖",
    pplChart: "Perplexity: dashed = training, solid = validation",
    lossChart: "Training loss (each step's batch)",
    bandChart: "Mean row norm of each side, by frequency rank",
    stepAxis: "step", pplAxis: "perplexity (log scale)", lossAxis: "loss", rankAxis: "frequency rank", normAxis: "‖row‖",
    train: "training", valid: "validation",
    settings: "Race settings (changing one restarts the race)",
    d: "Embedding size d", batch: "Batch (windows)", lr: "Learning rate", steps: "Steps", seed: "Seed",
    outOfRange: "Enter a whole number from {min} to {max}; this value was not applied.",
    diverged: "Diverged — lower the learning rate, then reset.",
    downloadPNG: "Download charts (PNG)", downloadSVG: "SVG", json: "Race data (JSON)", trace: "Tied model step trace (JSON)",
    files: { png: "the charts (PNG)", svg: "the charts (SVG)", json: "the race data (JSON)", "trace.json": "the tied model's step trace (JSON)" },
    exportNote: "The server re-trains to this step to draw it (a few seconds).",
    say: "Step {k} of {n}. Validation perplexity: tied {a}, untied {b}.",
    sayState: { running: "Training.", paused: "Paused.", done: "The race is over.", error: "The run stopped with an error.", diverged: "Diverged." },
    chartAlt: "{title}. {values}.",
    notYet: "—",
  },
  zh: {
    name: { tied: "绑定", untied: "不绑定" },
    progress: "第 {k} / {n} 步",
    note: "每一步两个模型在同样的 {b} 个窗口上训练（每个窗口 {t} 个词，Adam）。每隔 {e} 步在每个划分的 {w} 个固定窗口上测困惑度。",
    corpus: "文本：一种生成的语言，共 {v} 个词（训练集 {tr} 个词元，验证集 {va} 个词元）。开头是：",
    model: "模型", params: "参数量", embedP: "嵌入", outP: "输出层", loss: "损失（批次）", trainPPL: "训练困惑度", validPPL: "验证困惑度",
    saved: "绑定省下 {s} 个参数：V·d = {v}·{d}。",
    ledgerTitle: "绑定矩阵的梯度，第 {k} 步",
    ledgerProbe: "绑定矩阵在探针批次上的梯度（第 0 步：按“单步”开始训练）",
    inSide: "‖输入侧‖（嵌入）", outSide: "‖输出侧‖（输出层）", sum: "‖输入 + 输出‖", dw: "‖dW‖（引擎）", maxErr: "最大 |输入 + 输出 − dW|",
    rows: "输入侧只触及 {v} 行中的 {i} 行（批次里出现的词）；输出侧触及 {o} 行。",
    check: "输入侧 + 输出侧 = 引擎的 dW（最大差 {e}）。",
    wordTable: "几个词的行", word: "词", rank: "排名", count: "次数", rowIn: "输入侧", rowOut: "输出侧", rowSum: "和", rowDW: "dW 的行", colIn: "‖输入侧‖", colOut: "‖输出侧‖", colSum: "‖和‖", colDW: "‖dW 的行‖",
    pplChart: "困惑度：虚线 = 训练集，实线 = 验证集",
    lossChart: "训练损失（每一步的批次）",
    bandChart: "两侧贡献的平均行范数，按词频排名",
    stepAxis: "步", pplAxis: "困惑度（对数刻度）", lossAxis: "损失", rankAxis: "词频排名", normAxis: "‖行‖",
    train: "训练集", valid: "验证集",
    settings: "比赛设置（修改任何一项都会重新开始比赛）",
    d: "嵌入维数 d", batch: "批大小（窗口数）", lr: "学习率", steps: "步数", seed: "随机种子",
    outOfRange: "请输入 {min} 到 {max} 之间的整数；此值未被采用。",
    diverged: "发散了——请降低学习率，然后重置。",
    downloadPNG: "下载图表（PNG）", downloadSVG: "SVG", json: "比赛数据（JSON）", trace: "绑定模型单步追踪（JSON）",
    files: { png: "图表（PNG）", svg: "图表（SVG）", json: "比赛数据（JSON）", "trace.json": "绑定模型的单步追踪（JSON）" },
    exportNote: "服务器会重新训练到这一步再绘图（需要几秒钟）。",
    say: "第 {k} / {n} 步。验证困惑度：绑定 {a}，不绑定 {b}。",
    sayState: { running: "正在训练。", paused: "已暂停。", done: "比赛结束。", error: "运行因错误而停止。", diverged: "发散了。" },
    chartAlt: "{title}。{values}。",
    notYet: "—",
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "te");
  const { S, locale, nf } = kit;
  const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
  const num4 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 4 });
  // sci writes "4.2×10⁻²" as the other widgets do (not toExponential's "4.2e-2").
  const sup = (e) => String(e).replace("-", "⁻").replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
  const num2 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 2 });
  const sci = (v) => {
    if (v === 0 || !Number.isFinite(v)) return v === 0 ? "0" : String(v);
    const e = Math.floor(Math.log10(Math.abs(v)));
    return `${num2.format(v / 10 ** e)}×10${sup(e)}`;
  };

  let params = { ...initial };
  let statics = null;
  let frame = null;

  const head = el("div", "te-head");
  const stepLine = el("p", "te-step");
  stepLine.dataset.testid = "step-line";
  const bar = document.createElement("progress");
  bar.className = "te-bar";
  bar.max = 1;
  bar.value = 0;
  const note = el("p", "te-note");
  const corpusNote = el("p", "te-note");
  const sample = el("p", "te-sample");
  head.append(stepLine, bar, note, corpusNote, sample);

  const divergedBox = el("p", "te-diverged");
  divergedBox.setAttribute("role", "alert");
  divergedBox.dataset.testid = "diverged";
  divergedBox.hidden = true;

  // The race table.
  const cols = [S.params, S.embedP, S.outP, S.loss, S.trainPPL, S.validPPL];
  const keys = ["params", "embed", "output", "loss", "train", "valid"];
  const tableWrap = el("div", "te-table-wrap");
  const table = el("table", "te-table");
  table.dataset.testid = "race-table";
  const thead = el("thead");
  const hr = el("tr");
  for (const h of [S.model, ...cols]) {
    const th = el("th", "", h);
    th.scope = "col";
    hr.append(th);
  }
  thead.append(hr);
  const tbody = el("tbody");
  const cells = {};
  for (const m of MODELS) {
    const tr = el("tr");
    const th = el("th");
    th.scope = "row";
    const sw = el("span", "te-swatch");
    sw.style.background = COLOR[m];
    th.append(sw, el("span", "", S.name[m]));
    tr.append(th);
    cells[m] = {};
    keys.forEach((k, j) => {
      const td = el("td", "", S.notYet);
      td.dataset.testid = `${k}-${m}`;
      td.dataset.label = cols[j];
      cells[m][k] = td;
      tr.append(td);
    });
    tbody.append(tr);
  }
  table.append(thead, tbody);
  tableWrap.append(table);
  const savedLine = el("p", "te-note");
  savedLine.dataset.testid = "saved";

  // The ledger.
  const ledger = el("section", "te-ledger");
  ledger.dataset.testid = "ledger";
  const ledgerHead = el("h3");
  const sums = el("dl", "te-sum");
  const sumCells = {};
  for (const [k, label] of [["in", S.inSide], ["out", S.outSide], ["sum", S.sum], ["dw", S.dw], ["maxErr", S.maxErr]]) {
    const d = el("div");
    const dd = el("dd", "", S.notYet);
    dd.dataset.testid = "ledger-" + k;
    d.append(el("dt", "", label), dd);
    sums.append(d);
    sumCells[k] = dd;
  }
  const check = el("p", "te-check");
  check.dataset.testid = "ledger-check";
  const rowsNote = el("p", "te-note");
  const wordTable = el("table", "te-table");
  wordTable.dataset.testid = "word-table";
  // The cells are norms (so ‖in‖ + ‖out‖ ≥ ‖sum‖, not =): the heads say so.
  const wcols = [S.rank, S.count, S.colIn, S.colOut, S.colSum, S.colDW];
  const whead = el("thead");
  const whr = el("tr");
  for (const h of [S.word, ...wcols]) {
    const th = el("th", "", h);
    th.scope = "col";
    whr.append(th);
  }
  whead.append(whr);
  const wbody = el("tbody");
  wordTable.append(el("caption", "te-note", S.wordTable), whead, wbody);
  ledger.append(ledgerHead, sums, check, rowsNote, wordTable);

  // Charts.
  const charts = el("div", "te-charts");
  function chartFig(title, testid, legendItems) {
    const fig = el("figure", "te-chart");
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.dataset.testid = testid;
    fig.append(el("figcaption", "", title), c);
    if (legendItems) {
      const ul = el("ul", "te-legend");
      for (const [color, text, dash] of legendItems) {
        const li = el("li");
        const sw = el("span", "te-swatch");
        sw.style.background = dash ? `repeating-linear-gradient(90deg, ${color} 0 6px, transparent 6px 10px)` : color;
        li.append(sw, el("span", "", text));
        ul.append(li);
      }
      fig.append(ul);
    }
    return { fig, canvas: c };
  }
  const pplFig = chartFig(S.pplChart, "ppl-chart", [
    [COLOR.tied, `${S.name.tied} ${S.train}`, true], [COLOR.tied, `${S.name.tied} ${S.valid}`, false],
    [COLOR.untied, `${S.name.untied} ${S.train}`, true], [COLOR.untied, `${S.name.untied} ${S.valid}`, false],
  ]);
  const lossFig = chartFig(S.lossChart, "loss-chart", MODELS.map((m) => [COLOR[m], S.name[m], false]));
  const bandFig = chartFig(S.bandChart, "band-chart", [[COLOR.in, S.rowIn, false], [COLOR.out, S.rowOut, false]]);
  charts.append(pplFig.fig, lossFig.fig, bandFig.fig);

  // Settings.
  const settings = el("fieldset", "te-settings");
  settings.append(el("legend", "", S.settings));
  const optNum = new Intl.NumberFormat(locale, { maximumSignificantDigits: 6 });
  const optionName = (v) => (typeof v === "number" ? optNum.format(v) : String(v));
  const { inputs, choice, numberField } = settingsFields(settings, {
    cls: "te-field", current: (k) => params[k], set: (change) => setParams(change), outOfRange: S.outOfRange, format: (v) => nf.format(v),
  });

  const voice = narrator("te", 4000);
  const w = liveWidget(root, kit, {
    experiment: "tied-embed",
    prefix: "te",
    params: () => params,
    player: { speed: reducedMotion.matches ? 4 : 20, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    exportsNote: S.exportNote,
    ready(spec) {
      const f = (name) => field(spec, name);
      choice(f("d"), S.d, [8, 16, 24, 32, 48, 64].filter((v) => v >= f("d").min && v <= f("d").max), optionName, Number);
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
      draw();
    },
    stateError: (m) => m.state !== "diverged",
    error() {
      if (statics) syncSettings(statics.params);
    },
  });

  root.append(w.status, head, w.controls, w.working, divergedBox, tableWrap, savedLine, ledger, charts, settings, w.exports, w.downloads, w.errorBox, voice.el);
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
  // Training dashed, validation solid (the legends under the charts say so).
  const line = (color, dashed, xs, ys) => ({ style: { color, dash: dashed ? [6, 4] : [] }, xs, ys });

  function drawCharts() {
    const total = statics.total;
    const ev = frame.evals;
    // Perplexity on a log scale: the step-0 value (≈ V) fits beside the
    // race's tens without flattening it.
    let hi = 0, lo = Infinity;
    for (const e of ev) for (const v of [...e.train, ...e.valid]) if (Number.isFinite(v) && v > 0) (hi = Math.max(hi, v)), (lo = Math.min(lo, v));
    if (!(hi > 0)) (lo = 1), (hi = 10);
    const xs = ev.map((e) => e.step);
    lineChart(pplFig.canvas, {
      locale, xMin: 0, xMax: total, yMin: lo / 1.15, yMax: hi * 1.15, xLabel: S.stepAxis, yLabel: S.pplAxis,
      logY: true, yTicks: logTicks(lo / 1.15, hi * 1.15), yFormat: (t) => num3.format(t),
      series: MODELS.flatMap((m, i) => [line(COLOR[m], true, xs, ev.map((e) => e.train[i])), line(COLOR[m], false, xs, ev.map((e) => e.valid[i]))]),
    });
    const last = ev[ev.length - 1];
    pplFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.pplChart, values: MODELS.map((m, i) => `${S.name[m]}: ${S.train} ${num4.format(last.train[i])}, ${S.valid} ${num4.format(last.valid[i])}`).join("; ") }));

    const c = frame.curves;
    const loss = MODELS.map((m, i) => {
      const ys = c.loss[i] && c.loss[i].shape[0] > 0 ? Array.from(dequantize(c.loss[i])) : [];
      return line(COLOR[m], false, ys.map((_, k) => Math.min((k + 1) * c.every, frame.step)), ys);
    });
    const lmax = Math.log(statics.vocab);
    lineChart(lossFig.canvas, { locale, xMin: 0, xMax: total, yMin: 0, yMax: Math.ceil(lmax), xLabel: S.stepAxis, yLabel: S.lossAxis, series: loss });
    lossFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.lossChart, values: MODELS.map((m, i) => `${S.name[m]} ${frame.loss[i] == null ? S.notYet : num3.format(frame.loss[i])}`).join("; ") }));

    const L = frame.ledger, bands = statics.bands;
    let bmax = 0;
    for (const v of [...L.bandIn, ...L.bandOut]) bmax = Math.max(bmax, v);
    const names = bands.map(([l0, h0]) => `${nf.format(l0 + 1)}–${nf.format(h0)}`);
    const d = axes(bandFig.canvas, { locale, xMin: -0.5, xMax: bands.length - 0.5, yMin: 0, yMax: bmax * 1.1 || 1, xLabel: S.rankAxis, yLabel: S.normAxis, xTicks: names.map((n, i) => [i, n]) });
    const bw = (d.pw / bands.length) * 0.36;
    bands.forEach((_, i) => {
      d.g.fillStyle = COLOR.in;
      d.g.fillRect(d.X(i) - bw, d.Y(L.bandIn[i]), bw, d.Y(0) - d.Y(L.bandIn[i]));
      d.g.fillStyle = COLOR.out;
      d.g.fillRect(d.X(i), d.Y(L.bandOut[i]), bw, d.Y(0) - d.Y(L.bandOut[i]));
    });
    bandFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.bandChart, values: names.map((n, i) => `${n}: ${S.rowIn} ${sci(L.bandIn[i])}, ${S.rowOut} ${sci(L.bandOut[i])}`).join("; ") }));
  }

  function drawTable() {
    const last = frame.evals[frame.evals.length - 1];
    MODELS.forEach((m, i) => {
      const st = statics.models[i], c = cells[m];
      const set = (cell, v, f) => {
        cell.textContent = v == null ? S.notYet : f(v);
        if (v == null) delete cell.dataset.value;
        else cell.dataset.value = String(v);
      };
      set(c.params, st.params, (v) => nf.format(v));
      set(c.embed, st.embed, (v) => nf.format(v));
      set(c.output, st.output, (v) => nf.format(v));
      set(c.loss, frame.loss[i], (v) => num3.format(v));
      set(c.train, last?.train[i], (v) => num4.format(v));
      set(c.valid, last?.valid[i], (v) => num4.format(v));
    });
    savedLine.textContent = fill(S.saved, { s: nf.format(statics.saved), v: nf.format(statics.vocab), d: nf.format(statics.params.d) });
  }

  function drawLedger() {
    const L = frame.ledger;
    ledgerHead.textContent = frame.step === 0 ? S.ledgerProbe : fill(S.ledgerTitle, { k: nf.format(L.step) });
    for (const k of ["in", "out", "sum", "dw"]) {
      sumCells[k].textContent = num4.format(L[k]);
      sumCells[k].dataset.value = String(L[k]);
    }
    sumCells.maxErr.textContent = sci(L.maxErr);
    sumCells.maxErr.dataset.value = String(L.maxErr);
    check.textContent = fill(S.check, { e: sci(L.maxErr) });
    rowsNote.textContent = fill(S.rows, { i: nf.format(L.inRows), o: nf.format(L.outRows), v: nf.format(statics.vocab) });
    if (wbody.children.length !== statics.words.length) {
      wbody.replaceChildren();
      for (const wd of statics.words) {
        const tr = el("tr");
        const th = el("th", "", wd.word);
        th.scope = "row";
        tr.append(th);
        for (const [j, k] of ["rank", "count", "in", "out", "sum", "dw"].entries()) {
          const td = el("td");
          td.dataset.label = wcols[j];
          td.dataset.k = k;
          tr.append(td);
        }
        wbody.append(tr);
      }
    }
    statics.words.forEach((wd, i) => {
      const tds = wbody.children[i].querySelectorAll("td");
      tds[0].textContent = nf.format(wd.rank + 1);
      tds[1].textContent = nf.format(wd.count);
      tds[2].textContent = sci(L.wordIn[i]);
      tds[3].textContent = sci(L.wordOut[i]);
      tds[4].textContent = sci(L.wordSum[i]);
      tds[5].textContent = sci(L.wordDW[i]);
    });
  }

  function drawText() {
    const p = statics.params;
    stepLine.textContent = fill(S.progress, { k: nf.format(frame.step), n: nf.format(frame.total) });
    bar.value = frame.total ? frame.step / frame.total : 0;
    note.textContent = fill(S.note, { b: nf.format(p.batch), t: nf.format(statics.window), e: nf.format(statics.evalEvery), w: nf.format(statics.evalWindows) });
    corpusNote.textContent = fill(S.corpus, { v: nf.format(statics.vocab), tr: nf.format(statics.trainTokens), va: nf.format(statics.validTokens) });
    sample.textContent = statics.sample + " …";
    const div = frame.diverged;
    divergedBox.hidden = !div;
    if (div) divergedBox.textContent = `${S.diverged} ${lang === "zh" ? div.Zh : div.En}`;
  }

  function narrate(force) {
    if (!frame || !voice.due(force || w.state !== "running")) return;
    const e = frame.evals[frame.evals.length - 1];
    voice.say(fill(S.say, { k: nf.format(frame.step), n: nf.format(frame.total), a: num4.format(e.valid[0]), b: num4.format(e.valid[1]) }));
  }

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    drawText();
    drawTable();
    drawLedger();
    drawCharts();
  });
  stepLine.textContent = S.connecting;
}
