package viz

import (
	"bytes"
	"image"
	"math"
	"strings"
	"testing"
)

func TestWriteBarsPNG(t *testing.T) {
	// A lone group with one bar four times the other: in linear scale the
	// bars' areas in its colour are in the same ratio.
	var buf bytes.Buffer
	if err := WriteBars(&buf, "png", "Ratio", "count", []string{"small", "large"}, false, BarGroup{Label: "g", Values: []float64{1, 4}}); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	if got := img.Bounds().Size(); got != image.Pt(chartWidth, chartHeight) {
		t.Fatalf("size %v", got)
	}
	c, _ := seriesStyle(0)
	w := img.Bounds().Dx()
	sub := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	left := countNear(sub.SubImage(image.Rect(0, 0, w/2, img.Bounds().Dy())), c, 0)
	right := countNear(sub.SubImage(image.Rect(w/2, 0, w, img.Bounds().Dy())), c, 0)
	if left == 0 || math.Abs(float64(right)/float64(left)-4) > 0.15 {
		t.Errorf("bar areas %d and %d px, want a ratio of 4", left, right)
	}
}

func TestWriteBarsLog(t *testing.T) {
	// Parameter counts of a 3×3 layer from 28×28 to 26×26 inputs.
	var buf bytes.Buffer
	err := WriteBars(&buf, "png", "Parameters per layer", "parameters",
		[]string{"28×28 → 26×26", "64×64 → 62×62", "128×128 → 126×126"}, true,
		BarGroup{Label: "dense", Values: []float64{784 * 676, 4096 * 3844, 16384 * 15876}},
		BarGroup{Label: "locally connected", Values: []float64{676 * 9, 3844 * 9, 15876 * 9}},
		BarGroup{Label: "conv", Values: []float64{9, 9, 9}})
	if err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	for i := range 3 {
		c, _ := seriesStyle(i)
		if n := countNear(img, c, 0); n < 200 {
			t.Errorf("group %d: %d px of its colour", i, n)
		}
	}
	checkGolden(t, "bars_log", buf.Bytes())

	buf.Reset()
	if err := WriteBars(&buf, "svg", "Params: dense & conv", "n", []string{"a"}, true, BarGroup{Label: "dense", Values: []float64{1e6}}); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes(), "Params: dense & conv", "dense", "1M")
}

func TestWriteBarsBadInput(t *testing.T) {
	cats := []string{"a", "b"}
	for name, tc := range map[string]struct {
		format string
		cats   []string
		logY   bool
		groups []BarGroup
		want   string
	}{
		"no categories": {"png", nil, false, []BarGroup{{Values: nil}}, "no bar categories"},
		"no groups":     {"png", cats, false, nil, "no bar groups"},
		"mismatch":      {"png", cats, false, []BarGroup{{Label: "g", Values: []float64{1}}}, `"g" has 1 values for 2 categories`},
		"NaN":           {"png", cats, false, []BarGroup{{Label: "g", Values: []float64{1, math.NaN()}}}, "not finite"},
		"log zero":      {"png", cats, true, []BarGroup{{Label: "g", Values: []float64{1, 0}}}, "want > 0"},
		"format":        {"tiff", cats, false, []BarGroup{{Label: "g", Values: []float64{1, 2}}}, "unknown format"},
	} {
		var buf bytes.Buffer
		err := WriteBars(&buf, tc.format, "t", "y", tc.cats, tc.logY, tc.groups...)
		if err == nil || !strings.HasPrefix(err.Error(), "viz: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
	// Negative and all-zero values are fine on a linear axis.
	for _, v := range [][]float64{{-3, 2}, {0, 0}} {
		var buf bytes.Buffer
		if err := WriteBars(&buf, "png", "", "", cats, false, BarGroup{Values: v}); err != nil {
			t.Errorf("%v: %v", v, err)
		}
	}
}

func TestBarsLabelMin(t *testing.T) {
	// Class probabilities: the two large bars keep their labels, the tiny
	// ones below LabelMin have none (they would crowd each other's).
	c := BarChart{Title: "p", Categories: []string{"0", "1", "2", "3"}, LabelMin: 0.01,
		Groups: []BarGroup{{Label: "a", Values: []float64{0.7, 0.0031, 0.29, 6.6e-13}}, {Label: "b", Values: []float64{0.99, 0.004, 0.00628, 0.01}}}}
	var buf bytes.Buffer
	if err := Write(&buf, FormatSVG, "", c); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes(), "0.7", "0.29", "0.99", "0.01")
	for _, small := range []string{"0.0031", "6.6e-13", "0.004", "0.00628"} {
		if strings.Contains(buf.String(), ">"+small+"<") {
			t.Errorf("bar of %s is labelled", small)
		}
	}
	c.LabelMin = 0
	buf.Reset()
	if err := Write(&buf, FormatSVG, "", c); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes(), "0.0031")
}

func TestBarsLabelsDoNotOverlap(t *testing.T) {
	// Two groups of equal bars in ten categories: each label ("0.555") is
	// wider than the distance between neighbouring bars' centres, so the
	// second group's would run into the first's and are left out.
	cats := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	v := make([]float64, len(cats))
	for i := range v {
		v[i] = 0.555
	}
	var buf bytes.Buffer
	if err := Write(&buf, FormatSVG, "", BarChart{Categories: cats, Groups: []BarGroup{{Label: "a", Values: v}, {Label: "b", Values: v}}}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), ">0.555<"); n != len(cats) {
		t.Errorf("%d labels of 0.555, want %d (one per category)", n, len(cats))
	}
}

func TestBarsLogPowerOfTen(t *testing.T) {
	// The smallest value is a power of ten (a convolution's 10
	// parameters): its bar still has a height, the axis starting below.
	var buf bytes.Buffer
	if err := WriteBars(&buf, "png", "", "", []string{"dense", "conv"}, true, BarGroup{Values: []float64{1e5, 10}}); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	c, _ := seriesStyle(0)
	w := img.Bounds().Dx()
	right := img.(interface {
		SubImage(image.Rectangle) image.Image
	}).SubImage(image.Rect(w/2, 0, w, img.Bounds().Dy()))
	if n := countNear(right, c, 0); n < 200 {
		t.Errorf("the bar of 10 has %d px of its colour", n)
	}
	p, err := barsPlot(english, BarChart{Categories: []string{"a"}, LogY: true, Groups: []BarGroup{{Values: []float64{10}}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Y.Min >= 10 {
		t.Errorf("axis starts at %g, want below 10", p.Y.Min)
	}
}
