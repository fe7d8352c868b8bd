package viz

import (
	"bytes"
	"image"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// raceCharts are the charts of a training race as the cnn-train export
// tiles them: loss and accuracy curves, a missing shift test, and bars.
func raceCharts() []Chart {
	loss := lossCurves()[:2]
	var x, a, b []float64
	for i := range 200 {
		x = append(x, float64(i))
		a = append(a, 1-0.9*math.Exp(-float64(i)/40))
		b = append(b, 1-0.9*math.Exp(-float64(i)/60))
	}
	return []Chart{
		LineChart{Title: "Loss", XLabel: "step", YLabel: "cross-entropy loss", Series: loss},
		LineChart{Title: "Accuracy", XLabel: "step", YLabel: "accuracy", Series: []Series{{Name: "dense", X: x, Y: a}, {Name: "conv", X: x, Y: b}}},
		nil, // no shift test yet
		BarChart{Title: "Train vs test accuracy", YLabel: "accuracy (%)", Categories: []string{"dense", "conv"},
			Groups: []BarGroup{{Label: "train", Values: []float64{99, 97}}, {Label: "test", Values: []float64{91, 96}}}},
	}
}

func TestWriteFigureGrid(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, FormatPNG, "en", Figure{Title: "Training race — step 200", Cols: 2, Charts: raceCharts()}); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	if got, want := img.Bounds().Size(), image.Pt(2*chartWidth, 2*chartHeight+figureTitleBand); got != want {
		t.Fatalf("size %v, want %v", got, want)
	}
	// The blank cell (bottom left) is white but for the bottom of the
	// loss chart above it: plot.Align gives every row's data areas the
	// same height, so the top row, with x axis labels, reaches a little
	// into the bottom row, whose bar chart has none. The others hold their
	// charts.
	cell := func(col, row int) image.Rectangle {
		x, y := col*chartWidth, figureTitleBand+row*chartHeight
		return image.Rect(x, y, x+chartWidth, y+chartHeight)
	}
	if n := darkPixels(img, cell(0, 1).Inset(30)); n != 0 {
		t.Errorf("blank cell has %d dark pixels", n)
	}
	for _, c := range [][2]int{{0, 0}, {1, 0}, {1, 1}} {
		if n := darkPixels(img, cell(c[0], c[1])); n < 1000 {
			t.Errorf("cell %v has %d dark pixels, want a chart", c, n)
		}
	}
	checkGolden(t, "figure_grid", buf.Bytes())
}

// TestFigureAligns checks that plot.Align lines up the data areas of
// charts in one column even when their y tick labels differ in width.
func TestFigureAligns(t *testing.T) {
	wide := LineChart{Title: "wide ticks", Series: []Series{{X: []float64{0, 1}, Y: []float64{0, 123456}}}}
	narrow := LineChart{Title: "narrow ticks", Series: []Series{{X: []float64{0, 1}, Y: []float64{0, 1}}}}
	g, err := Figure{Cols: 1, Charts: []Chart{wide, narrow}}.tile(english)
	if err != nil {
		t.Fatal(err)
	}
	cs := g.canvases(draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: g.w, Y: g.h}}})
	var left, right [2]vg.Length
	for i, c := range cs {
		d := g.kids[i].plot.DataCanvas(plotArea(c))
		left[i], right[i] = d.Min.X, d.Max.X
	}
	if math.Abs(float64(left[0]-left[1])) > 0.01 || math.Abs(float64(right[0]-right[1])) > 0.01 {
		t.Errorf("data areas span x %v…%v and %v…%v, want the same", left[0], right[0], left[1], right[1])
	}
	// Unaligned, the wide tick labels would push the first data area right.
	alone := g.kids[1].plot.DataCanvas(plotArea(draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: g.cellW, Y: g.cellH}}}))
	if !(alone.Min.X < left[1]) {
		t.Errorf("narrow chart alone starts at %v, aligned at %v: alignment did nothing", alone.Min.X, left[1])
	}
}

func TestWriteFigureZh(t *testing.T) {
	probs := []float64{0.01, 0.02, 0.05, 0.7, 0.02, 0.1, 0.03, 0.02, 0.03, 0.02}
	f := Figure{Cols: 1, Charts: []Chart{
		Heatmaps{Title: "画一个数字 — 按 MNIST 居中，平移 +0 像素", Panels: zhPanels()},
		BarChart{Title: "各类别的概率：卷积网络认为是 3（70%）", YLabel: "概率",
			Categories: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
			Groups:     []BarGroup{{Label: "卷积网络", Values: probs}}},
	}}
	var buf bytes.Buffer
	if err := Write(&buf, FormatPNG, LangZh, f); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	if got := img.Bounds().Dx(); got != 2*heatmapPanelWidth {
		t.Errorf("width %d, want the heat maps' %d", got, 2*heatmapPanelWidth)
	}
	checkGolden(t, "figure_zh", buf.Bytes())

	buf.Reset()
	if err := Write(&buf, FormatSVG, LangZh, f); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes())
	if strings.Contains(buf.String(), "<text") {
		t.Error("Chinese figure SVG has <text> elements")
	}
	buf.Reset()
	if err := Write(&buf, FormatSVG, "", Figure{Cols: 2, Charts: raceCharts()}); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes(), "Loss", "Accuracy", "Train vs test accuracy")
}

func TestWriteBadInput(t *testing.T) {
	var buf bytes.Buffer
	for name, c := range map[string]Chart{
		"nil chart":       nil,
		"empty figure":    Figure{},
		"all-nil figure":  Figure{Charts: []Chart{nil, nil}},
		"bad chart":       Figure{Charts: []Chart{LineChart{}}},
		"bad heat map":    Heatmaps{Panels: []Panel{{Grid: Grid{Rows: 2, Cols: 2}}}},
		"no bar category": BarChart{Groups: []BarGroup{{Values: []float64{1}}}},
	} {
		if err := Write(&buf, FormatPNG, "", c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := Write(&buf, "gif", "", raceCharts()[0]); err == nil {
		t.Error("gif: no error")
	}
	err := Write(&buf, FormatPNG, "", Figure{Charts: []Chart{raceCharts()[0], LineChart{}}})
	if err == nil || !strings.Contains(err.Error(), "chart 1") {
		t.Errorf("error %v does not name chart 1", err)
	}
}
