// attention-learn: one small transformer trained on the server on copy,
// reverse or sort. Its attention maps on one fixed probe sequence (one per
// block and head, viridis from 0 to 1, the cell where each row's answer
// sits outlined) change as it trains, beside the loss, the per-token
// accuracy and the accuracy on sequences longer than the ones it was
// trained on. Every number comes from the engine over /ws (this package's
// README); this module only draws.

import {
  el, fill, reducedMotion, begin, narrator, settingsFields, liveWidget, field, niceValues, perFrame, sharpCanvas,
} from "/static/widgets/ui.js";
import { viridisAt, css } from "/static/widgets/palette.js";
import { dequantize } from "/static/widgets/quant.js";
import { lineChart } from "/static/widgets/charts.js";

// Okabe–Ito in viz's series order, with viz's dashes.
const SERIES = [
  { color: "#0072b2", dash: [] },
  { color: "#d55e00", dash: [8, 4] },
  { color: "#009e73", dash: [2, 3] },
];

const strings = {
  en: {
    tasks: { copy: "Copy", reverse: "Reverse", sort: "Sort" },
    positionsName: { sinusoidal: "Sinusoidal", learned: "Learned", none: "None" },
    progress: "Step {k} of {n}",
    note: "Each step trains on {b} fresh sequences of {len} tokens (vocabulary of {v}); the model ({p} parameters, d = {d}) is built for up to {max} tokens. Fixed sets of {n} sequences per length are scored every {e} steps.",
    chanceNote: "Guessing uniformly gets {c} of the tokens right (loss {l}).",
    readout: "Now",
    loss: "Loss (batch)", accuracy: "Accuracy (batch)", fixedAt: "Fixed set, length {L}", scoredAt: " (step {k})",
    notYet: "—",
    probe: "Probe sequence (the maps below are for it)",
    input: "Input", target: "Answer", pred: "Model says",
    mapsTitle: "Attention maps: row = output position, column = the input position it reads",
    mapHead: "Block {b}, head {h}",
    mass: "{m} on the answer",
    mapAlt: "Attention map of block {b}, head {h}: {m} of the weight on the outlined cells where the answers are. {row}",
    rowSay: "Output {i} puts most weight on input {j} ({w}); its answer is at input {s}.",
    rowSayMany: "Output {i} puts most weight on input {j} ({w}); its answer is at inputs {s}.",
    mapKeys: "Click a map (or focus it and use ↑ ↓) to read one row.",
    scale: "attention weight",
    outlined: "outlined: where each row's answer is",
    lossChart: "Training loss (each step's batch)",
    accChart: "Per-token accuracy: line = batches, marks = fixed set",
    lengthChart: "Trained on length {L}, tested longer (fixed sets)",
    stepAxis: "step", lossAxis: "loss", accAxis: "accuracy",
    batch: "batch", fixed: "fixed set", length: "length {L}",
    settings: "Settings (changing one starts training again)",
    task: "Task", positions: "Positional encoding", blocks: "Blocks", heads: "Heads per block", lr: "Learning rate", steps: "Steps", seed: "Seed",
    outOfRange: "Enter a whole number from {min} to {max}; this value was not applied.",
    diverged: "Diverged — lower the learning rate, then reset.",
    downloadPNG: "Download maps and charts (PNG)", downloadSVG: "SVG", json: "Frame data (JSON)", trace: "Step trace (JSON)",
    files: { png: "the maps and charts (PNG)", svg: "the maps and charts (SVG)", json: "the frame data (JSON)", "trace.json": "the step trace (JSON)" },
    exportNote: "The server re-trains to this step to draw it (a second or two).",
    say: "Step {k} of {n}. Fixed-set accuracy {a}; the best head puts {m} on the answer.",
    sayState: { running: "Training.", paused: "Paused.", done: "Training is over.", error: "The run stopped with an error.", diverged: "Diverged." },
    chartAlt: "{title}. Latest: {values}.",
    list: ", ",
    sep: ", ",
    colon: ": ",
  },
  zh: {
    tasks: { copy: "复制", reverse: "反转", sort: "排序" },
    positionsName: { sinusoidal: "正弦", learned: "可学习", none: "无" },
    progress: "第 {k} / {n} 步",
    note: "每一步在 {b} 条新序列上训练，每条 {len} 个词元（词表大小 {v}）；模型（{p} 个参数，d = {d}）最长可读 {max} 个词元。每隔 {e} 步在每个长度的 {n} 条固定序列上评分。",
    chanceNote: "均匀瞎猜能答对 {c} 的词元（损失 {l}）。",
    readout: "当前",
    loss: "损失（批次）", accuracy: "准确率（批次）", fixedAt: "固定集，长度 {L}", scoredAt: "（第 {k} 步）",
    notYet: "—",
    probe: "探针序列（下面的注意力图都是它的）",
    input: "输入", target: "答案", pred: "模型输出",
    mapsTitle: "注意力图：行 = 输出位置，列 = 它读取的输入位置",
    mapHead: "第 {b} 块，第 {h} 头",
    mass: "答案处 {m}",
    mapAlt: "第 {b} 块第 {h} 头的注意力图：{m} 的权重落在框出的答案格上。{row}",
    rowSay: "输出 {i} 把最多的权重放在输入 {j} 上（{w}）；它的答案在输入 {s}。",
    rowSayMany: "输出 {i} 把最多的权重放在输入 {j} 上（{w}）；它的答案在输入 {s}（都画了方框）。",
    mapKeys: "点击一张图（或聚焦后用 ↑ ↓）来读某一行。",
    scale: "注意力权重",
    outlined: "方框：每一行答案所在的位置",
    lossChart: "训练损失（每一步的批次）",
    accChart: "逐词元准确率：线 = 批次，标记 = 固定集",
    lengthChart: "只在长度 {L} 上训练，在更长的序列上测试（固定集）",
    stepAxis: "步", lossAxis: "损失", accAxis: "准确率",
    batch: "批次", fixed: "固定集", length: "长度 {L}",
    settings: "设置（修改任何一项都会重新训练）",
    task: "任务", positions: "位置编码", blocks: "块数", heads: "每块的头数", lr: "学习率", steps: "步数", seed: "随机种子",
    outOfRange: "请输入 {min} 到 {max} 之间的整数；此值未被采用。",
    diverged: "发散了——请降低学习率，然后重置。",
    downloadPNG: "下载注意力图和曲线（PNG）", downloadSVG: "SVG", json: "帧数据（JSON）", trace: "单步追踪（JSON）",
    files: { png: "注意力图和曲线（PNG）", svg: "注意力图和曲线（SVG）", json: "帧数据（JSON）", "trace.json": "单步追踪（JSON）" },
    exportNote: "服务器会重新训练到这一步再绘图（一两秒）。",
    say: "第 {k} / {n} 步。固定集准确率 {a}；最好的头把 {m} 的权重放在答案上。",
    sayState: { running: "正在训练。", paused: "已暂停。", done: "训练结束。", error: "运行因错误而停止。", diverged: "发散了。" },
    chartAlt: "{title}。最新：{values}。",
    list: "、",
    sep: "，",
    colon: "：",
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "al");
  const { S, locale, nf } = kit;
  const pct = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const pct0 = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 });
  const num3 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });

  let params = { ...initial };
  let statics = null;
  let frame = null;
  let row = 0; // the output row read out under the maps

  // ---- Layout ----
  const head = el("div", "al-head");
  const stepLine = el("p", "al-step");
  stepLine.dataset.testid = "step-line";
  const bar = document.createElement("progress");
  bar.className = "al-bar";
  bar.dataset.testid = "progress";
  bar.max = 1;
  bar.value = 0;
  const note = el("p", "al-note");
  const chanceNote = el("p", "al-note");
  head.append(stepLine, bar, note, chanceNote);

  const divergedBox = el("p", "al-diverged");
  divergedBox.setAttribute("role", "alert");
  divergedBox.dataset.testid = "diverged";
  divergedBox.hidden = true;

  // The readout: the batch's loss and accuracy, the fixed sets' accuracy.
  const readout = el("dl", "al-readout");
  readout.dataset.testid = "readout";
  const values = {};
  function readItem(key, label) {
    const d = el("div", "al-read");
    const dt = el("dt", "", label);
    const dd = el("dd", "al-num", S.notYet);
    dd.dataset.testid = key;
    d.append(dt, dd);
    readout.append(d);
    values[key] = { dt, dd };
  }
  readItem("loss", S.loss);
  readItem("accuracy", S.accuracy);

  // The probe: input, answer and the model's answer, token by token.
  const probeBox = el("figure", "al-probe");
  probeBox.append(el("figcaption", "", S.probe));
  const probeTable = el("table", "al-probe-table");
  probeTable.dataset.testid = "probe";
  probeBox.append(probeTable);

  const mapsBox = el("section", "al-maps-box");
  mapsBox.append(el("h3", "al-subhead", S.mapsTitle));
  const maps = el("div", "al-maps");
  maps.dataset.testid = "maps";
  const mapKeys = el("p", "al-note", S.mapKeys);
  const rowLine = el("p", "al-row");
  rowLine.setAttribute("aria-live", "polite");
  rowLine.dataset.testid = "row-readout";
  const legend = el("div", "al-scale");
  mapsBox.append(maps, legend, rowLine, mapKeys);
  let mapCells = []; // {b, h, fig, canvas, cap}

  const charts = el("div", "al-charts");
  function chartFig(title, testid) {
    const fig = el("figure", "al-chart");
    const cap = el("figcaption", "", title);
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.dataset.testid = testid;
    fig.append(cap, c);
    return { fig, canvas: c, cap };
  }
  const lossFig = chartFig(S.lossChart, "loss-chart");
  const accFig = chartFig(S.accChart, "acc-chart");
  const lenFig = chartFig("", "length-chart");
  charts.append(lossFig.fig, accFig.fig, lenFig.fig);

  const settings = el("fieldset", "al-settings");
  settings.append(el("legend", "", S.settings));
  const optNum = new Intl.NumberFormat(locale, { maximumSignificantDigits: 6 });
  const optionName = (v) => (typeof v === "number" ? optNum.format(v) : String(v));
  const { inputs, choice, numberField } = settingsFields(settings, {
    cls: "al-field", current: (k) => params[k], set: (change) => setParams(change), outOfRange: S.outOfRange, format: (v) => nf.format(v),
  });
  const range = (lo, hi) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

  const voice = narrator("al", 4000);
  const w = liveWidget(root, kit, {
    experiment: "attention-learn",
    prefix: "al",
    params: () => params,
    player: { speed: reducedMotion.matches ? 4 : 12, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    exportsNote: S.exportNote,
    ready(spec) {
      const f = (name) => field(spec, name);
      choice(f("task"), S.task, f("task").choices, (v) => S.tasks[v] ?? v, String);
      choice(f("positions"), S.positions, f("positions").choices, (v) => S.positionsName[v] ?? v, String);
      choice(f("blocks"), S.blocks, range(f("blocks").min, f("blocks").max), optionName, Number);
      choice(f("heads"), S.heads, range(f("heads").min, f("heads").max), optionName, Number);
      choice(f("lr"), S.lr, niceValues(f("lr"), { thirds: true }), optionName, Number);
      numberField(f("steps"), S.steps);
      numberField(f("seed"), S.seed);
    },
    frame(m) {
      if (m.static) {
        statics = m.static;
        syncSettings(statics.params);
        buildStatic();
      }
      if (!statics) return;
      const prev = frame?.step;
      frame = m.data;
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

  root.append(w.status, head, w.controls, w.working, divergedBox, readout, probeBox, mapsBox, charts, settings, w.exports, w.downloads, w.errorBox, voice.el);
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

  // buildStatic makes what changes only with the parameters: the readout's
  // fixed-set items, the probe table and one canvas per block and head.
  function buildStatic() {
    for (const k of Object.keys(values)) {
      if (k.startsWith("acc-")) {
        values[k].dt.parentElement.remove();
        delete values[k];
      }
    }
    for (const L of statics.lengths) readItem(`acc-${L}`, fill(S.fixedAt, { L: nf.format(L) }));

    probeTable.replaceChildren();
    const tb = el("tbody");
    const headRow = el("tr");
    headRow.append(el("th", "", ""));
    statics.probe.forEach((_, i) => {
      const th = el("th", "al-pos", nf.format(i));
      th.scope = "col";
      headRow.append(th);
    });
    tb.append(headRow);
    for (const [key, label, toks] of [["input", S.input, statics.probe], ["target", S.target, statics.target], ["pred", S.pred, null]]) {
      const tr = el("tr");
      const th = el("th", "", label);
      th.scope = "row";
      tr.append(th);
      statics.probe.forEach((_, i) => {
        const td = el("td", "al-tok", toks ? String(toks[i]) : S.notYet);
        td.dataset.testid = `${key}-${i}`;
        tr.append(td);
      });
      tb.append(tr);
    }
    probeTable.append(tb);

    maps.replaceChildren();
    mapCells = [];
    const p = statics.params;
    for (let b = 0; b < p.blocks; b++) {
      for (let h = 0; h < p.heads; h++) {
        const fig = el("figure", "al-map");
        const cap = el("figcaption", "", fill(S.mapHead, { b: nf.format(b + 1), h: nf.format(h + 1) }));
        const mass = el("span", "al-mass");
        mass.dataset.testid = `mass-${b}-${h}`;
        cap.append(el("br"), mass);
        const c = document.createElement("canvas");
        c.setAttribute("role", "img");
        c.tabIndex = 0;
        c.dataset.testid = `map-${b}-${h}`;
        c.addEventListener("keydown", (e) => {
          const L = statics.len;
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            row = (row + (e.key === "ArrowDown" ? 1 : L - 1)) % L;
            e.preventDefault();
            e.stopPropagation();
            draw();
          }
        });
        c.addEventListener("click", (e) => {
          const r = c.getBoundingClientRect();
          const cell = geometry(r.width).cell;
          const i = Math.floor((e.clientY - r.top - geometry(r.width).top) / cell);
          if (i >= 0 && i < statics.len) {
            row = i;
            draw();
          }
        });
        c.addEventListener("focus", () => draw());
        fig.append(cap, c);
        maps.append(fig);
        mapCells.push({ b, h, fig, canvas: c, mass });
      }
    }
    legend.replaceChildren(scaleBar(), el("span", "al-note", S.outlined));
    row = Math.min(row, statics.len - 1);
  }

  function scaleBar() {
    const wrap = el("span", "al-scale-bar");
    const c = document.createElement("canvas");
    c.setAttribute("aria-hidden", "true");
    const g = sharpCanvas(c, 120, 12);
    for (let x = 0; x < 120; x++) {
      g.fillStyle = css(viridisAt(x / 119, 0, 1));
      g.fillRect(x, 0, 1, 12);
    }
    c.style.width = "120px";
    c.style.height = "12px";
    wrap.append(el("span", "", "0"), c, el("span", "", "1"), el("span", "al-note", S.scale));
    return wrap;
  }

  // ---- Drawing ----
  function geometry(width) {
    const L = statics.len;
    const label = Math.max(20, Math.round(width / 12)); // room for ≥ 12-px axis labels
    const cell = Math.max(8, Math.floor((width - label) / L));
    return { L, label, cell, top: label, left: label, size: label + cell * L };
  }

  function drawMap(cell, q) {
    const width = Math.min(260, Math.max(120, Math.floor(cell.fig.clientWidth || 200)));
    const gm = geometry(width);
    const g = sharpCanvas(cell.canvas, gm.size, gm.size);
    cell.canvas.style.width = `${gm.size}px`;
    cell.canvas.style.height = `${gm.size}px`;
    const dark = matchMedia("(prefers-color-scheme: dark)").matches;
    g.clearRect(0, 0, gm.size, gm.size);
    const vals = dequantize(q);
    const { L } = gm;
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < L; j++) {
        const rgb = viridisAt(vals[i * L + j], 0, 1);
        g.fillStyle = css(rgb);
        g.fillRect(gm.left + j * gm.cell, gm.top + i * gm.cell, gm.cell, gm.cell);
      }
    }
    // Outline where each row's answer is (sort: every position holding it).
    g.lineWidth = Math.max(1.5, gm.cell / 10);
    for (let i = 0; i < L; i++) {
      for (let j = 0; j < L; j++) {
        if (!isSource(i, j)) continue;
        const x = gm.left + j * gm.cell, y = gm.top + i * gm.cell;
        g.strokeStyle = "#fff";
        g.strokeRect(x + 1, y + 1, gm.cell - 2, gm.cell - 2);
        g.strokeStyle = "#000";
        g.setLineDash([3, 2]);
        g.strokeRect(x + 1, y + 1, gm.cell - 2, gm.cell - 2);
        g.setLineDash([]);
      }
    }
    // The selected row, and the axis labels: input tokens on top, output
    // positions on the left.
    g.strokeStyle = dark ? "#fff" : "#000";
    g.lineWidth = 2;
    g.strokeRect(gm.left - 1, gm.top + row * gm.cell - 1, gm.cell * L + 2, gm.cell + 2);
    g.fillStyle = dark ? "#ddd" : "#333";
    g.font = `${Math.max(12, Math.round(gm.label * 0.65))}px system-ui, sans-serif`;
    g.textAlign = "center";
    g.textBaseline = "middle";
    for (let j = 0; j < L; j++) g.fillText(String(statics.probe[j]), gm.left + (j + 0.5) * gm.cell, gm.top / 2);
    for (let i = 0; i < L; i++) g.fillText(nf.format(i), gm.left / 2, gm.top + (i + 0.5) * gm.cell);
    return vals;
  }

  function rowText(vals) {
    const L = statics.len;
    let j = 0;
    for (let k = 1; k < L; k++) if (vals[row * L + k] > vals[row * L + j]) j = k;
    // The same positions the map outlines: with sort, every input holding the answer.
    const src = [];
    for (let k = 0; k < L; k++) if (isSource(row, k)) src.push(nf.format(k));
    const s = new Intl.ListFormat(lang === "zh" ? "zh-CN" : "en", { type: "conjunction" }).format(src);
    return fill(src.length > 1 ? S.rowSayMany : S.rowSay, { i: nf.format(row), j: nf.format(j), w: pct0.format(vals[row * L + j]), s });
  }

  function isSource(i, j) {
    return statics.params.task === "sort" ? statics.probe[j] === statics.target[i] : statics.sources[i] === j;
  }

  function drawMaps() {
    let focused = null;
    for (const cell of mapCells) {
      const q = frame.maps[cell.b]?.[cell.h];
      if (!q) continue;
      const vals = drawMap(cell, q);
      const m = frame.mass[cell.b][cell.h];
      cell.mass.textContent = fill(S.mass, { m: pct0.format(m) });
      cell.mass.dataset.value = String(m);
      const rt = rowText(vals);
      cell.canvas.setAttribute("aria-label", fill(S.mapAlt, { b: nf.format(cell.b + 1), h: nf.format(cell.h + 1), m: pct0.format(m), row: rt }));
      if (document.activeElement === cell.canvas || (!focused && cell === mapCells[0])) focused = { cell, rt };
    }
    if (focused) rowLine.textContent = `${fill(S.mapHead, { b: nf.format(focused.cell.b + 1), h: nf.format(focused.cell.h + 1) })}${S.colon}${focused.rt}`;
  }

  const chart = (canvas, o) => lineChart(canvas, { locale, ...o });

  function curve(q, every, step) {
    const ys = q && q.shape[0] > 0 ? dequantize(q) : new Float64Array(0);
    return { xs: Array.from(ys, (_, i) => Math.min((i + 1) * every, step)), ys: Array.from(ys) };
  }

  function drawCharts() {
    const total = statics.total, c = frame.curves;
    const loss = curve(c.loss, c.every, frame.step);
    let lossMax = statics.baselineLoss;
    for (const y of loss.ys) if (Number.isFinite(y)) lossMax = Math.max(lossMax, y);
    chart(lossFig.canvas, { xMax: total, yMin: 0, yMax: Math.min(lossMax * 1.05, 10), xLabel: S.stepAxis, yLabel: S.lossAxis, series: [{ style: SERIES[0], ...loss }], hline: statics.baselineLoss });
    const acc = curve(c.accuracy, c.every, frame.step);
    const ev = frame.evals;
    chart(accFig.canvas, {
      xMax: total, yMin: 0, yMax: 1, xLabel: S.stepAxis, yLabel: S.accAxis, yPercent: true, hline: statics.chance,
      series: [
        { style: SERIES[0], ...acc, width: 1.5, alpha: 0.6, name: S.batch },
        { style: SERIES[1], xs: ev.map((e) => e.step), ys: ev.map((e) => e.accuracy[0]), markers: true, name: S.fixed },
      ],
    });
    lenFig.cap.textContent = fill(S.lengthChart, { L: nf.format(statics.len) });
    chart(lenFig.canvas, {
      xMax: total, yMin: 0, yMax: 1, xLabel: S.stepAxis, yLabel: S.accAxis, yPercent: true, hline: statics.chance,
      series: statics.lengths.map((L, i) => ({ style: SERIES[i], xs: ev.map((e) => e.step), ys: ev.map((e) => e.accuracy[i]), markers: true, name: fill(S.length, { L: nf.format(L) }) })),
    });
    const last = ev[ev.length - 1];
    lossFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.lossChart, values: frame.loss == null ? S.notYet : num3.format(frame.loss) }));
    accFig.canvas.setAttribute("aria-label", fill(S.chartAlt, { title: S.accChart, values: pct.format(last.accuracy[0]) }));
    lenFig.canvas.setAttribute("aria-label", fill(S.chartAlt, {
      title: lenFig.cap.textContent,
      values: statics.lengths.map((L, i) => `${fill(S.length, { L: nf.format(L) })} ${pct.format(last.accuracy[i])}`).join(S.list),
    }));
  }

  function setValue(key, v, f) {
    const dd = values[key]?.dd;
    if (!dd) return;
    dd.textContent = v == null ? S.notYet : f(v);
    if (v == null) delete dd.dataset.value;
    else dd.dataset.value = String(v);
  }

  function drawText() {
    const p = statics.params;
    stepLine.textContent = `${S.tasks[p.task] ?? p.task}${S.sep}${S.positions}${S.colon}${S.positionsName[p.positions] ?? p.positions} — ${fill(S.progress, { k: nf.format(frame.step), n: nf.format(frame.total) })}`;
    bar.value = frame.total ? frame.step / frame.total : 0;
    note.textContent = fill(S.note, {
      b: nf.format(statics.batch), len: nf.format(statics.len), v: nf.format(statics.vocab), p: nf.format(statics.modelParams), d: nf.format(statics.d),
      max: nf.format(statics.lengths[statics.lengths.length - 1]), n: nf.format(statics.evalSize), e: nf.format(statics.evalEvery),
    });
    chanceNote.textContent = fill(S.chanceNote, { c: pct0.format(statics.chance), l: num3.format(statics.baselineLoss) });
    setValue("loss", frame.loss, (v) => num3.format(v));
    setValue("accuracy", frame.accuracy, (v) => pct.format(v));
    const last = frame.evals[frame.evals.length - 1];
    statics.lengths.forEach((L, i) => {
      setValue(`acc-${L}`, last.accuracy[i], (v) => pct.format(v));
      const dt = values[`acc-${L}`]?.dt;
      if (dt) dt.textContent = fill(S.fixedAt, { L: nf.format(L) }) + fill(S.scoredAt, { k: nf.format(last.step) });
    });
    statics.probe.forEach((_, i) => {
      const td = probeTable.querySelector(`[data-testid="pred-${i}"]`);
      if (!td) return;
      const k = frame.pred[i];
      td.textContent = String(k);
      td.classList.toggle("al-wrong", k !== statics.target[i]);
    });
    const div = frame.diverged;
    divergedBox.hidden = !div;
    if (div) divergedBox.textContent = `${S.diverged} ${lang === "zh" ? div.Zh : div.En}`;
  }

  function bestMass() {
    let m = 0;
    for (const bm of frame.mass) for (const v of bm) m = Math.max(m, v);
    return m;
  }

  function narrate(force) {
    if (!frame || !voice.due(force || w.state !== "running")) return;
    const e = frame.evals[frame.evals.length - 1];
    voice.say(fill(S.say, { k: nf.format(frame.step), n: nf.format(frame.total), a: pct.format(e.accuracy[0]), m: pct0.format(bestMass()) }));
  }

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    drawText();
    drawMaps();
    drawCharts();
  });
  stepLine.textContent = S.connecting;
}
