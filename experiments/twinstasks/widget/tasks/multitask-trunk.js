// multitask-trunk: one convolutional trunk with two heads — which digit,
// odd or even — raced against two separate CNNs, one per task, on the same
// digits. The ledger shows, for every trunk weight, each task's part of its
// gradient (a backward pass per head), their cosine, and their sum beside
// the engine's dW. Every number comes from the server (README.md).

import { mountRace, curve, STYLES, fill } from "/static/widgets/twins-tasks.js";

const strings = {
  en: {
    model: "Model", weight: "Weight", settings: "Race settings (changing one restarts the race)",
    batch: "Digits per step", lr: "Learning rate (Adam)", steps: "Steps", seed: "Seed",
    outOfRange: "Enter a whole number from {min} to {max}; this value was not applied.",
    downloadPNG: "Download charts (PNG)", json: "Race data (JSON)", trace: "Step trace of the shared model (JSON)",
    exportNote: "The server re-trains to this step to draw it (a few seconds).",
    progress: "Step {k} of {n}", stepAxis: "step",
    sayState: { running: "Training.", paused: "Paused.", done: "The race is over.", error: "The run stopped with an error.", diverged: "Diverged." },
    cos: "cos", sumCol: "‖sum‖", dwCol: "‖dW‖ (engine)", diffCol: "max |sum − dW|",
    ledgerEmpty: "Take a step to see the first trunk gradient split by task.",
    note: "Each step trains the shared model and both separate networks on the same digits. Test accuracy every {e} steps on {n} test digits. The shared trunk has {t} parameters, its two heads {h}.",
    models: { shared: "Shared trunk, two heads", separate: "Two separate networks" },
    col: { params: "Parameters", digit: "Digit (test)", parity: "Odd/even (test)", cos: "cos(tasks) on the trunk" },
    ledgerTitle: "The trunk's gradient, task by task",
    ledgerNote: "Step {k}: what the digit task and the odd/even task each added to every trunk weight (a backward pass per head), their cosine, and their sum next to the engine's dW.",
    part: ["‖digit task‖", "‖odd/even task‖"],
    kernelsNote: "{name}, kernel by kernel: digit task + odd/even task = dW (purple negative, orange positive, one scale).",
    kzero: "0 (no gradient this step)",
    kparts: ["digit task", "odd/even task", "sum = dW"],
    evalAt: "Test accuracy measured at step {s} (every 20 steps); the cosine is the last step's.",
    chart: { acc: "Test accuracy: solid = digit, dashed = odd/even", cos: "Cosine between the tasks' trunk gradients (each step)" },
    accAxis: "accuracy", cosAxis: "cosine",
    say: "Step {k} of {n}. Shared: digit {a}, odd/even {b}. Separate: digit {c}, odd/even {d}.",
    chartAlt: "{title}. Latest: {values}.",
  },
  zh: {
    model: "模型", weight: "权重", settings: "比赛设置（修改任何一项都会重新开始比赛）",
    batch: "每步的数字个数", lr: "学习率（Adam）", steps: "步数", seed: "随机种子",
    outOfRange: "请输入 {min} 到 {max} 之间的整数；此值未被采用。",
    downloadPNG: "下载图表（PNG）", json: "比赛数据（JSON）", trace: "共享模型的单步追踪（JSON）",
    exportNote: "服务器会重新训练到这一步再绘图（需要几秒钟）。",
    progress: "第 {k} / {n} 步", stepAxis: "步",
    sayState: { running: "正在训练。", paused: "已暂停。", done: "比赛结束。", error: "运行因错误而停止。", diverged: "发散了。" },
    cos: "余弦", sumCol: "‖和‖", dwCol: "‖dW‖（引擎）", diffCol: "最大 |和 − dW|",
    ledgerEmpty: "走一步，就能看到主干的第一次梯度按任务拆开。",
    note: "每一步让共享模型和两个独立网络在同样的数字上训练。每隔 {e} 步在 {n} 个测试数字上测准确率。共享主干有 {t} 个参数，两个头共 {h} 个。",
    models: { shared: "共享主干，两个头", separate: "两个独立网络" },
    col: { params: "参数量", digit: "数字（测试）", parity: "奇偶（测试）", cos: "主干上两任务的余弦" },
    ledgerTitle: "主干的梯度，按任务拆开",
    ledgerNote: "第 {k} 步：数字任务和奇偶任务各自给每个主干权重贡献了多少（每个头单独反向传播一次）、二者的余弦，以及它们的和与引擎的 dW 对照。",
    part: ["‖数字任务‖", "‖奇偶任务‖"],
    kernelsNote: "{name}，逐个卷积核：数字任务 + 奇偶任务 = dW（紫色为负，橙色为正，同一刻度）。",
    kzero: "0（这一步没有梯度）",
    kparts: ["数字任务", "奇偶任务", "和 = dW"],
    evalAt: "测试准确率测于第 {s} 步（每 20 步测一次）；余弦是最近一步的。",
    chart: { acc: "测试准确率：实线 = 数字，虚线 = 奇偶", cos: "两个任务在主干上的梯度之间的余弦（每一步）" },
    accAxis: "准确率", cosAxis: "余弦",
    say: "第 {k} / {n} 步。共享：数字 {a}，奇偶 {b}。独立：数字 {c}，奇偶 {d}。",
    chartAlt: "{title}。最新：{values}。",
  },
};

const MODELS = ["shared", "separate"];
const DASHED = (i) => ({ ...STYLES[i], dash: [6, 4] });

export default function mount(root, initial, { lang }) {
  mountRace(root, initial, lang, strings, {
    experiment: "multitask-trunk",
    models: MODELS,
    columns: ["params", "digit", "parity", "cos"],
    charts: ["acc", "cos"],
    row(i, frame, st) {
      const e = frame.evals[frame.evals.length - 1];
      return { params: i === 0 ? st.counts.shared : st.counts.separate, digit: e?.acc[2 * i], parity: e?.acc[2 * i + 1], cos: i === 0 ? frame.cosNow : null };
    },
    format: { params: (f) => (v) => f.nf.format(v), digit: (f) => (v) => f.pct.format(v), parity: (f) => (v) => f.pct.format(v), cos: (f) => (v) => f.num3.format(v) },
    chart(name, canvas, frame, st, f, lineChart) {
      const S = f.S;
      const alt = (title, vals) => fill(S.chartAlt, { title, values: vals });
      const e = frame.evals[frame.evals.length - 1];
      if (name === "acc") {
        const series = [0, 1, 2, 3].map((k) => ({ style: k % 2 ? DASHED(k >> 1) : STYLES[k >> 1], xs: frame.evals.map((v) => v.step), ys: frame.evals.map((v) => v.acc[k]), markers: true }));
        lineChart(canvas, { xMax: st.total, yMin: 0, yMax: 1, xLabel: S.stepAxis, yLabel: S.accAxis, series, yPercent: true,
          label: alt(S.chart.acc, MODELS.map((m, i) => `${S.models[m]}: ${f.pct.format(e.acc[2 * i])}, ${f.pct.format(e.acc[2 * i + 1])}`).join("; ")) });
      } else {
        const c = curve(frame.cos, frame.every, frame.step);
        lineChart(canvas, { xMax: st.total, yMin: -1, yMax: 1, xLabel: S.stepAxis, yLabel: S.cosAxis, series: [{ style: { ...STYLES[2], dash: [] }, ...c }], hline: 0,
          label: alt(S.chart.cos, frame.cosNow == null ? "—" : f.num3.format(frame.cosNow)) });
      }
    },
    say(frame, st, f) {
      const e = frame.evals[frame.evals.length - 1];
      const p = (v) => f.pct.format(v);
      return fill(f.S.say, { k: f.nf.format(frame.step), n: f.nf.format(frame.total), a: p(e.acc[0]), b: p(e.acc[1]), c: p(e.acc[2]), d: p(e.acc[3]) });
    },
    noteVars: (st) => ({ e: st.evalEvery, n: st.evalSize, t: st.counts.trunk, h: st.counts.heads }),
  });
}
