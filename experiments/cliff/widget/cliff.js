// cliff: Pascanu's cliff. One sigmoid unit, x_t = w·σ(x_{t−1}) + b for 50
// steps from x_0 = 0.5, loss (σ(x_50) − 0.7)². The canvas shows the loss
// surface over (w, b) (log colour scale, viridis) and the gradient-descent
// paths drawn over it: without clipping (vermillion, dashed) and with
// gradient-norm clipping (blue). The readout gives the current point of
// each path. Every number comes from the server's engine over /ws; this
// module only draws. Clicking the surface chooses the start point (the
// start fields do the same from the keyboard).

import { viridisAt, css } from "/static/widgets/palette.js";
import { dequantize } from "/static/widgets/quant.js";
import {
  el, fill, reducedMotion, begin, narrator, sharpCanvas, perFrame, liveWidget, field, fieldInput,
} from "/static/widgets/ui.js";

const strings = {
  en: {
    caption: "The loss E over (w, b): each pixel is the engine's 50-step forward; click to start there",
    alt: "Heat map of the loss over w (across) and b (up), with the gradient-descent paths drawn over it",
    colour: "loss E (log scale)",
    pathOff: "without clipping",
    pathOn: "with clipping (‖g‖ ≤ {thr})",
    cols: ["path", "w", "b", "loss E", "‖g‖", "clipped?", "longest step"],
    colCos: "cos(g_k, g)",
    yes: "yes", no: "no",
    longest: "{len} (step {at})",
    none: "–",
    progress: "step {step} of {total}",
    full: "Gradient: full BPTT through all 50 steps.",
    trunc: "Gradient: BPTT truncated to the last {k} of 50 steps (cos: its direction against the full gradient's).",
    w0: "start w", b0: "start b", lr: "learning rate", clip: "paths", threshold: "clip threshold", k: "BPTT length k", steps: "GD steps",
    clipNames: { both: "both", off: "without clipping", on: "with clipping" },
    downloadPNG: "Download PNG", downloadSVG: "SVG", json: "Frame data (JSON)", trace: "Step trace (JSON)",
    offMap: "off the map at w = {w}, b = {b}",
    say: "Step {step}: {parts}.",
    sayPath: "{name}: w {w}, b {b}, loss {loss}, gradient norm {g}",
    sayState: { running: "Playing.", paused: "Paused.", done: "Done.", error: "The run stopped with an error.", diverged: "The run diverged." },
  },
  zh: {
    caption: "(w, b) 上的损失 E：每个像素都是引擎的 50 步前向计算；点击即从该处出发",
    alt: "损失随 w（横轴）和 b（纵轴）变化的热图，上面画着梯度下降的路径",
    colour: "损失 E（对数刻度）",
    pathOff: "不裁剪",
    pathOn: "裁剪（‖g‖ ≤ {thr}）",
    cols: ["路径", "w", "b", "损失 E", "‖g‖", "被裁剪？", "最长的一步"],
    colCos: "cos(g_k, g)",
    yes: "是", no: "否",
    longest: "{len}（第 {at} 步）",
    none: "–",
    progress: "第 {step} / {total} 步",
    full: "梯度：完整 BPTT，回传全部 50 步。",
    trunc: "梯度：BPTT 截断为最后 {k} 步（共 50 步）（cos：它与完整梯度方向的夹角余弦）。",
    w0: "起点 w", b0: "起点 b", lr: "学习率", clip: "路径", threshold: "裁剪阈值", k: "BPTT 长度 k", steps: "梯度下降步数",
    clipNames: { both: "两条都显示", off: "不裁剪", on: "裁剪" },
    downloadPNG: "下载 PNG", downloadSVG: "SVG", json: "帧数据（JSON）", trace: "单步追踪（JSON）",
    offMap: "在图外：w = {w}，b = {b}",
    say: "第 {step} 步：{parts}。",
    sayPath: "{name}：w {w}，b {b}，损失 {loss}，梯度范数 {g}",
    sayState: { running: "正在播放。", paused: "已暂停。", done: "完成。", error: "运行因错误而停止。", diverged: "运行发散了。" },
  },
};

// The paths' looks, as the PNG export draws them (Okabe–Ito).
const LOOK = {
  off: { color: "#d55e00", dash: [8, 4], cls: "cf-off" },
  on: { color: "#0072b2", dash: [], cls: "cf-on" },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "cf");
  const { L, S, locale } = kit;
  const fmt = (d) => new Intl.NumberFormat(locale, { minimumFractionDigits: d, maximumFractionDigits: d, signDisplay: "negative" });
  const f3 = fmt(3);
  const g3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });

  let params = { ...initial };
  let statics = null;
  let surface = null; // decoded log10 loss
  let image = null; // the surface as an offscreen canvas
  let frame = null;

  // ---- Layout ----
  const fig = el("figure", "cf-surface");
  const canvas = document.createElement("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", S.alt);
  canvas.dataset.testid = "surface";
  canvas.tabIndex = -1;
  const bar = document.createElement("canvas");
  bar.className = "cf-bar";
  bar.setAttribute("aria-hidden", "true");
  const barLabels = el("div", "cf-bar-labels");
  fig.append(el("figcaption", "", S.caption), canvas, bar, barLabels, el("p", "cf-bar-name", S.colour));

  const side = el("div", "cf-side");
  const progress = el("p", "cf-progress");
  progress.dataset.testid = "progress";
  const how = el("p", "cf-how");
  how.dataset.testid = "how";
  const tableBox = el("div", "cf-table-box");
  const table = el("table", "cf-table");
  table.dataset.testid = "readout";
  tableBox.append(table);
  const settings = el("div", "cf-settings");
  side.append(progress, tableBox, how, settings);

  const body = el("div", "cf-body");
  body.append(fig, side);

  const inputs = {};
  const voice = narrator("cf", 1000);
  const w = liveWidget(root, kit, {
    experiment: "cliff",
    prefix: "cf",
    params: () => params,
    player: { speed: reducedMotion.matches ? 1 : 4, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    ready(spec) {
      const cur = (name) => params[name] ?? field(spec, name).default;
      for (const name of ["w0", "b0", "lr", "clip", "threshold", "k", "steps"]) {
        const f = field(spec, name);
        const label = el("label", "cf-field");
        const input = fieldInput(f, () => cur(name), (v) => setParams({ [name]: v }), { name: (v) => S.clipNames[v] ?? String(v) });
        input.dataset.testid = "field-" + name;
        label.append(el("span", "", S[name]), input);
        settings.append(label);
        inputs[name] = input;
      }
    },
    frame(m) {
      if (m.static) {
        statics = m.static;
        surface = dequantize(statics.logLoss);
        image = null;
      }
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

  root.append(w.status, w.working, w.controls, body, w.exports, w.downloads, w.errorBox, voice.el);

  function setParams(change) {
    params = { ...params, ...change };
    w.send({ type: "set-params", params: change });
  }

  function syncSettings() {
    if (!frame) return;
    params = { ...params, ...frame.params };
    for (const [name, input] of Object.entries(inputs)) {
      if (document.activeElement === input) continue;
      input.value = String(frame.params[name]);
    }
  }

  // ---- The surface ----
  // Map (w, b) to canvas pixels of a size×size square.
  let size = 0;
  const toX = (wv) => ((wv - statics.wMin) / (statics.wMax - statics.wMin)) * size;
  const toY = (bv) => ((statics.bMax - bv) / (statics.bMax - statics.bMin)) * size;

  function surfaceImage() {
    if (image) return image;
    const n = statics.logLoss.shape[0];
    const off = document.createElement("canvas");
    off.width = n;
    off.height = n;
    const g = off.getContext("2d");
    const img = g.createImageData(n, n);
    const lo = statics.logLoss.min, hi = statics.logLoss.max;
    for (let i = 0; i < n * n; i++) {
      const rgb = viridisAt(surface[i], lo, hi);
      img.data.set([rgb[0], rgb[1], rgb[2], 255], i * 4);
    }
    g.putImageData(img, 0, 0);
    image = off;
    return off;
  }

  function drawBar() {
    const wpx = Math.max(120, Math.round(canvas.getBoundingClientRect().width || size));
    const g = sharpCanvas(bar, wpx, 12);
    bar.style.width = `${wpx}px`;
    const lo = statics.logLoss.min, hi = statics.logLoss.max;
    for (let x = 0; x < wpx; x++) {
      g.fillStyle = css(viridisAt(lo + ((hi - lo) * x) / (wpx - 1), lo, hi));
      g.fillRect(x, 0, 1, 12);
    }
    if (barLabels.childElementCount === 0) {
      for (let k = Math.ceil(lo); k <= hi + 1e-9; k++) {
        const s = el("span", "", k < -3 ? `10${"⁻" + String(-k).replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d])}` : String(10 ** k));
        s.style.left = `${(100 * (k - lo)) / (hi - lo)}%`;
        barLabels.append(s);
      }
    }
  }

  function drawSurface() {
    const cssW = Math.round(fig.getBoundingClientRect().width) || 480;
    size = Math.max(200, Math.min(cssW, 560));
    const g = sharpCanvas(canvas, size, size);
    // Its CSS size, not its backing store's (2× on a phone): otherwise the
    // canvas shows at size·dpr shrunk to fit, and 12-px labels at 6 px.
    canvas.style.width = `${size}px`;
    g.imageSmoothingEnabled = false;
    g.drawImage(surfaceImage(), 0, 0, size, size);
    // Axes ticks inside the square (w across, b up), every 2.
    g.font = "13px system-ui, sans-serif";
    g.fillStyle = "#fff";
    g.strokeStyle = "rgb(0 0 0 / 0.6)";
    g.lineWidth = 3;
    g.lineJoin = "round"; // no miter spikes on the halo of "w"
    // The w ticks run along the bottom and the b ticks up the left: each
    // skips the corner the other uses, so that "b=-6" never sits on "w=-2".
    for (let v = Math.ceil(statics.wMin / 2) * 2; v <= statics.wMax; v += 2) {
      const x = toX(v);
      if (x < 44 || x > size - 36) continue;
      g.strokeText(`w=${v}`, x + 2, size - 4);
      g.fillText(`w=${v}`, x + 2, size - 4);
    }
    for (let v = Math.ceil(statics.bMin / 2) * 2; v <= statics.bMax; v += 2) {
      const y = toY(v);
      if (y > size - 20 || y < 16) continue;
      g.strokeText(`b=${v}`, 3, y - 2);
      g.fillText(`b=${v}`, 3, y - 2);
    }
    for (const p of frame.paths) drawPath(g, p);
  }

  function drawPath(g, p) {
    const look = p.clip ? LOOK.on : LOOK.off;
    const n = p.w.length;
    g.save();
    g.beginPath();
    g.rect(0, 0, size, size);
    g.clip();
    g.lineJoin = "round";
    g.beginPath();
    for (let i = 0; i < n; i++) {
      const x = toX(p.w[i]), y = toY(p.b[i]);
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    }
    g.setLineDash([]);
    g.strokeStyle = "#fff";
    g.lineWidth = 5;
    g.stroke();
    g.setLineDash(look.dash);
    g.strokeStyle = look.color;
    g.lineWidth = 2.5;
    g.stroke();
    g.restore();
    g.setLineDash([]);
    // Start: a ring; current point: a filled disc (or an arrow at the edge when off the map).
    const ring = (x, y, r, fillIt) => {
      g.beginPath();
      g.arc(x, y, r + 2, 0, 2 * Math.PI);
      g.fillStyle = "#fff";
      g.fill();
      g.beginPath();
      g.arc(x, y, r, 0, 2 * Math.PI);
      if (fillIt) {
        g.fillStyle = look.color;
        g.fill();
      } else {
        g.strokeStyle = look.color;
        g.lineWidth = 2.5;
        g.stroke();
      }
    };
    ring(toX(p.w[0]), toY(p.b[0]), 6, false);
    const x = toX(p.cur.w), y = toY(p.cur.b);
    if (x >= 0 && x <= size && y >= 0 && y <= size) ring(x, y, 4.5, true);
    else {
      const cx = Math.min(Math.max(x, 10), size - 10), cy = Math.min(Math.max(y, 10), size - 10);
      g.beginPath();
      g.moveTo(cx, cy);
      const a = Math.atan2(y - cy, x - cx);
      g.lineTo(cx - 12 * Math.cos(a - 0.4), cy - 12 * Math.sin(a - 0.4));
      g.lineTo(cx - 12 * Math.cos(a + 0.4), cy - 12 * Math.sin(a + 0.4));
      g.closePath();
      g.fillStyle = look.color;
      g.fill();
      g.strokeStyle = "#fff";
      g.lineWidth = 1.5;
      g.stroke();
    }
  }

  // ---- The readout ----
  // One column per path (so it fits a phone), one row per quantity.
  const ROWS = ["w", "b", "loss", "norm", "clipped", "longest", "cos"];
  function drawTable() {
    const trunc = frame.params.k < statics.T;
    const rows = trunc ? ROWS : ROWS.slice(0, -1);
    const names = [...S.cols.slice(1), S.colCos];
    const key = `${rows.length}/${frame.paths.map((p) => p.clip).join()}`;
    if (table.dataset.key !== key) {
      table.dataset.key = key;
      table.replaceChildren();
      const head = table.createTHead().insertRow();
      head.append(document.createElement("th"));
      for (const p of frame.paths) {
        const th = document.createElement("th");
        th.scope = "col";
        th.className = p.clip ? LOOK.on.cls : LOOK.off.cls;
        th.dataset.testid = p.clip ? "col-on" : "col-off";
        head.append(th);
      }
      const tb = table.createTBody();
      rows.forEach((r, i) => {
        const tr = tb.insertRow();
        const th = document.createElement("th");
        th.scope = "row";
        th.textContent = names[i];
        tr.append(th);
        for (const p of frame.paths) {
          const td = tr.insertCell();
          td.dataset.testid = `${r}-${p.clip ? "on" : "off"}`;
        }
      });
    }
    const thr = g3.format(frame.params.threshold);
    frame.paths.forEach((p, i) => {
      const c = p.cur;
      const th = table.tHead.rows[0].cells[i + 1];
      th.textContent = p.clip ? fill(S.pathOn, { thr }) : S.pathOff;
      const off = c.w < statics.wMin || c.w > statics.wMax || c.b < statics.bMin || c.b > statics.bMax;
      th.title = off ? fill(S.offMap, { w: f3.format(c.w), b: f3.format(c.b) }) : "";
      const vals = {
        w: f3.format(c.w), b: f3.format(c.b), loss: g3.format(c.loss), norm: g3.format(c.norm),
        clipped: c.clipped ? S.yes : S.no,
        longest: p.maxAt > 0 ? fill(S.longest, { len: g3.format(p.maxStep), at: p.maxAt }) : S.none,
        cos: f3.format(c.cos),
      };
      rows.forEach((r, k) => {
        const td = table.tBodies[0].rows[k].cells[i + 1];
        td.textContent = vals[r];
        if (r === "loss") td.dataset.value = String(c.loss);
        if (r === "norm") td.dataset.value = String(c.norm);
      });
    });
    progress.textContent = fill(S.progress, { step: frame.step, total: frame.total });
    how.textContent = trunc ? fill(S.trunc, { k: frame.params.k }) : S.full;
  }

  function narrate(force) {
    if (!frame || !voice.due(force || w.state !== "running")) return;
    const parts = frame.paths.map((p) =>
      fill(S.sayPath, { name: p.clip ? fill(S.pathOn, { thr: g3.format(frame.params.threshold) }) : S.pathOff, w: f3.format(p.cur.w), b: f3.format(p.cur.b), loss: g3.format(p.cur.loss), g: g3.format(p.cur.norm) }),
    );
    voice.say(fill(S.say, { step: frame.step, parts: parts.join("; ") }));
  }

  // Clicking the surface chooses the start point (rounded to 0.01).
  canvas.addEventListener("click", (e) => {
    if (!statics || !size) return;
    const r = canvas.getBoundingClientRect();
    const fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
    const round = (v) => Math.round(v * 100) / 100;
    const w0 = round(statics.wMin + fx * (statics.wMax - statics.wMin));
    const b0 = round(statics.bMax - fy * (statics.bMax - statics.bMin));
    setParams({ w0, b0 });
  });

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    drawSurface();
    drawBar();
    drawTable();
  });
  new ResizeObserver(() => draw()).observe(fig);
}
