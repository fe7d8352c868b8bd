package gaterace

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// The exports replay the race to their step (training is deterministic, so
// the URL names the state on screen): they re-train three models, hence
// Heavy.

func asRace(exp run.Experiment) (*race, error) {
	r, ok := exp.(*race)
	if !ok {
		return nil, fmt.Errorf("gaterace: export of a %T", exp)
	}
	return r, nil
}

// preciseFrame is dataFrame at full precision, for the JSON export.
type preciseFrame struct {
	Step        int          `json:"step"`
	Total       int          `json:"total"`
	Models      []modelNow   `json:"models"`
	Loss        [][]number   `json:"loss"`  // [model][step−1], the batch loss
	Score       [][]number   `json:"score"` // [model][step−1], the smoothed batch score
	Evals       []evaluation `json:"evals"`
	Profiles    [][]number   `json:"profiles"`
	ProfileStep int          `json:"profileStep"`
	Diverged    *run.Text    `json:"diverged,omitempty"`
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
// smoothed score, the evaluations and the profiles.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	d := preciseFrame{Step: r.pos, Total: r.Total(), Models: r.models(), Evals: r.evals, ProfileStep: r.profAt}
	for i := range Models() {
		d.Loss = append(d.Loss, numbers(r.loss[i]))
		d.Score = append(d.Score, numbers(r.smooth[i]))
		d.Profiles = append(d.Profiles, numbers(r.prof[i]))
	}
	if r.diverged != nil {
		d.Diverged = &r.diverged.Text
	}
	return run.WriteFrameJSON(w, Name, r.v, d.Step, d.Total, run.Frame{StaticRev: r.rev, Static: r.staticFrame(), Data: d})
}

// lstm is the LSTM's index in Models: the model the trace export holds.
const lstm = 1

// writeTrace writes the engine's step trace of the pass the LSTM's profile
// on screen measured: the whole probe batch, with the weights of the step
// the profile was measured at (every profileEvery steps, so possibly
// before the step on screen). It swaps those weights in and puts the
// step's back after.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	m := r.trainers[lstm].Model()
	ps := m.Params()
	if len(r.profW) != len(ps) {
		return fmt.Errorf("gaterace: %d parameters kept for the trace, the LSTM has %d", len(r.profW), len(ps))
	}
	now := make([][]float64, len(ps))
	for i, p := range ps {
		now[i] = slices.Clone(p.Value.Data)
		copy(p.Value.Data, r.profW[i])
	}
	defer func() {
		for i, p := range ps {
			copy(p.Value.Data, now[i])
		}
		m.ZeroGrad() // as Profile leaves it
	}()
	x, y := r.trainers[lstm].Probe()
	return engine.WriteTrace(w, m, uint64(r.v.Int("seed")), x, y)
}

// figureText is the figure's wording in both languages (Sprintf formats).
var figureText = struct {
	config, loss, score, step, lossAxis, remember, adding, batch, eval run.Text
	profile, distance, contribution, params, paramsAxis, cell, model   run.Text
}{
	config:       run.Text{En: "Gates help — %s, T = %d, hidden %d, batch %d, %s lr %g, seed %d — step %d of %d", Zh: "门控的作用 — %s，T = %d，隐藏维数 %d，批大小 %d，%s 学习率 %g，种子 %d — 第 %d 步（共 %d 步）"},
	loss:         run.Text{En: "Loss per step (batch)", Zh: "每步的损失（批次）"},
	score:        run.Text{En: "Score: thin = batches (smoothed), marks = %d fixed sequences", Zh: "得分：细线 = 批次（平滑），标记 = %d 条固定序列"},
	step:         run.Text{En: "step", Zh: "步"},
	lossAxis:     run.Text{En: "loss", Zh: "损失"},
	remember:     run.Text{En: "remember the first symbol", Zh: "记住第一个符号"},
	adding:       run.Text{En: "adding problem", Zh: "加法问题"},
	batch:        run.Text{En: "%s batch", Zh: "%s 批次"},
	eval:         run.Text{En: "%s fixed set", Zh: "%s 固定集"},
	profile:      run.Text{En: "Per-step contributions to dW_hh (probe batch, weights of step %d)", Zh: "每个时间步对 dW_hh 的贡献（探针批次，第 %d 步的权重）"},
	distance:     run.Text{En: "steps before the last", Zh: "距最后一步的步数"},
	contribution: run.Text{En: "‖contribution‖ (log scale)", Zh: "‖贡献‖（对数刻度）"},
	params:       run.Text{En: "Parameters (engine count)", Zh: "参数量（引擎计数）"},
	paramsAxis:   run.Text{En: "parameters", Zh: "参数量"},
	cell:         run.Text{En: "recurrent layer", Zh: "循环层"},
	model:        run.Text{En: "whole model", Zh: "整个模型"},
}

// scoreAxis names the task's score.
var scoreAxis = map[string]run.Text{
	lab.TaskRemember: {En: "accuracy", Zh: "准确率"},
	lab.TaskAdding:   {En: "solved (|error| < 0.04)", Zh: "解出（|误差| < 0.04）"},
}

var optimizerText = map[string]string{"sgd": "SGD", "momentum": "SGD + momentum", "adam": "Adam"}

// modelName is a cell as the page names it.
func modelName(m string) string { return strings.ToUpper(m) }

func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		r, err := asRace(exp)
		if err != nil {
			return err
		}
		return r.figure(w, format, lang)
	}
}

// figure draws four charts: the loss per step, the score (smoothed batch
// score and the evaluations), the W_hh profiles and the parameter counts.
func (r *race) figure(w io.Writer, format, lang string) error {
	t := figureText
	in := func(tx run.Text, a ...any) string { return fmt.Sprintf(tx.In(lang), a...) }
	v := r.v
	task := v.String("task")
	taskName := in(t.adding)
	if task == lab.TaskRemember {
		taskName = in(t.remember)
	}
	title := in(t.config, taskName, v.Int("T"), v.Int("hidden"), v.Int("batch"), optimizerText[v.String("optimizer")], v.Float("lr"), v.Int("seed"), r.pos, r.Total())

	var loss, score, prof []viz.Series
	for i, m := range Models() {
		xs := make([]float64, len(r.loss[i]))
		for k := range xs {
			xs[k] = float64(k + 1)
		}
		loss = append(loss, viz.Series{Name: modelName(m), X: xs, Y: r.loss[i]})
		if len(xs) > 0 { // nothing trained at step 0: only the evaluation
			score = append(score, viz.Series{Name: in(t.batch, modelName(m)), X: xs, Y: r.smooth[i], Style: &viz.Style{Color: i, Dash: 0, Marker: i}})
		}
		ev := viz.Series{Name: in(t.eval, modelName(m)), Style: &viz.Style{Color: i, Dash: 1, Marker: i}}
		for _, e := range r.evals {
			ev.X, ev.Y = append(ev.X, float64(e.Step)), append(ev.Y, e.Score[i])
		}
		score = append(score, ev)
		p := viz.Series{Name: modelName(m)}
		for d, x := range r.prof[i] {
			if x > 0 && !math.IsInf(x, 0) {
				p.X, p.Y = append(p.X, float64(d)), append(p.Y, x)
			}
		}
		prof = append(prof, p)
	}
	var cellP, modelP []float64
	for i := range Models() {
		cellP = append(cellP, float64(lab.CellParams(r.counts[i])))
		modelP = append(modelP, float64(r.counts[i].Params))
	}
	names := []string{"RNN", "LSTM", "GRU"}
	charts := []viz.Chart{
		nil,
		viz.LineChart{Title: in(t.score, EvalSize), XLabel: in(t.step), YLabel: scoreAxis[task].In(lang), Series: score},
		viz.LineChart{Title: in(t.profile, r.profAt), XLabel: in(t.distance), YLabel: in(t.contribution), LogY: true, Series: prof},
		viz.BarChart{Title: in(t.params), YLabel: in(t.paramsAxis), Categories: names, Groups: []viz.BarGroup{
			{Label: in(t.cell), Values: cellP}, {Label: in(t.model), Values: modelP},
		}},
	}
	if r.pos > 0 {
		charts[0] = viz.LineChart{Title: in(t.loss), XLabel: in(t.step), YLabel: in(t.lossAxis), Series: loss}
	}
	return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 2, Charts: charts})
}
