// conv-grad: one backward pass through a conv layer on a real digit, one
// output position per step. At each position the widget shows the upstream
// gradient there, the input patch, and their product — that position's
// contribution, reported by the engine's tap — being added into the one
// shared kernel gradient. At the end the sum equals the engine's dW. Beside
// it, the unshared twin keeps each contribution in its own kernel. Every
// number comes from the server (this package's README).

import { viridisAt, divergingAt, css, missing } from "/static/widgets/palette.js";
import { dequantize } from "/static/widgets/quant.js";
import {
  el, fill, plural, reducedMotion, begin, narrator, digitPicker, selectField, liveWidget, field, fieldInput,
  paintCells, longestText, sharpCanvas, fillCells, ring, perFrame,
} from "/static/widgets/ui.js";


const strings = {
  en: {
    kernels: {
      random: "random (seeded)", identity: "identity", "vertical-edge": "vertical edge",
      "horizontal-edge": "horizontal edge", blur: "blur", sharpen: "sharpen",
    },
    model: "Model: conv 3×3 (1 channel, padding 1) → flatten → dense 784→10 → cross-entropy with the label.",
    header: "Digit #{i}, a {label}. The untrained network gives it p = {p}; loss {loss}.",
    input: "Input digit and the kernel's window",
    upstream: "Upstream gradient ∂L/∂y at each output",
    norms: "How much each position contributed (‖contribution‖)",
    at: "Position ({oy}, {ox}): upstream gradient {g}",
    noPos: "Press Step or Play: the backward pass visits the positions one by one.",
    patch: "Input patch",
    times: "× {g} =",
    contribution: "Contribution",
    added: "added into",
    sum: "Shared kernel gradient so far (Σ)",
    engine: "Engine's dW (one backward pass)",
    sumBias: "bias: Σ {s} · engine {e}",
    progress: "{step} of {total} positions added",
    equal: "Σ of all {n} contributions = the engine's dW (largest difference {d}).",
    notYet: { one: "{n} position still to add.", other: "{n} positions still to add." },
    unshared: "Unshared twin (locally connected: {n} parameters instead of {s})",
    own: "This position's own kernel gradient",
    all: "Every position's own kernel gradient (3×3 each)",
    unsharedNote: "Nothing is added up: each position's contribution stays in its own kernel, and most kernels get almost nothing.",
    kernel: "Kernel", seed: "Seed",
    downloadPNG: "Download PNG", downloadSVG: "SVG", json: "Frame data (JSON)", trace: "Step trace (JSON)",
    say: "Position row {oy}, column {ox}: upstream gradient {g}; contribution added. {step} of {total}.",
    sayDone: "All {n} contributions added: the sum equals the engine's kernel gradient.",
    sayState: { running: "Playing.", paused: "Paused.", done: "Done.", error: "The run stopped with an error.", diverged: "The run diverged." },
    inputAlt: "The input digit with the 3×3 window at the current position",
    upstreamAlt: "Heat map of the upstream gradient over the 28×28 output positions",
    normsAlt: "Heat map of each position's contribution size, filled up to the current position",
    allAlt: "Small multiples: the 784 position kernels' gradients of the unshared layer",
  },
  zh: {
    kernels: {
      random: "随机（固定种子）", identity: "恒等", "vertical-edge": "竖直边缘",
      "horizontal-edge": "水平边缘", blur: "模糊", sharpen: "锐化",
    },
    model: "模型：3×3 卷积（1 个通道，填充 1）→ 展平 → 全连接 784→10 → 与标签计算交叉熵。",
    header: "第 {i} 号数字，是 {label}。未训练的网络给它的概率 p = {p}；损失 {loss}。",
    input: "输入数字与卷积核窗口",
    upstream: "每个输出位置的上游梯度 ∂L/∂y",
    norms: "每个位置贡献的大小（‖贡献‖）",
    at: "位置 ({oy}, {ox})：上游梯度 {g}",
    noPos: "按“单步”或“播放”：反向传播逐个访问各位置。",
    patch: "输入小块",
    times: "× {g} =",
    contribution: "贡献",
    added: "加到",
    sum: "共享卷积核的梯度（目前之和 Σ）",
    engine: "引擎算出的 dW（一次反向传播）",
    sumBias: "偏置：Σ {s} · 引擎 {e}",
    progress: "已加入 {step} / {total} 个位置",
    equal: "全部 {n} 个贡献之和 = 引擎的 dW（最大差 {d}）。",
    notYet: "还有 {n} 个位置未加入。",
    unshared: "不共享的对照（局部连接：{n} 个参数，而不是 {s} 个）",
    own: "本位置自己的卷积核梯度",
    all: "每个位置各自的卷积核梯度（每个 3×3）",
    unsharedNote: "这里没有求和：每个位置的贡献只留在它自己的卷积核里，大多数卷积核几乎什么也没得到。",
    kernel: "卷积核", seed: "种子",
    downloadPNG: "下载 PNG", downloadSVG: "SVG", json: "帧数据（JSON）", trace: "单步追踪（JSON）",
    say: "第 {oy} 行第 {ox} 列：上游梯度 {g}；贡献已加入。{step} / {total}。",
    sayDone: "全部 {n} 个贡献已加入：总和等于引擎算出的卷积核梯度。",
    sayState: { running: "正在播放。", paused: "已暂停。", done: "完成。", error: "运行因错误而停止。", diverged: "运行发散了。" },
    inputAlt: "输入数字，以及当前位置的 3×3 窗口",
    upstreamAlt: "28×28 个输出位置上游梯度的热图",
    normsAlt: "各位置贡献大小的热图，填到当前位置",
    allAlt: "小图阵列：不共享层中 784 个位置各自卷积核的梯度",
  },
};

export default function mount(root, initial, { lang }) {
  const kit = begin(root, lang, strings, "cg");
  const { L, S, locale, nf, id } = kit;
  const sig = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3, signDisplay: "negative" });
  // sci writes v as "1.22×10⁻¹⁵" (Intl's scientific notation writes "1.22E-15").
  const sci = (v) => {
    const e = Math.floor(Math.log10(Math.abs(v)));
    const m = sig.format(v / 10 ** e);
    const sup = String(e).replace("-", "⁻").replace(/\d/g, (d) => "⁰¹²³⁴⁵⁶⁷⁸⁹"[d]);
    return `${m}×10${sup}`;
  };
  // Gradients here are small (10⁻⁴…10⁻¹): three significant digits, in
  // scientific notation below 10⁻³.
  const g3 = (v) => (v !== 0 && Math.abs(v) < 1e-3 ? sci(v) : sig.format(v));

  // The lesson's parameters until the first frame says which are in effect.
  let params = { ...initial };
  let statics = null;
  let frame = null;
  let decoded = null; // dequantized arrays of statics


  const model = el("p", "cg-model", S.model);
  const header = el("p", "cg-header");
  header.dataset.testid = "header";

  // ---- Maps ----
  function canvasFig(caption, alt, testid) {
    const fig = el("figure", "cg-panel");
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", alt);
    c.dataset.testid = testid;
    fig.append(el("figcaption", "", caption), c);
    return { fig, c };
  }
  const inputFig = canvasFig(S.input, S.inputAlt, "input-canvas");
  const upFig = canvasFig(S.upstream, S.upstreamAlt, "upstream-canvas");
  const normFig = canvasFig(S.norms, S.normsAlt, "norms-canvas");
  const maps = el("div", "cg-maps");
  maps.append(inputFig.fig, upFig.fig, normFig.fig);

  // ---- The arithmetic of the current position ----
  const atLine = el("p", "cg-at");
  atLine.dataset.testid = "position";
  function gridFig(caption, testid, cls = "") {
    const fig = el("figure", "cg-kfig " + cls);
    const grid = el("div", "cg-grid");
    grid.setAttribute("role", "table");
    grid.dataset.testid = testid;
    fig.append(el("figcaption", "", caption), grid);
    return { fig, grid };
  }
  const patch = gridFig(S.patch, "patch", "cg-factor");
  // The multiplier's box keeps one width whatever number it shows, so the
  // flow does not rewrap as the positions go by.
  const timesOp = el("span", "cg-op cg-times");
  const contrib = gridFig(S.contribution, "contribution", "cg-factor");
  const plusOp = el("span", "cg-op", S.added);
  const sum = gridFig(S.sum, "sum-grid", "cg-shared");
  const engine = gridFig(S.engine, "engine-grid");
  const flow = el("div", "cg-flow");
  // The sum and the engine's dW stay side by side, even when the row wraps,
  // and "added into" stays with them.
  const pair = el("div", "cg-pair");
  pair.append(sum.fig, engine.fig);
  const join = el("div", "cg-join");
  join.append(plusOp, pair);
  flow.append(patch.fig, timesOp, contrib.fig, join);
  const biasLine = el("p", "cg-bias");
  const progress = el("p", "cg-progress");
  progress.dataset.testid = "progress";
  const verdict = el("p", "cg-verdict");
  verdict.dataset.testid = "verdict";

  // ---- The unshared twin ----
  const twin = el("section", "cg-twin");
  const twinTitle = el("h4", "cg-twin-title");
  const own = gridFig(S.own, "unshared-own");
  const allFig = canvasFig(S.all, S.allAlt, "unshared-canvas");
  const twinRow = el("div", "cg-flow cg-top");
  twinRow.append(own.fig, allFig.fig);
  twin.append(twinTitle, twinRow, el("p", "cg-note", S.unsharedNote));

  // ---- Settings (from the server's fields, once hello has come) ----
  const settings = el("div", "cg-settings");
  let kernel, digit, seedInput;

  const voice = narrator("cg", 1500);
  const w = liveWidget(root, kit, {
    experiment: "conv-grad",
    prefix: "cg",
    params: () => params,
    player: { speed: reducedMotion.matches ? 4 : 30, seek: true },
    exports: { png: S.downloadPNG, svg: S.downloadSVG, json: S.json, "trace.json": S.trace },
    ready(spec) {
      const cur = (name) => params[name] ?? field(spec, name).default;
      const kf = field(spec, "kernel");
      kernel = selectField({
        cls: "cg-field", text: S.kernel, values: kf.choices, name: (k) => S.kernels[k] ?? k, current: cur("kernel"),
        testid: "kernel-select", onChange: (v) => setParams({ kernel: v }),
      });
      kernel.label.title = kf.desc;
      const df = field(spec, "digit");
      digit = digitPicker(S, {
        id, count: df.max + 1, current: () => cur("digit"), choose: (d) => setParams({ digit: d }),
        cls: "cg-field cg-number", testid: "digit-input",
      });
      digit.field.title = df.desc;
      const seedField = el("div", "cg-field cg-number");
      const seedName = el("label", "", S.seed);
      seedInput = fieldInput(field(spec, "seed"), () => cur("seed"), (v) => setParams({ seed: v }));
      seedInput.id = `${id}-seed`;
      seedInput.dataset.testid = "seed-input";
      seedName.htmlFor = seedInput.id;
      seedField.append(seedName, seedInput);
      settings.append(digit.field, kernel.label, seedField);
    },
    frame(m) {
      if (m.static) {
        try {
          decoded = {
            upstream: dequantize(m.static.upstream),
            norms: dequantize(m.static.norms),
            unshared: dequantize(m.static.unshared),
          };
        } catch (err) {
          w.showError(String(err));
          return;
        }
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
      if (m.state !== "running" && m.state !== "working") setTimeout(() => narrate(true), 600);
    },
    error() {
      if (statics) syncSettings(statics.params);
    },
  });

  root.append(w.status, model, header, maps, atLine, flow, biasLine, progress, verdict, w.controls, w.working, twin, settings, w.exports, w.errorBox, voice.el);

  function setParams(change) {
    w.send({ type: "set-params", params: change });
  }

  function syncSettings(p) {
    params = { ...p };
    if (!kernel) return;
    kernel.input.value = p.kernel;
    if (document.activeElement !== digit.input) digit.input.value = String(p.digit);
    if (document.activeElement !== seedInput) seedInput.value = String(p.seed);
  }

  // ---- Drawing ----
  const CELL = 10;
  const mark = (g, oy, ox, size, pad = 0) => ring(g, (ox + pad) * CELL, (oy + pad) * CELL, size * CELL);

  function drawInput() {
    const H = statics.inputH, W = statics.inputW;
    const g = sharpCanvas(inputFig.c, (W + 2) * CELL, (H + 2) * CELL);
    for (let y = -1; y <= H; y++) {
      for (let x = -1; x <= W; x++) {
        const inside = y >= 0 && y < H && x >= 0 && x < W;
        g.fillStyle = inside ? css(viridisAt(statics.pixels[y * W + x] / 255, 0, 1)) : "#e8e8e8";
        g.fillRect((x + 1) * CELL, (y + 1) * CELL, CELL, CELL);
      }
    }
    const at = frame?.at;
    if (at) mark(g, at.oy - 1, at.ox - 1, 3, 1);
  }

  function drawMap(c, values, colour, upto) {
    const H = statics.outH, W = statics.outW;
    const g = sharpCanvas(c, W * CELL, H * CELL);
    fillCells(g, W, H, CELL, (i) => (i < upto ? colour(values[i]) : missing));
    const at = frame?.at;
    if (at) mark(g, at.oy, at.ox, 1);
  }

  function drawAll() {
    // 28×28 kernels of 3×3 cells, 3 px per cell and 1 px between kernels.
    const H = statics.outH, W = statics.outW, C = 3, K = 3 * C + 1;
    const g = sharpCanvas(allFig.c, W * K, H * K);
    g.fillStyle = "#fff";
    g.fillRect(0, 0, W * K, H * K);
    const lim = statics.unsharedAbsMax;
    const upto = frame?.step ?? 0;
    for (let p = 0; p < H * W; p++) {
      const oy = Math.floor(p / W), ox = p % W;
      for (let i = 0; i < 9; i++) {
        g.fillStyle = css(p < upto ? divergingAt(decoded.unshared[p * 9 + i], lim) : missing);
        g.fillRect(ox * K + (i % 3) * C, oy * K + Math.floor(i / 3) * C, C, C);
      }
    }
    const at = frame?.at;
    if (at) {
      g.lineWidth = 2;
      g.strokeStyle = "#000";
      g.strokeRect(at.ox * K - 1, at.oy * K - 1, K + 1, K + 1);
    }
  }

  const gridCells = (container, items) => paintCells(container, items, "cg");

  const blank = () => Array.from({ length: 9 }, () => ({ text: "·", rgb: [0xf7, 0xf7, 0xf7] }));

  function drawNumbers() {
    const at = frame?.at;
    const cLim = statics.unsharedAbsMax; // the largest contribution of the pass
    const sLim = statics.sumAbsMax || 1;
    if (at) {
      atLine.textContent = fill(S.at, { oy: at.oy, ox: at.ox, g: g3(at.upstream) });
      timesOp.textContent = fill(S.times, { g: g3(at.upstream) });
      gridCells(patch.grid, at.patch.map((v, i) => ({ text: at.padding[i] ? "0" : sig.format(v), value: v, padding: at.padding[i], rgb: at.padding[i] ? [0xe8, 0xe8, 0xe8] : viridisAt(v, 0, 1) })));
      gridCells(contrib.grid, at.contribution.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, cLim) })));
      gridCells(own.grid, at.unshared.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, cLim) })));
    } else {
      atLine.textContent = S.noPos;
      timesOp.textContent = "×";
      gridCells(patch.grid, blank());
      gridCells(contrib.grid, blank());
      gridCells(own.grid, blank());
    }
    const fresh = !!at && !reducedMotion.matches;
    // The running sum and the engine's dW share one text size, so that
    // the two grids stay alike as the sum reaches dW.
    const sumItems = frame.sum.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, sLim), fresh }));
    const engineItems = statics.engineGrad.map((v) => ({ text: g3(v), value: v, rgb: divergingAt(v, sLim) }));
    const chars = Math.max(6, longestText(sumItems), longestText(engineItems));
    paintCells(sum.grid, sumItems, "cg", chars);
    paintCells(engine.grid, engineItems, "cg", chars);
    // Restart the "just added" highlight on each step.
    if (fresh) {
      sum.grid.classList.remove("cg-pulse");
      void sum.grid.offsetWidth;
      sum.grid.classList.add("cg-pulse");
    }
    biasLine.textContent = fill(S.sumBias, { s: g3(frame.sumBias), e: g3(statics.engineBiasGrad) });
    progress.textContent = fill(S.progress, { step: nf.format(frame.step), total: nf.format(frame.total) });
    if (frame.step === frame.total) {
      const d = Math.max(...frame.sum.map((v, i) => Math.abs(v - statics.engineGrad[i])), Math.abs(frame.sumBias - statics.engineBiasGrad));
      verdict.textContent = fill(S.equal, { n: nf.format(frame.total), d: d === 0 ? "0" : sci(d) });
      verdict.classList.add("cg-ok");
      root.dataset.maxDiff = String(d);
    } else {
      verdict.textContent = fill(plural(S.notYet, frame.total - frame.step, L), { n: nf.format(frame.total - frame.step) });
      verdict.classList.remove("cg-ok");
      delete root.dataset.maxDiff;
    }
  }

  function drawText() {
    const p = statics.params;
    header.textContent = fill(S.header, { i: p.digit, label: statics.label, p: sig.format(statics.probs[statics.label]), loss: sig.format(statics.loss) });
    twinTitle.textContent = fill(S.unshared, { n: nf.format(statics.unsharedParams), s: nf.format(statics.sharedParams) });
  }

  const paint = perFrame(() => {
    const upLim = statics.upstreamAbsMax;
    const nMax = statics.norms.max || 1;
    drawInput();
    drawMap(upFig.c, decoded.upstream, (v) => divergingAt(v, upLim), statics.outH * statics.outW);
    drawMap(normFig.c, decoded.norms, (v) => viridisAt(v, 0, nMax), frame.step);
    drawAll();
    drawNumbers();
    drawText();
  });
  function draw() {
    if (statics && frame) paint();
  }

  function narrate(force) {
    const at = frame?.at;
    if (!at || !voice.due(force || w.state !== "running")) return;
    voice.say(frame.step === frame.total
      ? fill(S.sayDone, { n: nf.format(frame.total) })
      : fill(S.say, { oy: at.oy, ox: at.ox, g: g3(at.upstream), step: frame.step, total: frame.total }));
  }

  for (const gr of [patch.grid, contrib.grid, sum.grid, engine.grid, own.grid]) gridCells(gr, blank());
  atLine.textContent = S.noPos;
}
