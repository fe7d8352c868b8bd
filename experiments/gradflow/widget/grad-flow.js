// grad-flow: a real RNN (the server's engine) whose W_hh starts with the
// largest singular value λ₁ the reader picks, trained live with SGD. Each
// step shows one backward pass: how much each time step added into the
// shared dW_hh, and ‖∂L/∂h_t‖ beside its bound (γλ₁)^(T−t)·‖∂L/∂h_T‖, with
// λ₁ against the 1/γ line. Every number comes from the server over /ws
// (this package's README); this module only draws.

import { dequantize } from "/static/widgets/quant.js";
import {
  el, fill, reducedMotion, begin, narrator, selectField, liveWidget, field, fieldInput, niceValues, perFrame,
} from "/static/widgets/ui.js";

// Okabe–Ito blue and vermillion with viz's dashes: the measured values
// solid, the bounds dashed, told apart without colour too.
const BLUE = "#0072b2";
const VERMILLION = "#d55e00";
const GREEN = "#009e73";

const strings = {
  en: {
    lambdaLine: "λ₁ of W_hh = {l}",
    rhoLine: "spectral radius ρ = {r} (ρ ≤ λ₁; a long product of W_hh grows like ρᵗ)",
    boundLine: "1/γ = {b} ({act}: γ = {g})",
    verdictBelow: "λ₁ < 1/γ: every step back multiplies ‖∂L/∂h‖ by at most γλ₁ = {r} < 1 — vanishing is certain.",
    verdictAbove: "λ₁ ≥ 1/γ: exploding is possible (not certain) — γλ₁ = {r}.",
    contribTitle: "Each time step's contribution to the shared dW_hh (log scale)",
    contribAxis: "‖contribution of step t‖",
    gradTitle: "‖∂L/∂h_t‖ (solid) and its bound (γλ₁)^(T−t)·‖∂L/∂h_T‖ (dashed)",
    gradAxis: "norm",
    tAxis: "time step t (the loss is read after t = {T})",
    step1: "step 1 adds 0: h_0 = 0",
    ratio: "Oldest contribution (t = 2, {d} steps before the loss) ÷ the last (t = {T}): {r}",
    ratioNone: "Oldest ÷ last contribution: —",
    loss: "Loss on this batch: {l}",
    chance: "(guessing: {c})",
    history: "As training goes",
    histLoss: "loss",
    histLambda: "λ₁ (solid), ρ (dotted), 1/γ (dashed)",
    histRatio: "oldest ÷ last (log₁₀)",
    stepAxis: "step",
    progress: "Training step {k} of {n} (SGD, one batch of {b} per step)",
    diverged: "The gradient exploded: the numbers are no longer finite.",
    lambda1: "λ₁ at the start", act: "Activation", T: "Sequence length T", hidden: "Hidden size", task: "Task", lr: "Learning rate", seed: "Seed",
    tasks: { "remember-first": "remember the first symbol", adding: "adding problem" },
    downloadPNG: "Download PNG", downloadSVG: "SVG", json: "Frame data (JSON)", trace: "Step trace (JSON)",
    contribAlt: "Bar chart on a log scale of each time step's contribution to dW_hh; last step {last}, oldest {first}.",
    gradAlt: "Line chart on a log scale of the gradient norm at each time step and its bound; at t = 1: {g}, bound {b}.",
    histAlt: "Small chart of the {what} over the training steps.",
    gaugeCap: "λ₁ (dot), ρ (ring), 1/γ (dashed); log scale",
    say: "Step {k}: λ₁ is {l}; the oldest contribution is {r} of the last.",
    sayState: { running: "Playing.", paused: "Paused.", done: "Done: the last training step.", error: "The run stopped with an error.", diverged: "The gradient exploded: the run stopped." },
  },
  zh: {
    lambdaLine: "W_hh 的 λ₁ = {l}",
    rhoLine: "谱半径 ρ = {r}（ρ ≤ λ₁；W_hh 的长乘积按 ρᵗ 增长）",
    boundLine: "1/γ = {b}（{act}：γ = {g}）",
    verdictBelow: "λ₁ < 1/γ：每往回一步，‖∂L/∂h‖ 至多乘以 γλ₁ = {r} < 1——梯度必然消失。",
    verdictAbove: "λ₁ ≥ 1/γ：梯度可能爆炸（但不一定）——γλ₁ = {r}。",
    contribTitle: "每个时间步对共享的 dW_hh 的贡献（对数坐标）",
    contribAxis: "‖第 t 步的贡献‖",
    gradTitle: "‖∂L/∂h_t‖（实线）及其上界 (γλ₁)^(T−t)·‖∂L/∂h_T‖（虚线）",
    gradAxis: "范数",
    tAxis: "时间步 t（损失在 t = {T} 之后计算）",
    step1: "第 1 步贡献为 0：h_0 = 0",
    ratio: "最早的贡献（t = 2，距损失 {d} 步）÷ 最后一步（t = {T}）的贡献：{r}",
    ratioNone: "最早 ÷ 最后的贡献：—",
    loss: "本批次的损失：{l}",
    chance: "（随机猜测：{c}）",
    history: "训练过程中",
    histLoss: "损失",
    histLambda: "λ₁（实线）、ρ（点线）、1/γ（虚线）",
    histRatio: "最早 ÷ 最后（log₁₀）",
    stepAxis: "步",
    progress: "第 {k} / {n} 个训练步（SGD，每步一个含 {b} 个序列的批次）",
    diverged: "梯度爆炸了：数值已不再是有限数。",
    lambda1: "开始时的 λ₁", act: "激活函数", T: "序列长度 T", hidden: "隐藏维数", task: "任务", lr: "学习率", seed: "种子",
    tasks: { "remember-first": "记住第一个符号", adding: "加法问题" },
    downloadPNG: "下载 PNG", downloadSVG: "SVG", json: "帧数据（JSON）", trace: "单步追踪（JSON）",
    contribAlt: "对数坐标的柱状图：每个时间步对 dW_hh 的贡献；最后一步 {last}，最早一步 {first}。",
    gradAlt: "对数坐标的折线图：每个时间步的梯度范数及其上界；t = 1 时为 {g}，上界 {b}。",
    histAlt: "训练过程中{what}的小图。",
    gaugeCap: "λ₁（圆点）、ρ（圆环）、1/γ（虚线）；对数刻度",
    say: "第 {k} 步：λ₁ 为 {l}；最早的贡献是最后一步的 {r}。",
    sayState: { running: "正在播放。", paused: "已暂停。", done: "完成：最后一个训练步。", error: "运行因错误而停止。", diverged: "梯度爆炸，运行已停止。" },
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "gf");
  const { S, locale, nf } = kit;
  const f3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
  // sci writes a positive number with 3 significant digits, as 1.23×10⁻⁸
  // once it is below 0.001 or above 10⁴ (the contributions span decades).
  const sup = (s) => s.replace(/[-0-9]/g, (c) => "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"["-0123456789".indexOf(c)]);
  const sci = (v) => {
    if (v == null || !Number.isFinite(v)) return "—";
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e-3 && a < 1e4) return f3.format(v);
    const e = Math.floor(Math.log10(a));
    let m = v / 10 ** e;
    if (Math.abs(Number(m.toPrecision(3))) >= 10) return sci(Number(v.toPrecision(3)));
    return `${f3.format(Number(m.toPrecision(3)))}×10${sup(String(e))}`;
  };

  let params = { ...initial };
  let statics = null;
  let frame = null;

  // ---- Layout ----
  const head = el("div", "gf-head");
  const lambdaLine = el("p", "gf-lambda");
  lambdaLine.dataset.testid = "lambda";
  const rhoLine = el("p", "gf-rho");
  rhoLine.dataset.testid = "rho";
  const boundLine = el("p", "gf-bound");
  boundLine.dataset.testid = "bound";
  const gauge = el("div", "gf-gauge");
  gauge.setAttribute("aria-hidden", "true");
  const gaugeBound = el("span", "gf-gauge-bound");
  const gaugeMark = el("span", "gf-gauge-mark");
  const gaugeRho = el("span", "gf-gauge-rho");
  gauge.append(gaugeBound, gaugeRho, gaugeMark);
  const verdict = el("p", "gf-verdict");
  verdict.dataset.testid = "verdict";
  // the gauge's ends: the λ₁ field's range, on a log scale
  const scale = el("p", "gf-scale");
  scale.setAttribute("aria-hidden", "true");
  scale.append(el("span", "", "0.05"), el("span", "", S.gaugeCap), el("span", "", "8"));
  head.append(lambdaLine, rhoLine, boundLine, gauge, scale, verdict);

  const chartFig = (title, testid) => {
    const fig = el("figure", "gf-panel");
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.dataset.testid = testid;
    fig.append(el("figcaption", "", title), c);
    return { fig, canvas: c };
  };
  const contribFig = chartFig(S.contribTitle, "contrib-chart");
  const gradFig = chartFig(S.gradTitle, "grad-chart");
  const numbers = el("div", "gf-numbers");
  const ratioLine = el("p", "gf-ratio");
  ratioLine.dataset.testid = "ratio";
  const lossLine = el("p", "gf-loss");
  lossLine.dataset.testid = "loss";
  const progress = el("p", "gf-progress");
  progress.dataset.testid = "progress";
  const divergedLine = el("p", "gf-diverged", S.diverged);
  divergedLine.hidden = true;
  numbers.append(ratioLine, lossLine, divergedLine);

  const histFig = el("figure", "gf-panel gf-history");
  const hists = el("div", "gf-hists");
  const mini = (label) => {
    const box = el("div", "gf-mini");
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", fill(S.histAlt, { what: label }));
    box.append(el("span", "gf-mini-cap", label), c);
    hists.append(box);
    return c;
  };
  const histLoss = mini(S.histLoss);
  const histLambda = mini(S.histLambda);
  const histRatio = mini(S.histRatio);
  histFig.append(el("figcaption", "", S.history), hists);

  const charts = el("div", "gf-charts");
  charts.append(contribFig.fig, gradFig.fig);
  const settings = el("div", "gf-settings");
  const inputs = {};

  const voice = narrator("gf", 1000);
  const w = liveWidget(root, kit, {
    experiment: "grad-flow",
    prefix: "gf",
    params: () => params,
    player: { speed: reducedMotion.matches ? 2 : 10, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    ready(spec) {
      const cur = (name) => params[name] ?? field(spec, name).default;
      inputs.lambda1 = logSlider(field(spec, "lambda1"), cur("lambda1"));
      inputs.T = intSlider(field(spec, "T"), cur("T"));
      const af = field(spec, "act");
      inputs.act = selectField({ cls: "gf-field", text: S.act, values: af.choices, name: String, current: cur("act"), testid: "act", onChange: (v) => setParams({ act: v }) });
      inputs.act.label.title = af.desc;
      const hf = field(spec, "hidden");
      inputs.hidden = selectField({ cls: "gf-field", text: S.hidden, values: niceValues(hf, { powersOf2: true }), name: String, current: cur("hidden"), testid: "hidden", onChange: (v) => setParams({ hidden: Number(v) }) });
      inputs.hidden.label.title = hf.desc;
      const tf = field(spec, "task");
      inputs.task = selectField({ cls: "gf-field", text: S.task, values: tf.choices, name: (v) => S.tasks[v] ?? v, current: cur("task"), testid: "task", onChange: (v) => setParams({ task: v }) });
      inputs.task.label.title = tf.desc;
      const lf = field(spec, "lr");
      inputs.lr = selectField({ cls: "gf-field", text: S.lr, values: [0, ...niceValues(lf).filter((v) => v > 0)], name: (v) => nf.format(v), current: cur("lr"), testid: "lr", onChange: (v) => setParams({ lr: Number(v) }) });
      inputs.lr.label.title = lf.desc;
      const sf = field(spec, "seed");
      const seedLabel = el("label", "gf-field");
      inputs.seed = fieldInput(sf, () => cur("seed"), (v) => setParams({ seed: v }));
      inputs.seed.dataset.testid = "seed";
      seedLabel.append(el("span", "", S.seed), inputs.seed);
      settings.append(inputs.lambda1.label, inputs.act.label, inputs.T.label, inputs.hidden.label, inputs.task.label, inputs.lr.label, seedLabel);
    },
    frame(m) {
      if (m.static) statics = m.static;
      if (!statics) return;
      const prev = frame?.step;
      frame = m.data;
      syncSettings();
      draw();
      if (frame.step !== prev) narrate(false);
    },
    state(m, changed) {
      if (!changed) return;
      voice.say(S.sayState[m.state] ?? "");
      if (m.state === "paused") setTimeout(() => narrate(true), 600);
    },
    error() {
      syncSettings();
    },
  });

  root.append(w.status, w.working, head, w.controls, settings, progress, charts, numbers, histFig, w.exports, w.downloads, w.errorBox, voice.el);

  // ---- Controls ----

  // A slider sends at most every 120 ms, always its final value.
  function throttled(send) {
    let last = 0;
    let pending = 0;
    return (v) => {
      clearTimeout(pending);
      const go = () => {
        last = performance.now();
        send(v);
      };
      const wait = 120 - (performance.now() - last);
      if (wait <= 0) go();
      else pending = setTimeout(go, wait);
    };
  }

  // logSlider is λ₁'s slider: 200 positions evenly spaced in log λ₁, each
  // value rounded to 2 significant digits (3 below 1), so 1 and 4 (the
  // two 1/γ) are reachable exactly.
  function logSlider(f, current) {
    const N = 200;
    const lo = Math.log(f.min), hi = Math.log(f.max);
    const round = (v) => Math.min(f.max, Math.max(f.min, Number(v.toPrecision(2))));
    const valueAt = (i) => round(Math.exp(lo + ((hi - lo) * i) / N));
    const posOf = (v) => Math.round(((Math.log(v) - lo) / (hi - lo)) * N);
    const label = el("label", "gf-field gf-slider");
    label.title = f.desc;
    const shown = el("output", "gf-value");
    shown.dataset.testid = "value-lambda1";
    const input = document.createElement("input");
    input.type = "range";
    input.min = "0";
    input.max = String(N);
    input.dataset.testid = "slider-lambda1";
    const show = (v) => {
      shown.textContent = f3.format(v);
      input.setAttribute("aria-valuetext", shown.textContent);
    };
    const send = throttled((v) => setParams({ lambda1: v }));
    input.addEventListener("input", () => {
      let v = valueAt(Number(input.value));
      // snap to the nearest 1/γ so the boundary itself can be chosen
      for (const b of [1, 4]) if (Math.abs(posOf(b) - Number(input.value)) < 1) v = b;
      show(v);
      send(v);
    });
    label.append(el("span", "", S.lambda1), shown, input);
    const set = (v) => {
      input.value = String(posOf(v));
      show(v);
    };
    set(current);
    return { label, input, set };
  }

  function intSlider(f, current) {
    const label = el("label", "gf-field gf-slider");
    label.title = f.desc;
    const shown = el("output", "gf-value");
    shown.dataset.testid = "value-T";
    const input = document.createElement("input");
    input.type = "range";
    input.min = String(f.min);
    input.max = String(f.max);
    input.dataset.testid = "slider-T";
    const show = (v) => {
      shown.textContent = nf.format(v);
      input.setAttribute("aria-valuetext", shown.textContent);
    };
    const send = throttled((v) => setParams({ T: v }));
    input.addEventListener("input", () => {
      const v = Number(input.value);
      show(v);
      send(v);
    });
    label.append(el("span", "", S.T), shown, input);
    const set = (v) => {
      input.value = String(v);
      show(v);
    };
    set(current);
    return { label, input, set };
  }

  function setParams(change) {
    params = { ...params, ...change };
    w.send({ type: "set-params", params: change });
  }

  function syncSettings() {
    if (!statics || !frame) return;
    const p = statics.params;
    params = { ...params, ...p };
    if (!inputs.lambda1) return;
    if (document.activeElement !== inputs.lambda1.input) inputs.lambda1.set(p.lambda1);
    if (document.activeElement !== inputs.T.input) inputs.T.set(p.T);
    inputs.act.input.value = p.act;
    inputs.hidden.input.value = String(p.hidden);
    inputs.task.input.value = p.task;
    inputs.lr.input.value = String(p.lr);
    if (document.activeElement !== inputs.seed) inputs.seed.value = String(p.seed);
  }

  // ---- Drawing ----

  function sizeChart(c, ratio) {
    const wd = Math.max(240, Math.round(c.clientWidth || 420));
    const h = Math.round(wd * ratio);
    const dpr = Math.min(2, window.devicePixelRatio || 1);
    if (c.width !== Math.round(wd * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(wd * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, wd, h);
    return { g, w: wd, h };
  }

  const dark = () => matchMedia("(prefers-color-scheme: dark)").matches;

  // logRange returns whole decades [lo, hi] around the positive finite
  // values of the lists.
  function logRange(...lists) {
    let lo = Infinity, hi = -Infinity;
    for (const l of lists) for (const v of l) if (v > 0 && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    if (lo > hi) return [-1, 1];
    let a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    if (b - a < 2) a = b - 2;
    return [a, b];
  }

  // chart draws axes and the series on canvas c: x from x0 to x1, y on a
  // log scale over decades [ylo, yhi] (log) or linear [ylo, yhi].
  // series: [{xs, ys, color, dash, width, bars, markers}]; hline: {y, color, dash}.
  function chart(c, { x0, x1, ylo, yhi, log, xLabel, yLabel, series, hlines = [], ratio = 0.5, small = false, xTicks }) {
    const { g, w: W, h: H } = sizeChart(c, ratio);
    const fs = small ? Math.max(10, Math.min(12, W / 24)) : Math.max(11, Math.min(14, W / 38));
    const pad = { l: fs * (log ? 4.2 : 3.4), r: 10, t: 8, b: xLabel ? fs * 3 : fs * 1.8 };
    const pw = W - pad.l - pad.r, ph = H - pad.t - pad.b;
    const X = (x) => pad.l + ((x - x0) / (x1 - x0 || 1)) * pw;
    const Yv = (y) => (log ? Math.log10(y) : y);
    const Y = (y) => pad.t + (1 - (Yv(y) - ylo) / (yhi - ylo || 1)) * ph;
    const ink = dark() ? "#ddd" : "#333";
    g.font = `${fs}px system-ui, sans-serif`;
    g.fillStyle = ink;
    g.strokeStyle = dark() ? "#555" : "#ddd";
    g.lineWidth = 1;
    g.setLineDash([]);
    g.textAlign = "right";
    g.textBaseline = "middle";
    const yt = [];
    if (log) {
      const every = Math.max(1, Math.ceil((yhi - ylo) / (small ? 3 : 6)));
      for (let e = ylo; e <= yhi; e += every) yt.push(e);
    } else {
      const span = yhi - ylo || 1;
      const raw = span / (small ? 2 : 4);
      const mag = 10 ** Math.floor(Math.log10(raw));
      const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) || mag * 10;
      for (let v = Math.ceil(ylo / step) * step; v <= yhi + 1e-9; v += step) yt.push(Number(v.toPrecision(6)));
    }
    for (const t of yt) {
      const py = pad.t + (1 - (t - ylo) / (yhi - ylo || 1)) * ph;
      g.beginPath();
      g.moveTo(pad.l, py);
      g.lineTo(pad.l + pw, py);
      g.stroke();
      g.fillText(log ? `10${sup(String(t))}` : f3.format(t), pad.l - 4, py);
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    for (const t of xTicks ?? [x0, x1]) g.fillText(nf.format(t), X(t), pad.t + ph + 4);
    if (xLabel) g.fillText(xLabel, pad.l + pw / 2, pad.t + ph + fs * 1.5);
    if (yLabel) {
      g.save();
      g.translate(fs * 0.7, pad.t + ph / 2);
      g.rotate(-Math.PI / 2);
      g.textBaseline = "middle";
      g.fillText(yLabel, 0, 0);
      g.restore();
    }
    g.strokeStyle = ink;
    g.strokeRect(pad.l, pad.t, pw, ph);
    g.save();
    g.beginPath();
    g.rect(pad.l, pad.t, pw, ph);
    g.clip();
    const clampY = (y) => Math.min(pad.t + ph + 2, Math.max(pad.t - 2, Y(y)));
    for (const s of series) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = s.width ?? 2;
      g.setLineDash(s.dash ?? []);
      if (s.bars) {
        const bw = Math.max(1, (pw / (x1 - x0 + 1)) * 0.7);
        for (let i = 0; i < s.xs.length; i++) {
          const y = s.ys[i];
          if (!(y > 0) || !Number.isFinite(y)) continue;
          const top = clampY(y);
          g.fillRect(X(s.xs[i]) - bw / 2, top, bw, pad.t + ph - top);
        }
        continue;
      }
      g.beginPath();
      let pen = false;
      for (let i = 0; i < s.xs.length; i++) {
        const y = s.ys[i];
        if (y == null || !Number.isFinite(y) || (log && !(y > 0))) {
          pen = false;
          continue;
        }
        if (pen) g.lineTo(X(s.xs[i]), clampY(y));
        else g.moveTo(X(s.xs[i]), clampY(y));
        pen = true;
      }
      g.stroke();
      if (s.markers) {
        g.setLineDash([]);
        for (let i = 0; i < s.xs.length; i++) {
          const y = s.ys[i];
          if (y == null || !Number.isFinite(y) || (log && !(y > 0))) continue;
          g.beginPath();
          g.arc(X(s.xs[i]), clampY(y), 2.6, 0, 2 * Math.PI);
          g.fill();
        }
      }
    }
    for (const l of hlines) {
      g.strokeStyle = l.color;
      g.lineWidth = 2;
      g.setLineDash(l.dash ?? [6, 4]);
      g.beginPath();
      g.moveTo(pad.l, Y(l.y));
      g.lineTo(pad.l + pw, Y(l.y));
      g.stroke();
    }
    g.restore();
    return { X, Y, pad, pw, ph, g, fs };
  }

  const ticksT = (T) => [1, ...[10, 20, 30, 40, 50, 60, 70, 80, 90, 100].filter((t) => t < T - 3), T];

  function drawCharts() {
    const T = statics.params.T;
    const ts = Array.from({ length: T }, (_, i) => i + 1);
    const contrib = frame.contrib ?? [];
    const [clo, chi] = logRange(contrib);
    const tl = fill(S.tAxis, { T: nf.format(T) });
    const cc = chart(contribFig.canvas, {
      x0: 0.5, x1: T + 0.5, ylo: clo, yhi: chi, log: true, xLabel: tl, yLabel: S.contribAxis,
      series: [{ xs: ts, ys: contrib, color: BLUE, bars: true }], xTicks: ticksT(T),
    });
    // step 1 contributes nothing: say so where its bar would be
    cc.g.fillStyle = dark() ? "#bbb" : "#555";
    cc.g.textAlign = "left";
    cc.g.textBaseline = "top";
    cc.g.font = `${Math.round(cc.fs * 0.85)}px system-ui, sans-serif`;
    cc.g.fillText(S.step1, cc.pad.l + 4, cc.pad.t + 4);
    contribFig.canvas.setAttribute("aria-label", fill(S.contribAlt, { last: sci(contrib[T - 1]), first: sci(contrib[1]) }));
    contribFig.canvas.dataset.values = JSON.stringify(contrib);

    const hg = frame.hgrad ?? [], hb = frame.hbound ?? [];
    // the whole bound is drawn: above 1/γ it rises far above the measured line
    const [glo, ghi] = logRange(hg, hb, hg.length ? [hg[hg.length - 1] * 10] : []);
    chart(gradFig.canvas, {
      x0: 1, x1: T, ylo: glo, yhi: Math.max(ghi, glo + 1), log: true, xLabel: tl, yLabel: S.gradAxis, xTicks: ticksT(T),
      series: [
        { xs: ts, ys: hb, color: VERMILLION, dash: [7, 4], width: 2 },
        { xs: ts, ys: hg, color: BLUE, width: 2.5, markers: T <= 40 },
      ],
    });
    gradFig.canvas.setAttribute("aria-label", fill(S.gradAlt, { g: sci(hg[0]), b: sci(hb[0]) }));
    gradFig.canvas.dataset.values = JSON.stringify(hg);

    const h = frame.history;
    const k = frame.step;
    const total = statics.total;
    const steps = (q) => Array.from({ length: q.length }, (_, i) => i);
    const dq = (q) => Array.from(q && q.shape[0] > 0 ? dequantize(q) : []);
    const loss = dq(h.loss), lam = dq(h.lambda), rho = dq(h.rho), lr = dq(h.logRatio);
    const range = (ys, extra = []) => {
      const v = [...ys, ...extra].filter(Number.isFinite);
      if (!v.length) return [0, 1];
      let a = Math.min(...v), b = Math.max(...v);
      if (b - a < 1e-9) {
        a -= 0.5;
        b += 0.5;
      }
      return [a, b];
    };
    const mini = (c, ys, color, extra, hl, more = []) => {
      const [a, b] = range(ys, extra);
      const pad = (b - a) * 0.08;
      chart(c, {
        x0: 0, x1: Math.max(total, 1), ylo: a - pad, yhi: b + pad, log: false, ratio: (c.clientWidth || 300) > 300 ? 0.33 : 0.55, small: true,
        series: [...more.map((m) => ({ xs: steps(m.ys), ys: m.ys, color: m.color, dash: [2, 3], width: 2, markers: m.ys.length < 3 })), { xs: steps(ys), ys, color, width: 2, markers: ys.length < 3 }], hlines: hl, xTicks: [0, k, total].filter((v, i, arr) => arr.indexOf(v) === i && (i !== 1 || (k > total * 0.12 && k < total * 0.88))),
      });
    };
    mini(histLoss, loss, BLUE, [], []);
    mini(histLambda, lam, GREEN, [statics.bound, ...rho], [{ y: statics.bound, color: VERMILLION }], [{ ys: rho, color: BLUE }]);
    mini(histRatio, lr, BLUE, [], []);
  }

  function drawText() {
    const p = statics.params;
    const l = frame.lambda;
    lambdaLine.textContent = fill(S.lambdaLine, { l: l == null ? "—" : f3.format(l) });
    lambdaLine.dataset.value = String(l);
    const rho = frame.rho;
    rhoLine.textContent = fill(S.rhoLine, { r: rho == null ? "—" : f3.format(rho) });
    rhoLine.dataset.value = String(rho);
    boundLine.textContent = fill(S.boundLine, { b: nf.format(statics.bound), act: p.act, g: nf.format(statics.gamma) });
    boundLine.dataset.value = String(statics.bound);
    const r = l == null ? NaN : statics.gamma * l;
    verdict.textContent = fill(r < 1 ? S.verdictBelow : S.verdictAbove, { r: f3.format(r) });
    verdict.classList.toggle("gf-below", r < 1);
    // gauge: log scale from 0.05 to 8 (the field's range)
    const pos = (v) => `${(100 * (Math.log(v) - Math.log(0.05))) / (Math.log(8) - Math.log(0.05))}%`;
    gaugeBound.style.left = pos(statics.bound);
    if (l != null) gaugeMark.style.left = pos(Math.min(8, Math.max(0.05, l)));
    gaugeRho.hidden = rho == null || !(rho > 0);
    if (!gaugeRho.hidden) gaugeRho.style.left = pos(Math.min(8, Math.max(0.05, rho)));
    const T = p.T;
    if (frame.ratio != null) {
      ratioLine.textContent = fill(S.ratio, { d: nf.format(T - 2), T: nf.format(T), r: sci(frame.ratio) });
      ratioLine.dataset.value = String(frame.ratio);
    } else {
      ratioLine.textContent = S.ratioNone;
      delete ratioLine.dataset.value;
    }
    const chance = p.task === "adding" ? "≈ 0.167" : f3.format(Math.log(7));
    lossLine.textContent = `${fill(S.loss, { l: frame.loss == null ? "—" : f3.format(frame.loss) })} ${fill(S.chance, { c: chance })}`;
    lossLine.dataset.value = String(frame.loss);
    divergedLine.hidden = !frame.diverged;
    progress.textContent = fill(S.progress, { k: nf.format(frame.step), n: nf.format(statics.total), b: nf.format(statics.batch) });
  }

  function narrate(force) {
    if (!frame || !voice.due(force || w.state !== "running")) return;
    voice.say(fill(S.say, { k: frame.step, l: frame.lambda == null ? "—" : f3.format(frame.lambda), r: sci(frame.ratio) }));
  }

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    drawText();
    drawCharts();
  });
  addEventListener("resize", draw);
}
