// siamese-twins: one CNN encoder used by both digits of a pair (the
// engine's siamese layer, contrastive loss) raced against two towers with
// weights of their own, on the same pairs. The ledger shows, for every
// encoder weight, what each side of the pairs added to its gradient, their
// sum and the engine's dW. Every number comes from the server (README.md).

import { mountRace, curve, STYLES, fill } from "/static/widgets/twins-tasks.js";

const common = {
  en: {
    model: "Model", weight: "Weight", settings: "Race settings (changing one restarts the race)",
    batch: "Pairs per step", lr: "Learning rate (Adam)", steps: "Steps", seed: "Seed",
    outOfRange: "Enter a whole number from {min} to {max}; this value was not applied.",
    downloadPNG: "Download charts (PNG)", json: "Race data (JSON)", trace: "Step trace of the shared model (JSON)",
    exportNote: "The server re-trains to this step to draw it (a few seconds).",
    progress: "Step {k} of {n}", stepAxis: "step",
    sayState: { running: "Training.", paused: "Paused.", done: "The race is over.", error: "The run stopped with an error.", diverged: "Diverged." },
    cos: "cos", sumCol: "‖sum‖", dwCol: "‖dW‖ (engine)", diffCol: "max |sum − dW|",
    ledgerEmpty: "Take a step to see the first gradient split in two.",
  },
  zh: {
    model: "模型", weight: "权重", settings: "比赛设置（修改任何一项都会重新开始比赛）",
    batch: "每步的数字对数", lr: "学习率（Adam）", steps: "步数", seed: "随机种子",
    outOfRange: "请输入 {min} 到 {max} 之间的整数；此值未被采用。",
    downloadPNG: "下载图表（PNG）", json: "比赛数据（JSON）", trace: "共享模型的单步追踪（JSON）",
    exportNote: "服务器会重新训练到这一步再绘图（需要几秒钟）。",
    progress: "第 {k} / {n} 步", stepAxis: "步",
    sayState: { running: "正在训练。", paused: "已暂停。", done: "比赛结束。", error: "运行因错误而停止。", diverged: "发散了。" },
    cos: "余弦", sumCol: "‖和‖", dwCol: "‖dW‖（引擎）", diffCol: "最大 |和 − dW|",
    ledgerEmpty: "走一步，就能看到第一次梯度被分成两份。",
  },
};

const strings = {
  en: {
    ...common.en,
    note: "Each step trains both on the same pairs of digits, half of them the same digit. Verification: a pair is called “same digit” when its distance is below half the margin (0.5); scored every {e} steps on {n} fixed test pairs.",
    models: { twins: "Siamese twins (one encoder)", towers: "Two towers (two encoders)" },
    col: { params: "Parameters", loss: "Loss (batch)", acc: "Verification" },
    ledgerTitle: "The twins' gradient, side by side",
    ledgerNote: "Step {k}: what the first digits of the pairs and the second digits each added to every weight of the one encoder, their cosine, and their sum next to the engine's dW.",
    part: ["‖first side‖", "‖second side‖"],
    kernelsNote: "{name}, kernel by kernel: first side + second side = dW (purple negative, orange positive, one scale).",
    kzero: "0 (no gradient this step)",
    kparts: ["first side", "second side", "sum = dW"],
    evalAt: "Verification measured at step {s} (every 20 steps).",
    chart: { loss: "Contrastive loss (each step's batch)", acc: "Verification accuracy (fixed test pairs)", cos: "Cosine between the two sides' contributions (whole encoder)" },
    lossAxis: "loss", accAxis: "accuracy", cosAxis: "cosine",
    say: "Step {k} of {n}. Verification: twins {a}, towers {b}.",
    chartAlt: "{title}. Latest: {values}.",
  },
  zh: {
    ...common.zh,
    note: "每一步让两者在同样的数字对上训练，其中一半是同一个数字。验证：距离小于间隔的一半（0.5）就判为“同一个数字”；每隔 {e} 步在 {n} 对固定测试数字对上评分。",
    models: { twins: "孪生网络（一个编码器）", towers: "两座塔（两个编码器）" },
    col: { params: "参数量", loss: "损失（批次）", acc: "验证准确率" },
    ledgerTitle: "孪生网络的梯度，两侧并排",
    ledgerNote: "第 {k} 步：数字对中第一个数字和第二个数字各自给这一个编码器的每个权重贡献了多少、二者的余弦，以及它们的和与引擎的 dW 对照。",
    part: ["‖第一侧‖", "‖第二侧‖"],
    kernelsNote: "{name}，逐个卷积核：第一侧 + 第二侧 = dW（紫色为负，橙色为正，同一刻度）。",
    kzero: "0（这一步没有梯度）",
    kparts: ["第一侧", "第二侧", "和 = dW"],
    evalAt: "验证准确率测于第 {s} 步（每 20 步测一次）。",
    chart: { loss: "对比损失（每一步的批次）", acc: "验证准确率（固定测试数字对）", cos: "两侧贡献之间的余弦（整个编码器）" },
    lossAxis: "损失", accAxis: "准确率", cosAxis: "余弦",
    say: "第 {k} / {n} 步。验证准确率：孪生 {a}，两座塔 {b}。",
    chartAlt: "{title}。最新：{values}。",
  },
};

const MODELS = ["twins", "towers"];

export default function mount(root, initial, { lang }) {
  let S;
  mountRace(root, initial, lang, strings, {
    experiment: "siamese-twins",
    models: MODELS,
    columns: ["params", "loss", "acc"],
    charts: ["loss", "acc", "cos"],
    row(i, frame, st) {
      const e = frame.evals[frame.evals.length - 1];
      return { params: st.counts[i], loss: frame.loss[i], acc: e?.acc[i] };
    },
    format: { params: (f) => (v) => f.nf.format(v), loss: (f) => (v) => f.num3.format(v), acc: (f) => (v) => f.pct.format(v) },
    chart(name, canvas, frame, st, f, lineChart) {
      S = f.S;
      const step = frame.step, total = st.total;
      const alt = (title, vals) => fill(S.chartAlt, { title, values: vals });
      if (name === "loss") {
        const series = MODELS.map((m, i) => ({ style: STYLES[i], ...curve(frame.curves[i], frame.every, step) }));
        let hi = 0.3;
        for (const s of series) for (const y of s.ys) if (Number.isFinite(y)) hi = Math.max(hi, y);
        lineChart(canvas, { xMax: total, yMin: 0, yMax: Math.min(hi * 1.05, 2), xLabel: S.stepAxis, yLabel: S.lossAxis, series,
          label: alt(S.chart.loss, frame.loss.map((v, i) => `${S.models[MODELS[i]]} ${v == null ? "—" : f.num3.format(v)}`).join(", ")) });
      } else if (name === "acc") {
        const series = MODELS.map((m, i) => ({ style: STYLES[i], xs: frame.evals.map((e) => e.step), ys: frame.evals.map((e) => e.acc[i]), markers: true }));
        const e = frame.evals[frame.evals.length - 1];
        lineChart(canvas, { xMax: total, yMin: 0.4, yMax: 1, xLabel: S.stepAxis, yLabel: S.accAxis, series, yPercent: true, hline: 0.5,
          label: alt(S.chart.acc, e.acc.map((v, i) => `${S.models[MODELS[i]]} ${f.pct.format(v)}`).join(", ")) });
      } else {
        const c = curve(frame.cos, frame.every, step);
        lineChart(canvas, { xMax: total, yMin: -1, yMax: 1, xLabel: S.stepAxis, yLabel: S.cosAxis, series: [{ style: { ...STYLES[2], dash: [] }, ...c }], hline: 0,
          label: alt(S.chart.cos, c.ys.length ? f.num3.format(c.ys[c.ys.length - 1]) : "—") });
      }
    },
    say(frame, st, f) {
      const e = frame.evals[frame.evals.length - 1];
      return fill(f.S.say, { k: f.nf.format(frame.step), n: f.nf.format(frame.total), a: f.pct.format(e.acc[0]), b: f.pct.format(e.acc[1]) });
    },
    noteVars: (st) => ({ e: st.evalEvery, n: st.evalPairs }),
  });
}
