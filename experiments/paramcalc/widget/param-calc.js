// param-calc: how many parameters a dense layer, a locally connected layer
// and a convolution need for the same input and output, and how many times
// each is used. Every number comes from the server (this
// package's README): the engine's Model.Count on layers it builds, or — for a
// layer too big to build — the same formula, marked "computed".

import { el, fill, begin, narrator, liveWidget, field } from "/static/widgets/ui.js";

const LAYERS = ["dense", "locally-connected", "conv"];
// Okabe–Ito colours (viz.SeriesColors): vermillion, blue, bluish green.
const COLOURS = { dense: "#d55e00", "locally-connected": "#0072b2", conv: "#009e73" };

const strings = {
  en: {
    size: "Image size (H = W)", inChannels: "Input channels", kernel: "Kernel size", outChannels: "Output channels",
    shape: "Input {h}×{w}×{c} → output {h}×{w}×{oc}, kernel {k}×{k} (padding {p}, stride 1)",
    params: "Unique parameters", uses: "Uses: multiply-adds per example",
    layers: { dense: "Dense", "locally-connected": "Locally connected", conv: "Convolution" },
    engine: "engine", computed: "computed",
    engineTitle: "Counted by the engine's Model.Count on the layer, built on the server",
    computedTitle: "Too big to build (over {n} parameters): the same formula as the engine's Count",
    perWeight: "each weight used {n} times", once: "each weight used once",
    ratio: "The dense layer needs {dense}× the parameters of the convolution; the locally connected layer {local}×.",
    sweep: "Parameters as the image grows (other settings fixed)",
    sweepAlt: "Line chart: parameters of the three layers for image sizes {lo} to {hi}, logarithmic scale",
    sizeAxis: "image size",
    download: "Download PNG", svg: "SVG", json: "Counts (JSON)",
    waiting: "Waiting for the server's numbers…",
    say: "Size {size}: dense {dense}, locally connected {local}, convolution {conv} parameters.",
  },
  zh: {
    size: "图像尺寸（H = W）", inChannels: "输入通道数", kernel: "卷积核大小", outChannels: "输出通道数",
    shape: "输入 {h}×{w}×{c} → 输出 {h}×{w}×{oc}，卷积核 {k}×{k}（填充 {p}，步幅 1）",
    params: "独立参数个数", uses: "使用次数：每个样本的乘加次数",
    layers: { dense: "全连接", "locally-connected": "局部连接", conv: "卷积" },
    engine: "引擎", computed: "公式",
    engineTitle: "在服务器上构建该层，由引擎的 Model.Count 计数",
    computedTitle: "该层太大无法构建（超过 {n} 个参数）：使用与引擎 Count 相同的公式",
    perWeight: "每个权重使用 {n} 次", once: "每个权重只使用一次",
    ratio: "全连接层的参数是卷积层的 {dense} 倍；局部连接层是 {local} 倍。",
    sweep: "图像变大时的参数个数（其他设置不变）",
    sweepAlt: "折线图：图像尺寸从 {lo} 到 {hi} 时三种层的参数个数，对数刻度",
    sizeAxis: "图像尺寸",
    download: "下载 PNG", svg: "SVG", json: "计数（JSON）",
    waiting: "正在等待服务器的计算结果……",
    say: "尺寸 {size}：全连接 {dense}，局部连接 {local}，卷积 {conv} 个参数。",
  },
};

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs ?? {})) e.setAttribute(k, String(v));
  return e;
}

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "pc");
  const { S, locale, nf } = kit;
  const ratioFmt = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });

  // The parameters asked for: the lesson's, until the server's first frame
  // says which are in effect (its defaults fill the rest).
  let params = { ...initial };
  let frame = null; // the server's static part
  let speakTimer = 0;
  // The bars share one logarithmic axis from 1 to 10^logMax, the decade
  // above the largest dense layer the fields' bounds allow, so that a bar's
  // length can be compared between settings (set from the spec).
  let logMax = 13;

  const sliders = el("div", "pc-sliders");
  const fields = {};
  const shape = el("p", "pc-shape");
  shape.dataset.testid = "shape";

  // ---- Bars ----
  const axes = [];
  function barGroup(kind) {
    const fig = el("figure", "pc-bars");
    const cap = el("figcaption", "", S[kind]);
    fig.append(cap);
    const rows = {};
    for (const layer of LAYERS) {
      const row = el("div", "pc-row");
      const name = el("span", "pc-layer", S.layers[layer]);
      const track = el("div", "pc-track");
      const bar = el("div", "pc-bar");
      bar.style.backgroundColor = COLOURS[layer];
      track.append(bar);
      const value = el("span", "pc-number");
      value.dataset.testid = `${kind}-${layer}`;
      const badge = el("span", "pc-badge");
      badge.dataset.testid = `source-${kind}-${layer}`;
      const note = el("span", "pc-note");
      // The name and the number: two cells of the row on a wide screen,
      // one line above the bar on a phone.
      const head = el("span", "pc-head");
      head.append(name, value);
      row.append(head, track, badge, note);
      fig.append(row);
      rows[layer] = { bar, value, badge, note };
    }
    const axis = el("div", "pc-axis");
    axis.setAttribute("aria-hidden", "true");
    fig.append(axis);
    axes.push(axis);
    return { fig, rows };
  }
  // Decade ticks under the bars: 1, 10³, 10⁶, …
  function drawAxes() {
    for (const axis of axes) {
      axis.replaceChildren();
      for (let e = 0; e < logMax; e += 3) {
        const t = el("span", "pc-tick", e === 0 ? "1" : "10" + supers(e));
        t.style.left = `${(100 * e) / logMax}%`;
        axis.append(t);
      }
    }
  }
  function supers(n) {
    const map = "⁰¹²³⁴⁵⁶⁷⁸⁹";
    return String(n).split("").map((d) => map[Number(d)]).join("");
  }
  const paramsBars = barGroup("params");
  const usesBars = barGroup("uses");
  const bars = el("div", "pc-bargroups");
  bars.append(paramsBars.fig, usesBars.fig);
  drawAxes();

  const ratio = el("p", "pc-ratio");
  ratio.dataset.testid = "ratio";

  // ---- Sweep chart ----
  const sweepFig = el("figure", "pc-sweep");
  const sweepCap = el("figcaption", "", S.sweep);
  const chart = svg("svg", { viewBox: "0 0 420 200", role: "img" });
  chart.dataset.testid = "sweep";
  sweepFig.append(sweepCap, chart);

  const voice = narrator("pc", 1500);
  const waiting = el("p", "pc-waiting", S.waiting);

  const w = liveWidget(root, kit, {
    experiment: "param-calc",
    prefix: "pc",
    params: () => params,
    exports: { png: S.download, svg: S.svg, json: S.json },
    ready(spec) {
      // Sliders from the server's fields: their bounds and steps (the
      // kernel's sizes are odd: a kernel has a centre).
      for (const key of ["size", "inChannels", "kernel", "outChannels"]) {
        const f = field(spec, key);
        const step = f.step || 1;
        slider(f, 0, Math.round((f.max - f.min) / step), (i) => f.min + i * step, (k) => Math.round((k - f.min) / step));
      }
      const top = (name) => field(spec, name).max;
      const hw = top("size") ** 2;
      logMax = Math.ceil(Math.log10(hw * top("inChannels") * hw * top("outChannels") + hw * top("outChannels")));
      drawAxes();
    },
    frame(m) {
      if (!m.static) return;
      frame = m.static;
      if (!Object.values(fields).some((f) => f.input === document.activeElement)) syncSliders(frame.params);
      else params = { ...frame.params, ...pendingChange };
      requestAnimationFrame(draw);
    },
    error() {
      if (frame) syncSliders(frame.params);
    },
  });

  // Until the server's first numbers arrive only the waiting line shows:
  // no empty bars and no empty chart.
  for (const part of [bars, ratio, sweepFig]) part.hidden = true;
  root.append(w.status, sliders, shape, waiting, bars, ratio, sweepFig, w.exports, w.errorBox, voice.el);

  // ---- Sliders (made once the spec has come) ----
  let pendingChange = {};
  function slider(f, min, max, toValue, toPos) {
    const key = f.name;
    const label = el("label", "pc-field");
    label.title = f.desc;
    const name = el("span", "pc-name", S[key] ?? key);
    const input = document.createElement("input");
    input.type = "range";
    input.min = String(min);
    input.max = String(max);
    input.value = String(toPos(params[key] ?? f.default));
    input.dataset.testid = "slider-" + key;
    const shown = el("output", "pc-value");
    shown.dataset.testid = "value-" + key;
    const show = (v) => {
      shown.textContent = key === "kernel" ? `${v}×${v}` : nf.format(v);
      input.setAttribute("aria-valuetext", shown.textContent);
    };
    show(params[key] ?? f.default);
    // Throttle to the server's command rate: at most every 120 ms, always
    // the final value.
    let last = 0;
    let pending = 0;
    input.addEventListener("input", () => {
      const v = toValue(Number(input.value));
      show(v);
      clearTimeout(pending);
      const send = () => {
        last = performance.now();
        setParams({ [key]: v });
      };
      const wait = 120 - (performance.now() - last);
      if (wait <= 0) send();
      else pending = setTimeout(send, wait);
    });
    label.append(name, shown, input);
    sliders.append(label);
    fields[key] = { input, show, toPos };
  }

  function setParams(change) {
    params = { ...params, ...change };
    pendingChange = { ...pendingChange, ...change };
    w.send({ type: "set-params", params: change });
  }

  const width = (v) => `${Math.max(0.5, (100 * Math.log10(Math.max(v, 1))) / logMax)}%`;

  function drawBars(group, kind) {
    for (const c of frame.counts) {
      const r = group.rows[c.layer];
      const v = kind === "params" ? c.params : c.uses;
      r.bar.style.width = width(v);
      r.value.textContent = nf.format(v);
      r.value.dataset.value = String(v);
      r.value.dataset.source = c.computed ? "computed" : "engine";
      r.badge.textContent = c.computed ? S.computed : S.engine;
      r.badge.classList.toggle("pc-computed", c.computed);
      r.badge.title = c.computed ? fill(S.computedTitle, { n: nf.format(frame.buildLimit) }) : S.engineTitle;
      // Biases are not multiplied by anything: uses per weight is uses
      // over (parameters − biases), one bias per output value (dense,
      // locally connected) or per output channel (conv).
      const p = frame.params;
      const biases = c.layer === "conv" ? p.outChannels : p.outChannels * p.size * p.size;
      const per = c.uses / (c.params - biases);
      r.note.textContent = kind === "uses" ? (per === 1 ? S.once : fill(S.perWeight, { n: nf.format(per) })) : "";
    }
  }

  function drawSweep() {
    chart.replaceChildren();
    const W = 420, H = 200, left = 44, right = 10, top = 10, bottom = 30;
    const pts = frame.sweep;
    const maxE = Math.ceil(Math.log10(Math.max(...pts.map((p) => p.params[0]))));
    const lo = pts[0].size, hi = pts[pts.length - 1].size;
    chart.setAttribute("aria-label", fill(S.sweepAlt, { lo, hi }));
    const x = (size) => left + ((size - lo) / (hi - lo || 1)) * (W - left - right);
    const y = (v) => top + (1 - Math.log10(Math.max(v, 1)) / maxE) * (H - top - bottom);
    for (let e = 0; e <= maxE; e += maxE > 8 ? 3 : 2) {
      chart.append(svg("line", { x1: left, x2: W - right, y1: y(10 ** e), y2: y(10 ** e), class: "pc-grid" }));
      const t = svg("text", { x: left - 4, y: y(10 ** e) + 4, "text-anchor": "end", class: "pc-axis-text" });
      t.textContent = e === 0 ? "1" : "10" + supers(e);
      chart.append(t);
    }
    // The sweep's own sizes label the axis: its ends and the multiples of 32 between.
    const ticks = [lo, ...pts.map((q) => q.size).filter((v) => v % 32 === 0 && v - lo >= 16 && hi - v >= 16), hi];
    for (const size of ticks) {
      const t = svg("text", { x: x(size), y: H - bottom + 16, "text-anchor": "middle", class: "pc-axis-text" });
      t.textContent = String(size);
      chart.append(t);
    }
    const xl = svg("text", { x: W - right, y: H - 2, "text-anchor": "end", class: "pc-axis-text" });
    xl.textContent = S.sizeAxis;
    chart.append(xl);
    const cur = svg("line", { x1: x(frame.params.size), x2: x(frame.params.size), y1: top, y2: H - bottom, class: "pc-now" });
    chart.append(cur);
    LAYERS.forEach((layer, i) => {
      const d = pts.map((p, j) => `${j ? "L" : "M"}${x(p.size).toFixed(1)},${y(p.params[i]).toFixed(1)}`).join(" ");
      chart.append(svg("path", { d, fill: "none", stroke: COLOURS[layer], "stroke-width": 2.5, "stroke-dasharray": ["", "6 3", "2 3"][i] }));
      const last = pts[pts.length - 1];
      const label = svg("text", { x: x(last.size) - 2, y: y(last.params[i]) - 5, "text-anchor": "end", fill: COLOURS[layer], class: "pc-line-label" });
      label.textContent = S.layers[layer];
      chart.append(label);
    });
  }

  function draw() {
    if (!frame) return;
    waiting.hidden = true;
    for (const part of [bars, ratio, sweepFig]) part.hidden = false;
    const p = frame.params;
    shape.textContent = fill(S.shape, { h: p.size, w: p.size, c: p.inChannels, oc: p.outChannels, k: p.kernel, p: (p.kernel - 1) / 2 });
    drawBars(paramsBars, "params");
    drawBars(usesBars, "uses");
    const [dense, local, conv] = LAYERS.map((l) => frame.counts.find((c) => c.layer === l));
    ratio.textContent = fill(S.ratio, { dense: ratioFmt.format(dense.params / conv.params), local: ratioFmt.format(local.params / conv.params) });
    drawSweep();
    root.dataset.size = String(p.size);
    // Speak the new counts once the sliders rest (at most every 1.5 s).
    clearTimeout(speakTimer);
    speakTimer = setTimeout(() => {
      if (!voice.due(false)) return;
      voice.say(fill(S.say, { size: p.size, dense: nf.format(dense.params), local: nf.format(local.params), conv: nf.format(conv.params) }));
    }, 700);
  }

  function syncSliders(p) {
    params = { ...p };
    pendingChange = {};
    for (const [key, f] of Object.entries(fields)) {
      if (document.activeElement !== f.input) f.input.value = String(f.toPos(p[key]));
      f.show(p[key]);
    }
  }

}
