// conv-slide: a real 3×3 kernel slides over a real MNIST digit; the output
// map fills cell by cell, each cell showing the nine products that make it.
// Every number comes from the server's engine over /ws (this
// package's README); this module only draws.

import { viridisAt, divergingAt, css, missing } from "/static/widgets/palette.js";
import {
  el, fill, plural, reducedMotion, begin, narrator, digitPicker, selectField,
  paintCells, sharpCanvas, fillCells, ring, perFrame, liveWidget, field, intValues,
} from "/static/widgets/ui.js";


const strings = {
  en: {
    title: "One kernel, many places",
    input: "Input digit",
    kernel: "Kernel (the 10 shared parameters)",
    products: "The nine products",
    output: "Output feature map",
    preset: "Kernel",
    presets: {
      identity: "identity", "vertical-edge": "vertical edge", "horizontal-edge": "horizontal edge",
      blur: "blur", sharpen: "sharpen",
    },
    stride: "Stride", padding: "Padding", dilation: "Dilation",
    digitLabel: "MNIST test digit #{i}, a {label}",
    sharing: "{params} parameters, used at {positions} positions: {madds} multiply-adds",
    unshared: "Without sharing (a separate kernel at each position): {n} parameters",
    bias: "bias", sum: "sum",
    cellLine: "cell ({oy}, {ox}) = Σ products {sum} + bias {bias} = ",
    noCell: "Press Step or Play to compute the first cell.",
    progress: "{step} of {total} cells",
    downloadPNG: "Download PNG", downloadSVG: "SVG",
    json: "Frame data (JSON)",
    say: "Cell row {oy}, column {ox}: the nine products add up to {sum}; plus bias {bias} gives {out}.",
    sayPadding: { one: " {n} of the nine inputs is a padding zero.", other: " {n} of the nine inputs are padding zeros." },
    sayState: { running: "Playing.", paused: "Paused.", done: "Done: every output cell is computed.", error: "The run stopped with an error.", diverged: "The run diverged." },
    inputAlt: "The input digit with the kernel's window",
    outputAlt: "The output feature map, filled up to the current cell",
  },
  zh: {
    title: "同一个卷积核，用在许多位置",
    input: "输入数字",
    kernel: "卷积核（10 个共享参数）",
    products: "九个乘积",
    output: "输出特征图",
    preset: "卷积核",
    presets: {
      identity: "恒等", "vertical-edge": "竖直边缘", "horizontal-edge": "水平边缘",
      blur: "模糊", sharpen: "锐化",
    },
    stride: "步幅", padding: "填充", dilation: "膨胀",
    digitLabel: "MNIST 测试集第 {i} 号数字，是 {label}",
    sharing: "{params} 个参数，在 {positions} 个位置上重复使用：共 {madds} 次乘加",
    unshared: "若不共享（每个位置各有一个卷积核）：需要 {n} 个参数",
    bias: "偏置", sum: "和",
    cellLine: "单元 ({oy}, {ox}) = 乘积之和 {sum} + 偏置 {bias} = ",
    noCell: "按“单步”或“播放”计算第一个单元。",
    progress: "已算 {step} / {total} 个单元",
    downloadPNG: "下载 PNG", downloadSVG: "SVG",
    json: "帧数据（JSON）",
    say: "第 {oy} 行第 {ox} 列的单元：九个乘积之和为 {sum}，加上偏置 {bias} 得 {out}。",
    sayPadding: "九个输入中有 {n} 个是填充的零。",
    sayState: { running: "正在播放。", paused: "已暂停。", done: "完成：所有输出单元都已算出。", error: "运行因错误而停止。", diverged: "运行发散了。" },
    inputAlt: "输入数字及卷积核的窗口",
    outputAlt: "输出特征图，已填到当前单元",
  },
};

function select(f, text, values, name, current, onChange) {
  const s = selectField({ cls: "cs-field", text, values, name, current, onChange });
  s.label.title = f.desc;
  return s;
}

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "cs");
  const { L, S, locale, nf, id } = kit;
  // signDisplay "negative": a value that rounds to zero shows as 0, not −0.
  const formats = new Map();
  const num = (v, d = 3) => {
    if (!formats.has(d)) formats.set(d, new Intl.NumberFormat(locale, { maximumFractionDigits: d, signDisplay: "negative" }));
    return formats.get(d).format(v);
  };
  const fixed4 = new Intl.NumberFormat(locale, { minimumFractionDigits: 4, maximumFractionDigits: 4, signDisplay: "negative" });

  // Widget state: the parameters asked for, and what the server last sent.
  // The lesson's parameters until the first frame says which are in effect
  // (the server's defaults fill the rest).
  let params = { ...initial };
  let statics = null; // frame.static
  let frame = null; // frame.data

  // ---- Layout ----
  const sharing = el("p", "cs-sharing");
  sharing.dataset.testid = "sharing-line";
  const unshared = el("p", "cs-unshared");

  const panels = el("div", "cs-panels");
  const inputFig = el("figure", "cs-panel cs-input");
  const inputCanvas = document.createElement("canvas");
  inputCanvas.setAttribute("role", "img");
  inputCanvas.setAttribute("aria-label", S.inputAlt);
  inputCanvas.dataset.testid = "input-canvas";
  const inputCap = el("figcaption", "", S.input);
  const digitLabel = el("p", "cs-digit-label");
  inputFig.append(inputCap, inputCanvas, digitLabel);

  const mathFig = el("figure", "cs-panel cs-math");
  const kernelCap = el("figcaption", "", S.kernel);
  const kernelGrid = el("div", "cs-grid cs-kernel");
  kernelGrid.setAttribute("role", "table");
  const biasLine = el("p", "cs-bias");
  const productsCap = el("figcaption", "", S.products);
  const productsGrid = el("div", "cs-grid cs-products");
  productsGrid.dataset.testid = "products";
  const sumLine = el("p", "cs-sum");
  const sumText = el("span");
  const cellValue = el("output", "cs-cell-value");
  cellValue.dataset.testid = "cell-value";
  sumLine.append(sumText, cellValue);
  mathFig.append(kernelCap, kernelGrid, biasLine, productsCap, productsGrid, sumLine);

  const outFig = el("figure", "cs-panel cs-output");
  const outCanvas = document.createElement("canvas");
  outCanvas.setAttribute("role", "img");
  outCanvas.setAttribute("aria-label", S.outputAlt);
  outCanvas.dataset.testid = "output-canvas";
  const outCap = el("figcaption", "", S.output);
  const progress = el("p", "cs-progress");
  progress.dataset.testid = "progress";
  outFig.append(outCap, outCanvas, progress);
  panels.append(inputFig, mathFig, outFig);

  const settings = el("div", "cs-settings");
  // Made from the server's fields once hello has come (ready below).
  let preset, stride, padding, dilation, digit;

  const voice = narrator("cs", 1000);
  const w = liveWidget(root, kit, {
    experiment: "conv-slide",
    prefix: "cs",
    params: () => params,
    player: { speed: reducedMotion.matches ? 2 : 8 },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json },
    ready(spec) {
      const cur = (name) => params[name] ?? field(spec, name).default;
      const pf = field(spec, "preset");
      preset = select(pf, S.preset, pf.choices, (v) => S.presets[v] ?? v, cur("preset"), (v) => setParams({ preset: v }));
      const ints = (name, text) => {
        const f = field(spec, name);
        return select(f, text, intValues(f), String, cur(name), (v) => setParams({ [name]: Number(v) }));
      };
      stride = ints("stride", S.stride);
      padding = ints("padding", S.padding);
      dilation = ints("dilation", S.dilation);
      const df = field(spec, "digit");
      digit = digitPicker(S, {
        id, count: df.max + 1, current: () => cur("digit"), choose: (d) => setParams({ digit: d }),
        cls: "cs-field cs-digit", prevClass: "cs-prev", nextClass: "cs-next",
      });
      digit.field.title = df.desc;
      settings.append(preset.label, stride.label, padding.label, dilation.label, digit.field);
    },
    frame(m) {
      if (m.static) {
        statics = m.static;
        syncSettings(statics.params);
      }
      if (!statics) return;
      const prevStep = frame?.step;
      frame = m.data;
      draw();
      if (frame.step !== prevStep) narrate(false);
    },
    state(m, changed) {
      if (!changed) return;
      voice.say(S.sayState[m.state] ?? "");
      if (m.state === "paused") setTimeout(() => narrate(true), 600);
    },
    error() {
      if (statics) syncSettings(statics.params); // undo a refused change in the form
    },
  });

  root.append(w.status, w.working, sharing, unshared, panels, w.controls, settings, w.exports, w.errorBox, voice.el);

  function setParams(change) {
    w.send({ type: "set-params", params: change });
  }

  function syncSettings(p) {
    params = { ...p };
    if (!preset) return;
    preset.input.value = p.preset;
    stride.input.value = String(p.stride);
    padding.input.value = String(p.padding);
    dilation.input.value = String(p.dilation);
    if (document.activeElement !== digit.input) digit.input.value = String(p.digit);
  }

  // ---- Drawing ----
  const CELL = 16; // canvas pixels per cell; CSS scales the canvas to fit

  const sizeCanvas = (c, rows, cols) => sharpCanvas(c, cols * CELL, rows * CELL);

  function drawInput() {
    if (!statics) return;
    const p = statics.params, H = statics.inputH, W = statics.inputW, pad = p.padding;
    const g = sizeCanvas(inputCanvas, H + 2 * pad, W + 2 * pad);
    g.clearRect(0, 0, inputCanvas.width, inputCanvas.height);
    // Padding ring: zeros the kernel may read, drawn as light hatched cells.
    for (let y = -pad; y < H + pad; y++) {
      for (let x = -pad; x < W + pad; x++) {
        const inside = y >= 0 && y < H && x >= 0 && x < W;
        const v = inside ? statics.pixels[y * W + x] / 255 : 0;
        g.fillStyle = inside ? css(viridisAt(v, 0, 1)) : "#e8e8e8";
        g.fillRect((x + pad) * CELL, (y + pad) * CELL, CELL, CELL);
        if (!inside) {
          g.strokeStyle = "#bbb";
          g.lineWidth = 1;
          g.beginPath();
          g.moveTo((x + pad) * CELL, (y + pad + 1) * CELL);
          g.lineTo((x + pad + 1) * CELL, (y + pad) * CELL);
          g.stroke();
        }
      }
    }
    const cell = frame?.cell;
    if (!cell) return;
    // The window: its bounding box, then each of the nine pixels it reads.
    const w = cell.window;
    g.lineWidth = 4;
    g.strokeStyle = "#fff";
    g.strokeRect((w.left + pad) * CELL, (w.top + pad) * CELL, (w.right - w.left + 1) * CELL, (w.bottom - w.top + 1) * CELL);
    g.lineWidth = 2;
    g.strokeStyle = "#000";
    g.strokeRect((w.left + pad) * CELL, (w.top + pad) * CELL, (w.right - w.left + 1) * CELL, (w.bottom - w.top + 1) * CELL);
    for (const t of cell.terms) {
      g.lineWidth = 2;
      g.strokeStyle = "#e69f00"; // Okabe–Ito orange: visible on viridis and grey
      g.strokeRect((t.x + pad) * CELL + 2, (t.y + pad) * CELL + 2, CELL - 4, CELL - 4);
    }
  }

  function drawOutput() {
    if (!statics) return;
    const H = statics.outH, W = statics.outW;
    const g = sizeCanvas(outCanvas, H, W);
    const lim = statics.outAbsMax || 1;
    const map = frame?.map ?? [];
    fillCells(g, W, H, CELL, (i) => (i < map.length ? divergingAt(map[i], lim) : missing));
    const cell = frame?.cell;
    if (cell) ring(g, cell.ox * CELL, cell.oy * CELL, CELL);
  }

  // Reuse the 9 cells across frames: only their text and colour change.
  const gridCells = (container, items) => paintCells(container, items, "cs");

  function drawKernel() {
    if (!statics) return;
    const lim = Math.max(...statics.kernel.map(Math.abs)) || 1;
    gridCells(kernelGrid, statics.kernel.map((w) => ({ text: num(w), rgb: divergingAt(w, lim) })));
    biasLine.textContent = `${S.bias} = ${num(statics.bias)}`;
  }

  function drawProducts() {
    const cell = frame?.cell;
    if (!cell) {
      gridCells(productsGrid, Array.from({ length: 9 }, () => ({ text: "·", rgb: [0xf7, 0xf7, 0xf7] })));
      sumText.textContent = S.noCell;
      cellValue.textContent = "";
      delete cellValue.dataset.oy;
      delete cellValue.dataset.ox;
      delete cellValue.dataset.value;
      return;
    }
    const lim = Math.max(...cell.terms.map((t) => Math.abs(t.product))) || 1;
    gridCells(productsGrid, cell.terms.map((t) => ({
      text: `${num(t.input)} × ${num(t.weight)}\n= ${num(t.product)}`,
      title: `x[${t.y}, ${t.x}]${t.padding ? " (padding)" : ""}`,
      padding: t.padding,
      rgb: divergingAt(t.product, lim),
    })));
    sumText.textContent = fill(S.cellLine, { oy: cell.oy, ox: cell.ox, sum: num(cell.sum, 4), bias: num(cell.bias, 4) });
    cellValue.textContent = fixed4.format(cell.out);
    cellValue.dataset.oy = String(cell.oy);
    cellValue.dataset.ox = String(cell.ox);
    cellValue.dataset.value = String(cell.out);
  }

  function drawText() {
    if (!statics || !frame) return;
    const c = statics.counts;
    sharing.textContent = fill(S.sharing, { params: nf.format(c.params), positions: nf.format(c.positions), madds: nf.format(c.multiplyAdds) });
    unshared.textContent = fill(S.unshared, { n: nf.format(c.unshared) });
    digitLabel.textContent = fill(S.digitLabel, { i: statics.params.digit, label: statics.label });
    progress.textContent = fill(S.progress, { step: nf.format(frame.step), total: nf.format(frame.total) });
  }

  // narrate speaks the current cell: every step when paused or stepping,
  // at most once a second while playing.
  function narrate(force) {
    const cell = frame?.cell;
    if (!cell || !voice.due(force || w.state !== "running")) return;
    const pads = cell.terms.filter((t) => t.padding).length;
    voice.say(fill(S.say, { oy: cell.oy, ox: cell.ox, sum: num(cell.sum, 4), bias: num(cell.bias, 4), out: num(cell.out, 4) }) +
      (pads ? fill(plural(S.sayPadding, pads, L), { n: pads }) : ""));
  }

  const draw = perFrame(() => {
    drawInput();
    drawKernel();
    drawProducts();
    drawOutput();
    drawText();
  });

  drawProducts();
}
