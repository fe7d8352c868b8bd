// attention-share: a word the reader types goes through one self-attention
// layer on the server's engine. Step by step: the same W_Q, W_K, W_V make
// each token's Q, K and V (the one matrix ringed at every token); then the
// scores QKᵀ/√d_k, the softmax of each row, the weighted sum of V and W_O;
// then the ledger — each token's contribution to one projection's gradient
// added into a running Σ beside the engine's dW. Beside it, the count:
// parameters flat as T grows, uses ∝ T, attention entries ∝ T². Every
// number comes from the server (this package's README); this module draws.

import { viridisAt, divergingAt, css } from "/static/widgets/palette.js";
import {
  el, fill, reducedMotion, begin, narrator, liveWidget, field, fieldInput,
  paintCells, longestText, sharpCanvas, perFrame,
} from "/static/widgets/ui.js";

const strings = {
  en: {
    model: "Model: each letter → embedding (27 × {d}) + sinusoidal position → one self-attention layer ({h}, d_k = {dk}{mask}) → linear read-out guessing the next letter → cross-entropy.",
    head1: "1 head", heads: "{n} heads", masked: ", causal mask",
    word: "Word (1–12 letters a–z)",
    wordBad: "Type 1 to 12 letters a–z.",
    phases: {
      input: "Step 0: each token is its embedding row plus its position's sinusoid: the rows x_t. Press Step to project token 1.",
      project: "Token {t} “{c}”: Q_{t} = x_{t} W_Qᵀ + b_Q, K_{t} = x_{t} W_Kᵀ + b_K, V_{t} = x_{t} W_Vᵀ + b_V — the same three matrices as for every other token.",
      scores: "Scores: every query row against every key row, QKᵀ/√d_k (√{dk}). {masknote}",
      softmax: "Softmax of each row: row t says how much token t attends to each token; every row sums to 1.",
      mix: "Weighted sum: each token's new vector is its row of weights times V.",
      output: "Output projection W_O (shared too), then the read-out guesses the next letter: loss {loss} (the mean of −log p(next letter)).",
      ledger: "Backward: token {t}'s contribution to d{p} added into Σ ({j} of {T}).",
    },
    maskNote: "Grey cells are masked (−∞): a token may not look ahead.",
    x: "Input x (token + position)",
    shared: "Shared projections (the same at every token)",
    q: "Q = x W_Qᵀ + b_Q", k: "K = x W_Kᵀ + b_K", v: "V = x W_Vᵀ + b_V",
    usedBy: "used by tokens 1–{t}",
    unused: "not used yet",
    scoresCap: "Scores QKᵀ/√d_k — head {h}",
    attnCap: "Attention weights (rows sum to 1) — head {h}",
    attnWait: "Attention — head {h} (after the projections)",
    rowSum: "row sums: {s}",
    ctxCap: "Weighted sum A V", outCap: "Output (ctx W_Oᵀ + b_O)",
    next: "next", p: "p(next)",
    lossLine: "Loss {loss} = mean of −log p(next letter) over {T} positions",
    ledgerCap: "Ledger of",
    params: { w_q: "W_Q", w_k: "W_K", w_v: "W_V", w_o: "W_O" },
    tokens: "Tokens: click one (or press [ and ]) to see its contribution",
    contribution: "Token {t} “{c}”: its contribution to d{p}",
    noContribution: "No contribution added yet",
    zeroNote: "Exactly zero: with the causal mask token 1 attends only to itself (weight 1 whatever its score), so its query gets no gradient.",
    added: "added into",
    sum: "Running Σ (shared d{p})",
    engine: "Engine's d{p} (one backward pass)",
    progress: "{j} of {T} tokens added",
    equal: "Σ of all {T} token contributions = the engine's d{p}: largest difference {d}.",
    notYet: "{n} tokens still to add.",
    before: "The ledger starts after the forward pass (step {k}).",
    count: "Parameters stay flat as the sequence grows",
    countT: "Length T",
    countParams: "parameters of the layer (4d² + 4d)",
    countUses: "uses: multiply-adds of the projections (4·T·d²)",
    countUnshared: "parameters if every token had its own projections",
    countEntries: "attention-map entries (heads · T²)",
    countAlt: "Log-scale chart: parameters flat, uses growing with T, attention entries growing with T squared",
    dModel: "d_model", headsF: "Heads", causal: "Causal mask", seed: "Seed",
    downloadPNG: "Download PNG", downloadSVG: "SVG", json: "Frame data (JSON)", trace: "Step trace (JSON)",
    sayDone: "All {T} contributions added: the sum equals the engine's gradient, largest difference {d}.",
    sayState: { running: "Playing.", paused: "Paused.", done: "Done.", error: "The run stopped with an error." },
  },
  zh: {
    model: "模型：每个字母 → 嵌入（27 × {d}）+ 正弦位置编码 → 一个自注意力层（{h}，d_k = {dk}{mask}）→ 预测下一个字母的线性读出层 → 交叉熵。",
    head1: "1 个头", heads: "{n} 个头", masked: "，因果掩码",
    word: "单词（1–12 个字母 a–z）",
    wordBad: "请输入 1 到 12 个字母 a–z。",
    phases: {
      input: "第 0 步：每个词元是它的嵌入行加上它位置的正弦编码，即各行 x_t。按“单步”投影第 1 个词元。",
      project: "第 {t} 个词元“{c}”：Q_{t} = x_{t} W_Qᵀ + b_Q，K_{t} = x_{t} W_Kᵀ + b_K，V_{t} = x_{t} W_Vᵀ + b_V——与其他每个词元用的是同样的三个矩阵。",
      scores: "分数：每个查询行与每个键行相乘，QKᵀ/√d_k（√{dk}）。{masknote}",
      softmax: "对每一行做 softmax：第 t 行表示词元 t 对每个词元的关注程度；每行之和为 1。",
      mix: "加权求和：每个词元的新向量是它那一行权重乘以 V。",
      output: "输出投影 W_O（同样共享），然后读出层预测下一个字母：损失 {loss}（−log p(下一个字母) 的平均值）。",
      ledger: "反向传播：把第 {t} 个词元对 d{p} 的贡献加到 Σ（{j} / {T}）。",
    },
    maskNote: "灰色格子被掩码（−∞）：词元不能看后面的词元。",
    x: "输入 x（词元 + 位置）",
    shared: "共享的投影（每个词元都用同一组）",
    q: "Q = x W_Qᵀ + b_Q", k: "K = x W_Kᵀ + b_K", v: "V = x W_Vᵀ + b_V",
    usedBy: "已被词元 1–{t} 使用",
    unused: "尚未使用",
    scoresCap: "分数 QKᵀ/√d_k——第 {h} 个头",
    attnCap: "注意力权重（每行和为 1）——第 {h} 个头",
    attnWait: "注意力——第 {h} 个头（投影之后）",
    rowSum: "各行之和：{s}",
    ctxCap: "加权求和 A V", outCap: "输出（ctx W_Oᵀ + b_O）",
    next: "下一个", p: "p(下一个)",
    lossLine: "损失 {loss} = {T} 个位置上 −log p(下一个字母) 的平均值",
    ledgerCap: "账本对象",
    params: { w_q: "W_Q", w_k: "W_K", w_v: "W_V", w_o: "W_O" },
    tokens: "词元：点击一个（或按 [ 和 ]）查看它的贡献",
    contribution: "第 {t} 个词元“{c}”对 d{p} 的贡献",
    noContribution: "还没有加入任何贡献",
    zeroNote: "恰好为零：有因果掩码时，第 1 个词元只关注自己（无论分数多少，权重都是 1），所以它的查询得不到梯度。",
    added: "加到",
    sum: "累加和 Σ（共享的 d{p}）",
    engine: "引擎算出的 d{p}（一次反向传播）",
    progress: "已加入 {j} / {T} 个词元",
    equal: "全部 {T} 个词元贡献之和 Σ = 引擎的 d{p}：最大差 {d}。",
    notYet: "还有 {n} 个词元未加入。",
    before: "账本在前向传播之后开始（第 {k} 步）。",
    count: "序列变长，参数个数不变",
    countT: "长度 T",
    countParams: "该层的参数（4d² + 4d）",
    countUses: "使用次数：投影的乘加次数（4·T·d²）",
    countUnshared: "若每个词元都有自己的投影，所需参数",
    countEntries: "注意力图的元素（头数 · T²）",
    countAlt: "对数刻度图：参数不变，使用次数随 T 增长，注意力图元素随 T 的平方增长",
    dModel: "d_model", headsF: "头数", causal: "因果掩码", seed: "种子",
    downloadPNG: "下载 PNG", downloadSVG: "SVG", json: "帧数据（JSON）", trace: "单步追踪（JSON）",
    sayDone: "全部 {T} 个贡献已加入：总和等于引擎算出的梯度，最大差 {d}。",
    sayState: { running: "正在播放。", paused: "已暂停。", done: "完成。", error: "运行因错误而停止。" },
  },
};

const pnames = ["w_q", "w_k", "w_v", "w_o"];

// The text field holds 12 bytes: the letters, then zeros, in base64.
function encodeWord(word) {
  const b = new Uint8Array(12);
  for (let i = 0; i < word.length; i++) b[i] = word.charCodeAt(i);
  return btoa(String.fromCharCode(...b));
}
function decodeWord(b64) {
  try {
    return atob(b64).replace(/\0+$/, "");
  } catch {
    return "";
  }
}

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "as");
  const { S, locale, nf } = kit;
  const sig = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3, signDisplay: "negative" });
  const sig2 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 2 });
  const sup = (e) => String(e).replace("-", "⁻").replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
  const sci = (v) => {
    const e = Math.floor(Math.log10(Math.abs(v)));
    return `${sig.format(v / 10 ** e)}×10${sup(e)}`;
  };
  const g3 = (v) => (v !== 0 && Math.abs(v) < 1e-3 ? sci(v) : sig.format(v));

  let params = { ...initial };
  let st = null; // the static part: the whole pass
  let frame = null;
  let inspected = 0; // the token whose contribution is shown (0: the one added last)

  const model = el("p", "as-model");
  const narration = el("p", "as-header");
  narration.dataset.testid = "header";

  // ---- The word ----
  const wordLabel = el("label", "as-field as-word");
  const wordInput = document.createElement("input");
  wordInput.type = "text";
  wordInput.maxLength = 12;
  wordInput.autocomplete = "off";
  wordInput.spellcheck = false;
  wordInput.dataset.testid = "word-input";
  wordInput.value = decodeWord(params.text ?? "") || "attention";
  wordLabel.append(el("span", "", S.word), wordInput);
  const wordErr = el("span", "as-bad", S.wordBad);
  wordErr.hidden = true;
  wordLabel.append(wordErr);
  wordInput.addEventListener("change", () => {
    const w = wordInput.value.trim().toLowerCase();
    const ok = /^[a-z]{1,12}$/.test(w);
    wordErr.hidden = ok;
    wordInput.toggleAttribute("aria-invalid", !ok);
    if (ok) {
      wordInput.value = w;
      setParams({ text: encodeWord(w) });
    }
  });

  // ---- Forward: x, the shared matrices, Q K V ----
  function gridFig(cls, testid) {
    const fig = el("figure", "as-fig " + cls);
    const cap = el("figcaption");
    const grid = el("div", "as-grid");
    grid.setAttribute("role", "table");
    grid.dataset.testid = testid;
    fig.append(cap, grid);
    return { fig, cap, grid };
  }
  const xFig = gridFig("as-x", "x-grid");
  const wFigs = [0, 1, 2].map((i) => gridFig("as-w", ["wq", "wk", "wv"][i] + "-grid"));
  const qkvFigs = [0, 1, 2].map((i) => gridFig("as-qkv", ["q", "k", "v"][i] + "-grid"));
  const wBox = el("div", "as-wbox");
  const wTitle = el("p", "as-sub", S.shared);
  wBox.append(wTitle, ...wFigs.map((f) => f.fig));
  const qkvBox = el("div", "as-qkvbox");
  qkvBox.append(...qkvFigs.map((f) => f.fig));
  const forward = el("div", "as-forward");
  forward.append(xFig.fig, wBox, qkvBox);

  // ---- Attention maps, mix, output ----
  const mapsBox = el("div", "as-maps");
  const ctxFig = gridFig("as-qkv", "ctx-grid");
  const outFig = gridFig("as-qkv", "out-grid");
  const predFig = gridFig("as-pred", "pred-grid");
  const lossLine = el("p", "as-loss");
  lossLine.dataset.testid = "loss";
  const after = el("div", "as-after");
  after.append(mapsBox, ctxFig.fig, outFig.fig, predFig.fig);

  // ---- The ledger ----
  const ledgerHead = el("div", "as-ledger-head");
  const paramSel = el("label", "as-field");
  const chips = el("div", "as-chips");
  chips.setAttribute("role", "group");
  chips.dataset.testid = "tokens";
  const chipsCap = el("p", "as-sub", S.tokens);
  const contrib = gridFig("as-kfig", "contribution");
  const zeroNote = el("p", "as-note", S.zeroNote);
  zeroNote.hidden = true;
  contrib.fig.append(zeroNote);
  const sum = gridFig("as-kfig as-sum", "sum-grid");
  const engine = gridFig("as-kfig", "engine-grid");
  const ledgerRow = el("div", "as-flow");
  ledgerRow.append(contrib.fig, el("span", "as-op", S.added), sum.fig, engine.fig);
  const progress = el("p", "as-progress");
  progress.dataset.testid = "progress";
  const verdict = el("p", "as-verdict");
  verdict.dataset.testid = "verdict";
  const ledger = el("section", "as-ledger");
  ledger.append(ledgerHead, chipsCap, chips, ledgerRow, progress, verdict);

  // ---- The count ----
  const countBox = el("section", "as-count");
  const countTitle = el("p", "as-sub", S.count);
  const countCtl = el("label", "as-field as-range");
  const lenRange = document.createElement("input");
  lenRange.type = "range";
  lenRange.dataset.testid = "length-range";
  const lenOut = el("output", "as-len");
  countCtl.append(el("span", "", S.countT), lenRange, lenOut);
  const countTable = el("dl", "as-counts");
  countTable.dataset.testid = "counts";
  const countCanvas = document.createElement("canvas");
  countCanvas.className = "as-count-chart";
  countCanvas.setAttribute("role", "img");
  countCanvas.setAttribute("aria-label", S.countAlt);
  countBox.append(countTitle, countCtl, countTable, countCanvas);

  const settings = el("div", "as-settings");
  const inputs = {};
  const voice = narrator("as", 1500);

  const w = liveWidget(root, kit, {
    experiment: "attention-share",
    prefix: "as",
    params: () => params,
    player: { speed: reducedMotion.matches ? 1 : 3, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    ready(spec) {
      const cur = (name) => params[name] ?? field(spec, name).default;
      const pf = field(spec, "param");
      const sel = fieldInput(pf, () => cur("param"), (v) => setParams({ param: v }), { name: (v) => S.params[v] ?? v });
      sel.dataset.testid = "param-select";
      inputs.param = sel;
      paramSel.append(el("span", "", S.ledgerCap), sel);
      ledgerHead.append(paramSel);
      const lf = field(spec, "length");
      lenRange.min = String(lf.min);
      lenRange.max = String(lf.max);
      lenRange.value = String(cur("length"));
      lenRange.title = lf.desc;
      lenOut.textContent = nf.format(cur("length"));
      lenRange.addEventListener("input", () => (lenOut.textContent = nf.format(Number(lenRange.value))));
      lenRange.addEventListener("change", () => setParams({ length: Number(lenRange.value) }));
      inputs.length = lenRange;
      for (const [name, text] of [["dModel", S.dModel], ["heads", S.headsF], ["seed", S.seed], ["causal", S.causal]]) {
        const f = field(spec, name);
        const label = el("label", "as-field" + (f.kind === "bool" ? " as-check" : ""));
        const input = fieldInput(f, () => cur(name), (v) => setParams({ [name]: v }));
        input.dataset.testid = name + "-input";
        inputs[name] = input;
        label.append(el("span", "", text), input);
        settings.append(label);
      }
    },
    frame(m) {
      if (m.static) {
        st = m.static;
        syncSettings();
      }
      if (!st) return;
      const prev = frame?.step;
      frame = m.data;
      draw();
      if (frame.step !== prev) narrate(false);
    },
    state(m, changed) {
      if (!changed) return;
      voice.say(S.sayState[m.state] ?? "");
    },
    error() {
      syncSettings();
    },
  });

  const top = el("div", "as-top");
  top.append(wordLabel);
  root.append(w.status, model, top, w.controls, w.working, narration, forward, after, lossLine, ledger, countBox, settings, w.exports, w.errorBox, voice.el);

  // [ and ] move the inspected token while focus is in the widget.
  root.addEventListener("keydown", (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey || !frame || !st) return;
    const t = ev.target;
    if (t instanceof Element && t.closest("input, textarea, select")) return;
    if (ev.key !== "[" && ev.key !== "]") return;
    ev.preventDefault();
    const T = st.tokens.length;
    const from = inspected || frame.token || 1;
    inspect(Math.min(T, Math.max(1, from + (ev.key === "]" ? 1 : -1))));
  });

  function setParams(change) {
    params = { ...params, ...change };
    w.send({ type: "set-params", params: change });
  }
  function inspect(t) {
    inspected = t;
    draw();
  }
  function syncSettings() {
    const p = st.params;
    params = { ...params, dModel: p.dModel, heads: p.heads, causal: p.causal, seed: p.seed, param: p.param, length: p.length, text: encodeWord(p.text) };
    for (const [name, input] of Object.entries(inputs)) {
      if (document.activeElement === input) continue;
      if (input.type === "checkbox") input.checked = !!p[name];
      else input.value = String(p[name]);
    }
    lenOut.textContent = nf.format(p.length);
    if (document.activeElement !== wordInput) wordInput.value = p.text;
    if (inspected > p.text.length) inspected = 0;
  }

  // ---- Drawing ----
  const blankRGB = [0xee, 0xee, 0xee];
  const blank = { text: "", rgb: blankRGB };
  function matrixItems(vals, rows, cols, lim, showRow = () => true) {
    const items = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = vals[r * cols + c];
        items.push(showRow(r) ? { text: g3(v), value: v, rgb: divergingAt(v, lim) } : { ...blank, padding: true });
      }
    }
    return items;
  }
  const absMax = (v) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0) || 1;
  function paintMatrix(g, vals, rows, cols, lim, showRow, rowLabels, current) {
    g.grid.style.setProperty("--cols", String(cols));
    g.grid.dataset.rows = String(rows);
    paintCells(g.grid, matrixItems(vals, rows, cols, lim, showRow), "as");
    if (rowLabels) {
      g.grid.style.setProperty("--labels", "1");
      g.fig.style.setProperty("--rows", String(rows));
      let lab = g.fig.querySelector(".as-rowlabels");
      if (!lab) {
        lab = el("div", "as-rowlabels");
        g.fig.insertBefore(lab, g.grid);
      }
      if (lab.children.length !== rows) lab.replaceChildren(...rowLabels.map((t) => el("span", "", t)));
      [...lab.children].forEach((s, i) => s.classList.toggle("as-cur", i + 1 === current));
    }
    [...g.grid.children].forEach((c, i) => c.classList.toggle("as-fresh", Math.floor(i / cols) + 1 === current));
  }

  function draw() {
    if (st && frame) paint();
  }
  const paint = perFrame(() => {
    const p = st.params, T = st.tokens.length, d = p.dModel, H = p.heads;
    const ph = frame.phase, k = frame.step;
    root.dataset.phase = ph;
    const headsText = H === 1 ? S.head1 : fill(S.heads, { n: H });
    model.textContent = fill(S.model, { d, h: headsText, dk: st.dk, mask: p.causal ? S.masked : "" });
    const c = st.tokens[(frame.token || 1) - 1];
    narration.textContent = fill(S.phases[ph], {
      t: frame.token, c, dk: st.dk, loss: sig.format(st.loss), p: S.params[p.param], j: frame.added, T,
      masknote: p.causal ? S.maskNote : "",
    });
    const projected = ph === "input" ? 0 : ph === "project" ? frame.token : T;
    const labels = st.tokens.map((ch, i) => `${i + 1} ${ch}`);

    // x and the shared matrices: the matrices are ringed while in use.
    xFig.cap.textContent = S.x;
    paintMatrix(xFig, st.x, T, d, absMax(st.x), () => true, labels, ph === "project" ? frame.token : 0);
    const wlim = Math.max(absMax(st.w[0]), absMax(st.w[1]), absMax(st.w[2]));
    ["W_Q", "W_K", "W_V"].forEach((n, i) => {
      const f = wFigs[i];
      f.cap.textContent = `${n} (${d}×${d}) · ${projected ? fill(S.usedBy, { t: projected }) : S.unused}`;
      paintMatrix(f, st.w[i], d, d, wlim, () => true);
      f.fig.classList.toggle("as-inuse", ph === "project");
    });
    [S.q, S.k, S.v].forEach((cap, i) => {
      const f = qkvFigs[i];
      const vals = [st.q, st.k, st.v][i];
      f.cap.textContent = cap;
      paintMatrix(f, vals, T, d, absMax(vals), (r) => r < projected, labels, ph === "project" ? frame.token : 0);
    });

    // Maps: scores, then softmax weights; masked entries grey.
    const showMaps = k > T;
    const useScores = ph === "scores";
    if (mapsBox.children.length !== H) {
      mapsBox.replaceChildren(...Array.from({ length: H }, (_, h) => {
        const g = gridFig("as-map", "map-grid-" + (h + 1));
        const sums = el("p", "as-note as-sums");
        g.fig.append(sums);
        return g.fig;
      }));
    }
    [...mapsBox.children].forEach((fig, h) => {
      const cap = fig.querySelector("figcaption");
      const grid = fig.querySelector(".as-grid");
      grid.style.setProperty("--cols", String(T));
      const sums = fig.querySelector(".as-sums");
      cap.textContent = fill(!showMaps ? S.attnWait : useScores ? S.scoresCap : S.attnCap, { h: h + 1 });
      const vals = (useScores ? st.scores : st.attn).slice(h * T * T, (h + 1) * T * T);
      const lim = absMax(vals);
      const items = vals.map((v, i) => {
        const r = Math.floor(i / T), cc = i % T;
        if (!showMaps) return { ...blank, padding: true };
        if (p.causal && cc > r) return { text: useScores ? "−∞" : "0", rgb: [0x99, 0x99, 0x99], padding: true, value: useScores ? -Infinity : 0 };
        return useScores ? { text: g3(v), value: v, rgb: divergingAt(v, lim) } : { text: sig.format(v), value: v, rgb: viridisAt(v, 0, 1) };
      });
      paintCells(grid, items, "as");
      grid.dataset.kind = useScores ? "scores" : "weights";
      if (showMaps && !useScores) {
        const rs = Array.from({ length: T }, (_, r) => vals.slice(r * T, (r + 1) * T).reduce((a, b) => a + b, 0));
        // The cells are rounded to 3 digits, so their sums are shown to 2.
        sums.textContent = fill(S.rowSum, { s: rs.map((x) => sig2.format(x)).join(" · ") });
        sums.hidden = false;
      } else sums.hidden = true;
    });
    ctxFig.cap.textContent = S.ctxCap;
    paintMatrix(ctxFig, st.ctx, T, d, absMax(st.ctx), () => k >= T + 3, labels, 0);
    outFig.cap.textContent = S.outCap;
    paintMatrix(outFig, st.out, T, d, absMax(st.out), () => k >= T + 4, labels, 0);
    predFig.cap.textContent = `${S.next} · ${S.p}`;
    predFig.grid.style.setProperty("--cols", "2");
    paintCells(predFig.grid, st.targets.flatMap((nx, i) => k >= T + 4
      ? [{ text: nx, rgb: [0xff, 0xff, 0xff] }, { text: sig.format(st.pTarget[i]), value: st.pTarget[i], rgb: viridisAt(st.pTarget[i], 0, 1) }]
      : [{ text: nx, rgb: [0xff, 0xff, 0xff] }, { ...blank, padding: true }]), "as", 5);
    lossLine.textContent = k >= T + 4 ? fill(S.lossLine, { loss: sig.format(st.loss), T }) : "";
    lossLine.dataset.value = k >= T + 4 ? String(st.loss) : "";

    drawLedger();
    drawCount();
  });

  function drawLedger() {
    const p = st.params, T = st.tokens.length, d = p.dModel, P = S.params[p.param];
    if (chips.children.length !== T || chips.dataset.word !== p.text) {
      chips.dataset.word = p.text;
      chips.replaceChildren(...st.tokens.map((ch, i) => {
        const b = el("button", "as-chip");
        b.type = "button";
        b.dataset.t = String(i + 1);
        b.append(el("span", "as-t", String(i + 1)), el("span", "as-c", ch));
        b.addEventListener("click", () => inspect(i + 1));
        return b;
      }));
    }
    const j = frame.added;
    const shown = inspected && inspected <= j ? inspected : frame.phase === "ledger" ? frame.token : 0;
    [...chips.children].forEach((b, i) => {
      const t = i + 1;
      b.classList.toggle("as-added", t <= j);
      b.classList.toggle("as-current", frame.phase === "ledger" && t === frame.token);
      b.classList.toggle("as-inspected", t === shown);
      b.setAttribute("aria-pressed", String(t === shown));
      b.title = t <= j ? `‖Δ‖ = ${g3(st.norms[i])}` : "";
    });
    for (const g of [contrib, sum, engine]) g.grid.style.setProperty("--cols", String(d));
    sum.cap.textContent = fill(S.sum, { p: P });
    engine.cap.textContent = fill(S.engine, { p: P });
    const lim = Math.max(absMax(st.grad), absMax(frame.sum));
    if (shown) {
      const cv = st.contrib[shown - 1];
      contrib.cap.textContent = fill(S.contribution, { t: shown, c: st.tokens[shown - 1], p: P });
      paintCells(contrib.grid, cv.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, absMax(cv)) })), "as");
      contrib.grid.dataset.t = String(shown);
      zeroNote.hidden = st.norms[shown - 1] !== 0;
    } else {
      contrib.cap.textContent = S.noContribution;
      paintCells(contrib.grid, Array.from({ length: d * d }, () => ({ ...blank, padding: true })), "as", 5);
      delete contrib.grid.dataset.t;
      zeroNote.hidden = true;
    }
    const sumItems = frame.sum.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, lim) }));
    const engItems = st.grad.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, lim) }));
    const chars = Math.max(5, longestText(sumItems), longestText(engItems));
    paintCells(sum.grid, sumItems, "as", chars);
    paintCells(engine.grid, engItems, "as", chars);
    if (j > 0 && !reducedMotion.matches) {
      sum.grid.classList.remove("as-pulse");
      void sum.grid.offsetWidth;
      sum.grid.classList.add("as-pulse");
    }
    progress.textContent = fill(S.progress, { j: nf.format(j), T: nf.format(T) });
    if (frame.maxDiff !== null && frame.maxDiff !== undefined) {
      const dd = frame.maxDiff;
      verdict.textContent = fill(S.equal, { T: nf.format(T), p: P, d: dd === 0 ? "0" : sci(dd) });
      verdict.classList.add("as-ok");
      root.dataset.maxDiff = String(dd);
    } else {
      verdict.textContent = frame.phase === "ledger" ? fill(S.notYet, { n: nf.format(T - j) }) : fill(S.before, { k: nf.format(T + 4) });
      verdict.classList.remove("as-ok");
      delete root.dataset.maxDiff;
    }
  }

  // The count: four numbers from the engine and a log-scale chart of
  // parameters (flat), uses (∝ T) and attention entries (∝ T²).
  const colours = ["#0072b2", "#e69f00", "#009e73"]; // Okabe–Ito
  function drawCount() {
    const c = st.count;
    const rows = [
      [S.countParams, c.params, "params"],
      [S.countUses, c.uses, "uses"],
      [S.countUnshared, c.unshared, "unshared"],
      [S.countEntries, c.entries, "entries"],
    ];
    if (countTable.children.length !== 8) {
      countTable.replaceChildren(...rows.flatMap(([, , key]) => {
        const dt = el("dt");
        const dd = el("dd");
        dd.dataset.testid = "count-" + key;
        return [dt, dd];
      }));
    }
    rows.forEach(([label, n], i) => {
      countTable.children[2 * i].textContent = `${label} (T = ${nf.format(c.T)})`;
      countTable.children[2 * i + 1].textContent = nf.format(n);
      countTable.children[2 * i + 1].dataset.value = String(n);
    });
    countTable.children[0].textContent = rows[0][0];
    const W = Math.max(240, Math.min(480, countBox.clientWidth - 8)), Hh = 190, pad = 42; // room for 13-px ticks ("10¹²")
    const g = sharpCanvas(countCanvas, W, Hh);
    countCanvas.style.width = W + "px";
    countCanvas.style.height = Hh + "px";
    g.clearRect(0, 0, W, Hh);
    const series = [c.ts.map(() => c.params), c.usesAt, c.entriesAt];
    const all = series.flat().filter((v) => v > 0);
    const lo = Math.floor(Math.log10(Math.min(...all))), hi = Math.ceil(Math.log10(Math.max(...all)));
    const xAt = (t) => pad + (Math.log2(t) / Math.log2(c.ts[c.ts.length - 1])) * (W - pad - 8);
    const yAt = (v) => 8 + ((hi - Math.log10(v)) / Math.max(1, hi - lo)) * (Hh - 8 - 24);
    g.font = "13px system-ui, sans-serif";
    g.fillStyle = "#555";
    g.strokeStyle = "#e4e4e4";
    for (let e = lo; e <= hi; e += Math.max(1, Math.ceil((hi - lo) / 5))) {
      g.beginPath();
      g.moveTo(pad, yAt(10 ** e));
      g.lineTo(W - 8, yAt(10 ** e));
      g.stroke();
      g.fillText(`10${sup(e)}`, 2, yAt(10 ** e) + 4);
    }
    for (const t of [1, 8, 64, 512]) {
      g.textAlign = t === 1 ? "left" : t === 512 ? "right" : "center";
      g.fillText(String(t), xAt(t), Hh - 6);
    }
    g.textAlign = "left";
    const dash = [[], [6, 3], [2, 2]];
    series.forEach((ys, s) => {
      g.strokeStyle = colours[s];
      g.lineWidth = 2;
      g.setLineDash(dash[s]);
      g.beginPath();
      ys.forEach((v, i) => (i ? g.lineTo(xAt(c.ts[i]), yAt(v)) : g.moveTo(xAt(c.ts[i]), yAt(v))));
      g.stroke();
    });
    g.setLineDash([]);
    g.strokeStyle = "#000";
    g.beginPath();
    g.moveTo(xAt(c.T), 8);
    g.lineTo(xAt(c.T), Hh - 24);
    g.stroke();
    [...countTable.querySelectorAll("dt")].forEach((dt, i) => {
      dt.style.setProperty("--key", i === 2 ? "transparent" : colours[i === 3 ? 2 : i]);
    });
  }
  new ResizeObserver(() => draw()).observe(countBox);

  function narrate(force) {
    if (!frame || !voice.due(force || w.state !== "running")) return;
    const T = st.tokens.length;
    if (frame.maxDiff !== null && frame.maxDiff !== undefined) {
      voice.say(fill(S.sayDone, { T, d: frame.maxDiff === 0 ? "0" : sci(frame.maxDiff) }));
    } else voice.say(narration.textContent);
  }
}
