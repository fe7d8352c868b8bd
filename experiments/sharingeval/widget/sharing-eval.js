// sharing-eval: lesson 17's controlled comparisons. The reader asks a
// question (a comparison, a training budget, a number of seeds); the
// server trains every model from every seed in the background, shows its
// progress, and answers with a table and a parameters-against-accuracy
// chart. Every number comes from the server (lab.Eval, this package's
// README); this module only draws and formats.

import { axes, marker, sup, swatch } from "/static/widgets/charts.js";
import { el, fill, begin, liveWidget, field, selectField, fieldInput } from "/static/widgets/ui.js";

// Okabe–Ito colours with viz's dash patterns and markers, by model order.
const STYLES = [
  { color: "#0072b2", dash: [], marker: "circle" },
  { color: "#d55e00", dash: [8, 4], marker: "square" },
  { color: "#009e73", dash: [2, 3], marker: "triangle" },
  { color: "#cc79a7", dash: [10, 3, 2, 3], marker: "diamond" },
  { color: "#e69f00", dash: [4, 2], marker: "circle" },
];
const FRONT = { color: "#555", dash: [6, 4], marker: "" };

const strings = {
  en: {
    ask: "Your question",
    comparison: "Comparison", size: "Training budget", seeds: "Seeds",
    digits: "Training digits", digitsBudget: "the budget's",
    comparisons: {
      "cnn-lc-mlp": "CNN vs locally connected vs MLP (digits)",
      "global-pool": "CNN with and without global average pooling (digits)",
      "rnn-unshared": "RNN vs a cell per time step (remember the first symbol)",
      "tied-untied": "Tied vs untied embeddings (word model)",
      "albert-modes": "ALBERT: what the 4 blocks share (reverse task)",
      "twins-towers": "Siamese twins vs two towers (same digit?)",
    },
    sizes: { small: "small (quickest)", medium: "medium (more data and steps)", large: "large (the most: minutes)" },
    budget: "Every model: {data}{steps} steps of {batch} with Adam at learning rate {lr}, tested on {eval} {evalUnit}. About {est} s of one CPU core{cache}.",
    budgetData: "{n} training {unit}, ",
    units: {
      "cnn-lc-mlp": ["digits", "test digits"], "global-pool": ["digits", "test digits"], "rnn-unshared": ["sequences", "test sequences"], "tied-untied": ["words", "windows of 16 words"],
      "albert-modes": ["", "fixed sequences"], "twins-towers": ["digits", "test pairs"],
    },
    inCache: "; the answer is in the cache already",
    outOfRange: "Enter a whole number from {min} to {max}; this value was not applied.",
    run: "Run the comparison", cancel: "Cancel",
    answered: "Answered — change the question to ask another.",
    idle: "Press “Run the comparison”: the server trains every model from seeds 1…{n} with the same data and steps.",
    cachedIdle: "This question was answered at {at} (UTC): Run shows the answer at once, from the cache.",
    otherFlight: "Another page is computing this question right now: Run joins it.",
    progress: "Training {model}, seed {seed}: step {k} of {n} ({phase}) — run {r} of {runs} · {s} s",
    measuring: "measuring",
    training: "training",
    lockstep: { race: "tied + untied (in lockstep)", "4 modes": "all 4 modes (in lockstep)", "twins+towers": "twins + towers (in lockstep)" },
    fromCache: "From the cache: computed at {at} (UTC) in {s} s. Nothing was trained for you.",
    fresh: "Computed just now in {s} s.",
    table: "Results over {n} seeds: mean ± standard deviation (each seed below it), and the 95 % interval of the mean",
    table1: "Results of 1 seed (no spread, no interval: run more seeds)",
    model: "Model", params: "Parameters · memory: params + optimizer state (est.)", memLine: "{b}", test: "Test {measure}", ci: "95 % interval",
    diff: "Δ vs {ref}, 95 %", refCell: "reference", diffUnit: { accuracy: "points", perplexity: "" },
    train: "Train {measure}", gap: { accuracy: "Gap (train − test, points)", perplexity: "Gap (test − train perplexity)" }, time: "Time / model", shifted: "Test, digits moved {px} px",
    measures: { accuracy: "accuracy", perplexity: "perplexity" },
    gapNote: { accuracy: "train accuracy minus test accuracy, in percentage points: larger means more overfitting", perplexity: "test perplexity minus train perplexity: larger means more overfitting" },
    front: "Pareto front", onFront: "on the Pareto front",
    frontNote: "◆ Pareto front: no other model has at most as many parameters and a mean test {measure} at least as good (one of the two strictly better). Each model off the front has one on it with no more parameters and no worse a mean.",
    frontLegend: "(◆ in the table): no other model has as few parameters and as good a mean",
    notMeasured: "n/a",
    notes: {
      memory: "Memory is an estimate of what training holds per parameter: value, gradient and Adam's two moments, 8 bytes each ({b} B per parameter). Activations are not counted.",
      time: "Time is each model's own training steps and measurements, added up (models trained in lockstep are timed step by step); waits for the server's CPU are not counted, but the server's load still slows a step.",
      noTrain: "Train and gap are n/a for ALBERT's modes: the task draws fresh sequences every step, so there is no training set to measure.",
      ci: "The 95 % interval is mean ± t·sd/√n, t from Student's t with n − 1 degrees of freedom.",
      diff: "Δ vs {ref}: on each seed, the model's test {measure} minus {ref}'s on the same seed (same data order), then the mean of those differences and its 95 % interval, mean ± t·sd/√n of the differences (a paired t interval). An interval that excludes 0 means the seeds agree on which model is better.",
    },
    chartTitle: "Parameters (log scale) against test {measure}: each seed a faint dot, the mean a mark with its 95 % interval (models with close counts side by side, a thin line to their true count); the dashed line is the Pareto front",
    xAxis: "parameters", yAxis: "test {measure}",
    csv: "Table (CSV)", png: "Chart (PNG)", svg: "Chart (SVG)", json: "Answer (JSON)",
    files: { png: "the chart (PNG)", svg: "the chart (SVG)", json: "the answer (JSON)", csv: "the table (CSV)" },
    exportNote: "The server draws these from the answer in its cache.",
    names: {
      cnn: "CNN", lc: "LC (locally connected)", mlp: "MLP", "mlp-wide": "wide MLP", tied: "tied", untied: "untied",
      "cnn-gap": "CNN + global pool", "cnn-gap-wide": "wider CNN + global pool", rnn: "RNN (one cell)", unshared: "a cell per step",
      all: "share all", attention: "share attention", ffn: "share FFN", none: "share nothing",
      twins: "twins (one encoder)", towers: "two towers",
    },
    chartLabel: "{title}. {values}",
    list: "; ",
  },
  zh: {
    ask: "你的问题",
    comparison: "对比", size: "训练预算", seeds: "种子数",
    digits: "训练数字", digitsBudget: "按预算",
    comparisons: {
      "cnn-lc-mlp": "CNN、局部连接与 MLP（数字）",
      "global-pool": "有无全局平均池化的 CNN（数字）",
      "rnn-unshared": "RNN 与每步一个单元（记住第一个符号）",
      "tied-untied": "共享与不共享嵌入（词语模型）",
      "albert-modes": "ALBERT：4 个块共享什么（倒序任务）",
      "twins-towers": "孪生网络与两个塔（是同一个数字吗？）",
    },
    sizes: { small: "小（最快）", medium: "中（更多数据和步数）", large: "大（最多：要几分钟）" },
    budget: "每个模型：{data}{steps} 步，每步 {batch} 个样本，Adam 学习率 {lr}，在 {eval} 个{evalUnit}上测试。大约需要单个 CPU 核心 {est} 秒{cache}。",
    budgetData: "{n} 个训练{unit}，",
    units: {
      "cnn-lc-mlp": ["数字", "测试数字"], "global-pool": ["数字", "测试数字"], "rnn-unshared": ["序列", "测试序列"], "tied-untied": ["词", "16 词窗口"],
      "albert-modes": ["", "固定序列"], "twins-towers": ["数字", "测试数字对"],
    },
    inCache: "；答案已经在缓存里了",
    outOfRange: "请输入 {min} 到 {max} 之间的整数；此值未被采用。",
    run: "运行对比", cancel: "取消",
    answered: "已回答——修改上面的问题即可再问一个。",
    idle: "按“运行对比”：服务器会用同样的数据和步数，从种子 1…{n} 训练每个模型。",
    cachedIdle: "这个问题已在 {at}（UTC）回答过：按“运行”会立即从缓存显示答案。",
    otherFlight: "另一个页面正在计算这个问题：按“运行”会加入它。",
    progress: "正在训练 {model}，种子 {seed}：第 {k} / {n} 步（{phase}）— 第 {r} / {runs} 次训练 · {s} 秒",
    measuring: "测量中",
    training: "训练中",
    lockstep: { race: "共享 + 不共享（同步训练）", "4 modes": "4 种方式（同步训练）", "twins+towers": "孪生 + 两塔（同步训练）" },
    fromCache: "来自缓存：在 {at}（UTC）计算，用时 {s} 秒。没有为你重新训练。",
    fresh: "刚刚计算完成，用时 {s} 秒。",
    table: "{n} 个种子的结果：均值 ± 标准差（下方是各个种子），以及均值的 95 % 区间",
    table1: "1 个种子的结果（没有离散程度，也没有区间：请多用几个种子）",
    model: "模型", params: "参数量 · 内存：参数 + 优化器状态（估计）", memLine: "{b}", test: "测试{measure}", ci: "95 % 区间",
    diff: "与 {ref} 之差，95 %", refCell: "基准", diffUnit: { accuracy: "个百分点", perplexity: "" },
    train: "训练{measure}", gap: { accuracy: "差距（训练 − 测试，百分点）", perplexity: "差距（测试 − 训练困惑度）" }, time: "每个模型用时", shifted: "平移 {px} 像素后",
    measures: { accuracy: "准确率", perplexity: "困惑度" },
    gapNote: { accuracy: "训练准确率减测试准确率，单位为百分点：越大说明过拟合越多", perplexity: "测试困惑度减训练困惑度：越大说明过拟合越多" },
    front: "帕累托前沿", onFront: "在帕累托前沿上",
    frontNote: "◆ 帕累托前沿：没有其他模型参数量不多于它、平均测试{measure}又不差于它（两者至少一项严格更优）。不在前沿上的模型，都有一个前沿上的模型在这两方面都不比它差。",
    frontLegend: "（表中的 ◆）：没有其他模型参数量不多于它、均值又不差于它",
    notMeasured: "不适用",
    notes: {
      memory: "内存是估计值：训练时每个参数占用的量——值、梯度和 Adam 的两个矩估计，各 8 字节（每个参数 {b} 字节）。不含激活值。",
      time: "用时是每个模型自己的训练步骤和测量时间之和（同步训练的模型逐步分别计时）；等待服务器 CPU 的时间不计入，但服务器的负载仍会让每一步变慢。",
      noTrain: "ALBERT 的共享方式没有训练指标和差距（“不适用”）：这个任务每一步都抽取新的序列，没有可以测量的训练集。",
      ci: "95 % 区间为 均值 ± t·sd/√n，t 取自自由度为 n − 1 的学生 t 分布。",
      diff: "与 {ref} 之差：在每个种子上，用该模型的测试{measure}减去 {ref} 在同一种子（同样的数据顺序）上的值，再求这些差的均值及其 95 % 区间，即差的 均值 ± t·sd/√n（配对 t 区间）。区间不含 0，说明各个种子在哪个模型更好这一点上意见一致。",
    },
    chartTitle: "参数量（对数刻度）与测试{measure}：每个种子是一个浅色点，均值是带 95 % 区间的标记（参数量相近的模型并排画出，细线连到真实参数量）；虚线是帕累托前沿",
    xAxis: "参数量", yAxis: "测试{measure}",
    csv: "表格（CSV）", png: "图（PNG）", svg: "图（SVG）", json: "答案（JSON）",
    files: { png: "图（PNG）", svg: "图（SVG）", json: "答案（JSON）", csv: "表格（CSV）" },
    exportNote: "服务器用缓存中的答案生成这些文件。",
    names: {
      cnn: "CNN", lc: "LC（局部连接）", mlp: "MLP", "mlp-wide": "宽 MLP", tied: "共享", untied: "不共享",
      "cnn-gap": "CNN + 全局池化", "cnn-gap-wide": "更宽的 CNN + 全局池化", rnn: "RNN（一个单元）", unshared: "每步一个单元",
      all: "全部共享", attention: "共享注意力", ffn: "共享前馈", none: "不共享",
      twins: "孪生（一个编码器）", towers: "两个塔",
    },
    chartLabel: "{title}。{values}",
    list: "；",
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "se");
  const { L, S, locale, nf } = kit;
  const pct = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
  const num2 = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const secs = new Intl.NumberFormat(locale, { maximumSignificantDigits: 2 });
  const pts = new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero" });

  let params = { comparison: "cnn-lc-mlp", size: "small", seeds: 3, ...initial };
  let statics = null;
  let data = null;
  let asked = false; // Run pressed and the answer not shown yet
  let sawFlight = false; // a flight's progress was seen since Run

  // ---- Layout ----
  const settings = el("fieldset", "se-settings");
  settings.append(el("legend", "", S.ask));
  const budget = el("p", "se-note");
  budget.dataset.testid = "budget";

  const buttons = el("div", "se-buttons");
  const runBtn = el("button", "se-run", S.run);
  runBtn.type = "button";
  runBtn.dataset.testid = "run";
  const cancelBtn = el("button", "se-cancel", S.cancel);
  cancelBtn.type = "button";
  cancelBtn.dataset.testid = "cancel";
  cancelBtn.hidden = true;
  // Why Run is greyed out once the question is answered.
  const runNote = el("span", "se-run-note", S.answered);
  runNote.id = `se-run-note-${Math.random().toString(36).slice(2)}`;
  runNote.dataset.testid = "run-note";
  runNote.hidden = true;
  runBtn.setAttribute("aria-describedby", runNote.id);
  buttons.append(runBtn, cancelBtn, runNote);

  const status = el("p", "se-status");
  status.dataset.testid = "status";
  status.setAttribute("role", "status");
  const bar = document.createElement("progress");
  bar.className = "se-bar";
  bar.dataset.testid = "progress";
  bar.max = 1;
  bar.value = 0;
  bar.hidden = true;

  const tableWrap = el("div", "se-table-wrap");
  const table = el("table", "se-table");
  table.dataset.testid = "results";
  // The caption stays across redraws: it takes the focus when an answer
  // comes (Run and Cancel are then disabled and hidden).
  const caption = el("caption", "");
  caption.tabIndex = -1;
  caption.dataset.testid = "results-caption";
  const frontNote = el("p", "se-front-note");
  frontNote.dataset.testid = "front-note";
  tableWrap.append(table, frontNote);
  tableWrap.hidden = true;

  const fig = el("figure", "se-chart");
  const cap = el("figcaption", "");
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.dataset.testid = "chart";
  const legendList = el("ul", "se-legend");
  legendList.dataset.testid = "legend";
  fig.append(cap, canvas, legendList);
  fig.hidden = true;

  const notes = el("ul", "se-notes");
  notes.dataset.testid = "notes";
  notes.hidden = true;

  const w = liveWidget(root, kit, {
    experiment: "sharing-eval",
    prefix: "se",
    params: () => params,
    exports: { png: S.png, svg: S.svg, json: S.json, csv: S.csv },
    ready(spec) {
      const f = (name) => field(spec, name);
      const sel = (fl, text, label) => {
        const s = selectField({
          cls: "se-field", text, values: fl.choices, name: label, current: params[fl.name] ?? fl.default,
          testid: "set-" + fl.name, onChange: (v) => setParams({ [fl.name]: v }),
        });
        s.label.title = fl.desc;
        settings.append(s.label);
        s.input.label = s.label;
        return s.input;
      };
      inputs.comparison = sel(f("comparison"), S.comparison, (v) => S.comparisons[v] ?? v);
      inputs.size = sel(f("size"), S.size, (v) => S.sizes[v] ?? v);
      // Training digits apart from the steps: the CNN comparison's only.
      inputs.digits = sel(f("digits"), S.digits, (v) => (v === "budget" ? S.digitsBudget : nf.format(Number(v))));
      inputs.digits.label.hidden = (params.comparison ?? f("comparison").default) !== "cnn-lc-mlp";
      const sf = f("seeds");
      const lab = el("label", "se-field");
      lab.append(el("span", "", S.seeds));
      const msg = el("span", "se-field-msg", fill(S.outOfRange, { min: nf.format(sf.min), max: nf.format(sf.max) }));
      msg.hidden = true;
      msg.setAttribute("role", "alert");
      const i = fieldInput(sf, () => params.seeds ?? sf.default, (v) => setParams({ seeds: v }), {
        onRange(ok) {
          msg.hidden = ok;
        },
      });
      i.step = "1";
      i.dataset.testid = "set-seeds";
      i.title = sf.desc;
      lab.append(i, msg);
      settings.append(lab);
      inputs.seeds = i;
      settings.append(budget);
      w.exports.append(el("span", "widget-exports-note", " " + S.exportNote));
      // The downloads are drawn from the cached answer only: offered once
      // the answer is on the page.
      w.exports.hidden = (w.step ?? 0) < 1;
    },
    exportDisabled: () => false,
    frame(m) {
      if (m.static) {
        statics = m.static;
        syncSettings(statics.config);
      }
      if (!statics) return;
      data = m.data;
      if (data.flight && asked) {
        sawFlight = true;
        root.dataset.progressSeen = "1";
      }
      if (m.step >= 1) asked = false;
      draw(m.step);
    },
    state(m) {
      if (m.state === "working") asked = true;
      else if (m.state === "paused" && (w.step ?? 0) === 0) asked = false;
      drawButtons();
    },
    error() {
      if (statics) syncSettings(statics.config);
    },
  });
  const inputs = {};

  root.append(w.status, settings, buttons, status, bar, tableWrap, fig, notes, w.exports, w.downloads, w.errorBox);

  runBtn.addEventListener("click", () => {
    guideFocus = document.activeElement === runBtn;
    asked = true;
    sawFlight = false;
    w.send({ type: "step", n: 1 });
    drawButtons();
  });
  // Cancel takes the run back to step 0: the run stops lending its CPU and
  // leaves the flight (which stops when nobody else waits for it).
  cancelBtn.addEventListener("click", () => {
    guideFocus ||= document.activeElement === cancelBtn;
    asked = false;
    w.send({ type: "reset" });
  });

  function setParams(change) {
    params = { ...params, ...change };
    asked = false;
    w.send({ type: "set-params", params: change });
  }

  // syncSettings takes the question the server answers (lab's config:
  // its trainSize is the digits field, 0 for the budget's).
  function syncSettings(c) {
    const p = { comparison: c.comparison, size: c.size, seeds: c.seeds };
    if (c.comparison === "cnn-lc-mlp") p.digits = c.trainSize ? String(c.trainSize) : "budget";
    params = { ...params, ...p };
    for (const k of ["comparison", "size", "digits"]) if (inputs[k] && params[k] !== undefined) inputs[k].value = String(params[k]);
    if (inputs.digits) inputs.digits.label.hidden = params.comparison !== "cnn-lc-mlp";
    const i = inputs.seeds;
    if (i && document.activeElement !== i && i.getAttribute("aria-invalid") !== "true") i.value = String(params.seeds);
  }

  // drawButtons also keeps the focus in the widget: a button that is
  // disabled or hidden while focused drops the focus to <body>. While a
  // question the reader asked from Run or Cancel is working, Cancel holds
  // the focus; once the answer is drawn, the table's caption takes it; a
  // cancelled question gives it back to Run. The answer's frame and the
  // paused state come in either order, so the decision is made from where
  // things stand each time, not from which message came last.
  let guideFocus = false; // the reader's focus was on Run or Cancel when they asked
  function drawButtons() {
    const working = w.state === "working";
    const answered = !working && (w.step ?? 0) >= 1;
    const active = document.activeElement;
    const onButtons = active === runBtn || active === cancelBtn;
    runBtn.disabled = working || answered;
    cancelBtn.hidden = !working;
    runNote.hidden = !answered;
    if (!guideFocus || !(onButtons || active === document.body || active === null)) return;
    if (working) cancelBtn.focus();
    // A redraw of the table re-inserts the caption, which drops its focus:
    // the guide stays on until the reader moves the focus elsewhere.
    else if (answered && !tableWrap.hidden) caption.focus();
    else if (!answered) runBtn.focus();
  }
  root.addEventListener("focusin", (ev) => {
    if (![runBtn, cancelBtn, caption].includes(ev.target)) guideFocus = false;
  });

  const name = (m) => S.names[m] ?? m;
  const clock = (iso) => (iso ? iso.replace("T", " ").replace("Z", "").slice(0, 19) : "");
  const bytes = (b) => (b >= 1e6 ? `${num3.format(b / 1e6)} MB` : `${num3.format(b / 1e3)} kB`);

  function describeBudget() {
    const c = statics.config, b = statics.budget, u = S.units[c.comparison] ?? ["", ""];
    const dataText = b.trainSize ? fill(S.budgetData, { n: nf.format(b.trainSize), unit: u[0] }) : "";
    budget.textContent = fill(S.budget, {
      data: dataText, steps: nf.format(b.steps), batch: nf.format(b.batch), lr: String(b.lr), eval: nf.format(b.eval), evalUnit: u[1],
      est: nf.format(statics.estimate), cache: data?.cached ? S.inCache : "",
    });
  }

  function draw(step) {
    describeBudget();
    drawButtons();
    const flight = data.flight;
    bar.hidden = !flight;
    if (flight) {
      bar.value = flight.fraction;
      const lock = S.lockstep[flight.model];
      status.textContent = fill(S.progress, {
        model: lock ?? name(flight.model), seed: flight.seed, k: nf.format(flight.step), n: nf.format(flight.steps),
        phase: flight.phase === "measure" ? S.measuring : S.training, r: flight.run, runs: flight.runs, s: num2.format(flight.seconds),
      });
      root.dataset.progress = `${flight.run}/${flight.runs}:${flight.step}/${flight.steps}`;
    } else if (step >= 1 && data.answer) {
      const s = num2.format(data.answer.seconds);
      status.textContent = sawFlight ? fill(S.fresh, { s }) : fill(S.fromCache, { at: clock(data.computed), s });
      status.dataset.source = sawFlight ? "fresh" : "cache";
    } else if (data.cached) {
      status.textContent = fill(S.cachedIdle, { at: clock(data.cached) });
    } else {
      status.textContent = fill(S.idle, { n: params.seeds });
    }
    const ans = step >= 1 ? data.answer : null;
    tableWrap.hidden = fig.hidden = notes.hidden = w.exports.hidden = !ans;
    if (ans) {
      drawTable(ans);
      drawChart(ans);
      drawNotes(ans);
      drawButtons(); // the caption exists now: it may take the focus
    }
  }

  // ---- The table ----
  // Accuracy is a percentage with one decimal. A perplexity's decimals
  // are set per answer by its smallest spread (two significant digits of
  // the smallest sd, 1 to 3 decimals), and every perplexity of the answer
  // (means, sds, seeds, intervals, differences, gaps) is written with them:
  // "48.6 ± 4.8", not "48.6 ± 4.81".
  let ppl = num2, pplSigned = pts;
  function setPrecision(ans) {
    if (ans.measure === "accuracy") return;
    const sds = ans.models.map((m) => m.test.sd).filter((v) => v > 0);
    const d = sds.length ? Math.min(3, Math.max(1, 1 - Math.floor(Math.log10(Math.min(...sds))))) : 1;
    ppl = new Intl.NumberFormat(locale, { minimumFractionDigits: d, maximumFractionDigits: d });
    pplSigned = new Intl.NumberFormat(locale, { minimumFractionDigits: d, maximumFractionDigits: d, signDisplay: "exceptZero" });
  }
  function fmt(ans, v) {
    return ans.measure === "accuracy" ? pct.format(v) : ppl.format(v);
  }
  // fmtDiff writes a difference: points of accuracy, or perplexity.
  function fmtDiff(ans, v) {
    return ans.measure === "accuracy" ? pts.format(v * 100) : pplSigned.format(v);
  }
  function drawTable(ans) {
    const measure = S.measures[ans.measure] ?? ans.measure;
    const n = ans.config.seeds;
    setPrecision(ans);
    caption.textContent = n > 1 ? fill(S.table, { n }) : S.table1;
    table.replaceChildren(caption);
    frontNote.textContent = fill(S.frontNote, { measure });
    const px = ans.shifts?.length ? ans.shifts[ans.shifts.length - 1] : null;
    // Memory sits under the parameters and each seed under the mean: the
    // table stays narrow enough for a laptop without scrolling.
    const ref = name(ans.ref ?? ans.models[0].model);
    const gapHead = S.gap[ans.measure] ?? S.gap.perplexity;
    const cols = [S.params, fill(S.test, { measure }), S.ci, fill(S.diff, { ref }), fill(S.train, { measure }), gapHead];
    if (px !== null) cols.push(fill(S.shifted, { px }));
    cols.push(S.time);
    const thead = el("thead"), hr = el("tr");
    for (const h of [S.model, ...cols]) {
      const th = el("th", "", h);
      th.scope = "col";
      hr.append(th);
    }
    const gapTh = hr.children[1 + cols.indexOf(gapHead)];
    gapTh.title = S.gapNote[ans.measure] ?? "";
    gapTh.dataset.testid = "gap-head";
    thead.append(hr);
    const tbody = el("tbody");
    ans.models.forEach((m, i) => {
      const tr = el("tr");
      tr.dataset.model = m.model;
      const th = el("th", "se-model");
      th.scope = "row";
      th.append(swatch(STYLES[i % STYLES.length], "se-swatch"), el("span", "", name(m.model)));
      if (m.pareto) {
        const star = el("span", "se-front", " ◆");
        star.title = S.onFront;
        star.setAttribute("aria-label", S.onFront);
        th.append(star);
      }
      tr.append(th);
      const na = S.notMeasured;
      const last = m.shifted?.[m.shifted.length - 1];
      // Each cell: its text, its numbers at full precision (data-value,
      // for tests and copying), and an optional second line.
      const cells = [
        ["params", nf.format(m.params), [m.params], ["memory", fill(S.memLine, { b: bytes(m.memory) }), [m.memory]]],
        // One seed has no spread: its value alone.
        ["test", n > 1 ? `${fmt(ans, m.test.mean)} ± ${fmt(ans, m.test.sd)}` : fmt(ans, m.test.mean), [m.test.mean, m.test.sd],
          ["seeds", m.runs.map((r) => fmt(ans, r.test)).join(" · "), m.runs.map((r) => r.test)]],
        ["ci", m.test.hasCI ? `${fmt(ans, m.test.lo)} – ${fmt(ans, m.test.hi)}` : na, m.test.hasCI ? [m.test.lo, m.test.hi] : []],
        diffCell(ans, m, i),
        ["train", ans.hasTrain ? fmt(ans, m.train.mean) : na, ans.hasTrain ? [m.train.mean] : []],
        ["gap", ans.hasTrain ? fmtDiff(ans, m.gap.mean) : na, ans.hasTrain ? [m.gap.mean] : []],
      ];
      if (px !== null) cells.push(["shifted", n > 1 ? `${fmt(ans, last.mean)} ± ${fmt(ans, last.sd)}` : fmt(ans, last.mean), [last.mean, last.sd]]);
      cells.push(["time", ans.hasTime ? `${secs.format(m.seconds.mean)} s` : na, ans.hasTime ? [m.seconds.mean] : []]);
      cells.forEach(([k, text, value, sub], j) => {
        const td = el("td", "se-num");
        td.dataset.label = cols[j];
        const main = el("span", "se-main", text);
        main.dataset.testid = `${k}-${m.model}`;
        main.dataset.value = value.join(" ");
        td.append(main);
        if (sub) {
          const line = el("span", "se-sub", sub[1]);
          line.dataset.testid = `${sub[0]}-${m.model}`;
          line.dataset.value = sub[2].join(" ");
          td.append(line);
        }
        tr.append(td);
      });
      tbody.append(tr);
    });
    table.append(thead, tbody);
  }

  // The paired difference to the reference model: its mean, and under it
  // the paired 95 % interval (points of accuracy, or perplexity).
  function diffCell(ans, m, i) {
    if (i === 0) return ["diff", S.refCell, []];
    const d = m.diff;
    const f = (v) => fmtDiff(ans, v);
    const unit = S.diffUnit[ans.measure] ? ` ${S.diffUnit[ans.measure]}` : "";
    const main = `${f(d.mean)}${unit}`;
    if (!d.hasCI) return ["diff", main, [d.mean]];
    return ["diff", main, [d.mean], ["diffci", `${f(d.lo)} – ${f(d.hi)}`, [d.lo, d.hi]]];
  }

  function drawNotes(ans) {
    notes.replaceChildren();
    const add = (t) => notes.append(el("li", "", t));
    add(fill(S.notes.memory, { b: statics.bytesPerParam }));
    if (ans.config.seeds > 1) add(S.notes.ci);
    const ref = name(ans.ref ?? ans.models[0].model);
    add(fill(S.notes.diff, { ref, measure: S.measures[ans.measure] ?? ans.measure }));
    if (ans.hasTime) add(S.notes.time);
    if (!ans.hasTrain) add(S.notes.noTrain);
  }

  // ---- The chart: log₁₀ parameters against the test measure ----
  function drawChart(ans) {
    const measure = S.measures[ans.measure] ?? ans.measure;
    const title = fill(S.chartTitle, { measure });
    cap.textContent = title;
    const lx = (p) => Math.log10(p);
    const xs = ans.models.map((m) => lx(m.params));
    const ys = ans.models.flatMap((m) => [m.test.lo, m.test.hi, ...m.runs.map((r) => r.test)]);
    let xMin = Math.floor(Math.min(...xs) * 2) / 2 - 0.25, xMax = Math.ceil(Math.max(...xs) * 2) / 2 + 0.25;
    let yMin = Math.min(...ys), yMax = Math.max(...ys);
    const padY = (yMax - yMin) * 0.1 || 0.05;
    yMin -= padY;
    yMax += padY;
    if (ans.measure === "accuracy") {
      yMin = Math.max(0, yMin);
      yMax = Math.min(1, yMax);
    }
    // Decades, labelled 10ⁿ; when fewer than two fall in range, 2 and 5
    // times a power of ten too, written out.
    const xTicks = [];
    for (let e = Math.ceil(xMin); e <= Math.floor(xMax); e++) xTicks.push([e, `10${sup(e)}`]);
    if (xTicks.length < 2) {
      for (let e = Math.floor(xMin); e <= Math.ceil(xMax); e++) {
        for (const k of [2, 5]) {
          const v = Math.log10(k) + e;
          if (v > xMin && v < xMax) xTicks.push([v, nf.format(k * 10 ** e)]);
        }
      }
      xTicks.sort((p, q) => p[0] - q[0]);
    }
    const a = axes(canvas, {
      locale, xMin, xMax, yMin, yMax, xTicks, xLabel: S.xAxis, yLabel: fill(S.yAxis, { measure }),
      yPercent: ans.measure === "accuracy",
    });
    const { g, X, Y, fs } = a;
    // Models with close counts (the CNN's 9,098 and the MLP's 9,550) would
    // draw on top of each other: their marks are set side by side, at
    // least 1.6 font sizes apart, in the order of their counts.
    const px = new Map();
    let prev = -Infinity;
    for (const m of [...ans.models].sort((p, q) => p.params - q.params)) {
      const x = Math.max(X(lx(m.params)), prev + fs * 1.6);
      px.set(m.model, x);
      prev = x;
    }
    // A mark set aside from its count gets a thin line in its colour from
    // the mark to its true x, ending in a short tick there, and a tick on
    // the x axis at that count.
    for (const [i, m] of ans.models.entries()) {
      const x = px.get(m.model), x0 = X(lx(m.params));
      if (Math.abs(x - x0) < 0.5) continue;
      const y = Y(m.test.mean), yAxis = Y(yMin);
      g.save();
      g.strokeStyle = STYLES[i % STYLES.length].color;
      g.lineWidth = 1;
      g.setLineDash([]);
      g.beginPath();
      g.moveTo(x, y);
      g.lineTo(x0, y);
      g.moveTo(x0, y - fs * 0.35);
      g.lineTo(x0, y + fs * 0.35);
      g.moveTo(x0, yAxis);
      g.lineTo(x0, yAxis - fs * 0.5);
      g.stroke();
      g.restore();
    }
    root.dataset.nudged = ans.models.filter((m) => Math.abs(px.get(m.model) - X(lx(m.params))) >= 0.5).map((m) => m.model).join(" ");
    const front = ans.models.filter((m) => m.pareto).sort((p, q) => p.params - q.params);
    g.save();
    g.strokeStyle = FRONT.color;
    g.lineWidth = 1.5;
    g.setLineDash(FRONT.dash);
    g.beginPath();
    front.forEach((m, k) => (k ? g.lineTo : g.moveTo).call(g, px.get(m.model), Y(m.test.mean)));
    g.stroke();
    g.restore();
    ans.models.forEach((m, i) => {
      const st = STYLES[i % STYLES.length];
      const x = px.get(m.model);
      // Each seed: a faint dot, spread sideways a little so equal values show.
      g.globalAlpha = 0.45;
      m.runs.forEach((r, k) => {
        const dx = (k - (m.runs.length - 1) / 2) * fs * 0.35;
        marker(g, "", x + dx, Y(r.test), fs * 0.22, st.color);
      });
      g.globalAlpha = 1;
      if (m.test.hasCI) {
        g.strokeStyle = st.color;
        g.lineWidth = 2;
        g.setLineDash([]);
        g.beginPath();
        g.moveTo(x, Y(m.test.lo));
        g.lineTo(x, Y(m.test.hi));
        for (const y of [m.test.lo, m.test.hi]) {
          g.moveTo(x - fs * 0.4, Y(y));
          g.lineTo(x + fs * 0.4, Y(y));
        }
        g.stroke();
      }
      marker(g, st.marker, x, Y(m.test.mean), fs * 0.42, st.color);
    });
    const values = ans.models.map((m) => `${name(m.model)}: ${nf.format(m.params)} → ${fmt(ans, m.test.mean)}`).join(S.list);
    canvas.setAttribute("aria-label", fill(S.chartLabel, { title, values }));
    legendList.replaceChildren();
    ans.models.forEach((m, i) => {
      const li = el("li");
      li.append(swatch({ ...STYLES[i % STYLES.length], dash: [] }, "se-swatch"), el("span", "", name(m.model)));
      legendList.append(li);
    });
    const li = el("li");
    li.append(swatch(FRONT, "se-swatch"), el("span", "", S.front), el("span", "se-legend-def", (L === "zh" ? "" : " ") + S.frontLegend));
    legendList.append(li);
  }
}
