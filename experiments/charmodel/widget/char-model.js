// char-model: one recurrent cell (RNN, LSTM or GRU: the server's engine)
// trained live on the course's text to predict the next character. The
// widget draws the loss curves, a sample drawn at the chosen temperature,
// and the reach: one prediction's backward pass, each of the last 50
// characters' piece of the one shared W_hh's gradient (or ‖∂L/∂h_t‖),
// drawn over those characters. Every number comes from the server over
// /ws; this module only draws.

import { viridisAt, css, textOn } from "/static/widgets/palette.js";
import {
  el, fill, plural, reducedMotion, begin, narrator, selectField, sharpCanvas, perFrame,
  liveWidget, field, niceValues, intInput, viewSetting,
} from "/static/widgets/ui.js";

// Okabe–Ito, as the exported figure: training blue, held-out vermillion
// dashed, the uniform guess black dotted.
const STYLE = {
  train: { color: "#0072b2", dash: [] },
  held: { color: "#d55e00", dash: [7, 4] },
  uniform: { color: "#000000", dash: [2, 4] },
};
// The reach's colour scale: log10 of a piece relative to the largest,
// from 10^−LOGSPAN (dark) to 1 (yellow).
const LOGSPAN = 4;

const strings = {
  en: {
    head: "One {cell} cell of {cellWeights} weights reads every character; with the output layer the model has {weights} parameters.",
    lossTitle: "Loss (nats per character)",
    train: "training batch",
    held: "held-out text ({n} characters, never trained on)",
    uniform: "guessing uniformly: ln {v} = {u}",
    lossNow: "Step {step}: training loss {train}, held-out loss {held} (at step {heldStep}).",
    lossStart: "Step 0: nothing trained yet; held-out loss {held}, about ln {v} = {u}.",
    stepAxis: "step",
    sampleTitle: "A sample",
    sampleCap: "Drawn by the model of step {step} at temperature {tau} (a new sample every {every} steps; the prompt is bold).",
    temperature: "Temperature τ",
    tauNote: "Low τ: the likeliest characters, repetitive. τ = 1: the model's own probabilities. High τ: closer to uniform noise. Changing τ re-draws the sample; it does not retrain.",
    reachTitle: "How far back one prediction reaches",
    reachCap: "The model reads the 50 held-out characters below and predicts the next one, “{next}”. One backward pass of that prediction's loss alone: every character's step adds its piece into the one W_hh gradient.",
    measure: "Show",
    measures: { pieces: "each step's piece of dW_hh", hgrad: "‖∂L/∂h_t‖ at each step" },
    reachNow: "This prediction reaches {far} characters back: the farthest piece of dW_hh at least 1% of the largest.",
    predicted: "p(“{next}”) = {p} (loss {loss}); likeliest next: {top}.",
    sumLine: "‖Σ of the 50 pieces‖ = {sum}; the engine's ‖dW_hh‖ = {whh}.",
    scaleLow: "10⁻⁴ of the largest or less",
    scaleHigh: "the largest",
    cellInfo: { one: "{back} character back: “{c}” — piece of dW_hh {piece} ({pct} of the largest) · ‖∂L/∂h_t‖ {hg}", other: "{back} characters back: “{c}” — piece of dW_hh {piece} ({pct} of the largest) · ‖∂L/∂h_t‖ {hg}" },
    cellHint: "Tap or hover over a character, or focus it (arrow keys move), to read its numbers.",
    next: "next",
    cell: "Cell", hidden: "Hidden size", seqLen: "Window (characters)", lr: "Learning rate (Adam)", seed: "Seed",
    cells: { rnn: "RNN (tanh)", lstm: "LSTM", gru: "GRU" },
    downloadPNG: "Download PNG", downloadSVG: "SVG", json: "Frame data (JSON)", trace: "Step trace (JSON)",
    exportsNote: "(the server re-trains to this step first)",
    say: "Step {step}: training loss {train}, reach {far} characters back.",
    sayState: { running: "Training.", paused: "Paused.", done: "Done: 600 steps trained.", error: "The run stopped with an error.", diverged: "The run diverged: lower the learning rate." },
    chartAlt: "Loss curves: training batches and held-out text against steps, with the uniform-guess line",
    stripAlt: "The 50 characters the prediction reads, each coloured by its step's contribution",
  },
  zh: {
    head: "一个 {cell} 单元（{cellWeights} 个权重）读入每一个字符；加上输出层，模型共有 {weights} 个参数。",
    lossTitle: "损失（每字符，nat）",
    train: "训练批次",
    held: "留出文本（{n} 个字符，从不用于训练）",
    uniform: "均匀猜测：ln {v} = {u}",
    lossNow: "第 {step} 步：训练损失 {train}，留出损失 {held}（第 {heldStep} 步）。",
    lossStart: "第 0 步：还没有训练；留出损失 {held}，约等于 ln {v} = {u}。",
    stepAxis: "步",
    sampleTitle: "采样",
    sampleCap: "由第 {step} 步的模型在温度 {tau} 下抽取（每 {every} 步重新采样；粗体为提示）。",
    temperature: "温度 τ",
    tauNote: "τ 低：总选最可能的字符，容易重复。τ = 1：模型自己的概率。τ 高：更接近均匀的噪声。改变 τ 只会重新采样，不会重新训练。",
    reachTitle: "一次预测能回溯多远",
    reachCap: "模型读入下面 50 个留出字符，预测下一个字符“{next}”。只对这一次预测的损失做一次反向传播：每个字符所在的时间步都把自己的一份加进同一个 W_hh 的梯度。",
    measure: "显示",
    measures: { pieces: "每一步对 dW_hh 的贡献", hgrad: "每一步的 ‖∂L/∂h_t‖" },
    reachNow: "这次预测能回溯 {far} 个字符：最远的、至少达到最大贡献 1% 的那一份 dW_hh。",
    predicted: "p(“{next}”) = {p}（损失 {loss}）；最可能的下一个字符：{top}。",
    sumLine: "50 份贡献之和的范数 ‖Σ‖ = {sum}；引擎的 ‖dW_hh‖ = {whh}。",
    scaleLow: "最大值的 10⁻⁴ 或更小",
    scaleHigh: "最大值",
    cellInfo: "往回 {back} 个字符：“{c}” — 对 dW_hh 的贡献 {piece}（最大值的 {pct}）· ‖∂L/∂h_t‖ {hg}",
    cellHint: "点按字符或把鼠标移到字符上，或让它获得焦点（方向键可移动），即可看到数值。",
    next: "下一个",
    cell: "单元", hidden: "隐藏维数", seqLen: "窗口（字符数）", lr: "学习率（Adam）", seed: "种子",
    cells: { rnn: "RNN（tanh）", lstm: "LSTM", gru: "GRU" },
    downloadPNG: "下载 PNG", downloadSVG: "SVG", json: "帧数据（JSON）", trace: "单步追踪（JSON）",
    exportsNote: "（服务器会先重新训练到这一步）",
    say: "第 {step} 步：训练损失 {train}，回溯 {far} 个字符。",
    sayState: { running: "正在训练。", paused: "已暂停。", done: "完成：已训练 600 步。", error: "运行因错误而停止。", diverged: "训练发散了：请降低学习率。" },
    chartAlt: "损失曲线：训练批次和留出文本的损失随步数变化，以及均匀猜测的水平线",
    stripAlt: "预测所读的 50 个字符，按各自时间步的贡献着色",
  },
};

// shownChar is a character as a cell shows it: a space as ␣, a line break as ↵.
function shownChar(c) {
  return c === " " ? "␣" : c === "\n" ? "↵" : c;
}

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "cm");
  const { L, S, locale, nf } = kit;
  const num = (d) => new Intl.NumberFormat(locale, { minimumFractionDigits: d, maximumFractionDigits: d });
  const f3 = num(3), f2 = num(2);
  const sci = new Intl.NumberFormat(locale, { notation: "scientific", maximumFractionDigits: 2 });
  const pct = new Intl.NumberFormat(locale, { style: "percent", maximumSignificantDigits: 2 });
  const small = (v) => (v !== 0 && (Math.abs(v) < 0.01 || Math.abs(v) >= 1e4) ? sci.format(v) : f3.format(v));

  let params = { ...initial };
  let statics = null;
  let frame = null;
  // Which measure the reach strip shows: a view setting, kept in the
  // page's address beside the run's parameters (w1.measure=hgrad).
  const measureSetting = viewSetting(root, "measure", ["pieces", "hgrad"], "pieces");
  let measure = measureSetting.value;
  let focusIdx = -1; // the strip cell whose numbers the detail line shows

  // ---- Layout ----
  const head = el("p", "cm-head");
  head.dataset.testid = "head";

  const lossFig = el("figure", "cm-panel cm-loss");
  const lossCanvas = document.createElement("canvas");
  lossCanvas.className = "cm-chart";
  lossCanvas.setAttribute("role", "img");
  lossCanvas.setAttribute("aria-label", S.chartAlt);
  const legend = el("ul", "cm-legend");
  const lossNow = el("p", "cm-now");
  lossNow.dataset.testid = "loss-now";
  lossFig.append(el("figcaption", "", S.lossTitle), lossCanvas, legend, lossNow);

  const sampleFig = el("figure", "cm-panel cm-sample-panel");
  const sampleBox = el("p", "cm-sample");
  sampleBox.dataset.testid = "sample";
  sampleBox.lang = "en"; // the corpus is English on both pages
  const sampleCap = el("p", "cm-cap");
  sampleCap.dataset.testid = "sample-caption";
  const tauField = el("label", "cm-tau");
  const tauShown = el("output", "cm-tau-value");
  tauShown.dataset.testid = "value-temperature";
  const tauSlider = document.createElement("input");
  tauSlider.type = "range";
  tauSlider.dataset.testid = "slider-temperature";
  tauField.append(el("span", "", S.temperature), tauShown, tauSlider);
  sampleFig.append(el("figcaption", "", S.sampleTitle), sampleBox, sampleCap, tauField, el("p", "cm-cap", S.tauNote));

  const reachFig = el("figure", "cm-panel cm-reach");
  reachFig.dataset.testid = "reach";
  const reachCap = el("p", "cm-cap");
  const measureSel = selectField({
    cls: "cm-field cm-measure", text: S.measure, values: ["pieces", "hgrad"], name: (m) => S.measures[m], current: measure, testid: "measure",
    onChange: (m) => {
      measure = m;
      measureSetting.set(m);
      draw();
    },
  });
  const strip = el("div", "cm-strip");
  strip.setAttribute("role", "group");
  strip.setAttribute("aria-label", S.stripAlt);
  strip.dataset.testid = "strip";
  const scale = el("div", "cm-scale");
  const detail = el("p", "cm-detail", S.cellHint);
  detail.dataset.testid = "reach-detail";
  const reachNow = el("p", "cm-now");
  reachNow.dataset.testid = "reach-now";
  const predicted = el("p", "cm-cap");
  predicted.dataset.testid = "predicted";
  const sumLine = el("p", "cm-cap");
  sumLine.dataset.testid = "sum-line";
  reachFig.append(el("figcaption", "", S.reachTitle), reachCap, measureSel.label, strip, scale, detail, reachNow, predicted, sumLine);

  const panels = el("div", "cm-panels");
  panels.append(lossFig, sampleFig);
  const settings = el("div", "cm-settings");
  const inputs = {};

  const voice = narrator("cm", 1500);
  const w = liveWidget(root, kit, {
    experiment: "char-model",
    prefix: "cm",
    params: () => params,
    player: { speed: reducedMotion.matches ? 5 : 20, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    exportsNote: S.exportsNote,
    ready(spec) {
      const cur = (name) => params[name] ?? field(spec, name).default;
      const choice = (name, values, label) => {
        const f = field(spec, name);
        const s = selectField({
          cls: "cm-field", text: label, values, name: (v) => (name === "cell" ? S.cells[v] : name === "lr" ? String(v) : nf.format(v)),
          current: cur(name), testid: name, onChange: (v) => setParams({ [name]: name === "cell" ? v : Number(v) }),
        });
        s.label.title = f.desc;
        inputs[name] = s.input;
        settings.append(s.label);
      };
      choice("cell", field(spec, "cell").choices, S.cell);
      choice("hidden", niceValues(field(spec, "hidden"), { powersOf2: true }), S.hidden);
      choice("seqLen", niceValues(field(spec, "seqLen"), { powersOf2: true }), S.seqLen);
      choice("lr", niceValues(field(spec, "lr")), S.lr);
      const sf = field(spec, "seed");
      const seedLabel = el("label", "cm-field");
      seedLabel.title = sf.desc;
      const seed = intInput(sf.min, sf.max, () => cur("seed"), (v) => setParams({ seed: v }));
      seed.dataset.testid = "seed";
      inputs.seed = seed;
      seedLabel.append(el("span", "", S.seed), seed);
      settings.append(seedLabel);
      const tf = field(spec, "temperature");
      tauSlider.min = String(tf.min);
      tauSlider.max = String(tf.max);
      tauSlider.step = "0.05";
      tauSlider.title = tf.desc;
      tauSlider.value = String(cur("temperature"));
      showTau(cur("temperature"));
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

  root.append(w.status, head, w.controls, w.working, panels, reachFig, settings, w.exports, w.downloads, w.errorBox, voice.el);

  // The temperature slider sends at most every 120 ms, always the final value.
  let lastSent = 0;
  let pendingTau = 0;
  tauSlider.addEventListener("input", () => {
    const v = Number(tauSlider.value);
    showTau(v);
    clearTimeout(pendingTau);
    const send = () => {
      lastSent = performance.now();
      setParams({ temperature: v });
    };
    const wait = 120 - (performance.now() - lastSent);
    if (wait <= 0) send();
    else pendingTau = setTimeout(send, wait);
  });

  function showTau(v) {
    tauShown.textContent = f2.format(v);
    tauSlider.setAttribute("aria-valuetext", tauShown.textContent);
  }

  function setParams(change) {
    params = { ...params, ...change };
    w.send({ type: "set-params", params: change });
  }

  function syncSettings() {
    if (!statics || !frame) return;
    const p = statics.params;
    params = { ...params, ...p, temperature: frame.sample.temperature };
    for (const name of ["cell", "hidden", "seqLen", "lr"]) {
      const input = inputs[name];
      if (!input) continue;
      if (![...input.options].some((o) => o.value === String(p[name]))) {
        const o = document.createElement("option");
        o.value = String(p[name]);
        o.textContent = String(p[name]);
        input.append(o);
      }
      input.value = String(p[name]);
    }
    if (inputs.seed && document.activeElement !== inputs.seed && inputs.seed.getAttribute("aria-invalid") !== "true") inputs.seed.value = String(p.seed);
    if (document.activeElement !== tauSlider) {
      tauSlider.value = String(frame.sample.temperature);
      showTau(frame.sample.temperature);
    }
  }

  // ---- Drawing ----
  function drawHead() {
    head.textContent = fill(S.head, { cell: S.cells[statics.params.cell], cellWeights: nf.format(statics.cellWeights), weights: nf.format(statics.weights) });
  }

  function drawLegend() {
    if (legend.childElementCount) return;
    for (const [key, text] of [
      ["train", S.train],
      ["held", fill(S.held, { n: nf.format(statics.heldChars) })],
      ["uniform", fill(S.uniform, { v: statics.vocab, u: f3.format(statics.uniform) })],
    ]) {
      const li = el("li");
      const sw = document.createElement("canvas");
      sw.className = "cm-swatch";
      sw.width = 36;
      sw.height = 12;
      const g = sw.getContext("2d");
      g.strokeStyle = STYLE[key].color;
      g.lineWidth = 3;
      g.setLineDash(STYLE[key].dash);
      g.beginPath();
      g.moveTo(2, 6);
      g.lineTo(34, 6);
      g.stroke();
      li.append(sw, el("span", "", text));
      legend.append(li);
    }
  }

  function drawLoss() {
    const cw = Math.max(240, Math.round(lossCanvas.clientWidth || 420));
    const ch = Math.round(cw * 0.6);
    const g = sharpCanvas(lossCanvas, cw, ch);
    g.clearRect(0, 0, cw, ch);
    const fs = Math.max(11, Math.min(14, cw / 34));
    const pad = { l: fs * 3, r: 10, t: 8, b: fs * 2.8 };
    const pw = cw - pad.l - pad.r, ph = ch - pad.t - pad.b;
    const total = frame.total;
    const yMax = Math.ceil(Math.max(statics.uniform, ...frame.train, ...frame.held) + 0.25);
    const X = (x) => pad.l + (x / total) * pw;
    const Y = (y) => pad.t + (1 - Math.min(yMax, Math.max(0, y)) / yMax) * ph;
    const dark = matchMedia("(prefers-color-scheme: dark)").matches;
    const ink = dark ? "#ddd" : "#333";
    g.font = `${fs}px system-ui, sans-serif`;
    g.fillStyle = ink;
    g.strokeStyle = dark ? "#555" : "#ddd";
    g.lineWidth = 1;
    g.textAlign = "right";
    g.textBaseline = "middle";
    for (let t = 0; t <= yMax; t++) {
      g.beginPath();
      g.moveTo(pad.l, Y(t));
      g.lineTo(pad.l + pw, Y(t));
      g.stroke();
      g.fillText(nf.format(t), pad.l - 4, Y(t));
    }
    g.textAlign = "center";
    g.textBaseline = "top";
    for (let t = 0; t <= total; t += 100) g.fillText(nf.format(t), X(t), pad.t + ph + 4);
    g.fillText(S.stepAxis, pad.l + pw / 2, pad.t + ph + fs * 1.4);
    g.strokeStyle = ink;
    g.strokeRect(pad.l, pad.t, pw, ph);
    const line = (key, xs, ys, width) => {
      g.strokeStyle = STYLE[key].color;
      g.lineWidth = width;
      g.setLineDash(STYLE[key].dash);
      g.beginPath();
      xs.forEach((x, i) => (i ? g.lineTo(X(x), Y(ys[i])) : g.moveTo(X(x), Y(ys[i]))));
      g.stroke();
      g.setLineDash([]);
    };
    line("uniform", [0, total], [statics.uniform, statics.uniform], 1.5);
    line("train", frame.train.map((_, i) => i + 1), frame.train, 1.5);
    line("held", frame.heldSteps, frame.held, 2.5);
    g.fillStyle = STYLE.held.color;
    frame.heldSteps.forEach((s, i) => {
      g.beginPath();
      g.arc(X(s), Y(frame.held[i]), fs * 0.3, 0, 2 * Math.PI);
      g.fill();
    });
    const k = frame.heldSteps.length - 1;
    if (frame.step === 0) {
      lossNow.textContent = fill(S.lossStart, { held: f3.format(frame.held[0]), v: statics.vocab, u: f3.format(statics.uniform) });
      delete lossNow.dataset.value;
    } else {
      lossNow.textContent = fill(S.lossNow, { step: nf.format(frame.step), train: f3.format(frame.last), held: f3.format(frame.held[k]), heldStep: nf.format(frame.heldSteps[k]) });
      lossNow.dataset.value = String(frame.last);
    }
    lossNow.dataset.held = String(frame.held[k]);
  }

  function drawSample() {
    const s = frame.sample;
    const key = `${s.step}/${s.temperature}/${s.text}`;
    if (sampleBox.dataset.key !== key) {
      sampleBox.dataset.key = key;
      sampleBox.replaceChildren(el("strong", "", s.prompt), s.text);
      sampleBox.dataset.text = s.text;
    }
    sampleCap.textContent = fill(S.sampleCap, { step: nf.format(s.step), tau: f2.format(s.temperature), every: statics.sampleEvery });
  }

  const relOf = (vals) => {
    const top = Math.max(...vals);
    return vals.map((v) => (top > 0 ? v / top : 0));
  };
  const level = (rel) => (rel > 0 ? Math.max(0, 1 + Math.log10(rel) / LOGSPAN) : 0);

  function buildStrip() {
    const ctx = [...statics.context];
    if (strip.dataset.key === statics.context) return;
    strip.dataset.key = statics.context;
    strip.replaceChildren();
    ctx.forEach((c, i) => {
      const cell = el("div", "cm-c");
      cell.tabIndex = i === ctx.length - 1 ? 0 : -1; // one tab stop; arrows move
      cell.dataset.back = String(ctx.length - i);
      cell.dataset.testid = "reach-cell";
      const bar = el("span", "cm-bar");
      const ch = el("span", "cm-ch", shownChar(c));
      cell.append(bar, ch);
      cell.addEventListener("pointerenter", () => showCell(i));
      cell.addEventListener("focus", () => showCell(i));
      cell.addEventListener("keydown", (ev) => {
        let j = -1;
        if (ev.key === "ArrowLeft") j = Math.max(0, i - 1);
        else if (ev.key === "ArrowRight") j = Math.min(ctx.length - 1, i + 1);
        else if (ev.key === "Home") j = 0;
        else if (ev.key === "End") j = ctx.length - 1;
        if (j < 0) return;
        ev.preventDefault(); // the cell moves, the run does not step
        [...strip.children].forEach((e, k) => (e.tabIndex = k === j ? 0 : -1));
        strip.children[j].focus();
      });
      strip.append(cell);
    });
    const next = el("div", "cm-c cm-next");
    next.append(el("span", "cm-bar"), el("span", "cm-ch", shownChar(statics.next)));
    next.title = S.next;
    strip.append(next);
    strip.addEventListener("pointerleave", () => {
      if (!strip.contains(document.activeElement)) showCell(-1);
    });
  }

  function cellText(i) {
    const r = frame.reach, n = r.pieces.length;
    const rel = relOf(r.pieces)[i];
    // Tiny shares read better in scientific notation than as 0.00000…%.
    const share = rel >= 1e-3 ? pct.format(rel) : sci.format(rel);
    return fill(plural(S.cellInfo, n - i, L), { back: n - i, c: shownChar([...statics.context][i]), piece: small(r.pieces[i]), pct: share, hg: small(r.hgrad[i]) });
  }

  function showCell(i) {
    focusIdx = i;
    [...strip.querySelectorAll(".cm-c")].forEach((c, k) => c.classList.toggle("cm-focus", k === i));
    detail.textContent = i >= 0 && frame ? cellText(i) : S.cellHint;
  }

  function drawReach() {
    buildStrip();
    const r = frame.reach;
    const vals = measure === "pieces" ? r.pieces : r.hgrad;
    const rel = relOf(vals);
    const cells = strip.querySelectorAll(".cm-c:not(.cm-next)");
    cells.forEach((c, i) => {
      const lv = level(rel[i]);
      const rgb = viridisAt(lv, 0, 1);
      const bar = c.firstChild;
      bar.style.height = `${Math.max(4, lv * 100)}%`;
      bar.style.background = css(rgb);
      c.classList.toggle("cm-in", r.pieces.length - i <= r.far);
      c.dataset.value = String(vals[i]);
      const txt = cellText(i);
      c.title = txt;
      c.setAttribute("aria-label", txt);
    });
    if (!scale.childElementCount) {
      const bar = el("span", "cm-scale-bar");
      const stops = [];
      for (let k = 0; k <= 10; k++) stops.push(css(viridisAt(k / 10, 0, 1)));
      bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
      scale.append(el("span", "", S.scaleLow), bar, el("span", "", S.scaleHigh));
    }
    reachCap.textContent = fill(S.reachCap, { next: shownChar(statics.next) });
    reachNow.textContent = fill(S.reachNow, { far: nf.format(r.far) });
    reachNow.dataset.value = String(r.far);
    const top = r.top.map((t) => `“${shownChar(t.c)}” ${pct.format(t.p)}`).join(", ");
    predicted.textContent = fill(S.predicted, { next: shownChar(statics.next), p: pct.format(r.p), loss: f3.format(r.loss), top });
    predicted.dataset.value = String(r.p);
    sumLine.textContent = fill(S.sumLine, { sum: small(r.sum), whh: small(r.whh) });
    if (focusIdx >= 0) detail.textContent = cellText(focusIdx);
  }

  function narrate(force) {
    if (!frame || frame.step === 0 || !voice.due(force || w.state !== "running")) return;
    voice.say(fill(S.say, { step: frame.step, train: f3.format(frame.last), far: frame.reach.far }));
  }

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    drawHead();
    drawLegend();
    drawLoss();
    drawSample();
    drawReach();
  });
  addEventListener("resize", draw);
}
