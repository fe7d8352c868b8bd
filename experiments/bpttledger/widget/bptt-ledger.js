// bptt-ledger: a small tanh RNN (the server's engine) learns a sequence
// task, and each training step's backward pass is replayed one time step
// at a time, from the last step to the first. Each step hands back its own
// piece of the shared weight's gradient (the engine's per-step
// contribution); the pieces add up in the running Σ beside the engine's dW
// and, once all T are in, equal it. Beside the ledger: ‖∂L/∂h_t‖ and the
// contribution sizes against t (log scale), a heat map of contribution
// sizes over the last training steps, and the loss. Every number comes
// from the server (this package's README); this module only draws.

import { viridisAt, divergingAt, css, missing } from "/static/widgets/palette.js";
import { dequantize } from "/static/widgets/quant.js";
import {
  el, fill, reducedMotion, begin, narrator, selectField, liveWidget, field, fieldInput,
  paintCells, longestText, sharpCanvas, perFrame,
} from "/static/widgets/ui.js";

const strings = {
  en: {
    tasks: { "remember-first": "remember the first symbol", adding: "adding problem" },
    params: { weight_hh: "W_hh (hidden → hidden)", weight_ih: "W_ih (input → hidden)", bias: "biases b_ih and b_hh" },
    optimizers: { adam: "Adam", sgd: "SGD" },
    model: {
      "remember-first": "Task: read a symbol (1–4), then {n} noise tokens, and name the symbol at the end. Model: one-hot(5) → tanh RNN ({h} units) → linear on the last h_T → cross-entropy. {b} sequences per training step.",
      adding: "Task: read {T} pairs (value, marker) and output the sum of the two marked values at the end. Model: tanh RNN ({h} units) → linear on the last h_T → squared error. {b} sequences per training step.",
    },
    header: "Training step {k} of {S} · loss {loss}",
    acc: " · accuracy {a} (chance 25%)",
    chain: "The unrolled RNN: backward pass from t = {T} down to 1",
    chainHint: "Click a time step (or press [ and ]) to see its contribution.",
    xLabel: "x_t",
    stepTitle: "t = {t}: contribution {n}",
    notAdded: "t = {t}: not added yet",
    curves: "Gradient sizes along the sequence (log scale)",
    hgrad: "‖∂L/∂h_t‖",
    cnorm: "‖contribution of t‖",
    curvesAlt: "Log-scale chart of the gradient with respect to each hidden state and of each time step's contribution size",
    contribution: "Contribution of t = {t}",
    contributionLatest: "Contribution of t = {t} (added last)",
    noContribution: "No contribution added yet",
    zero: "Exactly zero: step 1 multiplies by h_0 = 0.",
    notYetInspect: "t = {t} is not added yet",
    follow: "Follow the newest",
    added: "added into",
    sum: "Running Σ (shared d{p})",
    engine: "Engine's d{p} (one backward pass)",
    cols: { bias: ["b_ih", "b_hh"] },
    progress: "{j} of {T} time steps added",
    equal: "Σ of all {T} contributions = the engine's d{p}: largest difference {d}.",
    notYet: "{n} time steps still to add. Then the optimizer applies d{p} and the next training step begins.",
    first: "Training step {k}: forward pass done, loss {loss}. Press Step to add t = {T}.",
    heat: "Contribution sizes: time step × training step (log₁₀ ‖contribution‖)",
    heatAlt: "Heat map of contribution sizes over the whole run so far, one row per training step or group of steps, one column per time step",
    heatNote: "The whole run so far, the first training steps at the top, the step shown alone in the bottom row; one colour scale for the run. Grey: exactly zero; white: not added yet.",
    heatRows: "training steps 1–{b}",
    heatEvery: "training steps 1–{b}, a row above the last = {e} steps (their geometric mean)",
    loss: "Loss per training step",
    lossAlt: "Line chart of the loss over the training steps so far",
    lossX: "training step", lossY: "loss", lossNone: "No training step yet", lossOne: "Only training step 1 so far: the line grows as steps finish",
    task: "Task", T: "Length T", hidden: "Hidden size", optimizer: "Optimizer", lr: "Learning rate",
    steps: "Training steps", seed: "Seed", param: "Ledger of",
    downloadPNG: "Download PNG", downloadSVG: "SVG", json: "Frame data (JSON)", trace: "Step trace (JSON)",
    say: "Time step {t} added: contribution size {n}. {j} of {T}.",
    sayDone: "All {T} contributions added: the sum equals the engine's gradient, largest difference {d}.",
    sayState: { running: "Playing.", paused: "Paused.", done: "Done.", error: "The run stopped with an error.", diverged: "The run diverged." },
  },
  zh: {
    tasks: { "remember-first": "记住第一个符号", adding: "加法问题" },
    params: { weight_hh: "W_hh（隐藏 → 隐藏）", weight_ih: "W_ih（输入 → 隐藏）", bias: "偏置 b_ih 与 b_hh" },
    optimizers: { adam: "Adam", sgd: "SGD" },
    model: {
      "remember-first": "任务：读入一个符号（1–4），再读 {n} 个噪声词元，最后说出那个符号。模型：独热(5) → tanh RNN（{h} 个单元）→ 对最后的 h_T 做线性层 → 交叉熵。每个训练步 {b} 条序列。",
      adding: "任务：读入 {T} 对（数值，标记），最后输出两个带标记数值之和。模型：tanh RNN（{h} 个单元）→ 对最后的 h_T 做线性层 → 平方误差。每个训练步 {b} 条序列。",
    },
    header: "第 {k} / {S} 个训练步 · 损失 {loss}",
    acc: " · 准确率 {a}（随机猜测 25%）",
    chain: "展开的 RNN：反向传播从 t = {T} 回到 1",
    chainHint: "点击一个时间步（或按 [ 和 ]）查看它的贡献。",
    xLabel: "x_t",
    stepTitle: "t = {t}：贡献 {n}",
    notAdded: "t = {t}：尚未加入",
    curves: "沿序列的梯度大小（对数刻度）",
    hgrad: "‖∂L/∂h_t‖",
    cnorm: "‖t 的贡献‖",
    curvesAlt: "对数刻度图：损失对每个隐藏状态的梯度，以及每个时间步贡献的大小",
    contribution: "t = {t} 的贡献",
    contributionLatest: "t = {t} 的贡献（最近加入）",
    noContribution: "还没有加入任何贡献",
    zero: "恰好为零：第 1 步乘的是 h_0 = 0。",
    notYetInspect: "t = {t} 尚未加入",
    follow: "跟随最新一步",
    added: "加到",
    sum: "累加和 Σ（共享的 d{p}）",
    engine: "引擎算出的 d{p}（一次反向传播）",
    cols: { bias: ["b_ih", "b_hh"] },
    progress: "已加入 {j} / {T} 个时间步",
    equal: "全部 {T} 个贡献之和 Σ = 引擎的 d{p}：最大差 {d}。",
    notYet: "还有 {n} 个时间步未加入。之后优化器用 d{p} 更新参数，下一个训练步开始。",
    first: "第 {k} 个训练步：前向传播完成，损失 {loss}。按“单步”加入 t = {T}。",
    heat: "贡献大小：时间步 × 训练步（log₁₀ ‖贡献‖）",
    heatAlt: "到目前为止整个运行的贡献大小热图，每行一个训练步或一组训练步，每列一个时间步",
    heatNote: "到目前为止的整个运行：最早的训练步在最上面，当前显示的训练步单独占最下面一行；整个运行用同一个色标。灰色：恰好为零；白色：尚未加入。",
    heatRows: "训练步 1–{b}",
    heatEvery: "训练步 1–{b}，最后一行以上每行 = {e} 个训练步（取几何平均）",
    loss: "每个训练步的损失",
    lossAlt: "到目前为止各训练步损失的折线图",
    lossX: "训练步", lossY: "损失", lossNone: "还没有训练步", lossOne: "目前只有第 1 个训练步：训练步完成后曲线会延伸",
    task: "任务", T: "长度 T", hidden: "隐藏维数", optimizer: "优化器", lr: "学习率",
    steps: "训练步数", seed: "种子", param: "账本对象",
    downloadPNG: "下载 PNG", downloadSVG: "SVG", json: "帧数据（JSON）", trace: "单步追踪（JSON）",
    say: "加入时间步 {t}：贡献大小 {n}。{j} / {T}。",
    sayDone: "全部 {T} 个贡献已加入：总和等于引擎算出的梯度，最大差 {d}。",
    sayState: { running: "正在播放。", paused: "已暂停。", done: "完成。", error: "运行因错误而停止。", diverged: "运行发散了。" },
  },
};

// pname is the shown parameter's name in captions.
const pname = (p) => ({ weight_hh: "W_hh", weight_ih: "W_ih", bias: "b" })[p] ?? p;

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "bl");
  const { S, locale, nf } = kit;
  const sig = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3, signDisplay: "negative" });
  const pct = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 });
  const sup = (e) => String(e).replace("-", "⁻").replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
  const sci = (v) => {
    const e = Math.floor(Math.log10(Math.abs(v)));
    return `${sig.format(v / 10 ** e)}×10${sup(e)}`;
  };
  // Three significant digits, in scientific notation below 10⁻³.
  const g3 = (v) => (v !== 0 && Math.abs(v) < 1e-3 ? sci(v) : sig.format(v));

  let params = { ...initial };
  let statics = null;
  let frame = null;
  let heatVals = null;

  const model = el("p", "bl-model");
  const header = el("p", "bl-header");
  header.dataset.testid = "header";

  // ---- The chain and the curves below it ----
  const chainFig = el("figure", "bl-panel bl-chain-fig");
  const chainCap = el("figcaption");
  const chainBox = el("div", "bl-chain-box");
  const chain = el("div", "bl-chain");
  chain.dataset.testid = "chain";
  chain.setAttribute("role", "group");
  const curves = document.createElement("canvas");
  curves.className = "bl-curves";
  curves.dataset.testid = "curves";
  curves.setAttribute("role", "img");
  curves.setAttribute("aria-label", S.curvesAlt);
  const legend = el("p", "bl-legend");
  const hKey = el("span", "bl-key bl-key-h", S.hgrad);
  const cKey = el("span", "bl-key bl-key-c", S.cnorm);
  legend.append(hKey, cKey);
  chainBox.append(chain, curves);
  chainFig.append(chainCap, chainBox, legend, el("p", "bl-hint", S.chainHint));

  // ---- The ledger: the inspected contribution, the running Σ, dW ----
  function gridFig(testid) {
    const fig = el("figure", "bl-kfig");
    const cap = el("figcaption");
    const grid = el("div", "bl-grid");
    grid.setAttribute("role", "table");
    grid.dataset.testid = testid;
    fig.append(cap, grid);
    return { fig, cap, grid };
  }
  const contrib = gridFig("contribution");
  const followBtn = el("button", "bl-follow", S.follow);
  followBtn.type = "button";
  followBtn.dataset.testid = "follow";
  followBtn.addEventListener("click", () => inspect(0));
  const zeroNote = el("p", "bl-note", S.zero);
  zeroNote.hidden = true;
  contrib.fig.append(zeroNote, followBtn);
  const sum = gridFig("sum-grid");
  const engine = gridFig("engine-grid");
  const pair = el("div", "bl-pair");
  pair.append(sum.fig, engine.fig);
  const join = el("div", "bl-join");
  join.append(el("span", "bl-op", S.added), pair);
  const ledgerRow = el("div", "bl-flow");
  ledgerRow.append(contrib.fig, join);
  const progress = el("p", "bl-progress");
  progress.dataset.testid = "progress";
  const verdict = el("p", "bl-verdict");
  verdict.dataset.testid = "verdict";

  // ---- Heat map and loss ----
  function canvasFig(caption, alt, testid) {
    const fig = el("figure", "bl-panel");
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", alt);
    c.dataset.testid = testid;
    fig.append(el("figcaption", "", caption), c);
    return { fig, c };
  }
  const heatFig = canvasFig(S.heat, S.heatAlt, "heat-canvas");
  const heatScale = el("p", "bl-scale");
  heatFig.fig.append(heatScale, el("p", "bl-note", S.heatNote));
  const lossFig = canvasFig(S.loss, S.lossAlt, "loss-canvas");
  const lower = el("div", "bl-lower");
  lower.append(heatFig.fig, lossFig.fig);

  const settings = el("div", "bl-settings");
  const inputs = {};

  const voice = narrator("bl", 1500);
  const w = liveWidget(root, kit, {
    experiment: "bptt-ledger",
    prefix: "bl",
    params: () => params,
    player: { speed: reducedMotion.matches ? 2 : 8, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    ready(spec) {
      const cur = (name) => params[name] ?? field(spec, name).default;
      const choice = (name, names) => {
        const f = field(spec, name);
        const s = selectField({
          cls: "bl-field", text: S[name], values: f.choices, name: (v) => names[v] ?? v, current: cur(name),
          testid: name + "-select", onChange: (v) => setParams(name === "T" ? { [name]: v, inspect: 0 } : { [name]: v }),
        });
        s.label.title = f.desc;
        inputs[name] = s.input;
        settings.append(s.label);
      };
      const number = (name) => {
        const f = field(spec, name);
        const label = el("label", "bl-field bl-number");
        const input = fieldInput(f, () => cur(name), (v) => setParams(name === "T" ? { T: v, inspect: 0 } : { [name]: v }));
        input.dataset.testid = name + "-input";
        label.append(el("span", "", S[name]), input);
        inputs[name] = input;
        settings.append(label);
      };
      choice("param", S.params);
      choice("task", S.tasks);
      number("T");
      number("hidden");
      choice("optimizer", S.optimizers);
      number("lr");
      number("steps");
      number("seed");
    },
    frame(m) {
      if (m.static) {
        statics = m.static;
        syncSettings();
      }
      if (!statics) return;
      const prev = frame?.step;
      frame = m.data;
      try {
        heatVals = dequantize(frame.heat.log10);
      } catch (err) {
        w.showError(String(err));
        return;
      }
      draw();
      if (frame.step !== prev) narrate(false);
    },
    state(m, changed) {
      if (!changed) return;
      voice.say(S.sayState[m.state] ?? "");
      if (m.state !== "running" && m.state !== "working") setTimeout(() => narrate(true), 600);
    },
    error() {
      syncSettings();
    },
  });

  root.append(w.status, model, header, chainFig, w.controls, w.working, ledgerRow, progress, verdict, lower, settings, w.exports, w.errorBox, voice.el);

  // [ and ] move the inspected time step (while focus is in the widget).
  root.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || !frame) return;
    const t = ev.target;
    if (t instanceof Element && t.closest("input, textarea, select")) return;
    if (ev.key !== "[" && ev.key !== "]") return;
    ev.preventDefault();
    const T = statics.params.T;
    const from = params.inspect || frame.at || T;
    inspect(Math.min(T, Math.max(1, from + (ev.key === "]" ? 1 : -1))));
  });

  function setParams(change) {
    params = { ...params, ...change };
    w.send({ type: "set-params", params: change });
  }
  function inspect(t) {
    if (params.inspect === t) return;
    setParams({ inspect: t });
    draw(); // the choice shows at once; the matrix comes with the next frame
  }

  function syncSettings() {
    if (!statics) return;
    params = { ...statics.params };
    for (const [name, input] of Object.entries(inputs)) {
      if (document.activeElement !== input) input.value = String(statics.params[name]);
    }
  }

  // ---- Drawing ----
  function drawText() {
    const p = statics.params;
    model.textContent = fill(S.model[p.task], { n: p.T - 1, T: p.T, h: p.hidden, b: statics.batch });
    let h = fill(S.header, { k: nf.format(frame.trainStep), S: nf.format(p.steps), loss: sig.format(frame.loss) });
    if (frame.accuracy !== null && frame.accuracy !== undefined) h += fill(S.acc, { a: pct.format(frame.accuracy) });
    header.textContent = h;
    chainCap.textContent = fill(S.chain, { T: p.T });
  }

  // The chain: one button per time step, x_t on it; added steps solid, the
  // one added last ringed, the inspected one marked.
  function drawChain() {
    const p = statics.params, T = p.T;
    const key = `${T}/${p.task}`;
    if (chain.dataset.key !== key) {
      chain.dataset.key = key;
      chain.style.setProperty("--steps", String(T));
      chain.replaceChildren(...Array.from({ length: T }, (_, i) => {
        const b = el("button", "bl-step");
        b.type = "button";
        b.dataset.t = String(i + 1);
        b.append(el("span", "bl-t", String(i + 1)), el("span", "bl-x"));
        b.addEventListener("click", () => inspect(i + 1));
        return b;
      }));
    }
    const lo = T - frame.added + 1; // the first added time step
    const shown = frame.inspect?.t ?? (params.inspect || 0);
    [...chain.children].forEach((b, i) => {
      const t = i + 1;
      const added = t >= lo;
      b.classList.toggle("bl-added", added);
      b.classList.toggle("bl-current", t === frame.at);
      b.classList.toggle("bl-inspected", t === shown);
      b.setAttribute("aria-pressed", String(t === shown));
      const x = b.children[1];
      if (p.task === "adding") {
        const v = frame.input[2 * i], m = frame.input[2 * i + 1];
        x.textContent = m ? sig.format(v) : "·";
        x.classList.toggle("bl-marked", !!m);
      } else x.textContent = String(frame.input[i]);
      b.title = added ? fill(S.stepTitle, { t, n: g3(frame.norms[i]) }) : fill(S.notAdded, { t });
      b.dataset.norm = added ? String(frame.norms[i]) : "";
    });
  }

  // The curves share the chain's columns: column t's centre is step t.
  function drawCurves() {
    const T = statics.params.T;
    const W = Math.max(200, chainBox.clientWidth), H = 150;
    const g = sharpCanvas(curves, W, H);
    curves.style.height = H + "px";
    g.clearRect(0, 0, W, H);
    const left = chain.offsetLeft - chainBox.offsetLeft;
    const colW = chain.clientWidth / T;
    const xAt = (t) => left + (t - 0.5) * colW;
    const lo = T - frame.added + 1;
    const vals = [...frame.hiddenGrad, ...frame.norms.filter((_, i) => i + 1 >= lo)].filter((v) => v > 0);
    if (!vals.length) return;
    let top = Math.ceil(Math.log10(Math.max(...vals)));
    let bot = Math.floor(Math.log10(Math.min(...vals)));
    if (top === bot) bot = top - 1;
    const pad = 8;
    const yAt = (v) => pad + ((top - Math.log10(v)) / (top - bot)) * (H - 2 * pad);
    // Decade lines, labelled at the left inside the plot.
    g.font = "11px system-ui, sans-serif";
    g.textBaseline = "middle";
    const every = Math.max(1, Math.ceil((top - bot) / 5));
    for (let e = bot; e <= top; e++) {
      const y = yAt(10 ** e);
      g.strokeStyle = e % every === 0 ? "#ccc" : "#eee";
      g.lineWidth = 1;
      g.beginPath();
      g.moveTo(0, y);
      g.lineTo(W, y);
      g.stroke();
      if (e % every === 0) {
        g.fillStyle = "#555";
        g.fillText(`10${sup(e)}`, 2, y + (e === top ? 7 : e === bot ? -7 : 0));
      }
    }
    // Contribution sizes: bars (added steps only; an exact zero has none).
    const [r, gr, b] = [0xe6, 0x9f, 0x00]; // Okabe–Ito orange
    for (let t = lo; t <= T; t++) {
      const v = frame.norms[t - 1];
      if (!(v > 0)) continue;
      g.fillStyle = t === frame.at ? `rgb(${r} ${gr} ${b})` : `rgb(${r} ${gr} ${b} / 0.55)`;
      const bw = Math.max(2, colW * 0.5);
      g.fillRect(xAt(t) - bw / 2, yAt(v), bw, H - pad - yAt(v));
    }
    // ‖∂L/∂h_t‖: a line with dots (Okabe–Ito blue).
    g.strokeStyle = "#0072b2";
    g.fillStyle = "#0072b2";
    g.lineWidth = 2;
    g.beginPath();
    frame.hiddenGrad.forEach((v, i) => (i ? g.lineTo(xAt(i + 1), yAt(v)) : g.moveTo(xAt(i + 1), yAt(v))));
    g.stroke();
    frame.hiddenGrad.forEach((v, i) => {
      g.beginPath();
      g.arc(xAt(i + 1), yAt(v), 3, 0, 2 * Math.PI);
      g.fill();
    });
  }

  const blank = (n) => Array.from({ length: n }, () => ({ text: "·", rgb: [0xf7, 0xf7, 0xf7] }));

  function setCols(grid) {
    grid.style.setProperty("--cols", String(statics.cols));
  }

  function drawLedger() {
    const p = statics.params, T = p.T, n = statics.rows * statics.cols;
    const P = pname(p.param);
    for (const gr of [contrib.grid, sum.grid, engine.grid]) setCols(gr);
    sum.cap.textContent = fill(S.sum, { p: P });
    engine.cap.textContent = fill(S.engine, { p: P });
    const lim = Math.max(...frame.engine.map(Math.abs), ...frame.sum.map(Math.abs)) || 1;
    const ins = frame.inspect;
    if (ins) {
      contrib.cap.textContent = fill(ins.chosen ? S.contribution : S.contributionLatest, { t: ins.t });
      const cl = Math.max(...ins.contribution.map(Math.abs)) || 1;
      paintCells(contrib.grid, ins.contribution.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, cl) })), "bl");
      contrib.grid.dataset.t = String(ins.t);
      contrib.grid.dataset.norm = String(ins.norm);
      zeroNote.hidden = ins.norm !== 0;
    } else {
      contrib.cap.textContent = params.inspect ? fill(S.notYetInspect, { t: params.inspect }) : S.noContribution;
      paintCells(contrib.grid, blank(n), "bl");
      delete contrib.grid.dataset.t;
      delete contrib.grid.dataset.norm;
      zeroNote.hidden = true;
    }
    followBtn.hidden = !params.inspect;
    const fresh = frame.added > 0 && !reducedMotion.matches;
    const sumItems = frame.sum.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, lim) }));
    const engItems = frame.engine.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, lim) }));
    const chars = Math.max(5, longestText(sumItems), longestText(engItems));
    paintCells(sum.grid, sumItems, "bl", chars);
    paintCells(engine.grid, engItems, "bl", chars);
    if (fresh) {
      sum.grid.classList.remove("bl-pulse");
      void sum.grid.offsetWidth;
      sum.grid.classList.add("bl-pulse");
    }
    progress.textContent = fill(S.progress, { j: nf.format(frame.added), T: nf.format(T) });
    if (frame.maxDiff !== null && frame.maxDiff !== undefined) {
      const d = frame.maxDiff;
      verdict.textContent = fill(S.equal, { T: nf.format(T), p: P, d: d === 0 ? "0" : sci(d) });
      verdict.classList.add("bl-ok");
      root.dataset.maxDiff = String(d);
    } else {
      verdict.textContent = frame.added === 0
        ? fill(S.first, { k: nf.format(frame.trainStep), loss: sig.format(frame.loss), T })
        : fill(S.notYet, { n: nf.format(T - frame.added), p: P });
      verdict.classList.remove("bl-ok");
      delete root.dataset.maxDiff;
    }
  }

  // The heat map: the whole run so far, a row per training step or group
  // of steps (the shown step alone at the bottom), a column per time step,
  // viridis over whole decades fixed by every norm of the run so far.
  function drawHeat() {
    const T = statics.params.T, q = frame.heat.log10;
    const rows = q.shape[0];
    // 320 px wide whatever T, 6 px a row: at most 24 rows, 144 px.
    const cw = Math.max(4, Math.floor(320 / T)), ch = 6;
    const g = sharpCanvas(heatFig.c, T * cw, statics.window * ch);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, T * cw, statics.window * ch);
    const lo = q.min, hi = q.max, notYet = T - frame.added;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < T; c++) {
        const v = heatVals[r * T + c];
        if (Number.isNaN(v)) {
          if (r === rows - 1 && c < notYet) continue; // not added yet: white
          g.fillStyle = css(missing);
        } else g.fillStyle = css(viridisAt(v, lo, hi));
        g.fillRect(c * cw, r * ch, cw, ch);
      }
    }
    heatScale.replaceChildren(
      el("span", "", `10${sup(lo)}`),
      el("span", "bl-ramp"),
      el("span", "", `10${sup(hi)}`),
      el("span", "bl-rows", fill(frame.heat.every > 1 ? S.heatEvery : S.heatRows, { b: nf.format(frame.heat.steps), e: nf.format(frame.heat.every) })),
    );
  }

  // drawLoss draws the loss curve with labelled axes (13-px text, legible
  // on a phone); one point is drawn as a dot, none as a note.
  function drawLoss() {
    const ls = frame.losses || [];
    const W = 352, H = 200, fs = 13;
    const pad = { l: fs * 3.6, r: fs * 1.6, t: fs * 0.8, b: fs * 3 };
    const pw = W - pad.l - pad.r, ph = H - pad.t - pad.b;
    const g = sharpCanvas(lossFig.c, W, H);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, W, H);
    const total = Math.max(2, statics.params.steps);
    const every = frame.every || 1;
    const top = Math.max(...ls, 1e-9);
    const xAt = (i) => pad.l + ((i * every) / (total - 1)) * pw; // point i is training step i·every + 1
    const yAt = (v) => pad.t + ph - (v / top) * ph;
    g.strokeStyle = "#888";
    g.lineWidth = 1;
    g.strokeRect(pad.l, pad.t, pw, ph);
    g.fillStyle = "#333";
    g.font = `${fs}px system-ui, sans-serif`;
    g.textAlign = "right";
    g.textBaseline = "middle";
    g.fillText("0", pad.l - 4, pad.t + ph);
    if (ls.length) g.fillText(sig.format(top), pad.l - 4, pad.t + fs * 0.4);
    g.textAlign = "center";
    g.textBaseline = "top";
    g.fillText(nf.format(1), pad.l, pad.t + ph + 3);
    g.fillText(nf.format(total), pad.l + pw, pad.t + ph + 3);
    g.fillText(S.lossX, pad.l + pw / 2, pad.t + ph + fs * 1.5);
    g.save();
    g.translate(fs * 0.8, pad.t + ph / 2);
    g.rotate(-Math.PI / 2);
    g.textBaseline = "middle";
    g.fillText(S.lossY, 0, 0);
    g.restore();
    g.strokeStyle = g.fillStyle = "#0072b2";
    g.lineWidth = 2;
    if (ls.length === 1) {
      g.beginPath();
      g.arc(xAt(0), yAt(ls[0]), 3.5, 0, 2 * Math.PI);
      g.fill();
    } else if (ls.length > 1) {
      g.beginPath();
      ls.forEach((v, i) => (i ? g.lineTo(xAt(i), yAt(v)) : g.moveTo(xAt(i), yAt(v))));
      g.stroke();
    }
    if (ls.length < 2) {
      g.fillStyle = "#555";
      g.textAlign = "center";
      g.textBaseline = "middle";
      const note = ls.length ? S.lossOne : S.lossNone;
      // Two lines if the note is wider than the plot.
      const words = note.split(/(?<=[:：])\s*/);
      words.forEach((line, k) => g.fillText(line, pad.l + pw / 2, pad.t + ph / 2 + (k - (words.length - 1) / 2) * fs * 1.3));
    }
  }

  const paint = perFrame(() => {
    if (!statics || !frame) return;
    drawText();
    drawChain();
    drawCurves();
    drawLedger();
    drawHeat();
    drawLoss();
  });
  function draw() {
    if (statics && frame) paint();
  }
  new ResizeObserver(() => draw()).observe(chainBox);

  function narrate(force) {
    if (!frame || !frame.at || !voice.due(force || w.state !== "running")) return;
    const T = statics.params.T;
    voice.say(frame.maxDiff !== null && frame.maxDiff !== undefined
      ? fill(S.sayDone, { T, d: frame.maxDiff === 0 ? "0" : sci(frame.maxDiff) })
      : fill(S.say, { t: frame.at, n: g3(frame.norms[frame.at - 1]), j: frame.added, T }));
  }
}
