package cnntrain

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"strconv"

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

// writeFigure draws four charts in a 2×2 grid: the loss per step, the
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
	in := func(en, zh string, a ...any) string { return fmt.Sprintf(run.Text{En: en, Zh: zh}.In(lang), a...) }
	v := r.v
	cfg := in("%s lr %g, batch %d, %d digits, seed %d — step %d of %d", "%s 学习率 %g，批大小 %d，%d 个数字，种子 %d — 第 %d 步（共 %d 步）",
		v.String("optimizer"), v.Float("lr"), v.Int("batch"), v.Int("trainSize"), v.Int("seed"), r.pos, r.Total())
	accLabel := in("accuracy", "准确率")
	charts := make([][]byte, 4)
	var b bytes.Buffer
	keep := func(i int, err error) error {
		if err != nil {
			return err
		}
		charts[i] = bytes.Clone(b.Bytes())
		b.Reset()
		return nil
	}
	if r.pos == 0 {
		var counts []float64
		for _, c := range r.counts {
			counts = append(counts, float64(c.Params))
		}
		err := viz.WriteBars(&b, format, in("Parameters per model — nothing is trained at step 0", "各模型的参数量——第 0 步还没有训练"),
			in("parameters (log scale)", "参数量（对数刻度）"), Models(), true, viz.BarGroup{Label: in("parameters", "参数量"), Values: counts})
		if err := keep(0, err); err != nil {
			return err
		}
		return tileCharts(w, format, 2, charts)
	}

	var loss, acc []viz.Series
	for i, m := range Models() {
		xs := make([]float64, len(r.loss[i]))
		for k := range xs {
			xs[k] = float64(k + 1)
		}
		loss = append(loss, viz.Series{Name: m, X: xs, Y: r.loss[i]})
		acc = append(acc, viz.Series{Name: in("%s train batch (smoothed)", "%s 训练批次（平滑）", m), X: xs, Y: r.smooth[i]})
	}
	for i, m := range Models() {
		s := viz.Series{Name: in("%s test (%d digits)", "%s 测试（%d 个数字）", m, EvalImages)}
		for _, e := range r.evals {
			s.X, s.Y = append(s.X, float64(e.Step)), append(s.Y, e.Test[i])
		}
		if len(s.X) > 0 {
			acc = append(acc, s)
		}
	}
	// TODO(viz): titles in Chinese need viz's embedded CJK font, and the
	// tiling below moves into viz; switch to both when they land.
	err = viz.WriteLines(&b, format, in("Loss — ", "损失 — ")+cfg, in("step", "步"), in("cross-entropy loss (batch)", "交叉熵损失（批次）"), false, loss...)
	if err := keep(0, err); err != nil {
		return err
	}
	err = viz.WriteLines(&b, format, in("Accuracy — ", "准确率 — ")+cfg, in("step", "步"), accLabel, false, acc...)
	if err := keep(1, err); err != nil {
		return err
	}
	if n := len(r.shifts); n > 0 {
		sh := r.shifts[n-1]
		var series []viz.Series
		for i, m := range Models() {
			s := viz.Series{Name: m}
			for k, dx := range shiftAmounts() {
				s.X, s.Y = append(s.X, float64(dx)), append(s.Y, sh.Acc[i][k])
			}
			series = append(series, s)
		}
		err := viz.WriteLines(&b, format,
			in("Shift test — %d test digits moved right, weights of step %d", "平移测试——%d 个测试数字向右移动，第 %d 步的权重", EvalImages, sh.Step),
			in("shift (pixels)", "平移（像素）"), accLabel, false, series...)
		if err := keep(2, err); err != nil {
			return err
		}
	}
	if n := len(r.evals); n > 0 {
		e := r.evals[n-1]
		err := viz.WriteBars(&b, format,
			in("Train vs test accuracy at step %d (gap = train − test)", "第 %d 步的训练与测试准确率（差距 = 训练 − 测试）", e.Step),
			accLabel, Models(), false,
			viz.BarGroup{Label: in("train (≤ %d training digits)", "训练（≤ %d 个训练数字）", EvalImages), Values: e.Train},
			viz.BarGroup{Label: in("test (%d digits)", "测试（%d 个数字）", EvalImages), Values: e.Test})
		if err := keep(3, err); err != nil {
			return err
		}
	}
	return tileCharts(w, format, 2, charts)
}

// tileCharts lays out charts (all PNG or all SVG, as format says) in a
// grid of cols columns on white, each in a cell the size of the largest
// chart and centred in it horizontally; nil entries leave their cell blank.
func tileCharts(w io.Writer, format string, cols int, charts [][]byte) error {
	if format == "svg" {
		return tileSVGs(w, cols, charts)
	}
	return tilePNGs(w, cols, charts)
}

func tilePNGs(w io.Writer, cols int, charts [][]byte) error {
	imgs := make([]image.Image, len(charts))
	cw, ch := 0, 0
	for i, b := range charts {
		if b == nil {
			continue
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("cnntrain: chart %d: %w", i, err)
		}
		imgs[i] = img
		cw, ch = max(cw, img.Bounds().Dx()), max(ch, img.Bounds().Dy())
	}
	rows := (len(charts) + cols - 1) / cols
	out := image.NewRGBA(image.Rect(0, 0, cols*cw, rows*ch))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, img := range imgs {
		if img == nil {
			continue
		}
		at := image.Pt((i%cols)*cw+(cw-img.Bounds().Dx())/2, (i/cols)*ch)
		draw.Draw(out, img.Bounds().Sub(img.Bounds().Min).Add(at), img, img.Bounds().Min, draw.Over)
	}
	return png.Encode(w, out)
}

// svgChart is one chart's SVG document split for nesting: the size of its
// root <svg> (its viewBox, in points) and everything inside the root.
type svgChart struct {
	w, h float64
	body []byte
}

// parseSVGChart reads the root element of an SVG document as viz writes it
// (a root <svg> with a viewBox "0 0 W H") and keeps its content.
func parseSVGChart(b []byte) (svgChart, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return svgChart{}, fmt.Errorf("cnntrain: svg chart has no root element: %w", err)
		}
		root, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root.Name.Local != "svg" {
			return svgChart{}, fmt.Errorf("cnntrain: svg chart's root is <%s>", root.Name.Local)
		}
		var c svgChart
		for _, a := range root.Attr {
			if a.Name.Local == "viewBox" {
				var x, y float64
				if _, err := fmt.Sscanf(a.Value, "%g %g %g %g", &x, &y, &c.w, &c.h); err != nil || x != 0 || y != 0 {
					return svgChart{}, fmt.Errorf("cnntrain: svg chart's viewBox %q is not \"0 0 W H\"", a.Value)
				}
			}
		}
		if c.w <= 0 || c.h <= 0 {
			return svgChart{}, errors.New("cnntrain: svg chart has no viewBox size")
		}
		end := bytes.LastIndex(b, []byte("</svg>"))
		start := int(dec.InputOffset())
		if end < start {
			return svgChart{}, errors.New("cnntrain: svg chart's root is not closed")
		}
		c.body = b[start:end]
		return c, nil
	}
}

// tileSVGs writes one SVG document holding the charts (SVG documents) as
// nested <svg> elements, laid out as tilePNGs lays out PNGs. The nested
// documents keep their own coordinates and viewBox, so each chart draws
// exactly as it does alone.
func tileSVGs(w io.Writer, cols int, charts [][]byte) error {
	parsed := make([]*svgChart, len(charts))
	var cw, ch float64
	for i, b := range charts {
		if b == nil {
			continue
		}
		c, err := parseSVGChart(b)
		if err != nil {
			return fmt.Errorf("cnntrain: chart %d: %w", i, err)
		}
		parsed[i] = &c
		cw, ch = max(cw, c.w), max(ch, c.h)
	}
	rows := (len(charts) + cols - 1) / cols
	W, H := float64(cols)*cw, float64(rows)*ch
	var out bytes.Buffer
	fmt.Fprintf(&out, "<?xml version=\"1.0\"?>\n<svg width=\"%gpt\" height=\"%gpt\" viewBox=\"0 0 %g %g\" xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n", W, H, W, H)
	fmt.Fprintf(&out, "<rect width=\"%g\" height=\"%g\" fill=\"white\"/>\n", W, H)
	for i, c := range parsed {
		if c == nil {
			continue
		}
		x, y := float64(i%cols)*cw+(cw-c.w)/2, float64(i/cols)*ch
		fmt.Fprintf(&out, "<svg x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" viewBox=\"0 0 %g %g\">", x, y, c.w, c.h, c.w, c.h)
		out.Write(c.body)
		out.WriteString("</svg>\n")
	}
	out.WriteString("</svg>\n")
	_, err := w.Write(out.Bytes())
	return err
}
