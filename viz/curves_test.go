package viz

import (
	"bytes"
	"image"
	"math"
	"strings"
	"testing"
)

// lossCurves is two falling training losses (one with a NaN, which must
// leave a gap) and a short test curve that gets markers.
func lossCurves() []Series {
	var x, a, b []float64
	for i := range 200 {
		x = append(x, float64(i))
		a = append(a, 2.3*math.Exp(-float64(i)/40)+0.05)
		b = append(b, 2.3*math.Exp(-float64(i)/60)+0.1)
	}
	a[120] = math.NaN()
	return []Series{
		{Name: "dense (train)", X: x, Y: a},
		{Name: "conv (train)", X: x, Y: b},
		{Name: "conv (test)", X: x[:20], Y: b[:20]},
	}
}

func TestWriteLinesPNG(t *testing.T) {
	s := lossCurves()
	s[2].X = []float64{0, 20, 40, 60, 80, 100, 120, 140, 160, 180}
	s[2].Y = []float64{2.4, 1.7, 1.2, 0.9, 0.7, 0.55, 0.45, 0.4, 0.35, 0.32}
	var buf bytes.Buffer
	if err := WriteLines(&buf, "png", "Training loss", "step", "cross-entropy loss", false, s...); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	if got := img.Bounds().Size(); got != image.Pt(chartWidth, chartHeight) {
		t.Fatalf("size %v, want %dx%d", got, chartWidth, chartHeight)
	}
	// Each series is drawn in its own Okabe–Ito colour.
	for i := range s {
		c, _ := seriesStyle(i)
		if n := countNear(img, c, 8); n < 60 {
			t.Errorf("series %d: %d pixels of its colour %v", i, n, c)
		}
	}
	checkGolden(t, "lines", buf.Bytes())
}

func TestWriteLinesLogSVG(t *testing.T) {
	var x, g []float64
	for i := range 100 {
		x = append(x, float64(i))
		g = append(g, 10*math.Exp(-float64(i)/10))
	}
	g[0] = 0 // cannot be drawn on a log axis: a gap, not an error
	var buf bytes.Buffer
	if err := WriteLines(&buf, "svg", "Gradient norm & time", "step", "norm", true, Series{Name: "conv1", X: x, Y: g}); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes(), "Gradient norm & time", "conv1", "step", "0.001")
}

func TestWriteLinesBadInput(t *testing.T) {
	nan := math.NaN()
	for name, tc := range map[string]struct {
		format string
		logY   bool
		series []Series
		want   string
	}{
		"no series":  {"png", false, nil, "no series"},
		"empty":      {"png", false, []Series{{Name: "a"}}, `"a" has no points`},
		"mismatch":   {"png", false, []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{1}}}, "2 x values and 1 y values"},
		"all NaN":    {"png", false, []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{nan, nan}}}, "no point to draw"},
		"log ≤ 0":    {"png", true, []Series{{Name: "a", X: []float64{1, 2}, Y: []float64{0, -1}}}, "not positive"},
		"bad format": {"eps", false, []Series{{Name: "a", X: []float64{1}, Y: []float64{1}}}, "unknown format"},
	} {
		var buf bytes.Buffer
		err := WriteLines(&buf, tc.format, "t", "x", "y", tc.logY, tc.series...)
		if err == nil || !strings.HasPrefix(err.Error(), "viz: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
	// One point, or one constant value, is a valid chart.
	for _, s := range []Series{{X: []float64{3}, Y: []float64{0.5}}, {X: []float64{0, 1, 2}, Y: []float64{1, 1, 1}}} {
		var buf bytes.Buffer
		if err := WriteLines(&buf, "png", "", "", "", false, s); err != nil {
			t.Errorf("%v: %v", s, err)
		}
	}
}

func TestLegendCorner(t *testing.T) {
	// A rising curve fills the top right and leaves the bottom right free.
	var x, y []float64
	for i := range 50 {
		x = append(x, float64(i))
		y = append(y, 1-math.Exp(-float64(i)/8))
	}
	p, err := linesPlot(english, "", "", "", false, []Series{{Name: "accuracy", X: x, Y: y}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Legend.Top || p.Legend.Left {
		t.Errorf("legend top=%v left=%v, want bottom right", p.Legend.Top, p.Legend.Left)
	}
	for i := range y {
		y[i] = 1 - y[i] // falling: top right is free
	}
	if p, _ = linesPlot(english, "", "", "", false, []Series{{Name: "loss", X: x, Y: y}}); !p.Legend.Top || p.Legend.Left {
		t.Errorf("legend top=%v left=%v, want top right", p.Legend.Top, p.Legend.Left)
	}
}

func TestSeriesStyle(t *testing.T) {
	// Three curves styled as the first series: all blue, none in the
	// second or third series' colours; the styled curve's look is the one
	// it names, whatever its position.
	s := lossCurves()
	for i := range s {
		s[i].Style = &Style{Color: 0, Dash: i, Marker: 2}
	}
	var buf bytes.Buffer
	if err := WriteLines(&buf, "png", "", "", "", false, s...); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	blue, _ := seriesStyle(0)
	if n := countNear(img, blue, 8); n < 200 {
		t.Errorf("%d blue pixels", n)
	}
	for i := 1; i < 3; i++ {
		if c, _ := seriesStyle(i); countNear(img, c, 40) > 0 {
			t.Errorf("series colour %d drawn, though every series is styled as the first", i)
		}
	}
	col, dash, shape := Series{Style: &Style{Color: 9, Dash: -1, Marker: 2}}.style(0)
	if col != okabeIto[1] || len(dash) != len(dashes[len(dashes)-1]) || shape != markers[2] {
		t.Errorf("Style{9, -1, 2}: %v, %v, %T", col, dash, shape)
	}
	if col, dash, _ := (Series{}).style(1); col != okabeIto[1] || len(dash) != len(dashes[1]) {
		t.Errorf("second series without a Style: %v, %v", col, dash)
	}
}
