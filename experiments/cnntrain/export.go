package cnntrain

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// The exports replay the race to their step (training is deterministic, so
// the URL names the state on screen): they re-train three models, which is
// why every one is Heavy. Before writing, an export settles the step's
// gate, so it shows the step's evaluation and shift test finished even
// where the page was still computing them.

func asRace(exp run.Experiment) (*race, error) {
	r, ok := exp.(*race)
	if !ok {
		return nil, fmt.Errorf("cnntrain: export of a %T", exp)
	}
	return r, nil
}

func writePNG(w io.Writer, exp run.Experiment, lang string) error {
	return writeFigure(w, exp, "png", lang)
}
func writeSVG(w io.Writer, exp run.Experiment, lang string) error {
	return writeFigure(w, exp, "svg", lang)
}

// writeJSON writes the frame at full precision: every step's loss and
// smoothed accuracy, the filters and feature maps as numbers.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	r.settle()
	r.mu.Lock()
	static := r.staticFrame()
	d := preciseFrame{Step: r.pos, Total: r.Total(), Epoch: r.trainers[0].Epoch(), Models: r.models(), Evals: r.evals, Shift: r.shiftNow()}
	if d.Evals == nil {
		d.Evals = []evaluation{}
	}
	for i := range Models() {
		d.Loss = append(d.Loss, numbers(r.loss[i]))
		d.Acc = append(d.Acc, numbers(r.smooth[i]))
	}
	f, _ := r.filters()
	d.Filters = tensorJSON{Shape: []int{f.Shape[0], 3, 3}, Values: numbers(f.Data)}
	maps := r.featureMaps()
	d.Maps = tensorJSON{Shape: maps.Shape[1:], Values: numbers(maps.Data)}
	r.mu.Unlock()
	return run.WriteFrameJSON(w, Name, r.v, d.Step, d.Total, run.Frame{StaticRev: r.rev, Static: static, Data: d})
}

// preciseFrame is dataFrame at full precision, for the JSON export.
type preciseFrame struct {
	Step   int          `json:"step"`
	Total  int          `json:"total"`
	Epoch  int          `json:"epoch"`
	Models []modelNow   `json:"models"`
	Loss   [][]number   `json:"loss"` // [model][step−1], the batch loss
	Acc    [][]number   `json:"acc"`  // [model][step−1], the smoothed batch accuracy
	Evals  []evaluation `json:"evals"`
	Shift  *shiftFrame  `json:"shift"`
	// Filters are the CNN's first-layer kernels; Maps its first layer's
	// outputs after ReLU for the digit.
	Filters tensorJSON `json:"filters"`
	Maps    tensorJSON `json:"maps"`
}

type tensorJSON struct {
	Shape  []int    `json:"shape"`
	Values []number `json:"values"`
}

// number is a float64 that JSON writes as null when it is NaN or
// infinite (a loss that blew up).
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

// writeTrace writes the engine's step trace of the race's CNN on the
// chosen digit (the CNN trains independently of the others, so it is the
// CNN a lab.Trainer with the same configuration has at this step).
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.v.Int("digit")
	target := engine.TensorFrom([]float64{float64(lab.TestSet().Labels[d])}, 1)
	return engine.WriteTrace(w, r.trainers[0].Model(), uint64(r.v.Int("seed")), r.digitX, target)
}

// figureText is the figure's wording in both languages (Sprintf formats).
var figureText = struct {
	config, loss, accuracy, step, lossAxis, accAxis, batchAcc, test                  run.Text
	shift, shiftAxis, gap, trainGroup, testGroup, untrained, paramsAxis, paramsGroup run.Text
}{
	config:      run.Text{En: "Train a CNN live — %s, lr %g, batch %d, %d digits, seed %d — step %d of %d", Zh: "现场训练一个 CNN — %s，学习率 %g，批大小 %d，%d 个数字，种子 %d — 第 %d 步（共 %d 步）"},
	loss:        run.Text{En: "Loss per step", Zh: "每步的损失"},
	accuracy:    run.Text{En: "Accuracy", Zh: "准确率"},
	step:        run.Text{En: "step", Zh: "步"},
	lossAxis:    run.Text{En: "cross-entropy loss (batch)", Zh: "交叉熵损失（批次）"},
	accAxis:     run.Text{En: "accuracy", Zh: "准确率"},
	batchAcc:    run.Text{En: "%s train batch (smoothed)", Zh: "%s 训练批次（平滑）"},
	test:        run.Text{En: "%s test (%d digits)", Zh: "%s 测试（%d 个数字）"},
	shift:       run.Text{En: "Shift test — %d test digits moved right, weights of step %d", Zh: "平移测试——%d 个测试数字向右移动，第 %d 步的权重"},
	shiftAxis:   run.Text{En: "shift (pixels)", Zh: "平移（像素）"},
	gap:         run.Text{En: "Train vs test accuracy at step %d (gap = train − test)", Zh: "第 %d 步的训练与测试准确率（差距 = 训练 − 测试）"},
	trainGroup:  run.Text{En: "train (≤ %d training digits)", Zh: "训练（≤ %d 个训练数字）"},
	testGroup:   run.Text{En: "test (%d digits)", Zh: "测试（%d 个数字）"},
	untrained:   run.Text{En: "Parameters per model — nothing is trained at step 0", Zh: "各模型的参数量——第 0 步还没有训练"},
	paramsAxis:  run.Text{En: "parameters (log scale)", Zh: "参数量（对数刻度）"},
	paramsGroup: run.Text{En: "parameters", Zh: "参数量"},
}

// optimizerText names each optimizer as the widget's settings do.
var optimizerText = map[string]run.Text{
	"sgd":      {En: "SGD", Zh: "SGD"},
	"momentum": {En: "SGD + momentum 0.9", Zh: "SGD + 动量 0.9"},
	"adam":     {En: "Adam", Zh: "Adam"},
}

// modelName is a model as the page names it: CNN, LC, MLP.
func modelName(m string) string { return strings.ToUpper(m) }

// modelNames are Models as the page names them.
func modelNames() []string {
	var names []string
	for _, m := range Models() {
		names = append(names, modelName(m))
	}
	return names
}

// writeFigure draws four charts in a 2×2 grid under the settings: the loss per step, the
// accuracy (smoothed batch accuracy and the test evaluations), the latest
// shift test and train against test accuracy at the latest evaluation.
// Charts without data yet are left blank; at step 0, where nothing is
// trained, the figure shows the parameter counts instead.
func writeFigure(w io.Writer, exp run.Experiment, format, lang string) error {
	r, err := asRace(exp)
	if err != nil {
		return err
	}
	r.settle()
	r.mu.Lock()
	defer r.mu.Unlock()
	t := figureText
	in := func(tx run.Text, a ...any) string { return fmt.Sprintf(tx.In(lang), a...) }
	if r.pos == 0 {
		var counts []float64
		for _, c := range r.counts {
			counts = append(counts, float64(c.Params))
		}
		return viz.Write(w, format, lang, viz.BarChart{
			Title: in(t.untrained), YLabel: in(t.paramsAxis), Categories: modelNames(), LogY: true,
			Groups: []viz.BarGroup{{Label: in(t.paramsGroup), Values: counts}},
		})
	}

	v := r.v
	opt := v.String("optimizer")
	if tx, ok := optimizerText[opt]; ok {
		opt = tx.In(lang)
	}
	cfg := in(t.config, opt, v.Float("lr"), v.Int("batch"), v.Int("trainSize"), v.Int("seed"), r.pos, r.Total())
	// Each model keeps its colour (the widget's) on every chart; on the
	// accuracy chart its training curve is solid and its test curve
	// dashed, with the model's marker.
	var loss, acc []viz.Series
	for i, m := range Models() {
		xs := make([]float64, len(r.loss[i]))
		for k := range xs {
			xs[k] = float64(k + 1)
		}
		loss = append(loss, viz.Series{Name: modelName(m), X: xs, Y: r.loss[i]})
		acc = append(acc, viz.Series{Name: in(t.batchAcc, modelName(m)), X: xs, Y: r.smooth[i], Style: &viz.Style{Color: i, Dash: 0, Marker: i}})
	}
	for i, m := range Models() {
		s := viz.Series{Name: in(t.test, modelName(m), EvalImages), Style: &viz.Style{Color: i, Dash: 1, Marker: i}}
		for _, e := range r.evals {
			s.X, s.Y = append(s.X, float64(e.Step)), append(s.Y, e.Test[i])
		}
		if len(s.X) > 0 {
			acc = append(acc, s)
		}
	}
	charts := []viz.Chart{
		viz.LineChart{Title: in(t.loss), XLabel: in(t.step), YLabel: in(t.lossAxis), Series: loss},
		viz.LineChart{Title: in(t.accuracy), XLabel: in(t.step), YLabel: in(t.accAxis), Series: acc},
		nil, nil,
	}
	if n := len(r.shifts); n > 0 {
		sh := r.shifts[n-1]
		var series []viz.Series
		for i, m := range Models() {
			s := viz.Series{Name: modelName(m)}
			for k, dx := range shiftAmounts() {
				s.X, s.Y = append(s.X, float64(dx)), append(s.Y, sh.Acc[i][k])
			}
			series = append(series, s)
		}
		charts[2] = viz.LineChart{Title: in(t.shift, EvalImages, sh.Step), XLabel: in(t.shiftAxis), YLabel: in(t.accAxis), Series: series}
	}
	if n := len(r.evals); n > 0 {
		e := r.evals[n-1]
		charts[3] = viz.BarChart{Title: in(t.gap, e.Step), YLabel: in(t.accAxis), Categories: modelNames(), Groups: []viz.BarGroup{
			{Label: in(t.trainGroup, EvalImages), Values: e.Train},
			{Label: in(t.testGroup, EvalImages), Values: e.Test},
		}}
	}
	return viz.Write(w, format, lang, viz.Figure{Title: cfg, Cols: 2, Charts: charts})
}
