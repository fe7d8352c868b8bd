package viz

import (
	"errors"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart is something Write can draw: a LineChart, a BarChart, a Heatmaps
// row or a Figure of several charts. The chart types hold only data and
// text; the language of the text's type and the output format are chosen
// when the chart is written.
type Chart interface {
	// layout builds the chart with its text set in t.
	layout(t typeset) (*laidOut, error)
}

var (
	_ Chart = LineChart{}
	_ Chart = BarChart{}
	_ Chart = Heatmaps{}
)

// laidOut is a chart ready to draw.
type laidOut struct {
	w, h vg.Length // natural size, a whole number of pixels
	// plot is the chart's only plot for line and bar charts, which a
	// Figure stretches to fill their cell and aligns with their
	// neighbours; nil for charts drawn only at their natural size.
	plot *plot.Plot
	// draw draws the chart into a canvas whose rectangle is (0, 0)–(w, h).
	draw func(draw.Canvas)
}

// LineChart is the chart WriteLines draws: Series as lines on one set of
// axes, 640×400 px. See WriteLines for the styling and the errors.
type LineChart struct {
	Title, XLabel, YLabel string
	LogY                  bool
	Series                []Series
}

func (c LineChart) layout(t typeset) (*laidOut, error) {
	p, err := linesPlot(t, c.Title, c.XLabel, c.YLabel, c.LogY, c.Series)
	if err != nil {
		return nil, err
	}
	return plotOut(p), nil
}

// BarChart is the chart WriteBars draws: grouped bars, one per group in
// each category, 640×400 px. See WriteBars for the styling and the errors.
// LabelMin, when above 0, leaves the bars whose value is below it in size
// without their value label: many tiny bars (the probabilities of the
// classes a model rules out) would only crowd each other's labels.
type BarChart struct {
	Title, YLabel string
	Categories    []string
	LogY          bool
	Groups        []BarGroup
	LabelMin      float64
}

func (c BarChart) layout(t typeset) (*laidOut, error) {
	p, err := barsPlot(t, c)
	if err != nil {
		return nil, err
	}
	return plotOut(p), nil
}

func plotOut(p *plot.Plot) *laidOut {
	return &laidOut{
		w: px(chartWidth), h: px(chartHeight), plot: p,
		draw: func(c draw.Canvas) { drawPlot(c, p) },
	}
}

// Heatmaps is the figure WriteHeatmaps draws: Panels side by side, 400 px
// each, each heat map with square cells above its colour bar, under an
// optional Title. See WriteHeatmaps for the errors.
type Heatmaps struct {
	Title  string
	Panels []Panel
}

func (c Heatmaps) layout(t typeset) (*laidOut, error) {
	f, err := layoutHeatmaps(t, c.Title, c.Panels)
	if err != nil {
		return nil, err
	}
	return &laidOut{w: f.w, h: f.h, draw: f.draw}, nil
}

// Write draws c and writes it in format ("png" or "svg") to w. Its text
// is set in the type of lang: for LangZh ("zh") the embedded subset of
// Noto Sans CJK SC, which has the common Chinese characters (MissingGlyphs
// tells which it lacks) as well as Latin letters, digits and symbols; for
// any other lang, "en" or "" for example, Liberation Sans, exactly as
// WriteLines, WriteBars and WriteHeatmaps draw. Chinese SVG output draws
// text as glyph outlines, so it shows the same in every browser without
// any font installed. Write returns an error for an unknown format, a nil
// chart, or any error of the chart's data (see WriteLines, WriteBars and
// WriteHeatmaps; a Figure's errors name the chart's index).
func Write(w io.Writer, format, lang string, c Chart) error {
	if err := checkFormat(format); err != nil {
		return err
	}
	if c == nil {
		return errors.New("viz: no chart to write")
	}
	t := typesetFor(lang)
	l, err := c.layout(t)
	if err != nil {
		return err
	}
	return writeCanvas(w, format, t, l.w, l.h, l.draw)
}
