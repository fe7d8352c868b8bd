package convslide

import (
	"fmt"
	"io"
	"math"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// writeJSON writes the frame at full precision, with the parameters and
// the step.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	s := exp.(*slide)
	return run.WriteFrameJSON(w, name, s.v, s.pos, s.Total(), run.Frame{StaticRev: s.rev, Static: s.static, Data: s.data(-1)})
}

// writeFigure returns the export that draws the input digit, the kernel
// and the output map so far (cells not reached yet are grey) as three heat
// maps in format, on the same colour scales as the widget.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*slide).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, input, kernel, output run.Text
}{
	title: run.Text{
		En: "One kernel, many places — digit #%d (a %d), %s kernel, stride %d, padding %d, dilation %d — %d of %d cells",
		Zh: "同一个卷积核，用在许多位置 — 第 %d 号数字（%d），%s卷积核，步幅 %d，填充 %d，膨胀 %d — 已算 %d / %d 个单元",
	},
	input:  run.Text{En: "input (pixel / 255)", Zh: "输入（像素 / 255）"},
	kernel: run.Text{En: "kernel (bias %g)", Zh: "卷积核（偏置 %g）"},
	output: run.Text{En: "output feature map", Zh: "输出特征图"},
}

// figure draws s in format and lang.
func (s *slide) figure(w io.Writer, format, lang string) error {
	st, p := s.static, s.p
	output := make([]float64, s.Total())
	for i := range output {
		output[i] = math.NaN() // not computed yet: drawn grey
	}
	copy(output, s.out)
	lim := st.OutAbsMax
	if lim == 0 {
		lim = 1 // an all-zero map has no scale of its own
	}
	t := figureText
	title := fmt.Sprintf(t.title.In(lang), p.Digit, st.Label, presetText[p.Preset].In(lang), p.Stride, p.Padding, p.Dilation, s.pos, s.Total())
	return viz.Write(w, format, lang, viz.Heatmaps{Title: title, Panels: []viz.Panel{
		{Title: t.input.In(lang), Grid: viz.Grid{Rows: st.InputH, Cols: st.InputW, Values: s.x.Data}, Min: 0, Max: 1, XLabel: "x", YLabel: "y"},
		{Title: fmt.Sprintf(t.kernel.In(lang), st.Bias), Grid: viz.Grid{Rows: kernel, Cols: kernel, Values: st.Kernel[:]}, Diverging: true, Annotate: true, XLabel: "kx", YLabel: "ky"},
		{Title: t.output.In(lang), Grid: viz.Grid{Rows: s.oh, Cols: s.ow, Values: output}, Diverging: true, Min: -lim, Max: lim, XLabel: "ox", YLabel: "oy"},
	}})
}
