// model-count: a real architecture counted layer by layer — the parameters
// each layer adds (a shared tensor once), its uses (multiply-adds per
// example) and what it would hold unshared — with the sharing switches
// that apply to it. Every number is the server's (engine/arch's Count; this
// package's README); the widget only lays them out, and subtracts two of
// the server's totals to say what the last switch changed.

import { el, fill, begin, narrator, liveWidget, field, fieldInput } from "/static/widgets/ui.js";

// Okabe–Ito (viz.SeriesColors, the export's first two groups): blue for
// the parameters held, vermillion for the unshared count.
const HELD = "#0072b2";
const UNSHARED = "#d55e00";

const strings = {
  en: {
    preset: "Model", share: "ALBERT cross-layer sharing", tie: "Tie input and output embeddings",
    pooler: "Count the pooler", unshareConv: "Unshare every convolution (locally connected)",
    modes: { all: "all (ALBERT)", attention: "attention only", ffn: "feed-forward only", none: "none (BERT-like)" },
    seqLen: "Sequence length (changes uses only)", seqSource: "the source's own",
    embed: "Embedding size E", embedValue: "E = {e}", embedFull: "E = {e} (no factorisation in ALBERT-base)",
    switches: "Switches",
    noSwitches: "No sharing switch applies to this model: its only sharing is inside its layers (a convolution's kernel at every position).",
    params: "Parameters", uses: "Uses (multiply-adds per example)", unshared: "Unshared (no sharing at all)",
    saves: "Unshared, the same model would hold {ratio}× as many parameters ({diff} more).",
    savesNone: "Nothing the unshared column undoes is shared here (no tied matrix, no layer, time step or convolution position reusing weights): parameters = unshared. Weights used at every token, as attention's W_Q, W_K, W_V are, stay shared in both columns.",
    input: { image: "Uses are counted for one {shape} image.", seq: "Uses are counted for one sequence of {n} tokens." },
    rule: "Counting rule: ", source: "Source: ",
    delta: "Δ ({what}): parameters {p}, uses {u}, unshared {s}.",
    deltaPreset: "Δ ({from} → {to}): parameters {p}, uses {u}, unshared {s}.",
    deltaNone: "Flip a switch to see what it changes.",
    flipTitle: "What each switch would change from here",
    flipOne: "{what}: parameters {p}, uses {u}, unshared {s}",
    on: "on", off: "off",
    table: "Every layer", tableBlocks: "Blocks are collapsed: open one to see its layers.", tableNote: "A narrow screen writes numbers short; the totals above, a number's tooltip and the CSV are exact.",
    col: { n: "#", layer: "Layer", params: "Parameters", uses: "Uses", unshared: "Unshared" },
    colShort: { params: "Params" },
    expand: "Show the {n} rows of {name}", collapse: "Hide the rows of {name}",
    expandAll: "Open all blocks", collapseAll: "Close all blocks",
    sharedWith: "shares {name}", layers: "{n} rows",
    total: "Total",
    chart: "Parameters held against unshared, per layer or block (log scale)",
    chartNote: "A layer that only reuses another's tensors holds nothing: its unshared count is added to the bar of the one it shares with ({n}× = used by that many rows).",
    legendHeld: "parameters held", legendUnshared: "unshared",
    download: "Download PNG", svg: "SVG", json: "Table (JSON)", csv: "CSV",
    waiting: "Waiting for the server's count…",
    say: "{model}: {p} parameters, {s} unshared.",
    k: "k", M: "M", B: "B",
  },
  zh: {
    preset: "模型", share: "ALBERT 跨层共享", tie: "输入与输出嵌入共享权重",
    pooler: "计入池化层", unshareConv: "取消每个卷积的共享（换成局部连接层）",
    modes: { all: "全部共享（ALBERT）", attention: "只共享注意力", ffn: "只共享前馈层", none: "不共享（同 BERT）" },
    seqLen: "序列长度（只影响使用次数）", seqSource: "出处的默认值",
    embed: "嵌入维度 E", embedValue: "E = {e}", embedFull: "E = {e}（ALBERT-base 不分解）",
    switches: "开关",
    noSwitches: "这个模型没有可切换的共享：它的共享只在层内（卷积核在每个位置重复使用）。",
    params: "参数", uses: "使用次数（每个样本的乘加次数）", unshared: "不共享时（完全没有共享）",
    saves: "不共享的同一模型要持有 {ratio} 倍的参数（多 {diff} 个）。",
    savesNone: "“不共享时”一列要撤销的共享，这里一个也没有（没有绑定的矩阵，也没有在层、时间步或卷积位置之间复用的权重）：参数 = 不共享时的参数。在每个词元上都使用的权重（比如注意力的 W_Q、W_K、W_V）在两列里都仍是共享的。",
    input: { image: "使用次数按一张 {shape} 的图像计算。", seq: "使用次数按一条 {n} 个词元的序列计算。" },
    rule: "计数规则：", source: "出处：",
    delta: "变化（{what}）：参数 {p}，使用次数 {u}，不共享时 {s}。",
    deltaPreset: "变化（{from} → {to}）：参数 {p}，使用次数 {u}，不共享时 {s}。",
    deltaNone: "切换一个开关，看它改变了什么。",
    flipTitle: "从当前设置切换每个开关会改变什么",
    flipOne: "{what}：参数 {p}，使用次数 {u}，不共享时 {s}",
    on: "开", off: "关",
    table: "逐层列表", tableBlocks: "块默认折叠：展开一个块可看到其中的层。", tableNote: "窄屏上数字写成简写；上方的合计、数字的提示和 CSV 都是精确值。",
    col: { n: "#", layer: "层", params: "参数", uses: "使用次数", unshared: "不共享时" },
    expand: "展开 {name} 的 {n} 行", collapse: "折叠 {name} 的各行",
    expandAll: "展开所有块", collapseAll: "折叠所有块",
    sharedWith: "共享 {name}", layers: "{n} 行",
    total: "合计",
    chart: "每层或每块持有的参数与不共享时的参数（对数刻度）",
    chartNote: "只复用其他层张量的层不持有参数：它不共享时的参数计入它所共享的那一层的柱子（{n}× 即被这么多行使用）。",
    legendHeld: "持有的参数", legendUnshared: "不共享时",
    download: "下载 PNG", svg: "SVG", json: "表格（JSON）", csv: "CSV",
    waiting: "正在等待服务器的计数……",
    say: "{model}：{p} 个参数，不共享时 {s} 个。",
    k: "千", M: "百万", B: "十亿",
  },
};

const SWITCHES = ["share", "embed", "tie", "pooler", "unshareConv", "seqLen"];

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "mc");
  const { S, L, locale, nf } = kit;
  const signFmt = new Intl.NumberFormat(locale, { signDisplay: "exceptZero" });
  // signed writes +1,234 and −1,234 (a true minus sign).
  const signed = { format: (n) => signFmt.format(n).replace("-", "−") };
  const ratioFmt = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });

  // short writes n with 4 significant digits and a unit (109.5 M; in
  // Chinese 1.095 亿), for narrow screens; the full number is its title.
  const sig = new Intl.NumberFormat(locale, { maximumSignificantDigits: 4 });
  function short(n) {
    const a = Math.abs(n);
    if (L === "zh") {
      if (a >= 1e8) return sig.format(n / 1e8) + " 亿";
      if (a >= 1e4) return sig.format(n / 1e4) + " 万";
      return nf.format(n);
    }
    if (a >= 1e9) return sig.format(n / 1e9) + " B";
    if (a >= 1e6) return sig.format(n / 1e6) + " M";
    if (a >= 1e4) return sig.format(n / 1e3) + " k";
    return nf.format(n);
  }
  // num makes a number cell: the full number, and its short form that
  // the stylesheet shows instead in a narrow table.
  function num(n, testid) {
    const s = el("span", "mc-num");
    s.append(el("span", "mc-full", nf.format(n)), el("span", "mc-short", short(n)));
    s.title = nf.format(n);
    s.dataset.value = String(n);
    if (testid) s.dataset.testid = testid;
    return s;
  }

  // The presets' titles, from the server's first frame (until then a
  // preset is shown by its key).
  const titles = {};
  const presetName = (k) => titles[k] ?? k;

  let params = { ...initial };
  let frame = null; // the server's static part
  let previous = null; // the static part shown before it (for Δ)
  const open = new Set(); // names of the blocks shown open

  // ---- Controls (made once the spec has come) ----
  const controls = el("div", "mc-controls");
  const switchBox = el("fieldset", "mc-switches");
  switchBox.append(el("legend", "", S.switches));
  const noSwitches = el("p", "mc-note", S.noSwitches);
  noSwitches.hidden = true;
  switchBox.append(noSwitches);
  const inputs = {}; // field → {label, input}

  let spec = null; // hello's, once it has come
  const switchDefaults = () => Object.fromEntries(SWITCHES.map((k) => [k, field(spec, k).default]));

  function control(f, parent) {
    const label = el("label", `mc-field mc-field-${f.kind}`);
    const text = el("span", "mc-name", S[f.name] ?? f.name);
    const names = { preset: presetName, share: (v) => S.modes[v] ?? v, embed: embedName, seqLen: seqName }[f.name] ?? String;
    // A new preset starts as its source defines it: every switch back at
    // its default (ALBERT-large after an unshared ALBERT-base is the
    // all-shared ALBERT-large the lesson quotes; an unshared LeNet-5 does
    // not make VGG-16 unshared), and the source's sequence length.
    const choose = (v) => setParams(f.name === "preset" ? { ...switchDefaults(), preset: v } : { [f.name]: v });
    const input = fieldInput(f, () => params[f.name] ?? f.default, choose, { name: names });
    input.dataset.testid = "set-" + f.name;
    if (f.kind === "bool") label.append(input, text);
    else label.append(text, input);
    parent.append(label);
    inputs[f.name] = { label, input };
  }

  // ---- Totals, Δ, model ----
  const totalsBox = el("div", "mc-totals");
  const totalCells = {};
  for (const k of ["params", "uses", "unshared"]) {
    const box = el("div", `mc-total mc-total-${k}`);
    const v = el("span", "mc-total-value");
    v.dataset.testid = "total-" + k;
    box.append(el("span", "mc-total-name", S[k]), v);
    totalsBox.append(box);
    totalCells[k] = v;
  }
  const saves = el("p", "mc-saves");
  saves.dataset.testid = "saves";
  const delta = el("p", "mc-delta");
  delta.dataset.testid = "delta";
  delta.setAttribute("aria-live", "polite");
  const flipsBox = el("details", "mc-flips");
  const flipsSummary = el("summary", "", S.flipTitle);
  const flipsList = el("ul", "mc-flip-list");
  flipsList.dataset.testid = "flips";
  flipsBox.append(flipsSummary, flipsList);
  const about = el("p", "mc-about");
  about.dataset.testid = "about";

  // ---- Table ----
  const tableFig = el("section", "mc-table-box");
  const tableHead = el("div", "mc-table-head");
  const tableTitle = el("h3", "mc-title", S.table);
  const toggleAll = el("button", "mc-toggle-all");
  toggleAll.type = "button";
  toggleAll.dataset.testid = "toggle-all";
  tableHead.append(tableTitle, toggleAll);
  const wrap = el("div", "mc-table-wrap");
  wrap.tabIndex = 0; // the scrolling region takes arrow keys once focused
  wrap.setAttribute("role", "region");
  wrap.setAttribute("aria-label", S.table);
  const table = el("table", "mc-table");
  table.dataset.testid = "table";
  wrap.append(table);
  const blocksNote = el("span", "", S.tableBlocks + (L === "zh" ? "" : " "));
  const tableNote = el("p", "mc-note");
  tableNote.append(blocksNote, S.tableNote);
  tableFig.append(tableHead, tableNote, wrap);

  // ---- Chart ----
  const chartFig = el("figure", "mc-chart");
  const chartCap = el("figcaption", "mc-title", S.chart);
  const legend = el("p", "mc-legend");
  for (const [c, t] of [[HELD, S.legendHeld], [UNSHARED, S.legendUnshared]]) {
    const sw = el("span", "mc-swatch");
    sw.style.background = c;
    legend.append(sw, el("span", "", t + "  "));
  }
  const bars = el("div", "mc-bars");
  bars.dataset.testid = "chart";
  const chartNote = el("p", "mc-note");
  chartFig.append(chartCap, legend, bars, chartNote);

  const voice = narrator("mc", 1500);
  const waiting = el("p", "mc-waiting", S.waiting);

  const w = liveWidget(root, kit, {
    experiment: "model-count",
    prefix: "mc",
    params: () => params,
    exports: { png: S.download, svg: S.svg, json: S.json, csv: S.csv },
    ready(s) {
      spec = s;
      const top = el("div", "mc-preset");
      control(field(spec, "preset"), top);
      for (const k of SWITCHES) control(field(spec, k), switchBox);
      for (const k of SWITCHES) inputs[k].label.hidden = true; // until a frame says which apply
      controls.append(top, switchBox);
    },
    frame(m) {
      if (!m.static) return;
      if (frame && !sameParams(frame.params, m.static.params)) previous = frame;
      frame = m.static;
      params = { ...frame.params };
      for (const p of frame.presets ?? []) titles[p.name] = p.title;
      requestAnimationFrame(draw);
    },
    error() {
      // A refused value changes nothing: show what is in effect again.
      if (frame) params = { ...frame.params };
      syncInputs();
    },
  });

  const parts = [totalsBox, saves, delta, flipsBox, about, chartFig, tableFig];
  for (const p of parts) p.hidden = true;
  root.append(w.status, controls, waiting, ...parts, w.exports, w.errorBox, voice.el);

  function setParams(change) {
    params = { ...params, ...change };
    w.send({ type: "set-params", params: change });
  }

  function sameParams(a, b) {
    return Object.keys(a).every((k) => a[k] === b[k]);
  }

  function syncInputs() {
    for (const [k, { input }] of Object.entries(inputs)) {
      const v = params[k];
      if (v === undefined) continue;
      if (input.type === "checkbox") input.checked = !!v;
      else input.value = String(v);
    }
  }

  function seqName(v) {
    return v === "source" ? S.seqSource : v;
  }

  function embedName(v) {
    return fill(v === "768" ? S.embedFull : S.embedValue, { e: v });
  }

  // what names a switch and its value: "tie → off", "share → attention only".
  function what(field, value) {
    const v = typeof value === "boolean" ? (value ? S.on : S.off) : field === "embed" ? value : field === "seqLen" ? seqName(value) : S.modes[value] ?? value;
    return `${S[field] ?? field} → ${v}`;
  }

  function drawTotals() {
    const t = frame.total;
    for (const k of ["params", "uses", "unshared"]) {
      totalCells[k].textContent = nf.format(t[k]);
      totalCells[k].dataset.value = String(t[k]);
    }
    saves.textContent = t.unshared > t.params
      ? fill(S.saves, { ratio: ratioFmt.format(t.unshared / t.params), diff: nf.format(t.unshared - t.params) })
      : S.savesNone;

    // Δ against the setting shown before, from the server's two totals.
    if (previous) {
      const p = previous.params, q = frame.params;
      const d = (k) => signed.format(frame.total[k] - previous.total[k]);
      const vars = { p: d("params"), u: d("uses"), s: d("unshared") };
      if (p.preset !== q.preset) {
        delta.textContent = fill(S.deltaPreset, { ...vars, from: presetName(p.preset), to: presetName(q.preset) });
      } else {
        const changed = SWITCHES.filter((k) => p[k] !== q[k]).map((k) => what(k, q[k]));
        delta.textContent = fill(S.delta, { ...vars, what: changed.join(", ") });
      }
      delta.dataset.params = String(frame.total.params - previous.total.params);
    } else {
      delta.textContent = S.deltaNone;
      delete delta.dataset.params;
    }

    flipsList.replaceChildren();
    for (const f of frame.flips ?? []) {
      const li = el("li", "", fill(S.flipOne, {
        what: what(f.field, f.value),
        p: signed.format(f.params - t.params),
        u: signed.format(f.uses - t.uses),
        s: signed.format(f.unshared - t.unshared),
      }));
      li.dataset.field = f.field;
      li.dataset.value = String(f.value);
      li.dataset.params = String(f.params);
      flipsList.append(li);
    }
    flipsBox.hidden = !(frame.flips ?? []).length;

    const m = frame.model;
    about.replaceChildren();
    const gap = L === "zh" ? "" : " "; // Chinese sentences end in 。 and need no space
    about.append(el("span", "", S.source + (m.source || m.name).replace(/\.?$/, L === "zh" ? "。" : ". ")));
    if (m.input?.length) about.append(el("span", "", fill(S.input.image, { shape: m.input.join("×") }) + gap));
    else if (m.seqLen) about.append(el("span", "", fill(S.input.seq, { n: nf.format(m.seqLen) }) + gap));
    const rule = L === "zh" && m.ruleZh ? m.ruleZh : m.rule;
    if (rule) about.append(el("span", "", S.rule + rule));
  }

  function drawSwitches() {
    const menu = inputs.preset?.input;
    if (menu) for (const o of menu.options) o.textContent = presetName(o.value);
    let shown = 0;
    for (const k of SWITCHES) {
      const on = !!frame.applies?.[k];
      inputs[k].label.hidden = !on;
      if (on) shown++;
    }
    noSwitches.hidden = shown > 0;
    syncInputs();
  }

  // layerName is a name that may break after its dots and underscores
  // (a phone's narrow table), not inside a word.
  function layerName(name) {
    const span = el("span", "mc-layer-name");
    for (const part of name.split(/(?<=[._])/)) span.append(part, document.createElement("wbr"));
    return span;
  }

  // typeLine is a row's type and one example's output shape.
  const typeLine = (r) => (r.output ? `${r.type} → ${r.output}` : r.type);

  // ---- The table: items (layers and collapsed blocks) with their rows ----
  function drawTable() {
    table.replaceChildren();
    const head = el("thead");
    const hr = el("tr");
    for (const k of ["n", "layer", "params", "uses", "unshared"]) {
      const th = el("th", `mc-col-${k}`);
      th.append(el("span", "mc-full", S.col[k]), el("span", "mc-short", S.colShort?.[k] ?? S.col[k]));
      th.scope = "col";
      hr.append(th);
    }
    head.append(hr);
    table.append(head);
    const blocks = frame.items.filter((it) => it.count > 1);
    for (const it of frame.items) {
      const body = el("tbody", it.count > 1 ? "mc-block" : "");
      const tr = el("tr", it.count > 1 ? "mc-block-row" : "mc-layer-row");
      tr.dataset.testid = "item-" + it.n;
      tr.dataset.name = it.name;
      const nCell = el("td", "mc-col-n", String(it.n));
      const nameCell = el("td", "mc-col-layer");
      if (it.count > 1) {
        const btn = el("button", "mc-expand");
        btn.type = "button";
        const isOpen = open.has(it.name);
        btn.setAttribute("aria-expanded", String(isOpen));
        btn.setAttribute("aria-label", fill(isOpen ? S.collapse : S.expand, { n: it.count, name: it.name }));
        btn.dataset.testid = "expand-" + it.n;
        btn.append(el("span", "mc-caret", isOpen ? "▾" : "▸"), layerName(it.name));
        btn.addEventListener("click", () => {
          if (open.has(it.name)) open.delete(it.name);
          else open.add(it.name);
          drawTable();
          table.querySelector(`[data-testid="expand-${it.n}"]`)?.focus();
        });
        nameCell.append(btn, el("span", "mc-type", fill(S.layers, { n: it.count })));
      } else {
        const r = frame.rows[it.first];
        nameCell.append(layerName(r.layer), el("span", "mc-type", typeLine(r)));
      }
      if (it.sharedWith?.length) nameCell.append(el("span", "mc-shared", fill(S.sharedWith, { name: it.sharedWith.join(", ") })));
      tr.append(nCell, nameCell);
      for (const k of ["params", "uses", "unshared"]) {
        const td = el("td", `mc-col-${k}`);
        td.append(num(it[k], `${k}-${it.n}`));
        tr.append(td);
      }
      if (it.params === 0 && it.unshared > 0) tr.classList.add("mc-reuses");
      if (it.params === 0 && it.uses === 0 && it.unshared === 0) tr.classList.add("mc-empty"); // relu, pooling, dropout
      body.append(tr);
      if (it.count > 1 && open.has(it.name)) {
        for (const r of frame.rows.slice(it.first, it.first + it.count)) {
          const sub = el("tr", "mc-sub-row");
          sub.dataset.layer = r.layer;
          const name = el("td", "mc-col-layer");
          const shortName = r.layer.startsWith(it.name + ".") ? r.layer.slice(it.name.length + 1) : r.layer;
          name.append(layerName(shortName), el("span", "mc-type", typeLine(r)));
          if (r.shared_with) name.append(el("span", "mc-shared", fill(S.sharedWith, { name: r.shared_with })));
          sub.append(el("td", "mc-col-n"), name);
          for (const k of ["params", "uses", "unshared"]) {
            const td = el("td", `mc-col-${k}`);
            td.append(num(r[k]));
            sub.append(td);
          }
          if (r.params === 0 && r.unshared > 0) sub.classList.add("mc-reuses");
          body.append(sub);
        }
      }
      table.append(body);
    }
    const foot = el("tfoot");
    const fr = el("tr");
    fr.append(el("td", "mc-col-n"), el("th", "mc-col-layer", S.total));
    for (const k of ["params", "uses", "unshared"]) {
      const td = el("td", `mc-col-${k}`);
      td.append(num(frame.total[k]));
      fr.append(td);
    }
    foot.append(fr);
    table.append(foot);
    const allOpen = blocks.length > 0 && blocks.every((b) => open.has(b.name));
    toggleAll.hidden = blocks.length === 0;
    blocksNote.hidden = blocks.length === 0;
    toggleAll.textContent = allOpen ? S.collapseAll : S.expandAll;
    toggleAll.onclick = () => {
      if (allOpen) for (const b of blocks) open.delete(b.name);
      else for (const b of blocks) open.add(b.name);
      drawTable();
      toggleAll.focus();
    };
  }

  // ---- The chart: two bars per item that holds parameters ----
  function drawChart() {
    bars.replaceChildren();
    const hi = Math.max(...frame.bars.map((b) => b.unshared), 10);
    const top = Math.ceil(Math.log10(hi));
    const width = (v) => `${Math.max(0.5, (100 * Math.log10(Math.max(v, 1))) / top)}%`;
    for (const b of frame.bars) {
      const row = el("div", "mc-bar-row");
      row.dataset.testid = "bar-" + b.n;
      const label = el("span", "mc-bar-label", `${b.n}  `);
      label.append(layerName(tail(b.name)), b.users > 1 ? `  (${b.users}×)` : "");
      label.title = b.name;
      row.append(label);
      for (const [v, c, cls] of [[b.params, HELD, "held"], [b.unshared, UNSHARED, "unshared"]]) {
        const track = el("div", "mc-track");
        const bar = el("div", `mc-bar mc-bar-${cls}`);
        bar.style.width = width(v);
        bar.style.background = c;
        const val = el("span", "mc-bar-value", short(v));
        val.title = nf.format(v);
        val.dataset.testid = `value-${cls}-${b.n}`;
        track.append(bar, val);
        row.append(track);
      }
      bars.append(row);
    }
    // Decade ticks under the bars: 1, 10³, 10⁶, …
    const axis = el("div", "mc-axis");
    axis.setAttribute("aria-hidden", "true");
    const step = top > 8 ? 3 : 2;
    for (let e = 0; e <= top; e += step) {
      const t = el("span", "mc-tick", e === 0 ? "1" : "10" + supers(e));
      t.style.left = `${(100 * e) / top}%`;
      axis.append(t);
    }
    bars.append(axis);
    placeValues();
    const most = Math.max(...frame.bars.map((b) => b.users));
    chartNote.hidden = most <= 1;
    chartNote.textContent = fill(S.chartNote, { n: most });
  }

  // placeValues puts each bar's value just after the bar's end, or, when
  // the track has no room left after it, inside the bar's end in white:
  // never over the bar's colour in dark ink. It runs again when the chart's
  // width changes (a phone turned, a window resized).
  function placeValues() {
    for (const track of bars.querySelectorAll(".mc-track")) {
      const bar = track.querySelector(".mc-bar"), val = track.querySelector(".mc-bar-value");
      const f = parseFloat(bar.style.width) / 100;
      const room = track.clientWidth * (1 - f);
      if (!track.clientWidth) continue; // hidden: placed when shown
      const inside = val.offsetWidth + 6 > room;
      val.classList.toggle("mc-bar-value-in", inside);
      val.style.left = inside ? "" : `calc(${(100 * f).toFixed(3)}% + 0.25rem)`;
      val.style.right = inside ? `calc(${(100 * (1 - f)).toFixed(3)}% + 0.25rem)` : "";
    }
  }
  new ResizeObserver(() => placeValues()).observe(bars);

  // tail is a name's last part ("word_embeddings"), or its last two when
  // the last is an index ("layer.0"): enough to find the table's row.
  function tail(name) {
    const parts = name.split(".");
    const k = parts.length > 1 && /^\d+$/.test(parts[parts.length - 1]) ? 2 : 1;
    return parts.slice(-k).join(".");
  }

  function supers(n) {
    const map = "⁰¹²³⁴⁵⁶⁷⁸⁹";
    return String(n).split("").map((d) => map[Number(d)]).join("");
  }

  function draw() {
    if (!frame) return;
    waiting.hidden = true;
    for (const p of parts) p.hidden = false;
    drawSwitches();
    drawTotals();
    drawChart();
    drawTable();
    flipsBox.hidden = !(frame.flips ?? []).length;
    root.dataset.preset = frame.params.preset;
    root.dataset.params = String(frame.total.params);
    w.refreshExports();
    if (voice.due(false)) {
      voice.say(fill(S.say, { model: presetName(frame.params.preset), p: nf.format(frame.total.params), s: nf.format(frame.total.unshared) }));
    }
  }
}
