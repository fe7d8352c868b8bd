// cnn-train: a live race of three digit classifiers trained on the server
// with the same data, optimizer and budget — the CNN (shared 3×3 kernels),
// its locally connected twin (the same shapes, a kernel of its own at every
// position) and an MLP of about the CNN's size. Every number comes from the
// engine over /ws (this package's README); this module only draws.

import { divergingAt } from "/static/widgets/palette.js";
import { dequantize } from "/static/widgets/quant.js";
import { lineChart, swatch } from "/static/widgets/charts.js";
import {
  el, fill, plural, reducedMotion, begin, narrator, digitPicker, selectField, liveWidget, field, fieldInput, niceValues,
  fillCells, viridisImage, perFrame,
} from "/static/widgets/ui.js";

const MODELS = ["cnn", "lc", "mlp"];
// Okabe–Ito, in viz's series order, with viz's dash patterns: the three
// models stay apart for colour-blind readers and in grey print.
const STYLE = {
  cnn: { color: "#0072b2", dash: [], marker: "circle" },
  lc: { color: "#d55e00", dash: [8, 4], marker: "square" },
  mlp: { color: "#009e73", dash: [2, 3], marker: "triangle" },
};

const strings = {
  en: {
    race: "The race",
    model: "Model", params: "Parameters", loss: "Loss", batchAcc: "Train (batch, smoothed)",
    trainAcc: "Train accuracy", testAcc: "Test accuracy", gap: "Gap (train − test)",
    kinds: { cnn: "(shared kernels)", lc: "(locally connected, no sharing)", mlp: "(dense)" },
    short: { cnn: "CNN", lc: "LC", mlp: "MLP" },
    list: ", ", // between the items of a list ("CNN, LC, MLP")
    progress: "Step {k} of {n} · epoch {e}",
    budget: {
      one: "Budget: {n} steps = {epochs} × {per} steps per epoch; one step is one minibatch of {batch} digits for each model.",
      other: "Budget: {n} steps = {epochs} × {per} steps per epoch; one step is one minibatch of {batch} digits for each model.",
    },
    budgetCapped: {
      one: "Budget: {n} steps (capped; {epochs} epoch would be {want}); one step is one minibatch of {batch} digits for each model.",
      other: "Budget: {n} steps (capped; {epochs} epochs would be {want}); one step is one minibatch of {batch} digits for each model.",
    },
    evalNote: "Accuracies are measured every {every} steps on {test} test digits and {train} training digits.",
    notYet: "—",
    lossChart: "Training loss (each step's batch)",
    accChart: "Accuracy: thin = training batches (smoothed), thick with marks = test",
    shiftChart: "Shift test: test digits moved right",
    shiftAt: "weights of step {k}",
    shiftNone: "Runs after steps {steps}.",
    shiftRunning: "Shift test of step {k}: {d} of {t} evaluations…",
    shiftAxis: "shift (pixels)", stepAxis: "step", accAxis: "accuracy", lossAxis: "loss",
    cnnPanel: "Inside the CNN",
    filters: "First-layer filters (8 kernels of 3×3; purple < 0 < orange)",
    maps: "Feature maps of digit #{i} (a {label}) after conv1 + ReLU",
    norms: "Gradient norm per layer (last step)",
    settings: "Training settings (changing one restarts the race)",
    lr: "Learning rate", batch: "Batch size", optimizer: "Optimizer", trainSize: "Training digits",
    epochs: "Epochs", seed: "Seed",
    outOfRange: "Enter a whole number from {min} to {max}; this value was not applied.",
    gapPts: "{v} pts", gapTitle: "percentage points: train accuracy minus test accuracy",
    optimizers: { sgd: "SGD", momentum: "SGD + momentum 0.9", adam: "Adam" },
    diverged: "Diverged — lower the learning rate.",
    divergedDetail: "{models} blew up at step {k}: a batch loss over ten times that of guessing. Reset, or pick a smaller learning rate.",
    divergedLoss: "{models} blew up at step {k}: batch loss {losses}, where guessing gives {guess}. Reset, or pick a smaller learning rate.",
    notFinite: "not a finite number",
    resetRace: "Reset the race",
    downloadPNG: "Download charts (PNG)", downloadSVG: "Download SVG",
    json: "Race data (JSON)", trace: "CNN step trace (JSON)",
    files: { png: "the charts (PNG)", svg: "the charts (SVG)", json: "the race data (JSON)", "trace.json": "the CNN step trace (JSON)" },
    exportNote: "The server re-trains to this step to draw it (a few seconds).",
    empty: "Press Play to start the race. Each step trains all three models on one minibatch.",
    say: "Step {k} of {n}. Test accuracy: {tests}.",
    sayShift: "Shift test done at step {k}: at 4 pixels, {accs}.",
    sayState: { running: "Training.", paused: "Paused.", done: "Budget spent: the race is over.", error: "The run stopped with an error.", diverged: "Diverged. Lower the learning rate and reset." },
    chartAlt: "{title}. Latest values: {values}.",
  },
  zh: {
    race: "比赛",
    model: "模型", params: "参数量", loss: "损失", batchAcc: "训练（批次，平滑）",
    trainAcc: "训练准确率", testAcc: "测试准确率", gap: "差距（训练 − 测试，百分点）",
    kinds: { cnn: "（共享卷积核）", lc: "（局部连接，不共享）", mlp: "（全连接）" },
    short: { cnn: "CNN", lc: "LC", mlp: "MLP" },
    list: "、",
    progress: "第 {k} / {n} 步 · 第 {e} 轮",
    budget: "预算：{n} 步 = {epochs} 轮 × 每轮 {per} 步；每一步让每个模型各训练一个含 {batch} 个数字的小批量。",
    budgetCapped: "预算：{n} 步（已封顶；{epochs} 轮本需 {want} 步）；每一步让每个模型各训练一个含 {batch} 个数字的小批量。",
    evalNote: "每隔 {every} 步在 {test} 个测试数字和 {train} 个训练数字上测量准确率。",
    notYet: "—",
    lossChart: "训练损失（每一步的批次）",
    accChart: "准确率：细线 = 训练批次（平滑），带标记的粗线 = 测试",
    shiftChart: "平移测试：测试数字向右移动",
    shiftAt: "第 {k} 步的权重",
    shiftNone: "在第 {steps} 步之后运行。",
    shiftRunning: "正在对第 {k} 步做平移测试：{d} / {t} 次评估……",
    shiftAxis: "平移（像素）", stepAxis: "步", accAxis: "准确率", lossAxis: "损失",
    cnnPanel: "CNN 内部",
    filters: "第一层滤波器（8 个 3×3 卷积核；紫 < 0 < 橙）",
    maps: "第 {i} 号数字（{label}）经 conv1 + ReLU 后的特征图",
    norms: "各层梯度范数（最近一步）",
    settings: "训练设置（修改任何一项都会重新开始比赛）",
    lr: "学习率", batch: "批大小", optimizer: "优化器", trainSize: "训练数字个数",
    epochs: "轮数", seed: "随机种子",
    outOfRange: "请输入 {min} 到 {max} 之间的整数；此值未被采用。",
    gapPts: "{v} 点", gapTitle: "百分点：训练准确率减去测试准确率",
    optimizers: { sgd: "SGD", momentum: "SGD + 动量 0.9", adam: "Adam" },
    diverged: "发散了——请降低学习率。",
    divergedDetail: "{models} 在第 {k} 步爆掉了：批次损失超过随机猜测的十倍。请重置，或选择更小的学习率。",
    divergedLoss: "{models} 在第 {k} 步爆掉了：批次损失 {losses}，而随机猜测的损失只有 {guess}。请重置，或选择更小的学习率。",
    notFinite: "不是有限数",
    resetRace: "重置比赛",
    downloadPNG: "下载图表（PNG）", downloadSVG: "下载 SVG",
    json: "比赛数据（JSON）", trace: "CNN 单步追踪（JSON）",
    files: { png: "图表（PNG）", svg: "图表（SVG）", json: "比赛数据（JSON）", "trace.json": "CNN 单步追踪（JSON）" },
    exportNote: "服务器会重新训练到这一步再绘图（需要几秒钟）。",
    empty: "按“播放”开始比赛。每一步让三个模型各训练一个小批量。",
    say: "第 {k} / {n} 步。测试准确率：{tests}。",
    sayShift: "第 {k} 步的平移测试完成：平移 4 像素时，{accs}。",
    sayState: { running: "正在训练。", paused: "已暂停。", done: "预算用完：比赛结束。", error: "运行因错误而停止。", diverged: "发散了。请降低学习率并重置。" },
    chartAlt: "{title}。最新数值：{values}。",
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "ct");
  const { L, S, locale, nf, id } = kit;
  const pct = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  // The gap is a difference of two accuracies: percentage points, not a percent.
  const gapNum = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero" });
  const gapFmt = { format: (v) => fill(S.gapPts, { v: gapNum.format(v * 100) }) };
  const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });

  let params = { lr: 0.003, batch: 32, optimizer: "adam", trainSize: 1000, seed: 1, epochs: 3, digit: 0, ...initial };
  let statics = null;
  let frame = null;
  let lastShiftSpoken = -1;

  // ---- Layout ----

  const head = el("div", "ct-head");
  const stepLine = el("p", "ct-step");
  stepLine.dataset.testid = "step-line";
  const bar = document.createElement("progress");
  bar.className = "ct-bar";
  bar.dataset.testid = "progress";
  bar.max = 1;
  bar.value = 0;
  const budget = el("p", "ct-note");
  head.append(stepLine, bar, budget);

  const divergedBox = el("div", "ct-diverged");
  divergedBox.setAttribute("role", "alert");
  divergedBox.dataset.testid = "diverged";
  divergedBox.hidden = true;
  const divergedTitle = el("strong", "", S.diverged);
  const divergedDetail = el("p", "");
  const divergedReset = el("button", "ct-reset", S.resetRace);
  divergedReset.type = "button";
  divergedReset.dataset.testid = "diverged-reset";
  divergedReset.addEventListener("click", () => run.reset());
  divergedBox.append(divergedTitle, divergedDetail, divergedReset);

  const empty = el("p", "ct-empty", S.empty);
  empty.dataset.testid = "empty";

  // Race table.
  const tableWrap = el("div", "ct-table-wrap");
  const table = el("table", "ct-table");
  table.dataset.testid = "race-table";
  const caption = el("caption", "", S.race);
  const thead = el("thead");
  const hr = el("tr");
  const columns = [S.params, S.loss, S.batchAcc, S.trainAcc, S.testAcc, S.gap];
  for (const h of [S.model, ...columns]) {
    const th = el("th", "", h);
    th.scope = "col";
    hr.append(th);
  }
  thead.append(hr);
  const tbody = el("tbody");
  const cells = {};
  for (const m of MODELS) {
    const tr = el("tr");
    tr.dataset.model = m;
    const th = el("th", "ct-model");
    th.scope = "row";
    th.append(swatch(STYLE[m], "ct-swatch"), el("span", "", S.short[m]), el("span", "ct-long", " " + S.kinds[m]));
    tr.append(th);
    cells[m] = {};
    ["params", "loss", "acc", "train", "test", "gap"].forEach((k, j) => {
      const td = el("td", "ct-num", S.notYet);
      td.dataset.testid = `${k}-${m}`;
      // On a phone the header row is hidden and each cell names itself.
      td.dataset.label = columns[j];
      cells[m][k] = td;
      tr.append(td);
    });
    tbody.append(tr);
  }
  table.append(caption, thead, tbody);
  tableWrap.append(table);
  const evalNote = el("p", "ct-note");

  // Charts.
  const charts = el("div", "ct-charts");
  function chartFig(title, testid) {
    const fig = el("figure", "ct-chart");
    const cap = el("figcaption", "", title);
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.dataset.testid = testid;
    fig.append(cap, c);
    return { fig, canvas: c, cap };
  }
  const lossFig = chartFig(S.lossChart, "loss-chart");
  const accFig = chartFig(S.accChart, "acc-chart");
  const shiftFig = chartFig(S.shiftChart, "shift-chart");
  const shiftInfo = el("p", "ct-shift-info");
  shiftInfo.dataset.testid = "shift-progress";
  const shiftBar = document.createElement("progress");
  shiftBar.className = "ct-bar ct-shift-bar";
  shiftBar.hidden = true;
  shiftFig.fig.append(shiftInfo, shiftBar);
  const legend = el("ul", "ct-legend");
  for (const m of MODELS) {
    const li = el("li");
    li.append(swatch(STYLE[m], "ct-swatch"), el("span", "", S.short[m]));
    legend.append(li);
  }
  charts.append(lossFig.fig, accFig.fig, shiftFig.fig);

  // The CNN's insides.
  const cnnPanel = el("section", "ct-cnn");
  const cnnTitle = el("h3", "ct-h", S.cnnPanel);
  const filtersCap = el("p", "ct-cap", S.filters);
  const filters = el("div", "ct-filters");
  filters.dataset.testid = "filters";
  const filterCanvases = [];
  for (let i = 0; i < 8; i++) {
    const c = document.createElement("canvas");
    c.width = 48;
    c.height = 48;
    c.className = "ct-filter";
    c.setAttribute("role", "img");
    filters.append(c);
    filterCanvases.push(c);
  }
  const mapsHead = el("div", "ct-maps-head");
  const mapsCap = el("p", "ct-cap");
  const digitCanvas = document.createElement("canvas");
  digitCanvas.width = 28;
  digitCanvas.height = 28;
  digitCanvas.className = "ct-digit";
  digitCanvas.setAttribute("role", "img");
  let digit = null; // the digit picker, once the spec has come
  mapsHead.append(digitCanvas);
  const maps = el("div", "ct-maps");
  maps.dataset.testid = "feature-maps";
  const mapCanvases = [];
  for (let i = 0; i < 8; i++) {
    const c = document.createElement("canvas");
    c.width = 28;
    c.height = 28;
    c.className = "ct-map";
    c.setAttribute("role", "img");
    maps.append(c);
    mapCanvases.push(c);
  }
  const normsCap = el("p", "ct-cap", S.norms);
  const norms = el("div", "ct-norms");
  norms.dataset.testid = "grad-norms";
  const filtersBox = el("div", "ct-box");
  filtersBox.append(filtersCap, filters, normsCap, norms);
  const mapsBox = el("div", "ct-box");
  mapsBox.append(mapsCap, mapsHead, maps);
  const cnnBody = el("div", "ct-cnn-body");
  cnnBody.append(filtersBox, mapsBox);
  cnnPanel.append(cnnTitle, cnnBody);

  // Settings.
  const settings = el("fieldset", "ct-settings");
  const legendEl = el("legend", "", S.settings);
  settings.append(legendEl);
  // The settings are made from the server's fields once hello has come:
  // round values within each field's bounds for the selects (a value the
  // server chose outside them gets an option too), the choices of the
  // optimizer, and typed whole numbers for epochs and seed.
  // (Significant digits: a learning rate of 0.00001 is not "0".)
  const optNum = new Intl.NumberFormat(locale, { maximumSignificantDigits: 6 });
  const optionName = (v) => (typeof v === "number" ? optNum.format(v) : String(v));
  function choice(f, text, values, name, parse) {
    const current = params[f.name] ?? f.default;
    const opts = values.includes(current) ? values : [...values, current].sort((a, b) => (typeof a === "number" ? a - b : 0));
    const sel = selectField({
      cls: "ct-field", text, values: opts, name, current, testid: "set-" + f.name, onChange: (v) => setParams({ [f.name]: parse(v) }),
    });
    sel.label.title = f.desc;
    settings.append(sel.label);
    return sel.input;
  }
  // A value out of range is not sent: the field keeps it and says the range.
  const rangeMessages = new Map();
  function numberField(f, text) {
    const key = f.name;
    const lab = el("label", "ct-field");
    lab.append(el("span", "", text));
    const msg = el("span", "ct-field-msg", fill(S.outOfRange, { min: nf.format(f.min), max: nf.format(f.max) }));
    msg.id = `${id}-${key}-range`;
    msg.dataset.testid = `set-${key}-range`;
    msg.setAttribute("role", "alert");
    msg.hidden = true;
    const i = fieldInput(f, () => params[key] ?? f.default, (v) => setParams({ [key]: v }), {
      onRange(ok) {
        msg.hidden = ok;
        if (ok) i.removeAttribute("aria-describedby");
        else i.setAttribute("aria-describedby", msg.id);
      },
    });
    i.step = "1";
    i.dataset.testid = "set-" + key;
    lab.append(i, msg);
    settings.append(lab);
    rangeMessages.set(i, msg);
    return i;
  }
  let lrInput, batchInput, optInput, sizeInput, epochsInput, seedInput;

  const voice = narrator("ct", 4000);
  const w = liveWidget(root, kit, {
    experiment: "cnn-train",
    prefix: "ct",
    params: () => params,
    player: { speed: reducedMotion.matches ? 2 : 8 },
    // Every export re-trains to the step on screen (seconds): the server
    // marks them heavy, and ui.js fetches them with progress shown.
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    exportsNote: S.exportNote,
    ready(spec) {
      const f = (name) => field(spec, name);
      lrInput = choice(f("lr"), S.lr, niceValues(f("lr"), { thirds: true }), optionName, Number);
      batchInput = choice(f("batch"), S.batch, niceValues(f("batch"), { powersOf2: true }), optionName, Number);
      optInput = choice(f("optimizer"), S.optimizer, f("optimizer").choices, (v) => S.optimizers[v] ?? v, String);
      sizeInput = choice(f("trainSize"), S.trainSize, niceValues(f("trainSize"), { thirds: true }), optionName, Number);
      epochsInput = numberField(f("epochs"), S.epochs);
      seedInput = numberField(f("seed"), S.seed);
      const df = f("digit");
      digit = digitPicker(S, {
        id, count: df.max + 1, current: () => params.digit ?? df.default, choose: (d) => setParams({ digit: d }),
        cls: "ct-digit-field", testid: "digit",
      });
      digit.field.title = df.desc;
      mapsHead.append(digit.field);
    },
    frame(m) {
      if (m.static) {
        statics = m.static;
        syncSettings(statics.params);
        drawDigit();
      }
      if (!statics) return;
      const prevStep = frame?.step;
      frame = m.data;
      draw();
      if (frame.step !== prevStep) narrate(false);
    },
    state(m, changed) {
      if (changed) {
        voice.say(S.sayState[m.state] ?? "");
        if (m.state === "paused" || m.state === "done") setTimeout(() => narrate(true), 800);
      }
      draw();
    },
    // A divergence has its own box; other failures go to the error line.
    stateError: (m) => m.state !== "diverged",
    error() {
      if (statics) syncSettings(statics.params); // undo a refused change in the form
    },
  });
  const run = {
    get state() {
      return w.state;
    },
    reset: () => w.run?.reset(),
  };

  root.append(w.status, head, w.controls, w.working, divergedBox, empty, tableWrap, evalNote, legend, charts, cnnPanel, settings, w.exports, w.downloads, w.errorBox, voice.el);

  function setParams(change) {
    w.send({ type: "set-params", params: change });
  }

  function syncSettings(p) {
    params = { ...p };
    if (!lrInput) return;
    for (const [input, key] of [[lrInput, "lr"], [batchInput, "batch"], [optInput, "optimizer"], [sizeInput, "trainSize"]]) {
      if (![...input.options].some((o) => o.value === String(p[key]))) {
        const o = document.createElement("option");
        o.value = String(p[key]);
        o.textContent = optionName(p[key]);
        input.append(o);
      }
      input.value = String(p[key]);
    }
    for (const [input, key] of [[epochsInput, "epochs"], [seedInput, "seed"]]) {
      // A value the reader is still correcting stays; otherwise the server's.
      if (document.activeElement === input || input.getAttribute("aria-invalid") === "true") continue;
      input.value = String(p[key]);
      rangeMessages.get(input).hidden = true;
    }
    if (digit && document.activeElement !== digit.input) digit.input.value = String(p.digit);
  }

  // ---- Drawing ----
  const chart = (canvas, o) => lineChart(canvas, { locale, ...o });

  // curve decodes a quantized curve and returns its points' steps.
  function curve(q, every, step) {
    const ys = q && q.shape[0] > 0 ? dequantize(q) : new Float64Array(0);
    const xs = Array.from(ys, (_, i) => Math.min((i + 1) * every, step));
    return { xs, ys: Array.from(ys) };
  }

  function drawCharts() {
    if (!statics || !frame) return;
    const total = statics.total;
    const c = frame.curves;
    const loss = MODELS.map((m, i) => ({ style: STYLE[m], ...curve(c.loss[i], c.every, frame.step) }));
    const acc = MODELS.map((m, i) => ({ style: STYLE[m], ...curve(c.acc[i], c.every, frame.step), width: 1.5, alpha: 0.55 }));
    const tests = MODELS.map((m, i) => ({
      style: STYLE[m], xs: frame.evals.map((e) => e.step), ys: frame.evals.map((e) => e.test[i]), width: 2.5, markers: true,
    }));
    let lossMax = 0;
    for (const s of loss) for (const y of s.ys) if (Number.isFinite(y)) lossMax = Math.max(lossMax, y);
    chart(lossFig.canvas, {
      xMax: total, yMin: 0, yMax: Math.min(Math.max(lossMax * 1.05, 0.5), 10), xLabel: S.stepAxis, yLabel: S.lossAxis, series: loss,
    });
    chart(accFig.canvas, {
      xMax: total, yMin: 0, yMax: 1, xLabel: S.stepAxis, yLabel: S.accAxis, series: [...acc, ...tests], yPercent: true,
    });
    const sh = frame.shift;
    const shifts = statics.shifts;
    const done = sh?.done;
    chart(shiftFig.canvas, {
      xMax: shifts[shifts.length - 1], yMin: 0, yMax: 1, xLabel: S.shiftAxis, yLabel: S.accAxis, yPercent: true,
      series: done ? MODELS.map((m, i) => ({ style: STYLE[m], xs: shifts, ys: done.acc[i], width: 2.5, markers: true })) : [],
    });
    shiftFig.cap.textContent = S.shiftChart + (done ? ` — ${fill(S.shiftAt, { k: nf.format(done.step) })}` : "");
    if (sh?.running) {
      shiftInfo.textContent = fill(S.shiftRunning, { k: nf.format(sh.running.step), d: sh.running.done, t: sh.running.total });
      shiftBar.hidden = false;
      shiftBar.max = sh.running.total;
      shiftBar.value = sh.running.done;
      shiftFig.fig.setAttribute("aria-busy", "true");
    } else {
      shiftInfo.textContent = done ? "" : fill(S.shiftNone, { steps: statics.shiftSteps.map((k) => nf.format(k)).join(S.list) });
      shiftBar.hidden = true;
      shiftFig.fig.removeAttribute("aria-busy");
    }
    const latest = (arr) => MODELS.map((m, i) => `${S.short[m]} ${Number.isFinite(arr[i]) ? arr[i] : "—"}`).join(S.list);
    lossFig.canvas.setAttribute("aria-label", fill(S.chartAlt, {
      title: S.lossChart, values: latest(frame.models.map((mm) => (mm.loss == null ? NaN : num3.format(mm.loss)))),
    }));
    accFig.canvas.setAttribute("aria-label", fill(S.chartAlt, {
      title: S.accChart, values: latest(frame.models.map((mm) => (mm.test == null ? NaN : pct.format(mm.test)))),
    }));
    shiftFig.canvas.setAttribute("aria-label", fill(S.chartAlt, {
      title: S.shiftChart, values: done ? latest(done.acc.map((a) => a.map((v) => pct.format(v)).join(" / "))) : S.notYet,
    }));
  }

  function drawTable() {
    if (!statics || !frame) return;
    MODELS.forEach((m, i) => {
      const st = statics.models[i], d = frame.models[i], c = cells[m];
      c.params.textContent = nf.format(st.params);
      c.params.dataset.value = String(st.params);
      c.params.title = fill(L === "zh" ? "每个数字 {u} 次乘加" : "{u} multiply-adds per digit", { u: nf.format(st.uses) });
      const set = (cell, v, f) => {
        cell.textContent = v == null ? S.notYet : f(v);
        if (v == null) delete cell.dataset.value;
        else cell.dataset.value = String(v);
      };
      set(c.loss, d.loss, (v) => num3.format(v));
      set(c.acc, d.acc, (v) => pct.format(v));
      set(c.train, d.train, (v) => pct.format(v));
      set(c.test, d.test, (v) => pct.format(v));
      set(c.gap, d.gap, (v) => gapFmt.format(v));
      c.gap.title = S.gapTitle;
      c.gap.classList.toggle("ct-gap-big", d.gap != null && d.gap > 0.05);
      c.loss.closest("tr").classList.toggle("ct-row-diverged", !!d.diverged);
    });
  }

  function drawCNN() {
    if (!statics || !frame) return;
    const f = dequantize(frame.filters);
    const lim = Math.max(Math.abs(frame.filters.min), Math.abs(frame.filters.max)) || 1;
    filterCanvases.forEach((c, k) => {
      fillCells(c.getContext("2d"), 3, 3, 16, (i) => divergingAt(f[k * 9 + i], lim));
      const vals = Array.from(f.slice(k * 9, k * 9 + 9), (v) => num3.format(v));
      c.setAttribute("aria-label", `conv1 #${k + 1}: ${vals.join(", ")}`);
    });
    const maps = dequantize(frame.maps);
    const hi = frame.maps.max || 1;
    mapCanvases.forEach((c, k) => {
      viridisImage(c.getContext("2d"), 28, 28, (i) => maps[k * 784 + i], hi);
      c.setAttribute("aria-label", `conv1 #${k + 1} → ReLU`);
    });
    // Gradient norms, one bar per layer with parameters, for each model.
    const rows = [];
    MODELS.forEach((m, i) => {
      statics.models[i].layers.forEach((layer, j) => rows.push({ m, layer, v: frame.models[i].gradNorms[j] }));
    });
    const vmax = Math.max(...rows.map((r) => r.v ?? 0), 1e-12);
    if (norms.children.length !== rows.length) {
      norms.replaceChildren(...rows.map(() => {
        const row = el("div", "ct-norm");
        row.append(el("span", "ct-norm-name"), el("span", "ct-norm-track"), el("span", "ct-norm-val"));
        row.children[1].append(el("span", "ct-norm-fill"));
        return row;
      }));
    }
    rows.forEach((r, k) => {
      const row = norms.children[k];
      row.children[0].textContent = `${S.short[r.m]} ${r.layer}`;
      const fillEl = row.children[1].firstChild;
      fillEl.style.width = r.v == null ? "0" : `${Math.max(0.5, (100 * r.v) / vmax)}%`;
      fillEl.style.backgroundColor = STYLE[r.m].color;
      row.children[2].textContent = r.v == null ? S.notYet : num3.format(r.v);
    });
  }

  function drawDigit() {
    if (!statics) return;
    const px = dequantize(statics.digit.image);
    const g = digitCanvas.getContext("2d");
    const img = g.createImageData(28, 28);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(255 * (1 - px[i]));
      img.data.set([v, v, v, 255], i * 4);
    }
    g.putImageData(img, 0, 0);
    digitCanvas.setAttribute("aria-label", fill(S.maps, { i: statics.digit.index, label: statics.digit.label }));
    mapsCap.textContent = fill(S.maps, { i: statics.digit.index, label: statics.digit.label });
  }

  function drawText() {
    if (!statics || !frame) return;
    const total = statics.total;
    // Epochs count from 1: before the first step the race is about to
    // start epoch 1 (the trainer says 0, no epoch started yet).
    stepLine.textContent = fill(S.progress, { k: nf.format(frame.step), n: nf.format(total), e: nf.format(Math.max(1, frame.epoch)) });
    root.dataset.step = String(frame.step);
    bar.max = total;
    bar.value = frame.step;
    const p = statics.params;
    const want = p.epochs * statics.stepsPerEpoch;
    budget.textContent = fill(plural(want > total ? S.budgetCapped : S.budget, p.epochs, L), {
      n: nf.format(total), epochs: nf.format(p.epochs), per: nf.format(statics.stepsPerEpoch), want: nf.format(want), batch: nf.format(p.batch),
    });
    evalNote.textContent = fill(S.evalNote, { every: nf.format(statics.evalEvery), test: nf.format(statics.evalTest), train: nf.format(statics.evalTrain) });
    empty.hidden = frame.step > 0 || run.state === "running";
    const div = frame.models.filter((m) => m.diverged);
    divergedBox.hidden = div.length === 0 && run.state !== "diverged";
    root.dataset.diverged = String(!divergedBox.hidden);
    if (!divergedBox.hidden) {
      // divergedLoss is each diverged model's batch loss at that step
      // (absent when it was NaN or infinite); guessing gives ln 10.
      const losses = div.map((m) => `${S.short[m.name]} ${m.divergedLoss != null ? num3.format(m.divergedLoss) : S.notFinite}`);
      // The diverging step counts for every model (the package README), so
      // the step shown in the header is the step they blew up at; a model
      // that says which step (divergedStep) is taken at its word.
      const k = nf.format(div.find((m) => m.divergedStep)?.divergedStep ?? frame.step);
      divergedDetail.textContent = div.length
        ? fill(S.divergedLoss, { models: div.map((m) => S.short[m.name]).join(S.list), k, losses: losses.join(S.list), guess: num3.format(Math.LN10) })
        : fill(S.divergedDetail, { models: frame.models.map((m) => S.short[m.name]).join(S.list), k });
      divergedDetail.title = div.map((m) => (L === "zh" && m.divergedZh) || m.diverged).join("\n");
    }
  }

  function narrate(force) {
    if (!frame || !voice.due(force || run.state !== "running")) return;
    const tests = frame.models.map((m) => `${S.short[m.name]} ${m.test == null ? S.notYet : pct.format(m.test)}`).join(S.list);
    let text = fill(S.say, { k: nf.format(frame.step), n: nf.format(frame.total), tests });
    const done = frame.shift?.done;
    if (done && done.step !== lastShiftSpoken) {
      lastShiftSpoken = done.step;
      text += " " + fill(S.sayShift, { k: nf.format(done.step), accs: MODELS.map((m, i) => `${S.short[m]} ${pct.format(done.acc[i][4])}`).join(S.list) });
    }
    voice.say(text);
  }

  const draw = perFrame(() => {
    drawTable();
    drawCharts();
    drawCNN();
    drawText();
  });
  // Charts follow the width of the page (phone, projector).
  if ("ResizeObserver" in window) new ResizeObserver(() => draw()).observe(charts);

  stepLine.textContent = S.connecting;
}
