package twinstasks

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// The exports replay the race to their step (training is deterministic):
// they re-train the models, hence Heavy.

// number is a float64 that JSON writes as null when it is not finite.
type number float64

func (x number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(x), 'g', -1, 64), nil
}

func numbers(v []float64) []number {
	out := make([]number, len(v))
	for i, x := range v {
		out[i] = number(x)
	}
	return out
}

func steps(n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	return xs
}

// ---- siamese-twins ----

func asTwins(exp run.Experiment) (*twins, error) {
	t, ok := exp.(*twins)
	if !ok {
		return nil, fmt.Errorf("twinstasks: export of a %T", exp)
	}
	return t, nil
}

// writeTwinsJSON writes the frame at full precision: every step's losses
// and side cosine, the evaluations and the last step's ledger.
func writeTwinsJSON(w io.Writer, exp run.Experiment, _ string) error {
	t, err := asTwins(exp)
	if err != nil {
		return err
	}
	d := struct {
		Step     int         `json:"step"`
		Total    int         `json:"total"`
		Loss     [2][]number `json:"loss"`
		Cos      []number    `json:"cos"`
		Evals    []twinsEval `json:"evals"`
		Ledger   []ledgerRow `json:"ledger"`
		Diverged *run.Text   `json:"diverged,omitempty"`
	}{Step: t.pos, Total: t.Total(), Loss: [2][]number{numbers(t.loss[0]), numbers(t.loss[1])}, Cos: numbers(t.bcos), Evals: t.evals, Ledger: t.ledger}
	if t.diverged != nil {
		d.Diverged = &t.diverged.Text
	}
	return run.WriteFrameJSON(w, TwinsName, t.v, t.pos, t.Total(), run.Frame{StaticRev: t.rev, Static: t.static(), Data: d})
}

// writeTwinsTrace writes the engine's step trace of the pass the ledger on
// screen shows: the twins with the weights before the step's update, on
// the step's whole batch of pairs. At step 0 (no ledger yet) it is the
// initial twins on the first two fixed test pairs.
func writeTwinsTrace(w io.Writer, exp run.Experiment, _ string) error {
	t, err := asTwins(exp)
	if err != nil {
		return err
	}
	x, y := t.tr.Batch()
	if t.pos == 0 {
		x, y = t.tr.TestPairs(2)
	}
	return writeTraceWith(w, t.tr.Twins(), t.before, uint64(t.v.Int("seed")), x, y)
}

var twinsText = struct {
	title, loss, acc, ledger, params, step, lossAxis, accAxis, norm, paramsAxis, twins, towers, side0, side1, sum, cos, cosAxis run.Text
}{
	title:      run.Text{En: "Siamese twins vs two towers — batch %d, Adam lr %g, seed %d — step %d of %d", Zh: "孪生网络与两座塔 — 批大小 %d，Adam 学习率 %g，种子 %d — 第 %d 步（共 %d 步）"},
	loss:       run.Text{En: "Contrastive loss per step (batch)", Zh: "每步的对比损失（批次）"},
	acc:        run.Text{En: "Verification accuracy on %d fixed test pairs", Zh: "%d 对固定测试数字对上的验证准确率"},
	ledger:     run.Text{En: "The twins' last gradient: each side's part of every weight", Zh: "孪生网络最近一次梯度：每一侧对每个权重的贡献"},
	params:     run.Text{En: "Parameters (engine count)", Zh: "参数量（引擎计数）"},
	step:       run.Text{En: "step", Zh: "步"},
	lossAxis:   run.Text{En: "loss", Zh: "损失"},
	accAxis:    run.Text{En: "accuracy", Zh: "准确率"},
	norm:       run.Text{En: "‖gradient‖", Zh: "‖梯度‖"},
	paramsAxis: run.Text{En: "parameters", Zh: "参数量"},
	twins:      run.Text{En: "twins (shared)", Zh: "孪生（共享）"},
	towers:     run.Text{En: "two towers", Zh: "两座塔"},
	side0:      run.Text{En: "first digit's side", Zh: "第一个数字这一侧"},
	side1:      run.Text{En: "second digit's side", Zh: "第二个数字这一侧"},
	sum:        run.Text{En: "sum = dW", Zh: "之和 = dW"},
	cos:        run.Text{En: "Cosine between the two sides' contributions", Zh: "两侧贡献之间的余弦"},
	cosAxis:    run.Text{En: "cosine", Zh: "余弦"},
}

func writeTwinsFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		t, err := asTwins(exp)
		if err != nil {
			return err
		}
		tx := twinsText
		in := func(s run.Text, a ...any) string { return fmt.Sprintf(s.In(lang), a...) }
		names := []string{in(tx.twins), in(tx.towers)}
		var acc []viz.Series
		for k := range 2 {
			s := viz.Series{Name: names[k], Style: &viz.Style{Color: k, Dash: k, Marker: k}}
			for _, e := range t.evals {
				s.X, s.Y = append(s.X, float64(e.Step)), append(s.Y, e.Acc[k])
			}
			acc = append(acc, s)
		}
		charts := []viz.Chart{nil,
			viz.LineChart{Title: in(tx.acc, lab.TwinsEvalPairs), XLabel: in(tx.step), YLabel: in(tx.accAxis), Series: acc},
			nil,
			viz.BarChart{Title: in(tx.params), YLabel: in(tx.paramsAxis), Categories: names, Groups: []viz.BarGroup{{Label: in(tx.paramsAxis), Values: []float64{float64(t.counts[0]), float64(t.counts[1])}}}},
		}
		if t.pos > 0 {
			xs := steps(t.pos)
			charts[0] = viz.LineChart{Title: in(tx.loss), XLabel: in(tx.step), YLabel: in(tx.lossAxis), Series: []viz.Series{
				{Name: names[0], X: xs, Y: t.loss[0]}, {Name: names[1], X: xs, Y: t.loss[1]}}}
			cats := make([]string, len(t.ledger))
			g := [3]viz.BarGroup{{Label: in(tx.side0)}, {Label: in(tx.side1)}, {Label: in(tx.sum)}}
			for i, r := range t.ledger {
				cats[i] = r.Name
				g[0].Values, g[1].Values, g[2].Values = append(g[0].Values, r.Part[0]), append(g[1].Values, r.Part[1]), append(g[2].Values, r.Sum)
			}
			charts[2] = viz.BarChart{Title: in(tx.ledger), YLabel: in(tx.norm), Categories: cats, Groups: g[:]}
			charts = append(charts, viz.LineChart{Title: in(tx.cos), XLabel: in(tx.step), YLabel: in(tx.cosAxis), Series: []viz.Series{{Name: names[0], X: xs, Y: t.bcos}}})
		}
		title := in(tx.title, t.v.Int("batch"), t.v.Float("lr"), t.v.Int("seed"), t.pos, t.Total())
		return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 2, Charts: compact(charts)})
	}
}

// compact drops the charts that have nothing to draw yet (step 0).
func compact(cs []viz.Chart) []viz.Chart {
	var out []viz.Chart
	for _, c := range cs {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// ---- multitask-trunk ----

func asTasks(exp run.Experiment) (*tasks, error) {
	t, ok := exp.(*tasks)
	if !ok {
		return nil, fmt.Errorf("twinstasks: export of a %T", exp)
	}
	return t, nil
}

func writeTasksJSON(w io.Writer, exp run.Experiment, _ string) error {
	t, err := asTasks(exp)
	if err != nil {
		return err
	}
	d := struct {
		Step     int         `json:"step"`
		Total    int         `json:"total"`
		Loss     [4][]number `json:"loss"`
		Cos      []number    `json:"cos"`
		Evals    []tasksEval `json:"evals"`
		Ledger   []ledgerRow `json:"ledger"`
		Diverged *run.Text   `json:"diverged,omitempty"`
	}{Step: t.pos, Total: t.Total(), Cos: numbers(t.cos), Evals: t.evals, Ledger: t.ledger}
	for k := range t.loss {
		d.Loss[k] = numbers(t.loss[k])
	}
	if t.diverged != nil {
		d.Diverged = &t.diverged.Text
	}
	return run.WriteFrameJSON(w, TasksName, t.v, t.pos, t.Total(), run.Frame{StaticRev: t.rev, Static: t.static(), Data: d})
}

// writeTasksTrace writes the step trace of the pass the ledger on screen
// shows: the multi-task model with the weights before the step's update,
// on the step's whole batch. At step 0 (no ledger yet) it is the initial
// model on the first two training digits.
func writeTasksTrace(w io.Writer, exp run.Experiment, _ string) error {
	t, err := asTasks(exp)
	if err != nil {
		return err
	}
	x, y := t.tr.Batch()
	if t.pos == 0 {
		x, y = t.tr.FirstDigits(2)
	}
	return writeTraceWith(w, t.tr.Shared(), t.before, uint64(t.v.Int("seed")), x, y)
}

var tasksText = struct {
	title, acc, cos, ledger, params, step, accAxis, cosAxis, norm, paramsAxis, digit, parity, sum, shared, separate run.Text
}{
	title:      run.Text{En: "One trunk, two tasks vs two separate networks — batch %d, Adam lr %g, seed %d — step %d of %d", Zh: "一个主干两个任务与两个独立网络 — 批大小 %d，Adam 学习率 %g，种子 %d — 第 %d 步（共 %d 步）"},
	acc:        run.Text{En: "Test accuracy on %d digits", Zh: "%d 个测试数字上的准确率"},
	cos:        run.Text{En: "Cosine between the tasks' gradients on the trunk", Zh: "两个任务在主干上的梯度之间的余弦"},
	ledger:     run.Text{En: "The trunk's last gradient: each task's part", Zh: "主干最近一次梯度：每个任务的部分"},
	params:     run.Text{En: "Parameters (engine count)", Zh: "参数量（引擎计数）"},
	step:       run.Text{En: "step", Zh: "步"},
	accAxis:    run.Text{En: "accuracy", Zh: "准确率"},
	cosAxis:    run.Text{En: "cosine", Zh: "余弦"},
	norm:       run.Text{En: "‖gradient‖", Zh: "‖梯度‖"},
	paramsAxis: run.Text{En: "parameters", Zh: "参数量"},
	digit:      run.Text{En: "digit task", Zh: "数字任务"},
	parity:     run.Text{En: "odd/even task", Zh: "奇偶任务"},
	sum:        run.Text{En: "sum = dW", Zh: "之和 = dW"},
	shared:     run.Text{En: "shared trunk", Zh: "共享主干"},
	separate:   run.Text{En: "two separate networks", Zh: "两个独立网络"},
}

func writeTasksFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		t, err := asTasks(exp)
		if err != nil {
			return err
		}
		tx := tasksText
		in := func(s run.Text, a ...any) string { return fmt.Sprintf(s.In(lang), a...) }
		series := []string{
			in(tx.shared) + " · " + in(tx.digit), in(tx.shared) + " · " + in(tx.parity),
			in(tx.separate) + " · " + in(tx.digit), in(tx.separate) + " · " + in(tx.parity),
		}
		var acc []viz.Series
		for k := range 4 {
			s := viz.Series{Name: series[k], Style: &viz.Style{Color: k / 2, Dash: k % 2, Marker: k}}
			for _, e := range t.evals {
				s.X, s.Y = append(s.X, float64(e.Step)), append(s.Y, e.Acc[k])
			}
			acc = append(acc, s)
		}
		names := []string{in(tx.shared), in(tx.separate)}
		charts := []viz.Chart{
			viz.LineChart{Title: in(tx.acc, t.static().EvalSize), XLabel: in(tx.step), YLabel: in(tx.accAxis), Series: acc},
			nil, nil,
			viz.BarChart{Title: in(tx.params), YLabel: in(tx.paramsAxis), Categories: names, Groups: []viz.BarGroup{{Label: in(tx.paramsAxis), Values: []float64{float64(t.counts.Shared), float64(t.counts.Separate)}}}},
		}
		if t.pos > 0 {
			charts[1] = viz.LineChart{Title: in(tx.cos), XLabel: in(tx.step), YLabel: in(tx.cosAxis), Series: []viz.Series{{Name: in(tx.shared), X: steps(t.pos), Y: t.cos}}}
			cats := make([]string, len(t.ledger))
			g := [3]viz.BarGroup{{Label: in(tx.digit)}, {Label: in(tx.parity)}, {Label: in(tx.sum)}}
			for i, r := range t.ledger {
				cats[i] = r.Name
				g[0].Values, g[1].Values, g[2].Values = append(g[0].Values, r.Part[0]), append(g[1].Values, r.Part[1]), append(g[2].Values, r.Sum)
			}
			charts[2] = viz.BarChart{Title: in(tx.ledger), YLabel: in(tx.norm), Categories: cats, Groups: g[:]}
		}
		title := in(tx.title, t.v.Int("batch"), t.v.Float("lr"), t.v.Int("seed"), t.pos, t.Total())
		return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 2, Charts: compact(charts)})
	}
}
