package albertshare

import (
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// The exports replay the race to their step (training is deterministic, so
// the URL names the state on screen): they re-train four models, hence
// Heavy.

func asRace(exp run.Experiment) (*race, error) {
	r, ok := exp.(*race)
	if !ok {
		return nil, fmt.Errorf("albertshare: export of a %T", exp)
	}
	return r, nil
}

// preciseFrame is dataFrame at full precision, for the JSON export.
type preciseFrame struct {
	Step     int               `json:"step"`
	Total    int               `json:"total"`
	Loss     [][]number        `json:"loss"` // [mode][step−1], the batch loss
	Acc      [][]number        `json:"acc"`  // [mode][step−1], the smoothed batch accuracy
	Evals    []evaluation      `json:"evals"`
	Probes   []lab.AlbertProbe `json:"probes"` // Modes order
	Diverged *run.Text         `json:"diverged,omitempty"`
}

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

// writeJSON writes the frame at full precision: every step's loss and
// smoothed accuracy, the evaluations and the whole probes (every ledger
// row, every block's part).
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	d := preciseFrame{Step: r.pos, Total: r.Total(), Evals: r.evals, Probes: r.probes}
	for i := range Modes() {
		d.Loss = append(d.Loss, numbers(r.loss[i]))
		d.Acc = append(d.Acc, numbers(r.smooth[i]))
	}
	if r.diverged != nil {
		d.Diverged = &r.diverged.Text
	}
	return run.WriteFrameJSON(w, Name, r.v, d.Step, d.Total, run.Frame{StaticRev: r.rev, Static: r.staticFrame(), Data: d})
}

// writeTrace writes the engine's step trace of the pass the all-shared
// model's probe on screen measured: the weights of the step (the probe
// runs after the step's update) on the whole probe batch. Blocks 2…N list
// their parameters as {"same_as": "block1.…"}.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	tr := r.trainers[indexOf(string(engine.ShareAll))]
	x, y := tr.ProbeBatch()
	defer tr.Model().ZeroGrad() // as the probe leaves it
	return engine.WriteTrace(w, tr.Model(), uint64(r.v.Int("seed")), x, y)
}

func indexOf(share string) int {
	for i, m := range Modes() {
		if m == share {
			return i
		}
	}
	panic("albertshare: no mode " + share)
}

// figureText is the figure's wording in both languages (Sprintf formats).
var figureText = struct {
	config, loss, acc, accAxis, step, lossAxis, batch, eval, angle, block, degrees, parts, norm, params, paramsAxis, reverse, copy run.Text
}{
	config:     run.Text{En: "Share across layers — %s, %d blocks, d = %d, Adam lr %g, seed %d — step %d of %d", Zh: "跨层共享 — %s，%d 个块，d = %d，Adam 学习率 %g，种子 %d — 第 %d 步（共 %d 步）"},
	loss:       run.Text{En: "Loss per step (batch)", Zh: "每步的损失（批次）"},
	acc:        run.Text{En: "Token accuracy: thin = batches (smoothed), marks = %d fixed sequences", Zh: "词元准确率：细线 = 批次（平滑），标记 = %d 条固定序列"},
	accAxis:    run.Text{En: "accuracy", Zh: "准确率"},
	step:       run.Text{En: "step", Zh: "步"},
	lossAxis:   run.Text{En: "loss", Zh: "损失"},
	batch:      run.Text{En: "%s batch", Zh: "%s 批次"},
	eval:       run.Text{En: "%s fixed set", Zh: "%s 固定集"},
	angle:      run.Text{En: "Angle between each block's input and output (probe batch)", Zh: "每个块的输入与输出之间的夹角（探针批次）"},
	block:      run.Text{En: "block", Zh: "块"},
	degrees:    run.Text{En: "degrees", Zh: "度"},
	parts:      run.Text{En: "Each block's part of the feed-forward gradient (probe batch)", Zh: "每个块对前馈层梯度的贡献（探针批次）"},
	norm:       run.Text{En: "‖part‖", Zh: "‖贡献‖"},
	params:     run.Text{En: "Parameters (engine count)", Zh: "参数量（引擎计数）"},
	paramsAxis: run.Text{En: "parameters", Zh: "参数量"},
	reverse:    run.Text{En: "reverse", Zh: "倒序"},
	copy:       run.Text{En: "copy", Zh: "复制"},
}

func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		r, err := asRace(exp)
		if err != nil {
			return err
		}
		return r.figure(w, format, lang)
	}
}

// figure draws five charts: the loss per step, the accuracy, the angle per
// block, each block's part of the feed-forward gradient and the parameter
// counts.
func (r *race) figure(w io.Writer, format, lang string) error {
	t := figureText
	in := func(tx run.Text, a ...any) string { return fmt.Sprintf(tx.In(lang), a...) }
	v := r.v
	task := in(t.reverse)
	if v.String("task") == lab.AlbertCopy {
		task = in(t.copy)
	}
	c := Config(v, "all")
	title := in(t.config, task, c.Blocks, c.D, c.LR, c.Seed, r.pos, r.Total())

	var loss, acc, angle []viz.Series
	var names []string
	var params []float64
	blocks := make([]string, c.Blocks)
	for l := range blocks {
		blocks[l] = strconv.Itoa(l + 1)
	}
	var parts []viz.BarGroup
	for i, m := range Modes() {
		name := ModeName(m).In(lang)
		names = append(names, name)
		params = append(params, float64(r.counts[i].Params))
		xs := make([]float64, len(r.loss[i]))
		for k := range xs {
			xs[k] = float64(k + 1)
		}
		loss = append(loss, viz.Series{Name: name, X: xs, Y: r.loss[i]})
		if len(xs) > 0 {
			acc = append(acc, viz.Series{Name: in(t.batch, name), X: xs, Y: r.smooth[i], Style: &viz.Style{Color: i, Dash: 0, Marker: i}})
		}
		ev := viz.Series{Name: in(t.eval, name), Style: &viz.Style{Color: i, Dash: 1, Marker: i}}
		for _, e := range r.evals {
			ev.X, ev.Y = append(ev.X, float64(e.Step)), append(ev.Y, e.Acc[i])
		}
		acc = append(acc, ev)
		p := r.probes[i]
		a := viz.Series{Name: name, Style: &viz.Style{Color: i, Dash: 0, Marker: i}}
		for l, x := range p.Angle {
			a.X, a.Y = append(a.X, float64(l+1)), append(a.Y, x)
		}
		angle = append(angle, a)
		parts = append(parts, viz.BarGroup{Label: name, Values: p.Parts[1]})
	}
	charts := []viz.Chart{
		nil,
		viz.LineChart{Title: in(t.acc, lab.AlbertEvalSize), XLabel: in(t.step), YLabel: in(t.accAxis), Series: acc},
		viz.LineChart{Title: in(t.angle), XLabel: in(t.block), YLabel: in(t.degrees), Series: angle},
		viz.BarChart{Title: in(t.parts), YLabel: in(t.norm), Categories: blocks, Groups: parts},
		viz.BarChart{Title: in(t.params), YLabel: in(t.paramsAxis), Categories: names, Groups: []viz.BarGroup{{Label: in(t.paramsAxis), Values: params}}},
	}
	if r.pos > 0 {
		charts[0] = viz.LineChart{Title: in(t.loss), XLabel: in(t.step), YLabel: in(t.lossAxis), Series: loss}
	}
	return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 2, Charts: charts})
}
