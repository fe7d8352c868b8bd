package modelcount

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// writeJSON writes the frame with the parameters and the step: the whole
// table at full precision.
func writeJSON(w io.Writer, exp run.Experiment, _ string) error {
	c := exp.(*counter)
	return run.WriteFrameJSON(w, name, c.v, c.pos, c.Total(), c.Frame())
}

// csvHeader names writeCSV's columns (English and Chinese).
var csvHeader = map[string][]string{
	"en": {"layer", "type", "params", "uses", "unshared", "shared_with"},
	"zh": {"层", "类型", "参数", "使用次数", "不共享时的参数", "共享自"},
}

// writeCSV writes the table: one line per layer, then the totals.
func writeCSV(w io.Writer, exp run.Experiment, lang string) error {
	c := exp.(*counter)
	s := c.static
	head, ok := csvHeader[lang]
	if !ok {
		head = csvHeader["en"]
	}
	cw := csv.NewWriter(w)
	d := func(n int64) string { return strconv.FormatInt(n, 10) }
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range s.Rows {
		if err := cw.Write([]string{r.Layer, r.Type, d(r.Params), d(r.Uses), d(r.Unshared), r.SharedWith}); err != nil {
			return err
		}
	}
	total := run.Text{En: "total", Zh: "合计"}.In(lang)
	if err := cw.Write([]string{total, "", d(s.Total.Params), d(s.Total.Uses), d(s.Total.Unshared), ""}); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// writeFigure returns the export that draws, for every item holding
// parameters, what it holds against what it and its other uses would
// hold unshared, on a log scale, in format.
func writeFigure(format string) func(io.Writer, run.Experiment, string) error {
	return func(w io.Writer, exp run.Experiment, lang string) error {
		return exp.(*counter).figure(w, format, lang)
	}
}

// figureText is the figure's wording in both languages.
var figureText = struct {
	title, params, unshared, axis run.Text
}{
	// The categories are the table's line numbers (#7), which the page
	// shows beside every line: names would not fit under 20 bars.
	title: run.Text{
		En: "%s: %s parameters, %s unshared",
		Zh: "%s：参数 %s，不共享时 %s",
	},
	params:   run.Text{En: "parameters held (bars: the table's lines #)", Zh: "持有的参数（柱子：表格的行号 #）"},
	unshared: run.Text{En: "unshared (every use its own copy)", Zh: "不共享（每次使用各有一份）"},
	axis:     run.Text{En: "parameters (log scale)", Zh: "参数个数（对数刻度）"},
}

// figure draws c's bars in format and lang.
func (c *counter) figure(w io.Writer, format, lang string) error {
	t := figureText
	held := viz.BarGroup{Label: t.params.In(lang)}
	unshared := viz.BarGroup{Label: t.unshared.In(lang)}
	var names []string
	for _, b := range c.static.Bars {
		names = append(names, "#"+strconv.Itoa(b.N))
		held.Values = append(held.Values, float64(b.Params))
		unshared.Values = append(unshared.Values, float64(b.Unshared))
	}
	s := c.static
	title := fmt.Sprintf(t.title.In(lang), s.Model.Name, short(s.Total.Params, lang), short(s.Total.Unshared, lang))
	return viz.Write(w, format, lang, viz.BarChart{Title: title, YLabel: t.axis.In(lang), Categories: names, LogY: true, Groups: []viz.BarGroup{held, unshared}})
}

// short writes n with four significant digits and a unit: 109.5 M, or in
// Chinese 1.095 亿.
func short(n int64, lang string) string {
	x := float64(n)
	if lang == "zh" {
		switch {
		case x >= 1e8:
			return fmt.Sprintf("%.4g 亿", x/1e8)
		case x >= 1e4:
			return fmt.Sprintf("%.4g 万", x/1e4)
		}
		return strconv.FormatInt(n, 10)
	}
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.4g B", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.4g M", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.4g k", x/1e3)
	}
	return strconv.FormatInt(n, 10)
}
