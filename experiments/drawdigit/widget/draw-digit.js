// draw-digit: draw a digit (mouse, touch or pen) and watch three trained
// models read it: the CNN's feature maps, every model's class
// probabilities, and what happens when the drawing moves sideways. The
// models are trained on the server (once per server) and every number comes
// from its engine over /ws (this package's README); this module
// draws, and turns the strokes into the 28×28 bytes it sends.

import { dequantize } from "/static/widgets/quant.js";
import { el, fill, begin, narrator, viridisImage, perFrame, liveWidget, field } from "/static/widgets/ui.js";

// The models read 28×28 pixels: the spec's pixels field holds SIDE² bytes
// (checked when hello comes). The shift's bounds and the number of test
// digits come from the spec too.
const SIDE = 28;
const SCALE = 10; // drawing-canvas pixels per model pixel
const CANVAS = SIDE * SCALE;
// Stroke width in drawing-canvas pixels: 2.6 model pixels, about MNIST's
// pen once the digit's box is scaled to 20×20 by the centring.
const STROKE = 26;
const SEND_GAP = 80; // ms between drawings sent: at most 12.5 a second
const SAY_GAP = 1500; // ms between spoken predictions
const MODELS = ["cnn", "lc", "mlp"];
// Okabe–Ito, in the order viz draws the groups of the exported bars.
const MODEL_COLORS = { cnn: "#0072b2", lc: "#d55e00", mlp: "#009e73" };

const strings = {
  en: {
    draw: "Draw here",
    canvasLabel: "Drawing area, 28 by 28 pixels once shrunk. Draw a digit with a mouse, finger or pen. Left and right arrow keys move it sideways.",
    emptyHint: "Draw a digit",
    clear: "Clear",
    testDigit: "Load a test digit",
    testDigitName: "MNIST test digit #{i}, a {label}",
    shift: "Move sideways",
    shiftValue: "{n} px",
    center: "Centre like MNIST",
    centerHelp: "Scale the drawing to a 20×20 box and put its centre of mass in the middle, as MNIST's digits were.",
    keys: "Keys on the drawing: ← → move it sideways. Or drag the digit the models read.",
    seen: "What the models read (28×28)",
    seenCaption: "{centre}, moved {shift} px",
    centred: "centred", notCentred: "not centred",
    names: { cnn: "CNN (shared kernels)", lc: "Locally connected (unshared)", mlp: "MLP (dense)" },
    short: { cnn: "CNN", lc: "LC", mlp: "MLP" }, // table rows
    params: "{n} parameters",
    says: "says",
    noPrediction: "—",
    probs: "Probability of each class",
    sweep: "The same drawing moved from −8 to +8 px: each model's answer",
    sweepNote: "Shaded: the answer the model gives at 0 px. The framed column is the current shift.",
    scrollHint: "Scroll the table sideways to see every shift →",
    maps: "Inside the CNN: feature maps after each convolution (and ReLU)",
    conv1: "conv1: 8 maps, 28×28 — one shared 3×3 kernel each",
    conv2: "conv2: 16 maps, 14×14",
    mapScale: "one colour scale per layer, 0 to {max}",
    training: "Training the three models on the server: {p} % (now {model})",
    trainingStart: "Starting to train the three models on the server…",
    trained: "Trained on {n} digits for {e}. Test accuracy on {m} test digits moved right by 0–8 pixels:",
    epochs: (n) => (n === 1 ? "one epoch" : `${n} epochs`),
    trainingFailed: "Training failed: {msg}",
    downloadPNG: "Download PNG", downloadSVG: "Download SVG",
    trace: "CNN step trace (JSON)", json: "Frame data (JSON)",
    files: { png: "the PNG", svg: "the SVG", json: "the frame data (JSON)", "trace.json": "the CNN step trace (JSON)" },
    badSpec: "The server's drawing has {n} bytes; this page draws {m}. Reload the page.",
    say: "CNN says {cnn} ({pcnn}). Locally connected says {lc} ({plc}). MLP says {mlp} ({pmlp}).",
    sayEmpty: "The drawing is empty.",
    sayReady: "The models are trained. Draw a digit.",
    inputAlt: "The 28 by 28 image the models read",
    mapAlt: "{layer} feature map {i}",
  },
  zh: {
    draw: "在这里书写",
    canvasLabel: "书写区域，缩小后为 28×28 像素。用鼠标、手指或触控笔写一个数字。左右方向键可左右平移。",
    emptyHint: "写一个数字",
    clear: "清除",
    testDigit: "载入一个测试数字",
    testDigitName: "MNIST 测试集第 {i} 号数字，是 {label}",
    shift: "左右平移",
    shiftValue: "{n} 像素",
    center: "像 MNIST 一样居中",
    centerHelp: "把笔迹缩放到 20×20 的框内，并把重心移到图像中央，MNIST 的数字就是这样处理的。",
    keys: "在书写区域按 ← → 可左右平移；也可以直接拖动模型读到的数字。",
    seen: "模型读到的图像（28×28）",
    seenCaption: "{centre}，平移 {shift} 像素",
    centred: "已居中", notCentred: "未居中",
    names: { cnn: "CNN（共享卷积核）", lc: "局部连接（不共享）", mlp: "MLP（全连接）" },
    short: { cnn: "CNN", lc: "LC", mlp: "MLP" },
    params: "{n} 个参数",
    says: "判断为",
    noPrediction: "—",
    probs: "各类别的概率",
    sweep: "同一笔迹从 −8 平移到 +8 像素时，各模型的判断",
    sweepNote: "底色标出的是模型在 0 像素处给出的答案。带框的一列是当前的平移量。",
    scrollHint: "左右滑动表格可看到全部平移量 →",
    maps: "CNN 内部：每个卷积层（及 ReLU）之后的特征图",
    conv1: "conv1：8 张 28×28 的特征图——每张来自一个共享的 3×3 卷积核",
    conv2: "conv2：16 张 14×14 的特征图",
    mapScale: "每层一个颜色刻度，0 到 {max}",
    training: "服务器正在训练三个模型：{p}%（当前：{model}）",
    trainingStart: "服务器开始训练三个模型……",
    trained: "在 {n} 个数字上训练了 {e}。{m} 个测试数字向右平移 0–8 像素后的测试准确率：",
    epochs: (n) => `${n} 轮`,
    trainingFailed: "训练失败：{msg}",
    downloadPNG: "下载 PNG", downloadSVG: "下载 SVG",
    trace: "CNN 单步追踪（JSON）", json: "帧数据（JSON）",
    files: { png: "PNG 图", svg: "SVG 图", json: "帧数据（JSON）", "trace.json": "CNN 单步追踪（JSON）" },
    badSpec: "服务器的图像有 {n} 个字节，本页面画的是 {m} 个。请刷新页面。",
    say: "CNN 判断为 {cnn}（{pcnn}）。局部连接网络判断为 {lc}（{plc}）。MLP 判断为 {mlp}（{pmlp}）。",
    sayEmpty: "画布是空的。",
    sayReady: "模型已训练好。请写一个数字。",
    inputAlt: "模型读到的 28×28 图像",
    mapAlt: "{layer} 第 {i} 张特征图",
  },
};

function b64ToBytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToB64(bytes) {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "dd");
  const { L, S, locale, nf, id } = kit;
  const pct = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 });
  const pct1 = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const num2 = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });

  // What the page asks for, and what the server last said.
  // The lesson's centre and shift; the spec's defaults fill what it leaves out.
  const params = { ...initial };
  let pixels = new Uint8Array(SIDE * SIDE); // the drawing, shrunk to 28×28
  let digit = Number.isInteger(params.digit) ? params.digit : -1; // a loaded test digit not drawn over
  delete params.digit;
  let statics = null;
  let data = null;
  let pending = null; // parameters waiting for the next send slot
  let lastSend = 0;
  let sendTimer = 0;
  let spokenKey = "";

  // ---- Layout ----

  const training = el("div", "dd-training");
  training.dataset.testid = "training";
  const trainingText = el("p", "dd-training-text");
  const trainingBar = el("div", "dd-bar");
  trainingBar.setAttribute("role", "progressbar");
  trainingBar.setAttribute("aria-valuemin", "0");
  trainingBar.setAttribute("aria-valuemax", "100");
  const trainingFill = el("div", "dd-bar-fill");
  trainingBar.append(trainingFill);
  training.append(trainingText, trainingBar);

  const top = el("div", "dd-top");

  // Drawing panel.
  const drawFig = el("figure", "dd-panel dd-draw");
  const drawCap = el("figcaption", "", S.draw);
  const pad = el("div", "dd-pad");
  const canvas = document.createElement("canvas");
  canvas.width = CANVAS;
  canvas.height = CANVAS;
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", S.canvasLabel);
  canvas.dataset.testid = "draw-canvas";
  const hint = el("p", "dd-hint", S.emptyHint);
  hint.dataset.testid = "empty-hint";
  hint.setAttribute("aria-hidden", "true");
  pad.append(canvas, hint);
  const buttons = el("div", "dd-buttons");
  const clearBtn = el("button", "", S.clear);
  clearBtn.type = "button";
  clearBtn.dataset.testid = "clear";
  const digitBtn = el("button", "", S.testDigit);
  digitBtn.type = "button";
  digitBtn.dataset.testid = "load-digit";
  buttons.append(clearBtn, digitBtn);
  const digitName = el("p", "dd-digit-name");
  digitName.dataset.testid = "digit-name";

  const shiftLabel = el("label", "dd-shift");
  const shiftName = el("span", "", S.shift);
  const shiftInput = document.createElement("input");
  shiftInput.type = "range";
  shiftInput.disabled = true; // until the spec gives its bounds
  shiftInput.step = "1";
  shiftInput.dataset.testid = "shift";
  const shiftShown = el("output", "dd-shift-value");
  shiftLabel.append(shiftName, shiftInput, shiftShown);

  const centerLabel = el("label", "dd-center");
  const centerInput = document.createElement("input");
  centerInput.type = "checkbox";
  centerInput.checked = params.center ?? true;
  centerInput.dataset.testid = "center";
  centerInput.id = id + "-center";
  const centerHelp = el("span", "dd-help", S.centerHelp);
  centerHelp.id = id + "-center-help";
  centerInput.setAttribute("aria-describedby", centerHelp.id);
  centerLabel.append(centerInput, " " + S.center);
  const keysNote = el("p", "dd-help", S.keys);
  drawFig.append(drawCap, pad, buttons, digitName, shiftLabel, centerLabel, centerHelp, keysNote);

  // What the models read.
  const seenFig = el("figure", "dd-panel dd-seen");
  const seenCap = el("figcaption", "", S.seen);
  const seenCanvas = document.createElement("canvas");
  seenCanvas.width = SIDE;
  seenCanvas.height = SIDE;
  seenCanvas.setAttribute("role", "img");
  seenCanvas.setAttribute("aria-label", S.inputAlt);
  seenCanvas.dataset.testid = "input-canvas";
  seenCanvas.classList.add("dd-drag");
  const seenNote = el("p", "dd-help");
  seenFig.append(seenCap, seenCanvas, seenNote);

  // Predictions, one card per model.
  const predsBox = el("div", "dd-preds");
  const cards = {};
  for (const m of MODELS) {
    const card = el("section", "dd-card");
    card.style.setProperty("--dd-model", MODEL_COLORS[m]);
    const name = el("h3", "dd-model", S.names[m]);
    const count = el("p", "dd-count");
    const verdict = el("p", "dd-verdict");
    verdict.dataset.testid = "prediction-" + m;
    const topClass = el("span", "dd-top-class", S.noPrediction);
    const topP = el("span", "dd-top-p");
    verdict.append(el("span", "dd-says", S.says + " "), topClass, topP);
    const bars = el("div", "dd-bars");
    bars.dataset.testid = "probs-" + m;
    bars.setAttribute("role", "list");
    bars.setAttribute("aria-label", S.probs);
    const barEls = [];
    for (let k = 0; k < 10; k++) {
      const col = el("div", "dd-barcol");
      col.setAttribute("role", "listitem");
      const track = el("div", "dd-track");
      const bar = el("div", "dd-prob");
      bar.dataset.testid = `prob-${m}-${k}`;
      track.append(bar);
      col.append(track, el("span", "dd-class", String(k)));
      bars.append(col);
      barEls.push({ col, bar });
    }
    card.append(name, count, verdict, bars);
    predsBox.append(card);
    cards[m] = { card, count, verdict, topClass, topP, barEls };
  }
  top.append(drawFig, seenFig, predsBox);

  // The shift sweep.
  const sweepFig = el("figure", "dd-panel dd-sweep");
  const sweepCap = el("figcaption", "", S.sweep);
  const sweepTable = el("table", "dd-sweep-table");
  sweepTable.dataset.testid = "sweep";
  const sweepNote = el("p", "dd-help", S.sweepNote);
  // The table fits a phone's width; where it still does not (a narrower
  // screen, a larger font), it scrolls in its own box, which says so.
  const sweepScroll = el("div", "dd-scroll");
  sweepScroll.tabIndex = 0;
  sweepScroll.setAttribute("role", "region");
  sweepScroll.setAttribute("aria-label", S.sweep);
  sweepScroll.append(sweepTable);
  const scrollHint = el("p", "dd-help dd-scroll-hint", S.scrollHint);
  scrollHint.setAttribute("aria-hidden", "true");
  scrollHint.hidden = true;
  sweepFig.append(sweepCap, scrollHint, sweepScroll, sweepNote);
  const checkScroll = () => {
    const scrolls = sweepScroll.scrollWidth > sweepScroll.clientWidth + 1;
    scrollHint.hidden = !scrolls;
    sweepScroll.classList.toggle("dd-scrolls", scrolls);
  };
  if ("ResizeObserver" in window) new ResizeObserver(checkScroll).observe(sweepScroll);
  // The sweep's columns are the shift field's values (made in ready).
  let shiftField = { min: 0, max: 0 };
  let digitCount = 1;
  function buildSweep() {
    const head = el("tr");
    head.append(el("th", "", ""));
    for (let s = shiftField.min; s <= shiftField.max; s++) {
      const th = el("th", "", s > 0 ? "+" + s : String(s));
      th.scope = "col";
      head.append(th);
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const m of MODELS) {
      const tr = el("tr");
      const th = el("th", "", S.short[m]);
      th.scope = "row";
      th.title = S.names[m];
      th.style.color = MODEL_COLORS[m];
      tr.append(th);
      for (let s = shiftField.min; s <= shiftField.max; s++) tr.append(el("td", "", "·"));
      tbody.append(tr);
    }
    sweepTable.replaceChildren(thead, tbody);
  }

  // Accuracy of the trained models, from the server's measurements.
  const accBox = el("div", "dd-acc");
  accBox.dataset.testid = "accuracy";

  // Feature maps.
  const mapsFig = el("figure", "dd-panel dd-maps");
  const mapsCap = el("figcaption", "", S.maps);
  const layerBoxes = {};
  mapsFig.append(mapsCap);
  for (const [layer, n, side] of [["conv1", 8, 28], ["conv2", 16, 14]]) {
    const box = el("div", "dd-layer");
    const cap = el("p", "dd-layer-name", S[layer]);
    const scale = el("p", "dd-help");
    const grid = el("div", "dd-map-grid dd-" + layer);
    grid.dataset.testid = "maps-" + layer;
    const tiles = [];
    for (let i = 0; i < n; i++) {
      const c = document.createElement("canvas");
      c.width = side;
      c.height = side;
      c.setAttribute("role", "img");
      c.setAttribute("aria-label", fill(S.mapAlt, { layer, i: i + 1 }));
      grid.append(c);
      tiles.push(c);
    }
    box.append(cap, grid, scale);
    mapsFig.append(box);
    layerBoxes[layer] = { tiles, scale, side };
  }

  const voice = narrator("dd", SAY_GAP);

  const w = liveWidget(root, kit, {
    experiment: "draw-digit",
    prefix: "dd",
    params: () => {
      // A test digit shown stands for the drawing; otherwise the drawing
      // (digit −1). Blank paper sends no pixels: the server's default.
      const p = { center: params.center, shift: params.shift };
      if (digit >= 0) p.digit = digit;
      else {
        p.digit = -1;
        if (pixels.some((v) => v)) p.pixels = bytesToB64(pixels);
      }
      return p;
    },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    ready(spec) {
      const pf = field(spec, "pixels");
      if (pf.len && pf.len !== SIDE * SIDE) w.showError(fill(S.badSpec, { n: pf.len, m: SIDE * SIDE }));
      const sf = field(spec, "shift");
      shiftField = sf;
      params.shift ??= sf.default;
      params.center ??= field(spec, "center").default;
      centerInput.checked = params.center;
      shiftInput.min = String(sf.min);
      shiftInput.max = String(sf.max);
      shiftInput.value = String(params.shift);
      showShift();
      shiftInput.title = sf.desc;
      shiftInput.disabled = false;
      centerInput.title = field(spec, "center").desc;
      digitCount = field(spec, "digit").max + 1;
      buildSweep();
      w.exports.hidden = true; // until there are predictions to export
      draw();
    },
    // The run's one step loads the trained models; playing it waits for
    // the training and shows its progress meanwhile. After a reconnection
    // liveWidget seeks back to step 1 when the models were loaded.
    opened() {
      if (w.step === 0) w.send({ type: "play" });
    },
    frame(m) {
      if (m.static) statics = m.static;
      data = m.data;
      // A test digit asked for: paint it, so strokes can be added.
      if (data.digit >= 0 && data.digit === digit && data.drawing) {
        pixels = b64ToBytes(data.drawing);
        paint(pixels);
        root.dataset.pixels = data.drawing;
        digitName.textContent = fill(S.testDigitName, { i: data.digit, label: data.label });
      }
      if (m.static && statics.models.length && !spokenKey) voice.say(S.sayReady);
      draw();
      narrate();
    },
    state(m) {
      // A reset (or a failed load) leaves the run at step 0: play loads
      // the models again.
      if (m.state === "paused" && m.step === 0) w.send({ type: "play" });
    },
  });

  root.append(w.status, training, w.working, top, sweepFig, accBox, mapsFig, w.exports, w.downloads, w.errorBox, voice.el);

  // ---- Drawing ----
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.lineCap = "round";
  g.lineJoin = "round";
  g.lineWidth = STROKE;
  g.strokeStyle = "#000";
  g.fillStyle = "#000";
  let drawing = null; // {id, x, y} of the pointer that draws

  function toCanvas(ev) {
    const r = canvas.getBoundingClientRect();
    return [((ev.clientX - r.left) / r.width) * CANVAS, ((ev.clientY - r.top) / r.height) * CANVAS];
  }

  canvas.addEventListener("pointerdown", (ev) => {
    if (drawing || (ev.pointerType === "mouse" && ev.button !== 0)) return;
    ev.preventDefault(); // no text selection, no scrolling, no emulated mouse events
    try {
      canvas.setPointerCapture(ev.pointerId); // keep the stroke when it leaves the box
    } catch {
      // A pointer the browser does not track (a synthetic event) cannot be captured.
    }
    canvas.focus({ preventScroll: true });
    const [x, y] = toCanvas(ev);
    drawing = { id: ev.pointerId, x, y };
    g.beginPath();
    g.arc(x, y, STROKE / 2, 0, 2 * Math.PI);
    g.fill();
    inked();
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drawing || ev.pointerId !== drawing.id) return;
    ev.preventDefault();
    // Coalesced events keep fast strokes smooth on phones and pens.
    const evs = ev.getCoalescedEvents?.() ?? [];
    g.beginPath();
    g.moveTo(drawing.x, drawing.y);
    for (const e of evs.length ? evs : [ev]) {
      const [x, y] = toCanvas(e);
      g.lineTo(x, y);
      drawing.x = x;
      drawing.y = y;
    }
    g.stroke();
    inked();
  });
  const endStroke = (ev) => {
    if (!drawing || ev.pointerId !== drawing.id) return;
    drawing = null;
    inked(true);
  };
  canvas.addEventListener("pointerup", endStroke);
  canvas.addEventListener("pointercancel", endStroke);
  // Touch browsers without touch-action support would scroll the page.
  canvas.addEventListener("touchmove", (ev) => ev.preventDefault(), { passive: false });

  canvas.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
      ev.preventDefault();
      setShift(params.shift + (ev.key === "ArrowLeft" ? -1 : 1));
    }
  });

  // shrink turns the drawing's ink (its alpha) into 28×28 bytes, each the
  // mean over its 10×10 block: anti-aliased like MNIST's scans.
  function shrink() {
    const img = g.getImageData(0, 0, CANVAS, CANVAS).data;
    const out = new Uint8Array(SIDE * SIDE);
    for (let by = 0; by < SIDE; by++) {
      for (let bx = 0; bx < SIDE; bx++) {
        let sum = 0;
        for (let y = by * SCALE; y < (by + 1) * SCALE; y++) {
          let i = (y * CANVAS + bx * SCALE) * 4 + 3;
          for (let x = 0; x < SCALE; x++, i += 4) sum += img[i];
        }
        out[by * SIDE + bx] = Math.round(sum / (SCALE * SCALE));
      }
    }
    return out;
  }

  // paint puts 28×28 bytes on the drawing canvas as 10×10 blocks of ink
  // (so that shrinking gives the same bytes back).
  function paint(bytes) {
    g.clearRect(0, 0, CANVAS, CANVAS);
    for (let i = 0; i < SIDE * SIDE; i++) {
      if (!bytes[i]) continue;
      g.fillStyle = `rgb(0 0 0 / ${bytes[i] / 255})`;
      g.fillRect((i % SIDE) * SCALE, Math.floor(i / SIDE) * SCALE, SCALE, SCALE);
    }
    g.fillStyle = "#000";
  }

  function inked(final) {
    digit = -1;
    digitName.textContent = "";
    hint.hidden = true;
    queue({ pixels: true }, final);
  }

  clearBtn.addEventListener("click", () => {
    g.clearRect(0, 0, CANVAS, CANVAS);
    digit = -1;
    digitName.textContent = "";
    queue({ pixels: true }, true);
  });
  let nextDigit = 0;
  digitBtn.addEventListener("click", () => {
    digit = nextDigit;
    nextDigit = (nextDigit + 1) % digitCount;
    queue({ digit }, true);
  });
  shiftInput.addEventListener("input", () => setShift(Number(shiftInput.value)));

  // Dragging the digit the models read moves it sideways: one MNIST pixel of
  // shift per 1/28 of the canvas's width dragged.
  let drag = null;
  seenCanvas.addEventListener("pointerdown", (ev) => {
    drag = { x: ev.clientX, shift: params.shift };
    seenCanvas.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  seenCanvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const cell = seenCanvas.getBoundingClientRect().width / SIDE;
    setShift(drag.shift + Math.round((ev.clientX - drag.x) / cell));
  });
  const endDrag = () => {
    drag = null;
  };
  seenCanvas.addEventListener("pointerup", endDrag);
  seenCanvas.addEventListener("pointercancel", endDrag);
  centerInput.addEventListener("change", () => {
    params.center = centerInput.checked;
    queue({ center: params.center }, true);
  });

  function setShift(n) {
    if (shiftInput.disabled) return;
    n = Math.max(shiftField.min, Math.min(shiftField.max, Math.trunc(n)));
    if (n === params.shift) return;
    params.shift = n;
    shiftInput.value = String(n);
    showShift();
    queue({ shift: n });
  }

  function showShift() {
    const n = params.shift;
    if (n === undefined) return;
    shiftShown.textContent = fill(S.shiftValue, { n: n > 0 ? "+" + n : String(n) });
    shiftInput.setAttribute("aria-valuetext", shiftShown.textContent);
  }

  // ---- Sending ----
  // queue merges a change into the next set-params and sends it as soon as
  // the send gap allows (at once when final and the gap has passed). The
  // drawing is read from the canvas only when the message goes out.
  function queue(change, final) {
    pending = { ...pending, ...change };
    if ("digit" in change) delete pending.pixels;
    if ("pixels" in change) delete pending.digit;
    const wait = SEND_GAP - (performance.now() - lastSend);
    if (wait <= 0) flush();
    else if (!sendTimer) sendTimer = setTimeout(flush, wait);
    else if (final) {
      clearTimeout(sendTimer);
      sendTimer = setTimeout(flush, wait);
    }
  }

  function flush() {
    clearTimeout(sendTimer);
    sendTimer = 0;
    if (!pending) return;
    const p = { ...pending };
    pending = null;
    if (p.pixels) {
      pixels = shrink();
      p.pixels = bytesToB64(pixels);
      p.digit = -1; // the drawing, not a test digit
      root.dataset.pixels = p.pixels; // what the page sent: tests compare with the engine
    }
    lastSend = performance.now();
    w.send({ type: "set-params", params: p });
  }

  // ---- Drawing the server's frames ----
  function drawSeen() {
    const bytes = data ? b64ToBytes(data.input) : new Uint8Array(SIDE * SIDE);
    viridisImage(seenCanvas.getContext("2d"), SIDE, SIDE, (i) => bytes[i] / 255, 1);
    if (data) {
      const shift = data.shift > 0 ? "+" + data.shift : String(data.shift);
      seenNote.textContent = fill(S.seenCaption, { centre: data.center ? S.centred : S.notCentred, shift });
    }
  }

  function drawMaps() {
    const maps = data?.maps ?? [];
    for (const [layer, box] of Object.entries(layerBoxes)) {
      const m = maps.find((x) => x.layer === layer);
      box.tiles.forEach((c) => c.classList.toggle("dd-blank", !m));
      if (!m) {
        for (const c of box.tiles) c.getContext("2d").clearRect(0, 0, c.width, c.height);
        box.scale.textContent = "";
        continue;
      }
      const vals = dequantize(m.maps);
      const [n, h, w] = m.maps.shape;
      const hi = m.maps.max;
      for (let k = 0; k < n; k++) {
        viridisImage(box.tiles[k].getContext("2d"), w, h, (i) => vals[k * h * w + i], hi || 1);
      }
      box.scale.textContent = fill(S.mapScale, { max: num2.format(hi) });
    }
  }

  function drawPredictions() {
    const preds = data?.predictions ?? [];
    for (const m of MODELS) {
      const c = cards[m];
      const p = preds.find((x) => x.model === m);
      const info = statics?.models?.find((x) => x.name === m);
      c.count.textContent = info ? fill(S.params, { n: nf.format(info.params) }) : "";
      if (!p) {
        c.topClass.textContent = S.noPrediction;
        c.topP.textContent = "";
        delete c.verdict.dataset.class;
        delete c.verdict.dataset.p;
        c.barEls.forEach(({ bar, col }) => {
          bar.style.height = "0%";
          col.classList.remove("dd-winner");
          col.title = "";
        });
        continue;
      }
      c.topClass.textContent = String(p.top);
      c.topP.textContent = " " + pct.format(p.p);
      c.verdict.dataset.class = String(p.top);
      c.verdict.dataset.p = String(p.p);
      p.probs.forEach((v, k) => {
        const { bar, col } = c.barEls[k];
        bar.style.height = (100 * v).toFixed(1) + "%";
        bar.dataset.p = String(v);
        col.classList.toggle("dd-winner", k === p.top);
        col.title = `${k}: ${pct1.format(v)}`;
        col.setAttribute("aria-label", `${k}: ${pct1.format(v)}`);
      });
    }
  }

  function drawSweep() {
    // The table is built once the server's fields (hello) are known.
    if (!sweepTable.tBodies.length) return;
    const sw = data?.sweep;
    const rows = sweepTable.tBodies[0].rows;
    MODELS.forEach((m, r) => {
      const cells = rows[r].cells;
      for (let i = 0; i < cells.length - 1; i++) {
        const td = cells[i + 1];
        const shift = shiftField.min + i;
        td.classList.toggle("dd-now", shift === params.shift);
        if (!sw) {
          td.textContent = "·";
          td.classList.remove("dd-same");
          td.removeAttribute("title");
          continue;
        }
        // The server's sweep names its shifts: find this column's.
        const j = sw.shifts.indexOf(shift);
        const atZero = sw.top[m][sw.shifts.indexOf(0)];
        if (j < 0) {
          td.textContent = "·";
          continue;
        }
        td.textContent = String(sw.top[m][j]);
        td.classList.toggle("dd-same", sw.top[m][j] === atZero);
        td.title = `${m}, ${shift > 0 ? "+" : ""}${shift} px: ${sw.top[m][j]} (${pct.format(sw.p[m][j])})`;
      }
    });
  }

  function drawTraining() {
    const t = data?.training;
    const loaded = statics?.models?.length > 0;
    training.hidden = loaded || !t;
    root.dataset.ready = String(!!loaded);
    if (!t || loaded) return;
    if (t.error) {
      trainingText.textContent = fill(S.trainingFailed, { msg: (L === "zh" && t.errorZh) || t.error });
      return;
    }
    const p = Math.round(100 * (t.fraction || 0));
    trainingText.textContent = t.fraction > 0 ? fill(S.training, { p, model: S.short[t.model] ?? (t.model || "…") }) : S.trainingStart;
    trainingFill.style.width = p + "%";
    trainingBar.setAttribute("aria-valuenow", String(p));
    trainingBar.setAttribute("aria-valuetext", trainingText.textContent);
  }

  function drawAccuracy() {
    const ms = statics?.models ?? [];
    if (!ms.length) {
      accBox.replaceChildren();
      return;
    }
    const b = statics.budget;
    const table = el("table", "dd-acc-table");
    const head = el("tr");
    head.append(el("th", "", ""));
    for (const s of ms[0].shifts) head.append(el("th", "", (s > 0 ? "+" : "") + s));
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const m of ms) {
      const tr = el("tr");
      const th = el("th", "", S.short[m.name] ?? m.name);
      th.scope = "row";
      th.title = S.names[m.name] ?? "";
      th.style.color = MODEL_COLORS[m.name];
      tr.append(th);
      for (const a of m.shiftAccuracy) tr.append(el("td", "", pct1.format(a)));
      tbody.append(tr);
    }
    table.append(thead, tbody);
    accBox.replaceChildren(el("p", "dd-help", fill(S.trained, { n: nf.format(b.trainSize), e: S.epochs(b.epochs), m: nf.format(b.evalSize) })), table);
  }

  function drawExports() {
    // Exports show what the models read: only once they have answered.
    if (w.spec) w.exports.hidden = !(data?.predictions?.length > 0);
  }

  function narrate() {
    if (!data) return;
    const preds = data.predictions;
    let text, key;
    if (!preds?.length) {
      if (!statics?.models?.length) return;
      key = "empty";
      text = data.empty ? S.sayEmpty : "";
    } else {
      const v = {};
      for (const p of preds) {
        v[p.model] = p.top;
        v["p" + p.model] = pct.format(p.p);
      }
      key = preds.map((p) => p.top).join(",");
      text = fill(S.say, v);
    }
    // Speak when the answers change, and not more often than SAY_GAP.
    if (key === spokenKey || !voice.due(false)) {
      clearTimeout(narrate.timer);
      narrate.timer = setTimeout(narrate, SAY_GAP);
      return;
    }
    spokenKey = key;
    if (text) voice.say(text);
  }

  const draw = perFrame(() => {
    drawTraining();
    drawSeen();
    drawPredictions();
    drawSweep();
    drawMaps();
    drawAccuracy();
    drawExports();
    const empty = !data || data.empty;
    root.dataset.empty = String(empty);
    hint.hidden = !isBlank();
  });

  function isBlank() {
    return !pixels.some((v) => v) && digit < 0 && !drawing;
  }

  showShift();
  draw();
}
