package drawdigit

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

// preciseData is the data part with the feature maps at full precision,
// for the JSON export.
type preciseData struct {
	dataPart
	Maps []preciseMaps `json:"maps,omitempty"`
}

// preciseMaps are one layer's feature maps, row-major in Shape.
type preciseMaps struct {
	Layer  string    `json:"layer"`
	Shape  []int     `json:"shape"` // [channels, h, w]
	Values []float64 `json:"values"`
}

// writeJSON writes the frame with the feature maps at full precision, with
// the parameters and the step.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	d := exp.(*digit)
	data := preciseData{dataPart: d.data()}
	if r := d.result; r != nil {
		for i, l := range mapLayers {
			data.Maps = append(data.Maps, preciseMaps{Layer: l.name, Shape: l.shape, Values: r.maps[i]})
		}
	}
	return run.WriteFrameJSON(w, name, d.v, d.pos, d.Total(), run.Frame{StaticRev: 1 + d.pos, Static: d.static(), Data: data})
}

// writeTrace writes the step trace (engine.WriteTrace) of the CNN on the
// input the models read, with the CNN's own answer as the target: the
// gradients a training step on this drawing would use if the answer were
// right. At step 1 it is the trained CNN; at step 0, before the models
// are asked, the CNN as its training starts (its seeded initial weights).
// The seed is the CNN's training seed.
func writeTrace(w io.Writer, exp run.Experiment, _ string) error {
	d := exp.(*digit)
	seed := lab.DefaultTrainConfig("cnn").Seed
	var cnn *engine.Model
	if d.pos == 1 {
		ns := takeNets()
		defer putNets(ns)
		cnn = ns["cnn"]
	} else {
		m, err := engine.BuildModel("cnn", seed)
		if err != nil {
			return fmt.Errorf("drawdigit: %w", err)
		}
		cnn = m
	}
	x := digitTensor(d.input)
	top := argmax(cnn.Forward(x, nil).Data)
	return engine.WriteTrace(w, cnn, seed, x, engine.TensorFrom([]float64{float64(top)}, 1))
}

// writeFigure returns the export that draws the input the models read and
// the CNN's two layers of feature maps (as mosaics, each layer on one
// scale as in the widget) and, below, the three models' class
// probabilities as grouped bars.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*digit).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, centred, notCentred, testDigit, notAsked, blank, input, maps, verdict, says, prob run.Text
}{
	title:      run.Text{En: "Draw a digit — %s, shifted %+d px", Zh: "画一个数字 — %s，平移 %+d 像素"},
	centred:    run.Text{En: "centred as MNIST", Zh: "按 MNIST 的方式居中"},
	notCentred: run.Text{En: "not centred", Zh: "未居中"},
	testDigit:  run.Text{En: " — MNIST test digit #%d (a %d)", Zh: " — MNIST 测试集第 %d 号数字（%d）"},
	notAsked:   run.Text{En: " — step 0: the models have not been asked", Zh: " — 第 0 步：还没有询问模型"},
	blank:      run.Text{En: " — the drawing is blank: nothing to predict", Zh: " — 画面是空白的：没有可预测的内容"},
	input:      run.Text{En: "input the models read (pixel / 255)", Zh: "模型读取的输入（像素 / 255）"},
	maps:       run.Text{En: "%s after ReLU: %d maps of %d×%d", Zh: "%s 经过 ReLU：%d 张 %d×%d 的特征图"},
	verdict:    run.Text{En: "Class probabilities: ", Zh: "各类别的概率："},
	says:       run.Text{En: "%s says %d (%.0f %%)", Zh: "%s 认为是 %d（%.0f %%）"},
	prob:       run.Text{En: "probability", Zh: "概率"},
}

// figure draws d in format and lang.
func (d *digit) figure(w io.Writer, format, lang string) error {
	t := figureText
	centring := t.centred.In(lang)
	if !d.p.center {
		centring = t.notCentred.In(lang)
	}
	title := fmt.Sprintf(t.title.In(lang), centring, d.p.shift)
	if d.p.digit >= 0 {
		title += fmt.Sprintf(t.testDigit.In(lang), d.p.digit, lab.TestSet().Labels[d.p.digit])
	}
	switch {
	case d.pos == 0:
		title += t.notAsked.In(lang)
	case d.result == nil:
		title += t.blank.In(lang)
	}
	input := viz.Grid{Rows: side, Cols: side, Values: digitTensor(d.input).Data}
	heat := viz.Heatmaps{Title: title, Panels: []viz.Panel{{Title: t.input.In(lang), Grid: input, Min: 0, Max: 1, XLabel: "x", YLabel: "y"}}}
	r := d.result
	if r == nil {
		return viz.Write(w, format, lang, heat)
	}
	for i, l := range mapLayers {
		c, h, wd := l.shape[0], l.shape[1], l.shape[2]
		top := 0.0
		for _, v := range r.maps[i] {
			top = math.Max(top, v)
		}
		heat.Panels = append(heat.Panels, viz.Panel{
			Title: fmt.Sprintf(t.maps.In(lang), l.name, c, h, wd),
			Grid:  mosaic(r.maps[i], c, h, wd, 4), Min: 0, Max: max(top, 1e-9),
		})
	}
	classes := make([]string, 10)
	for i := range classes {
		classes[i] = strconv.Itoa(i)
	}
	var groups []viz.BarGroup
	var verdict []string
	for _, m := range lab.Models() {
		p := r.probs[m]
		top := argmax(p)
		name := strings.ToUpper(m) // CNN, LC, MLP, as the page names them
		groups = append(groups, viz.BarGroup{Label: name, Values: p})
		verdict = append(verdict, fmt.Sprintf(t.says.In(lang), name, top, 100*p[top]))
	}
	sep := ", "
	if lang == "zh" {
		sep = "，"
	}
	// Only bars of at least 1 % are labelled: the many near-zero
	// probabilities (2.7e-06, 0.00019…) would run into each other.
	bars := viz.BarChart{Title: t.verdict.In(lang) + strings.Join(verdict, sep), YLabel: t.prob.In(lang), Categories: classes, Groups: groups, LabelMin: 0.01}
	return viz.Write(w, format, lang, viz.Figure{Cols: 1, Charts: []viz.Chart{heat, bars}})
}

// mosaic lays out a layer's maps [c, h, w] in rows of cols tiles with a
// one-cell gap (missing, drawn grey) between tiles.
func mosaic(vals []float64, c, h, w, cols int) viz.Grid {
	rows := (c + cols - 1) / cols
	g := viz.Grid{Rows: rows*h + rows - 1, Cols: cols*w + cols - 1}
	g.Values = make([]float64, g.Rows*g.Cols)
	for i := range g.Values {
		g.Values[i] = math.NaN()
	}
	for k := range c {
		top, left := (k/cols)*(h+1), (k%cols)*(w+1)
		for y := range h {
			copy(g.Values[(top+y)*g.Cols+left:(top+y)*g.Cols+left+w], vals[k*h*w+y*w:k*h*w+(y+1)*w])
		}
	}
	return g
}
