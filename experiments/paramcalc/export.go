package paramcalc

import (
	"fmt"
	"io"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// writeJSON writes the frame with the parameters and the step.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	c := exp.(*calc)
	return run.WriteFrameJSON(w, name, c.v, c.pos, c.Total(), c.Frame())
}

// writeFigure returns the export that draws the parameters and uses of
// the three layers as grouped bars on a log scale, in format.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*calc).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, params, uses, axis, computed run.Text
	layer                               map[string]run.Text
}{
	title: run.Text{
		En: "Why share? — %d×%d×%d input, %d×%d kernel, %d output channels",
		Zh: "为什么要共享？— %d×%d×%d 的输入，%d×%d 的卷积核，%d 个输出通道",
	},
	params:   run.Text{En: "unique parameters", Zh: "不同参数个数"},
	uses:     run.Text{En: "uses (multiply-adds per example)", Zh: "使用次数（每个样本的乘加次数）"},
	axis:     run.Text{En: "count (log scale)", Zh: "个数（对数刻度）"},
	computed: run.Text{En: " (computed)", Zh: "（按公式计算）"},
	layer: map[string]run.Text{
		layerDense: {En: "dense", Zh: "全连接"},
		layerLocal: {En: "locally-connected", Zh: "局部连接"},
		layerConv:  {En: "conv", Zh: "卷积"},
	},
}

// figure draws c in format and lang.
func (c *calc) figure(w io.Writer, format, lang string) error {
	t := figureText
	params := viz.BarGroup{Label: t.params.In(lang)}
	uses := viz.BarGroup{Label: t.uses.In(lang)}
	var names []string
	for _, n := range c.static.Counts {
		label := t.layer[n.Layer].In(lang)
		if n.Computed {
			label += t.computed.In(lang)
		}
		names = append(names, label)
		params.Values = append(params.Values, float64(n.Params))
		uses.Values = append(uses.Values, float64(n.Uses))
	}
	p := c.static.Params
	title := fmt.Sprintf(t.title.In(lang), p.Size, p.Size, p.InChannels, p.Kernel, p.Kernel, p.OutChannels)
	return viz.Write(w, format, lang, viz.BarChart{Title: title, YLabel: t.axis.In(lang), Categories: names, LogY: true, Groups: []viz.BarGroup{params, uses}})
}
