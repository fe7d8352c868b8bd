// gate-race: a plain RNN, an LSTM and a GRU of the same hidden size trained
// side by side on the server (the same sequences, optimizer and steps) on
// remember-the-first-symbol or the adding problem at distance T. Beside the
// curves: each model's per-step contributions to its shared W_hh (how much
// of the gradient still comes from far back), the engine's parameter
// counts, and the final score of each T raced here. Every number comes
// from the engine over /ws (this package's README); this module only draws.

import {
  el, fill, reducedMotion, begin, narrator, settingsFields, liveWidget, field, niceValues, perFrame,
} from "/static/widgets/ui.js";
import { dequantize } from "/static/widgets/quant.js";
import { lineChart, swatch } from "/static/widgets/charts.js";

const MODELS = ["rnn", "lstm", "gru"];
// Okabe–Ito in viz's series order, with viz's dashes and markers.
const STYLE = {
  rnn: { color: "#0072b2", dash: [], marker: "circle" },
  lstm: { color: "#d55e00", dash: [8, 4], marker: "square" },
  gru: { color: "#009e73", dash: [2, 3], marker: "triangle" },
};

const strings = {
  en: {
    short: { rnn: "RNN", lstm: "LSTM", gru: "GRU" },
    tasks: { "remember-first": "Remember the first symbol", adding: "Adding problem" },
    scoreName: { "remember-first": "Accuracy", adding: "Solved (|error| < 0.04)" },
    progress: "Step {k} of {n}",
    budgetNote: "Each step trains all three on the same {b} {seqs} ({len} time steps each). Fixed-set scores every {e} steps on {n} sequences; contribution profiles every {p} steps.",
    chanceNote: "A model that has learnt nothing scores {c} (loss {l}).",
    model: "Model", cellParams: "Recurrent layer", times: "× RNN", params: "Whole model", loss: "Loss (batch)", score: "Score (batch, smoothed)", evalScore: "Fixed set",
    notYet: "—",
    lossChart: "Training loss (each step's batch)",
    scoreChart: "Score: thin = batches (smoothed), marks = fixed set",
    profileChart: "Per-step contributions to dW_hh, by distance back (log scale)",
    profileAt: "probe batch, weights of step {k}",
    tChart: "Fixed-set score against T (the races you ran with these settings)",
    tNote: "Each point is the last fixed-set score of a race at that T; change T and play to add one.",
    stepAxis: "step", lossAxis: "loss", distAxis: "steps before the last", contribAxis: "‖contribution‖", tAxis: "T",
    settings: "Race settings (changing one restarts the race)",
    task: "Task", T: "Distance T", hidden: "Hidden size", batch: "Batch", optimizer: "Optimizer", lr: "Learning rate", steps: "Steps", seed: "Seed",
    optimizers: { sgd: "SGD", momentum: "SGD + momentum 0.9", adam: "Adam" },
    outOfRange: "Enter a whole number from {min} to {max}; this value was not applied.",
    diverged: "Diverged — lower the learning rate, then reset.",
    downloadPNG: "Download charts (PNG)", downloadSVG: "SVG", json: "Race data (JSON)", trace: "LSTM step trace (JSON)",
    files: { png: "the charts (PNG)", svg: "the charts (SVG)", json: "the race data (JSON)", "trace.json": "the LSTM step trace (JSON)" },
    exportNote: "The server re-trains to this step to draw it (a few seconds).",
    say: "Step {k} of {n}. Fixed-set score: {scores}.",
    sayState: { running: "Training.", paused: "Paused.", done: "The race is over.", error: "The run stopped with an error.", diverged: "Diverged." },
    chartAlt: "{title}. Latest values: {values}.",
    list: ", ",
  },
  zh: {
    short: { rnn: "RNN", lstm: "LSTM", gru: "GRU" },
    tasks: { "remember-first": "记住第一个符号", adding: "加法问题" },
    scoreName: { "remember-first": "准确率", adding: "解出率（|误差| < 0.04）" },
    progress: "第 {k} / {n} 步",
    budgetNote: "每一步让三个模型在同样的 {b} 条序列上各训练一次（每条 {len} 个时间步）。每隔 {e} 步在 {n} 条固定序列上评分；每隔 {p} 步测一次贡献分布。",
    chanceNote: "什么都没学会的模型得分为 {c}（损失 {l}）。",
    model: "模型", cellParams: "循环层参数", times: "× RNN", params: "整个模型", loss: "损失（批次）", score: "得分（批次，平滑）", evalScore: "固定集",
    notYet: "—",
    lossChart: "训练损失（每一步的批次）",
    scoreChart: "得分：细线 = 批次（平滑），标记 = 固定集",
    profileChart: "各时间步对 dW_hh 的贡献，按往回的距离（对数刻度）",
    profileAt: "探针批次，第 {k} 步的权重",
    tChart: "固定集得分与 T 的关系（你用这些设置跑过的比赛）",
    tNote: "每个点是该 T 下一场比赛最后的固定集得分；改变 T 再播放即可添加一个点。",
    stepAxis: "步", lossAxis: "损失", distAxis: "距最后一步的步数", contribAxis: "‖贡献‖", tAxis: "T",
    settings: "比赛设置（修改任何一项都会重新开始比赛）",
    task: "任务", T: "距离 T", hidden: "隐藏维数", batch: "批大小", optimizer: "优化器", lr: "学习率", steps: "步数", seed: "随机种子",
    optimizers: { sgd: "SGD", momentum: "SGD + 动量 0.9", adam: "Adam" },
    outOfRange: "请输入 {min} 到 {max} 之间的整数；此值未被采用。",
    diverged: "发散了——请降低学习率，然后重置。",
    downloadPNG: "下载图表（PNG）", downloadSVG: "SVG", json: "比赛数据（JSON）", trace: "LSTM 单步追踪（JSON）",
    files: { png: "图表（PNG）", svg: "图表（SVG）", json: "比赛数据（JSON）", "trace.json": "LSTM 单步追踪（JSON）" },
    exportNote: "服务器会重新训练到这一步再绘图（需要几秒钟）。",
    say: "第 {k} / {n} 步。固定集得分：{scores}。",
    sayState: { running: "正在训练。", paused: "已暂停。", done: "比赛结束。", error: "运行因错误而停止。", diverged: "发散了。" },
    chartAlt: "{title}。最新数值：{values}。",
    list: "、",
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "gr");
  const { S, locale, nf } = kit;
  const pct = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
  const times = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });

  let params = { ...initial };
  let statics = null;
  let frame = null;
  // byT remembers, per settings other than T, the last fixed-set score of
  // each T raced on this page: {key: Map(T → {step, score[3]})}.
  const byT = new Map();

  // ---- Layout ----
  const head = el("div", "gr-head");
  const stepLine = el("p", "gr-step");
  stepLine.dataset.testid = "step-line";
  const bar = document.createElement("progress");
  bar.className = "gr-bar";
  bar.dataset.testid = "progress";
  bar.max = 1;
  bar.value = 0;
  const note = el("p", "gr-note");
  const chanceNote = el("p", "gr-note");
  head.append(stepLine, bar, note, chanceNote);

  const divergedBox = el("p", "gr-diverged");
  divergedBox.setAttribute("role", "alert");
  divergedBox.dataset.testid = "diverged";
  divergedBox.hidden = true;

  const tableWrap = el("div", "gr-table-wrap");
  const table = el("table", "gr-table");
  table.dataset.testid = "race-table";
  const columns = [S.cellParams, S.times, S.params, S.loss, S.score, S.evalScore];
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
  for (const m of MODELS) {
    const tr = el("tr");
    const th = el("th", "gr-model");
    th.scope = "row";
    th.append(swatch(STYLE[m], "gr-swatch"), el("span", "", S.short[m]));
    tr.append(th);
    cells[m] = {};
    ["cellParams", "times", "params", "loss", "score", "eval"].forEach((k, j) => {
      const td = el("td", "gr-num", S.notYet);
      td.dataset.testid = `${k}-${m}`;
      td.dataset.label = columns[j];
      cells[m][k] = td;
      tr.append(td);
    });
    tbody.append(tr);
  }
  table.append(thead, tbody);
  tableWrap.append(table);

  const legend = el("ul", "gr-legend");
  for (const m of MODELS) {
    const li = el("li");
    li.append(swatch(STYLE[m], "gr-swatch"), el("span", "", S.short[m]));
    legend.append(li);
  }

  const charts = el("div", "gr-charts");
  function chartFig(title, testid) {
    const fig = el("figure", "gr-chart");
    const cap = el("figcaption", "", title);
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.dataset.testid = testid;
    fig.append(cap, c);
    return { fig, canvas: c, cap };
  }
  const lossFig = chartFig(S.lossChart, "loss-chart");
  const scoreFig = chartFig(S.scoreChart, "score-chart");
  const profFig = chartFig(S.profileChart, "profile-chart");
  const tFig = chartFig(S.tChart, "t-chart");
  tFig.fig.append(el("p", "gr-note", S.tNote));
  charts.append(lossFig.fig, scoreFig.fig, profFig.fig, tFig.fig);

  const settings = el("fieldset", "gr-settings");
  settings.append(el("legend", "", S.settings));
  const optNum = new Intl.NumberFormat(locale, { maximumSignificantDigits: 6 });
  const optionName = (v) => (typeof v === "number" ? optNum.format(v) : String(v));
  const { inputs, choice, numberField } = settingsFields(settings, {
    cls: "gr-field", current: (k) => params[k], set: (change) => setParams(change), outOfRange: S.outOfRange, format: (v) => nf.format(v),
  });

  const voice = narrator("gr", 4000);
  const w = liveWidget(root, kit, {
    experiment: "gate-race",
    prefix: "gr",
    params: () => params,
    player: { speed: reducedMotion.matches ? 4 : 20, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    exportsNote: S.exportNote,
    ready(spec) {
      const f = (name) => field(spec, name);
      choice(f("task"), S.task, f("task").choices, (v) => S.tasks[v] ?? v, String);
      choice(f("T"), S.T, [2, 5, 10, 15, 20, 25, 32].filter((v) => v >= f("T").min && v <= f("T").max), optionName, Number);
      choice(f("hidden"), S.hidden, niceValues(f("hidden"), { powersOf2: true }), optionName, Number);
      choice(f("batch"), S.batch, niceValues(f("batch"), { powersOf2: true }), optionName, Number);
      choice(f("optimizer"), S.optimizer, f("optimizer").choices, (v) => S.optimizers[v] ?? v, String);
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
      remember();
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

  root.append(w.status, head, w.controls, w.working, divergedBox, tableWrap, legend, charts, settings, w.exports, w.downloads, w.errorBox, voice.el);
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

  // ---- The score against T, kept on this page ----
  const settingsKey = (p) => ["task", "hidden", "batch", "optimizer", "lr", "steps", "seed"].map((k) => p[k]).join("|");
  function remember() {
    const last = frame.evals[frame.evals.length - 1];
    if (!last || last.step === 0) return;
    const p = statics.params;
    const key = settingsKey(p);
    if (!byT.has(key)) byT.set(key, new Map());
    const m = byT.get(key);
    const had = m.get(p.T);
    // A seek back shows an earlier score: the race's furthest step wins.
    if (!had || had.step <= last.step || frame.step < had.step) m.set(p.T, { step: last.step, score: last.score });
  }

  // ---- Drawing ----
  const chart = (canvas, o) => lineChart(canvas, { locale, ...o });

  function curve(q, every, step) {
    const ys = q && q.shape[0] > 0 ? dequantize(q) : new Float64Array(0);
    return { xs: Array.from(ys, (_, i) => Math.min((i + 1) * every, step)), ys: Array.from(ys) };
  }

  const latest = (vals) => MODELS.map((m, i) => `${S.short[m]} ${vals[i]}`).join(S.list);

  function drawCharts() {
    const total = statics.total, task = statics.params.task;
    const c = frame.curves;
    const loss = MODELS.map((m, i) => ({ style: STYLE[m], ...curve(c.loss[i], c.every, frame.step) }));
    let lossMax = statics.baselineLoss;
    for (const s of loss) for (const y of s.ys) if (Number.isFinite(y)) lossMax = Math.max(lossMax, y);
    chart(lossFig.canvas, { xMax: total, yMin: 0, yMax: Math.min(lossMax * 1.05, 10), xLabel: S.stepAxis, yLabel: S.lossAxis, series: loss, hline: statics.baselineLoss });
    const batch = MODELS.map((m, i) => ({ style: STYLE[m], ...curve(c.score[i], c.every, frame.step), width: 1.5, alpha: 0.55 }));
    const evals = MODELS.map((m, i) => ({ style: STYLE[m], xs: frame.evals.map((e) => e.step), ys: frame.evals.map((e) => e.score[i]), width: 2.5, markers: true }));
    chart(scoreFig.canvas, { xMax: total, yMin: 0, yMax: 1, xLabel: S.stepAxis, yLabel: S.scoreName[task], series: [...batch, ...evals], yPercent: true, hline: statics.chance });
    const L = statics.seqLen - 1;
    const profs = frame.profiles.map((p, i) => ({ style: STYLE[MODELS[i]], xs: p.map((_, d) => d), ys: p, markers: p.length <= 12 }));
    let lo = Infinity, hi = 0;
    for (const p of frame.profiles) for (const v of p) if (v > 0 && Number.isFinite(v)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    if (!(hi > 0)) (lo = 1e-6), (hi = 1);
    lo = 10 ** Math.floor(Math.log10(Math.max(lo, hi * 1e-12)));
    hi = 10 ** Math.ceil(Math.log10(hi));
    chart(profFig.canvas, { xMin: 0, xMax: Math.max(L - 1, 1), yMin: lo, yMax: hi, xLabel: S.distAxis, yLabel: S.contribAxis, series: profs, logY: true });
    profFig.cap.textContent = `${S.profileChart} — ${fill(S.profileAt, { k: nf.format(frame.profileStep) })}`;
    const m = byT.get(settingsKey(statics.params)) ?? new Map();
    const Ts = [...m.keys()].sort((a, b) => a - b);
    const tSeries = MODELS.map((mm, i) => ({ style: STYLE[mm], xs: Ts, ys: Ts.map((t) => m.get(t).score[i]), width: 2.5, markers: true }));
    chart(tFig.canvas, { xMin: 0, xMax: 32, yMin: 0, yMax: 1, xLabel: S.tAxis, yLabel: S.scoreName[task], series: tSeries, yPercent: true, hline: statics.chance });
    tFig.canvas.dataset.points = String(Ts.length);
    const lastEval = frame.evals[frame.evals.length - 1];
    lossFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.lossChart, values: latest(frame.models.map((x) => (x.loss == null ? S.notYet : num3.format(x.loss)))) }));
    scoreFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.scoreChart, values: latest(lastEval.score.map((v) => pct.format(v))) }));
    profFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.profileChart, values: latest(frame.profiles.map((p) => (p.length ? num3.format(p[p.length - 1]) : S.notYet))) }));
    tFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.tChart, values: Ts.map((t) => `T ${t}: ${latest(m.get(t).score.map((v) => pct.format(v)))}`).join("; ") || S.notYet }));
  }

  function drawTable() {
    const lastEval = frame.evals[frame.evals.length - 1];
    const base = statics.models[0].cellParams;
    MODELS.forEach((m, i) => {
      const st = statics.models[i], d = frame.models[i], c = cells[m];
      const set = (cell, v, f) => {
        cell.textContent = v == null ? S.notYet : f(v);
        if (v == null) delete cell.dataset.value;
        else cell.dataset.value = String(v);
      };
      set(c.cellParams, st.cellParams, (v) => nf.format(v));
      set(c.times, st.cellParams / base, (v) => `${times.format(v)}×`);
      set(c.params, st.params, (v) => nf.format(v));
      set(c.loss, d.loss, (v) => num3.format(v));
      set(c.score, d.score, (v) => pct.format(v));
      set(c.eval, lastEval?.score[i], (v) => pct.format(v));
    });
  }

  function drawText() {
    const p = statics.params;
    stepLine.textContent = `${S.tasks[p.task]}${lang === "zh" ? "，" : ", "}T = ${nf.format(p.T)} — ${fill(S.progress, { k: nf.format(frame.step), n: nf.format(frame.total) })}`;
    bar.value = frame.total ? frame.step / frame.total : 0;
    note.textContent = fill(S.budgetNote, { b: nf.format(p.batch), seqs: p.batch === 1 ? "sequence" : "sequences", len: nf.format(statics.seqLen), e: nf.format(statics.evalEvery), n: nf.format(statics.evalSize), p: nf.format(statics.profileEvery) });
    chanceNote.textContent = fill(S.chanceNote, { c: pct.format(statics.chance), l: num3.format(statics.baselineLoss) });
    const div = frame.diverged;
    divergedBox.hidden = !div;
    if (div) divergedBox.textContent = `${S.diverged} ${lang === "zh" ? div.Zh : div.En}`;
  }

  function narrate(force) {
    if (!frame || !voice.due(force || w.state !== "running")) return;
    const e = frame.evals[frame.evals.length - 1];
    voice.say(fill(S.say, { k: nf.format(frame.step), n: nf.format(frame.total), scores: latest(e.score.map((v) => pct.format(v))) }));
  }

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    drawText();
    drawTable();
    drawCharts();
  });
  stepLine.textContent = S.connecting;
}
