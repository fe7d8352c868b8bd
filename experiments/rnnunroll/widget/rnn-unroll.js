// rnn-unroll: one real RNN cell (the server's engine, tanh, h_0 = 0) reads
// a word one character per time step. The unrolled strip shows the same
// cell at every step; the step's table shows how h_t is made from x_t and
// h_{t−1}; the count line shows the parameters staying flat as T grows
// while an unshared RNN's grow, and that RNN refusing a word longer than
// the T it was built for. Every number comes from the server over /ws;
// this module only draws.

import { divergingAt, css, textOn } from "/static/widgets/palette.js";
import {
  el, fill, reducedMotion, begin, narrator, selectField, sharpCanvas, fillCells,
  perFrame, liveWidget, field, intValues, intInput,
} from "/static/widgets/ui.js";

const strings = {
  en: {
    sharing: "The same {params} parameters (W_ih, W_hh, b_ih, b_hh) at every one of the {steps} steps of “{word}”",
    unrolled: "The RNN unrolled over the word",
    shared: "shared",
    unsharedRow: "unshared, T = {T}",
    cellText: "W_ih W_hh\nb_ih b_hh",
    noWeights: "none",
    noWeightsTitle: "the unshared RNN has no weights for step {t}",
    stepHead: "Step t = {t}: x_{t} is the one-hot vector of “{c}”",
    noStep: "Press Step or Play: the cell reads the first character.",
    formula: "h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)",
    cols: ["j", "h_{t−1}", "W_ih·\u200bx_t", "W_hh·\u200bh_{t−1}", "b_ih", "b_hh", "a_t (sum)", "h_t =\u200b tanh(a_t)"],
    weights: "The shared weights (the same at every step)",
    wihCap: "W_ih: {h} × 26 (a column per letter; x_t picks the ringed one)",
    whhCap: "W_hh: {h} × {h}",
    count: "Parameters as the sequence grows",
    tLabel: "Sequence length T",
    countShared: "Shared RNN: {params} parameters for every T; at T = {T} each weight is used {T} times ({uses} multiply-adds).",
    countUnshared: "Unshared RNN (its own weights at each step): {params} × {T} = {unshared} parameters.",
    reads: "The unshared RNN built for T = {T} steps can read “{word}” ({n} characters).",
    word: "Word", hidden: "Hidden size", seed: "Seed",
    progress: "{step} of {total} steps",
    downloadPNG: "Download PNG", downloadSVG: "SVG", json: "Frame data (JSON)", trace: "Step trace (JSON)",
    say: "Step {t}, character {c}: h_t is {h}.",
    sayState: { running: "Playing.", paused: "Paused.", done: "Done: the cell has read the whole word.", error: "The run stopped with an error.", diverged: "The run diverged." },
    wihAlt: "Heat map of W_ih, the current letter's column ringed",
    whhAlt: "Heat map of W_hh",
  },
  zh: {
    sharing: "“{word}”的 {steps} 个时间步，每一步都用同样的 {params} 个参数（W_ih、W_hh、b_ih、b_hh）",
    unrolled: "沿单词展开的 RNN",
    shared: "共享",
    unsharedRow: "不共享，T = {T}",
    cellText: "W_ih W_hh\nb_ih b_hh",
    noWeights: "无",
    noWeightsTitle: "不共享的 RNN 在第 {t} 步没有权重",
    stepHead: "第 t = {t} 步：x_{t} 是“{c}”的独热向量",
    noStep: "按“单步”或“播放”：单元读入第一个字符。",
    formula: "h_t = tanh(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)",
    cols: ["j", "h_{t−1}", "W_ih·\u200bx_t", "W_hh·\u200bh_{t−1}", "b_ih", "b_hh", "a_t（和）", "h_t =\u200b tanh(a_t)"],
    weights: "共享的权重（每一步都相同）",
    wihCap: "W_ih：{h} × 26（每个字母一列；x_t 选出画圈的那一列）",
    whhCap: "W_hh：{h} × {h}",
    count: "序列变长时的参数量",
    tLabel: "序列长度 T",
    countShared: "共享的 RNN：无论 T 是多少都是 {params} 个参数；T = {T} 时每个权重被使用 {T} 次（共 {uses} 次乘加）。",
    countUnshared: "不共享的 RNN（每一步都有自己的权重）：{params} × {T} = {unshared} 个参数。",
    reads: "按 T = {T} 个时间步构建的不共享 RNN 能读“{word}”（{n} 个字符）。",
    word: "单词", hidden: "隐藏维数", seed: "种子",
    progress: "已算 {step} / {total} 步",
    downloadPNG: "下载 PNG", downloadSVG: "SVG", json: "帧数据（JSON）", trace: "单步追踪（JSON）",
    say: "第 {t} 步，字符 {c}：h_t 为 {h}。",
    sayState: { running: "正在播放。", paused: "已暂停。", done: "完成：单元已读完整个单词。", error: "运行因错误而停止。", diverged: "运行发散了。" },
    wihAlt: "W_ih 的热图，当前字母所在列画了圈",
    whhAlt: "W_hh 的热图",
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "ru");
  const { L, S, locale, nf } = kit;
  const fixed = (d) => new Intl.NumberFormat(locale, { minimumFractionDigits: d, maximumFractionDigits: d, signDisplay: "negative" });
  const f4 = fixed(4);

  let params = { ...initial };
  let statics = null;
  let frame = null;

  // ---- Layout ----
  const sharing = el("p", "ru-sharing");
  sharing.dataset.testid = "sharing-line";

  const stripFig = el("figure", "ru-panel ru-unrolled");
  const strip = el("div", "ru-strip");
  strip.dataset.testid = "strip";
  stripFig.append(el("figcaption", "", S.unrolled), strip);
  const progress = el("p", "ru-progress");
  progress.dataset.testid = "progress";
  stripFig.append(progress);

  const mathFig = el("figure", "ru-panel ru-math");
  mathFig.dataset.testid = "step-math";
  const stepHead = el("figcaption", "ru-step-head");
  const formula = el("p", "ru-formula", S.formula);
  const tableBox = el("div", "ru-table-box");
  const table = el("table", "ru-table");
  tableBox.append(table);
  mathFig.append(stepHead, formula, tableBox);

  const weightsFig = el("figure", "ru-panel ru-weights");
  const wihCap = el("p", "ru-cap");
  const wihCanvas = document.createElement("canvas");
  wihCanvas.setAttribute("role", "img");
  wihCanvas.setAttribute("aria-label", S.wihAlt);
  wihCanvas.className = "ru-wih";
  const letters = el("div", "ru-letters");
  const whhCap = el("p", "ru-cap");
  const whhCanvas = document.createElement("canvas");
  whhCanvas.setAttribute("role", "img");
  whhCanvas.setAttribute("aria-label", S.whhAlt);
  whhCanvas.className = "ru-whh";
  weightsFig.append(el("figcaption", "", S.weights), wihCap, wihCanvas, letters, whhCap, whhCanvas);

  const countFig = el("figure", "ru-panel ru-count");
  countFig.dataset.testid = "count";
  const tField = el("label", "ru-t");
  const tName = el("span", "", S.tLabel);
  const tShown = el("output", "ru-t-value");
  tShown.dataset.testid = "value-T";
  const tSlider = document.createElement("input");
  tSlider.type = "range";
  tSlider.dataset.testid = "slider-T";
  tField.append(tName, tShown, tSlider);
  const countShared = el("p", "ru-count-shared");
  countShared.dataset.testid = "count-shared";
  const countUnshared = el("p", "ru-count-unshared");
  countUnshared.dataset.testid = "count-unshared";
  const barShared = el("span", "ru-bar ru-bar-shared");
  const barUnshared = el("span", "ru-bar ru-bar-unshared");
  const verdict = el("p", "ru-verdict");
  verdict.dataset.testid = "unshared-verdict";
  countFig.append(el("figcaption", "", S.count), tField, countShared, barShared, countUnshared, barUnshared, verdict);

  const panels = el("div", "ru-panels");
  panels.append(mathFig, weightsFig);
  const settings = el("div", "ru-settings");
  let word, hidden, seed;

  const voice = narrator("ru", 1000);
  const w = liveWidget(root, kit, {
    experiment: "rnn-unroll",
    prefix: "ru",
    params: () => params,
    player: { speed: reducedMotion.matches ? 1 : 2, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    ready(spec) {
      const cur = (name) => params[name] ?? field(spec, name).default;
      const wf = field(spec, "word");
      word = selectField({ cls: "ru-field", text: S.word, values: wf.choices, name: String, current: cur("word"), testid: "word", onChange: (v) => setParams({ word: v }) });
      word.label.title = wf.desc;
      const hf = field(spec, "hidden");
      hidden = selectField({ cls: "ru-field", text: S.hidden, values: intValues(hf), name: String, current: cur("hidden"), testid: "hidden", onChange: (v) => setParams({ hidden: Number(v) }) });
      hidden.label.title = hf.desc;
      const sf = field(spec, "seed");
      const seedLabel = el("label", "ru-field");
      seedLabel.title = sf.desc;
      seed = intInput(sf.min, sf.max, () => cur("seed"), (v) => setParams({ seed: v }));
      seed.dataset.testid = "seed";
      seedLabel.append(el("span", "", S.seed), seed);
      settings.append(word.label, hidden.label, seedLabel);
      const tf = field(spec, "T");
      tSlider.min = String(tf.min);
      tSlider.max = String(tf.max);
      tSlider.title = tf.desc;
      tSlider.value = String(cur("T"));
      showT(cur("T"));
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

  root.append(w.status, w.working, sharing, stripFig, w.controls, panels, countFig, settings, w.exports, w.downloads, w.errorBox, voice.el);

  // The T slider sends at most every 120 ms, always the final value.
  let lastSent = 0;
  let pendingT = 0;
  tSlider.addEventListener("input", () => {
    const v = Number(tSlider.value);
    showT(v);
    clearTimeout(pendingT);
    const send = () => {
      lastSent = performance.now();
      setParams({ T: v });
    };
    const wait = 120 - (performance.now() - lastSent);
    if (wait <= 0) send();
    else pendingT = setTimeout(send, wait);
  });

  function showT(v) {
    tShown.textContent = nf.format(v);
    tSlider.setAttribute("aria-valuetext", tShown.textContent);
  }

  function setParams(change) {
    params = { ...params, ...change };
    w.send({ type: "set-params", params: change });
  }

  function syncSettings() {
    if (!statics || !frame) return;
    const p = statics.params;
    params = { ...params, word: p.word, hidden: p.hidden, seed: p.seed, T: frame.counts.T };
    if (!word) return;
    word.input.value = p.word;
    hidden.input.value = String(p.hidden);
    if (document.activeElement !== seed) seed.value = String(p.seed);
    if (document.activeElement !== tSlider) {
      tSlider.value = String(frame.counts.T);
      showT(frame.counts.T);
    }
  }

  // ---- Drawing ----
  const hLim = () => Math.max(statics.hAbsMax, 1e-9);

  function drawStrip() {
    const n = statics.tokens.length, T = frame.counts.T;
    const p = statics.params;
    // One column per time step, rebuilt when the word or sizes change.
    const key = `${p.word}/${p.hidden}/${T}`;
    if (strip.dataset.key !== key) {
      strip.dataset.key = key;
      strip.replaceChildren();
      const rowLabels = el("div", "ru-col ru-labels");
      rowLabels.append(el("span", "ru-lab-h", "h_t"), el("span", "ru-lab-cell", S.shared), el("span", "ru-lab-x", "x_t"), el("span", "ru-lab-un", fill(S.unsharedRow, { T: nf.format(T) })));
      strip.append(rowLabels);
      for (let t = 1; t <= n; t++) {
        const col = el("div", "ru-col ru-step");
        col.dataset.t = String(t);
        const hs = el("div", "ru-h");
        for (let j = 0; j < p.hidden; j++) hs.append(el("span", "ru-hcell"));
        const cell = el("div", "ru-cell", S.cellText);
        const x = el("div", "ru-x", statics.alphabet[statics.tokens[t - 1]]);
        const own = el("div", "ru-own");
        if (t <= T) own.append("W", el("sup", "", `(${t})`));
        else {
          own.classList.add("ru-missing");
          own.textContent = S.noWeights;
        }
        if (t > T) own.title = fill(S.noWeightsTitle, { t });
        col.append(hs, cell, x, own);
        strip.append(col);
      }
    }
    const cols = strip.querySelectorAll(".ru-step");
    cols.forEach((col, i) => {
      const t = i + 1;
      const done = t <= frame.step;
      col.classList.toggle("ru-done", done);
      col.classList.toggle("ru-current", t === frame.step);
      const cells = col.querySelectorAll(".ru-hcell");
      cells.forEach((c, j) => {
        if (done) {
          const v = frame.hidden[i][j];
          c.style.background = css(divergingAt(v, hLim()));
          c.title = `h_${t}[${j}] = ${f4.format(v)}`;
        } else {
          c.style.background = "";
          c.title = "";
        }
      });
    });
    const cur = strip.querySelector(".ru-current");
    if (cur && w.state !== "running") cur.scrollIntoView({ block: "nearest", inline: "nearest" });
    progress.textContent = fill(S.progress, { step: nf.format(frame.step), total: nf.format(frame.total) });
  }

  function drawTable() {
    const c = frame.cur;
    const hid = statics.params.hidden;
    if (!table.tHead) {
      const head = table.createTHead().insertRow();
      for (const name of S.cols) {
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = name;
        head.append(th);
      }
      table.createTBody();
    }
    const body = table.tBodies[0];
    while (body.rows.length > hid) body.deleteRow(-1);
    while (body.rows.length < hid) {
      const r = body.insertRow();
      for (let k = 0; k < S.cols.length; k++) r.insertCell();
      r.cells[r.cells.length - 1].dataset.testid = "h-value";
    }
    if (!c) {
      stepHead.textContent = S.noStep;
      for (const r of body.rows) {
        for (const cell of r.cells) {
          cell.textContent = "·";
          cell.style.background = "";
          cell.style.color = "";
        }
        r.cells[0].textContent = String(r.rowIndex - 1);
        delete r.cells[r.cells.length - 1].dataset.value;
      }
      return;
    }
    stepHead.textContent = fill(S.stepHead, { t: c.t, c: c.char });
    for (let j = 0; j < hid; j++) {
      const r = body.rows[j];
      const vals = [c.hPrev[j], c.wx[j], c.wh[j], c.bih[j], c.bhh[j], c.a[j], c.h[j]];
      r.cells[0].textContent = String(j);
      vals.forEach((v, k) => {
        const cell = r.cells[k + 1];
        cell.textContent = f4.format(v);
        const rgb = divergingAt(v, k === 5 ? Math.max(...c.a.map(Math.abs)) || 1 : 1);
        cell.style.background = css(rgb);
        cell.style.color = textOn(rgb);
      });
      r.cells[7].dataset.value = String(c.h[j]);
    }
  }

  const CELL = 16;
  function drawWeights() {
    const hid = statics.params.hidden, V = statics.alphabet.length;
    const lim = statics.wAbsMax || 1;
    wihCap.textContent = fill(S.wihCap, { h: hid });
    whhCap.textContent = fill(S.whhCap, { h: hid });
    let g = sharpCanvas(wihCanvas, V * CELL, hid * CELL);
    fillCells(g, V, hid, CELL, (i) => divergingAt(statics.wih[Math.floor(i / V)][i % V], lim));
    const tok = frame.cur ? frame.cur.token : -1;
    if (tok >= 0) {
      g.lineWidth = 3;
      g.strokeStyle = "#000";
      g.strokeRect(tok * CELL + 1.5, 1.5, CELL - 3, hid * CELL - 3);
    }
    if (letters.childElementCount !== V) {
      letters.replaceChildren(...[...statics.alphabet].map((ch) => el("span", "", ch)));
    }
    [...letters.children].forEach((s, i) => s.classList.toggle("ru-on", i === tok));
    g = sharpCanvas(whhCanvas, hid * CELL, hid * CELL);
    fillCells(g, hid, hid, CELL, (i) => divergingAt(statics.whh[Math.floor(i / hid)][i % hid], lim));
  }

  function drawText() {
    const c = frame.counts, p = statics.params;
    sharing.textContent = fill(S.sharing, { params: nf.format(c.params), steps: nf.format(c.wordSteps), word: p.word });
    countShared.textContent = fill(S.countShared, { params: nf.format(c.params), T: nf.format(c.T), uses: nf.format(c.uses) });
    countUnshared.textContent = fill(S.countUnshared, { params: nf.format(c.params), T: nf.format(c.T), unshared: nf.format(c.unshared) });
    countShared.dataset.value = String(c.params);
    countUnshared.dataset.value = String(c.unshared);
    // Bars on one linear scale, up to the unshared count at the largest T.
    const top = c.params * Number(tSlider.max || 200);
    barShared.style.width = `${Math.max(0.4, (100 * c.params) / top)}%`;
    barUnshared.style.width = `${Math.max(0.4, (100 * c.unshared) / top)}%`;
    if (c.refusal) {
      verdict.textContent = L === "zh" ? c.refusal.zh : c.refusal.en;
      verdict.classList.add("ru-refused");
      verdict.dataset.refused = "true";
    } else {
      verdict.textContent = fill(S.reads, { T: nf.format(c.T), word: p.word, n: nf.format(c.wordSteps) });
      verdict.classList.remove("ru-refused");
      verdict.dataset.refused = "false";
    }
  }

  function narrate(force) {
    const c = frame?.cur;
    if (!c || !voice.due(force || w.state !== "running")) return;
    voice.say(fill(S.say, { t: c.t, c: c.char, h: c.h.map((v) => f4.format(v)).join(", ") }));
  }

  const draw = perFrame(() => {
    if (!statics || !frame) return;
    drawText();
    drawStrip();
    drawTable();
    drawWeights();
  });
}
