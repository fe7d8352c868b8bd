package attnlearn

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

// The exports replay the run to their step (training is deterministic, so
// the URL names the state on screen): they re-train a model, hence Heavy.

func asLearn(exp run.Experiment) (*learn, error) {
	l, ok := exp.(*learn)
	if !ok {
		return nil, fmt.Errorf("attnlearn: export of a %T", exp)
	}
	return l, nil
}

// preciseFrame is dataFrame at full precision, for the JSON export.
type preciseFrame struct {
	Step     int           `json:"step"`
	Total    int           `json:"total"`
	Loss     []number      `json:"loss"`     // [step−1], the batch loss
	Accuracy []number      `json:"accuracy"` // [step−1], the batch per-token accuracy
	Evals    []evaluation  `json:"evals"`
	Maps     [][][]float64 `json:"maps"` // [block][head] L×L row-major
	Mass     [][]float64   `json:"mass"`
	Pred     []int         `json:"pred"`
	Diverged *run.Text     `json:"diverged,omitempty"`
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

// writeJSON writes the frame at full precision.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	l, err := asLearn(exp)
	if err != nil {
		return err
	}
	d := preciseFrame{Step: l.pos, Total: l.Total(), Loss: numbers(l.loss), Accuracy: numbers(l.acc), Evals: l.evals, Maps: l.maps, Mass: l.mass(), Pred: l.pred}
	if l.diverged != nil {
		d.Diverged = &l.diverged.Text
	}
	return run.WriteFrameJSON(w, Name, l.v, d.Step, d.Total, run.Frame{StaticRev: l.rev, Static: l.staticFrame(), Data: d})
}

// writeTrace writes the engine's step trace of the model on the probe
// sequence, with the weights of the step.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	l, err := asLearn(exp)
	if err != nil {
		return err
	}
	return engine.WriteTrace(w, l.tr.Model(), uint64(l.v.Int("seed")), l.probeX.Clone(), l.probeY.Clone())
}

// figureText is the figure's wording in both languages (Sprintf formats).
var figureText = struct {
	config, maps, head, in, out, loss, acc, lengths, step, lossAxis, accAxis, batch, fixed, length run.Text
}{
	config:   run.Text{En: "Watch attention learn — %s, %s positions, %d block(s) of %d head(s), Adam lr %g, seed %d — step %d of %d", Zh: "看注意力如何学会 — %s，位置编码 %s，%d 块 × %d 头，Adam 学习率 %g，种子 %d — 第 %d 步（共 %d 步）"},
	maps:     run.Text{En: "Attention on the probe %v (row: output position; column: the input it reads)", Zh: "探针序列 %v 上的注意力（行：输出位置；列：它读取的输入位置）"},
	head:     run.Text{En: "block %d, head %d: %.0f%% on the answer", Zh: "第 %d 块第 %d 头：答案处 %.0f%%"},
	in:       run.Text{En: "input position", Zh: "输入位置"},
	out:      run.Text{En: "output position", Zh: "输出位置"},
	loss:     run.Text{En: "Loss per step (batch of %d)", Zh: "每步的损失（批大小 %d）"},
	acc:      run.Text{En: "Per-token accuracy (length %d)", Zh: "逐词元准确率（长度 %d）"},
	lengths:  run.Text{En: "Trained on length %d, tested on %d fixed sequences per length", Zh: "只在长度 %d 上训练，在每个长度的 %d 条固定序列上测试"},
	step:     run.Text{En: "step", Zh: "步"},
	lossAxis: run.Text{En: "loss", Zh: "损失"},
	accAxis:  run.Text{En: "accuracy", Zh: "准确率"},
	batch:    run.Text{En: "batch", Zh: "批次"},
	fixed:    run.Text{En: "fixed set", Zh: "固定集"},
	length:   run.Text{En: "length %d", Zh: "长度 %d"},
}

var taskText = map[string]run.Text{
	lab.TaskCopy:    {En: "copy", Zh: "复制"},
	lab.TaskReverse: {En: "reverse", Zh: "反转"},
	lab.TaskSort:    {En: "sort", Zh: "排序"},
}

var positionsText = map[string]run.Text{
	engine.PositionsSinusoidal: {En: "sinusoidal", Zh: "正弦"},
	engine.PositionsLearned:    {En: "learned", Zh: "可学习"},
	engine.PositionsNone:       {En: "no", Zh: "无"},
}

func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		l, err := asLearn(exp)
		if err != nil {
			return err
		}
		return l.figure(w, format, lang)
	}
}

// figure draws the attention maps (one panel per block and head), the
// loss, the accuracy (batch and fixed set) and the accuracy at each test
// length against the step.
func (l *learn) figure(w io.Writer, format, lang string) error {
	t := figureText
	in := func(tx run.Text, a ...any) string { return fmt.Sprintf(tx.In(lang), a...) }
	v := l.v
	title := in(t.config, taskText[v.String("task")].In(lang), positionsText[v.String("positions")].In(lang), v.Int("blocks"), v.Int("heads"), v.Float("lr"), v.Int("seed"), l.pos, l.Total())
	L := l.cfg.Len
	var panels []viz.Panel
	mass := l.mass()
	for b, bm := range l.maps {
		for h, m := range bm {
			panels = append(panels, viz.Panel{Title: in(t.head, b+1, h+1, 100*mass[b][h]), Grid: viz.Grid{Rows: L, Cols: L, Values: m},
				XLabel: in(t.in), YLabel: in(t.out), Min: 0, Max: 1})
		}
	}
	steps := make([]float64, len(l.loss))
	for k := range steps {
		steps[k] = float64(k + 1)
	}
	accS := []viz.Series{}
	if len(steps) > 0 {
		accS = append(accS, viz.Series{Name: in(t.batch), X: steps, Y: l.acc})
	}
	var lenS []viz.Series
	for i, n := range Lengths {
		s := viz.Series{Name: in(t.length, n), Style: &viz.Style{Color: i, Dash: i, Marker: i}}
		for _, e := range l.evals {
			s.X, s.Y = append(s.X, float64(e.Step)), append(s.Y, e.Accuracy[i])
		}
		lenS = append(lenS, s)
	}
	fixed := lenS[0]
	fixed.Name, fixed.Style = in(t.fixed), &viz.Style{Color: 1, Dash: 1, Marker: 0}
	accS = append(accS, fixed)
	var lossChart viz.Chart
	if len(steps) > 0 {
		lossChart = viz.LineChart{Title: in(t.loss, l.cfg.Batch), XLabel: in(t.step), YLabel: in(t.lossAxis), Series: []viz.Series{{Name: in(t.batch), X: steps, Y: l.loss}}}
	}
	charts := []viz.Chart{
		lossChart,
		viz.LineChart{Title: in(t.acc, L), XLabel: in(t.step), YLabel: in(t.accAxis), Series: accS},
		viz.LineChart{Title: in(t.lengths, L, EvalSize), XLabel: in(t.step), YLabel: in(t.accAxis), Series: lenS},
	}
	return viz.Write(w, format, lang, viz.Figure{Title: title, Cols: 1, Charts: []viz.Chart{
		viz.Heatmaps{Title: in(t.maps, tokens(l.probeX)), Panels: panels},
		viz.Figure{Cols: 3, Charts: charts},
	}})
}
