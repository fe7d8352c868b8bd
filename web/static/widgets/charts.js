// charts.js: the line charts the live widgets draw beside their races (loss,
// accuracy, per-distance or per-block profiles) on a <canvas>, in one look:
// text at ≥ 13 CSS px, room on the right for the last x tick, Okabe–Ito
// series styles {color, dash, marker} passed in by the widget. Plain ES
// module, no build step; every number it draws is given by the widget.
//
//   import { lineChart } from "/static/widgets/charts.js";
//   lineChart(canvas, { locale, xMax: 500, yMin: 0, yMax: 1, xLabel, yLabel, yPercent: true,
//     series: [{ style: { color: "#0072b2", dash: [], marker: "circle" }, xs, ys, markers: true }] });

const formats = new Map();

// numbers returns the locale's integer (x ticks) and 3-significant-digit
// (y ticks) formatters, made once per locale.
function numbers(locale) {
  let f = formats.get(locale);
  if (!f) {
    const nf = new Intl.NumberFormat(locale);
    const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
    f = { x: (v) => nf.format(v), y: (v) => num3.format(v) };
    formats.set(locale, f);
  }
  return f;
}

/**
 * sizeCanvas fits canvas c to its CSS width (at least min px; fallback
 * before layout) and ratio × that height, at the device's pixel ratio (at
 * most 2), clears it and returns {g, w, h}: a context drawing in CSS pixels.
 */
export function sizeCanvas(c, ratio = 0.62, { min = 240, fallback = 420 } = {}) {
  const w = Math.max(min, Math.round(c.clientWidth || fallback));
  const h = Math.round(w * ratio);
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
  }
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  return { g, w, h };
}

/** niceTicks returns about n round values (1, 2, 5 × 10ᵏ apart) in [lo, hi]. */
export function niceTicks(lo, hi, n) {
  const raw = (hi - lo || 1) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) || mag * 10;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(Math.round(v / step) * step);
  return ticks;
}

/** decadeTicks returns about n powers of ten in [lo, hi] (lo > 0): a log axis over many decades. */
export function decadeTicks(lo, hi, n = 4) {
  return niceTicks(Math.ceil(Math.log10(lo)), Math.floor(Math.log10(hi)), n).map((e) => 10 ** e);
}

/**
 * logTicks returns 1, 2, 5 × 10ᵏ inside [lo, hi] (lo > 0), only the 1 × 10ᵏ
 * when there would be more than six: a log axis over a decade or two.
 */
export function logTicks(lo, hi) {
  const t = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) {
    for (const m of [1, 2, 5]) if (m * 10 ** k >= lo && m * 10 ** k <= hi) t.push(m * 10 ** k);
  }
  if (t.length < 2) return niceTicks(lo, hi, 3);
  return t.length > 6 ? t.filter((v) => String(v)[0] === "1") : t;
}

/** sup writes an integer exponent in superscript digits: 10 + sup(-5) is 10⁻⁵. */
export function sup(e) {
  return String(e).replace(/[-0-9]/g, (c) => "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"["-0123456789".indexOf(c)]);
}

/**
 * marker draws viz's marker kind ("circle", "square", "triangle",
 * "diamond"; none: a plain dot) of radius r at (x, y), white-edged so that
 * overlapping markers stay apart.
 */
export function marker(g, kind, x, y, r, color) {
  g.setLineDash([]);
  g.fillStyle = color;
  g.beginPath();
  if (!kind) {
    g.arc(x, y, r, 0, 2 * Math.PI);
    g.fill();
    return;
  }
  g.strokeStyle = "#fff";
  g.lineWidth = 1;
  if (kind === "circle") g.arc(x, y, r, 0, 2 * Math.PI);
  else if (kind === "square") g.rect(x - r, y - r, 2 * r, 2 * r);
  else if (kind === "diamond") {
    g.moveTo(x, y - r * 1.3);
    g.lineTo(x + r * 1.1, y);
    g.lineTo(x, y + r * 1.3);
    g.lineTo(x - r * 1.1, y);
    g.closePath();
  } else {
    g.moveTo(x, y - r * 1.2);
    g.lineTo(x + r * 1.1, y + r * 0.8);
    g.lineTo(x - r * 1.1, y + r * 0.8);
    g.closePath();
  }
  g.fill();
  g.stroke();
}

/** drawSwatch draws style's line and marker across a 36×12 canvas c: an HTML legend's key. */
export function drawSwatch(c, style) {
  const g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = style.color;
  g.lineWidth = 3;
  g.setLineDash(style.dash ?? []);
  g.beginPath();
  g.moveTo(2, 6);
  g.lineTo(34, 6);
  g.stroke();
  marker(g, style.marker, 18, 6, 4, style.color);
}

/** swatch returns a new 36×12 canvas of class cls showing style (see drawSwatch), hidden from screen readers. */
export function swatch(style, cls) {
  const c = document.createElement("canvas");
  c.className = cls;
  c.width = 36;
  c.height = 12;
  c.setAttribute("aria-hidden", "true");
  drawSwatch(c, style);
  return c;
}

const dark = () => matchMedia("(prefers-color-scheme: dark)").matches;

/**
 * axes sizes canvas (sizeCanvas, ratio 0.62) and draws a chart's frame:
 * grid lines at the y ticks, tick labels, the axis titles. Options:
 *   xMin (0), xMax, yMin, yMax: the ranges; values outside are clamped;
 *   xLabel, yLabel: the axis titles;
 *   locale: for the default tick labels (x whole numbers, y 3 digits);
 *   xTicks: numbers, or [x, text] pairs (staggered on two lines when they
 *     would touch); by default about five round whole numbers;
 *   intX: a tick at every whole x from xMin to xMax;
 *   yTicks, yFormat: the y ticks and their labels; yPercent writes 0.5 as
 *     50%; logY draws log10(y) with decadeTicks labelled 10ⁿ by default.
 * It returns {g, X, Y, pad, pw, ph, fs, ink}: the context, the maps from
 * data to CSS pixels, the plot area's padding and size, the font size.
 */
export function axes(canvas, o) {
  const { xMin = 0, xMax, yMin, yMax, xLabel = "", yLabel = "", logY = false } = o;
  const num = numbers(o.locale);
  const { g, w, h } = sizeCanvas(canvas, 0.62);
  const fs = Math.max(13, Math.min(15, w / 30)); // ≥ 13 CSS px: legible in Chinese on a three-column desktop grid
  g.font = `${fs}px system-ui, sans-serif`;
  let xt = o.xTicks;
  if (!xt && o.intX) xt = Array.from({ length: Math.max(0, Math.floor(xMax - xMin) + 1) }, (_, i) => xMin + i);
  if (!xt) xt = niceTicks(xMin, xMax, 5).filter((t) => t === Math.round(t));
  xt = xt.map((t) => (Array.isArray(t) ? t : [t, num.x(t)]));
  // Given labels that would touch ("101–300", "301–1,109") are staggered on two lines.
  const stagger = !!o.xTicks && xt.length > 1 && xt.some(([, text]) => g.measureText(text).width > (w - fs * 6.4) / xt.length - 6);
  const pad = { l: fs * 4.6, r: fs * 1.8, t: 8, b: fs * (stagger ? 4.4 : 3.2) }; // right pad: room for half the last x tick ("1,500")
  const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
  const tr = (y) => (logY ? Math.log10(y) : y);
  const X = (x) => pad.l + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const Y = (y) => pad.t + (1 - (tr(Math.min(yMax, Math.max(yMin, y))) - tr(yMin)) / (tr(yMax) - tr(yMin) || 1)) * ph;
  const ink = dark() ? "#ddd" : "#333";
  g.fillStyle = ink;
  g.strokeStyle = dark() ? "#555" : "#ddd";
  g.lineWidth = 1;
  g.setLineDash([]);
  g.textAlign = "right";
  g.textBaseline = "middle";
  const yt = o.yTicks ?? (logY ? decadeTicks(yMin, yMax, 4) : niceTicks(yMin, yMax, 4));
  const yFormat = o.yFormat ?? (o.yPercent ? (t) => `${Math.round(t * 100)}%` : logY ? (t) => `10${sup(Math.round(Math.log10(t)))}` : num.y);
  for (const t of yt) {
    g.beginPath();
    g.moveTo(pad.l, Y(t));
    g.lineTo(pad.l + pw, Y(t));
    g.stroke();
    g.fillText(yFormat(t), pad.l - 4, Y(t));
  }
  g.textAlign = "center";
  g.textBaseline = "top";
  xt.forEach(([x, text], i) => g.fillText(text, X(x), pad.t + ph + 4 + (stagger && i % 2 ? fs * 1.2 : 0)));
  g.fillText(xLabel, pad.l + pw / 2, pad.t + ph + fs * (stagger ? 2.8 : 1.6));
  g.save();
  g.translate(fs * 0.8, pad.t + ph / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = "middle";
  g.fillText(yLabel, 0, 0);
  g.restore();
  g.strokeStyle = ink;
  g.strokeRect(pad.l, pad.t, pw, ph);
  return { g, X, Y, pad, pw, ph, fs, ink, logY };
}

/**
 * hline draws a dashed grey reference line at y (chance, a baseline loss)
 * across chart a (from axes).
 */
export function hline(a, y) {
  const { g, pad, pw, Y } = a;
  g.save();
  g.strokeStyle = "#888";
  g.lineWidth = 1;
  g.setLineDash([3, 3]);
  g.beginPath();
  g.moveTo(pad.l, Y(y));
  g.lineTo(pad.l + pw, Y(y));
  g.stroke();
  g.restore();
}

/**
 * plot draws series on chart a (from axes), clipped to the plot area (with
 * room for markers on its edges). A series is {style: {color, dash,
 * marker}, xs, ys, width (2), alpha (1), markers}: its line breaks at
 * non-finite values (and at y ≤ 0 on a log axis); the dash scales with the
 * width; markers draws style.marker (a dot without one) at every point, and
 * a point with no finite neighbour gets one anyway, so a lone step-0
 * evaluation shows.
 */
export function plot(a, series) {
  const { g, X, Y, pad, pw, ph, fs, logY } = a;
  g.save();
  g.beginPath();
  g.rect(pad.l, pad.t - 6, pw + 6, ph + 12);
  g.clip();
  const ok = (y) => Number.isFinite(y) && !(logY && y <= 0);
  for (const s of series) {
    const st = s.style, width = s.width ?? 2;
    g.globalAlpha = s.alpha ?? 1;
    g.strokeStyle = st.color;
    g.lineWidth = width;
    g.setLineDash((st.dash ?? []).map((d) => (d * width) / 2));
    g.beginPath();
    let pen = false;
    for (let i = 0; i < s.xs.length; i++) {
      if (!ok(s.ys[i])) {
        pen = false;
        continue;
      }
      if (pen) g.lineTo(X(s.xs[i]), Y(s.ys[i]));
      else g.moveTo(X(s.xs[i]), Y(s.ys[i]));
      pen = true;
    }
    g.stroke();
    for (let i = 0; i < s.xs.length; i++) {
      if (!ok(s.ys[i])) continue;
      if (s.markers || (!ok(s.ys[i - 1]) && !ok(s.ys[i + 1]))) marker(g, st.marker, X(s.xs[i]), Y(s.ys[i]), fs * 0.32, st.color);
    }
    g.globalAlpha = 1;
  }
  g.restore();
}

/**
 * legend draws items [{style, name}] top right inside chart a, each name
 * beside a short stretch of its line: for charts whose series the page's
 * HTML legend does not name.
 */
export function legend(a, items) {
  const { g, pad, pw, fs, ink } = a;
  g.save();
  g.font = `${fs}px system-ui, sans-serif`;
  g.textAlign = "right";
  g.textBaseline = "middle";
  items.forEach((s, k) => {
    const y = pad.t + fs * (0.9 + 1.3 * k);
    g.fillStyle = ink;
    g.fillText(s.name, pad.l + pw - 34, y);
    g.strokeStyle = s.style.color;
    g.lineWidth = 2.5;
    g.setLineDash(s.style.dash ?? []);
    g.beginPath();
    g.moveTo(pad.l + pw - 30, y);
    g.lineTo(pad.l + pw - 6, y);
    g.stroke();
  });
  g.restore();
}

/**
 * lineChart draws a whole chart on canvas: axes(canvas, o), the reference
 * line o.hline (if any), the series o.series (plot), a legend of the
 * series that have a name, and o.label as the canvas's aria-label (if
 * given). It returns the chart (see axes) for drawing more on it.
 */
export function lineChart(canvas, o) {
  const a = axes(canvas, o);
  if (o.hline != null) hline(a, o.hline);
  plot(a, o.series ?? []);
  const named = (o.series ?? []).filter((s) => s.name);
  if (named.length) legend(a, named);
  if (o.label != null) canvas.setAttribute("aria-label", o.label);
  return a;
}
