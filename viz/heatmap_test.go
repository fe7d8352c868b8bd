package viz

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg/draw"
)

// cellPixel returns the image pixel at fractional position (fr, fc) inside
// cell (r, c) of panel i — (0.5, 0.5) is the centre — using the same layout
// WriteHeatmaps draws with.
func cellPixel(t *testing.T, f *heatFigure, img image.Image, i, r, c int, fr, fc float64) image.Point {
	t.Helper()
	hd := f.heat[i].DataCanvas(f.heatCanvas(draw.Canvas{}, i))
	g := f.grids[i]
	cw, ch := toPx(hd.Size().X)/float64(g.Cols), toPx(hd.Size().Y)/float64(g.Rows)
	x := toPx(hd.Min.X) + (float64(c)+fc)*cw
	y := float64(img.Bounds().Dy()) - (toPx(hd.Max.Y) - (float64(r)+fr)*ch)
	return image.Pt(int(x), int(y))
}

// twoPanels is a sequential grid (values rising down the rows, one NaN)
// and an annotated signed 3×3 kernel.
func twoPanels() []Panel {
	nan := math.NaN()
	return []Panel{
		{Title: "Input", Grid: Grid{Rows: 2, Cols: 3, Values: []float64{0, 1, 2, 3, 4, nan}}, XLabel: "column", YLabel: "row"},
		{Title: "Kernel", Grid: Grid{Rows: 3, Cols: 3, Values: []float64{-1, 0, 1, -2, 0, 2, -1, 0, 1}}, Diverging: true, Annotate: true},
	}
}

func TestWriteHeatmapsPNG(t *testing.T) {
	panels := twoPanels()
	var buf bytes.Buffer
	if err := WriteHeatmaps(&buf, "png", "Input and kernel", panels...); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	f, err := layoutHeatmaps(english, "Input and kernel", panels)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.Bounds().Size(), image.Pt(2*heatmapPanelWidth, int(math.Round(toPx(f.h)))); got != want {
		t.Fatalf("image size %v, want %v", got, want)
	}

	// Every cell of the plain panel is filled exactly with the palette
	// colour of its value, all the way to one pixel from its edges (no
	// seams), row 0 at the top.
	seq := panels[0].colorMap()
	for r := range 2 {
		for c := range 3 {
			v := panels[0].Grid.At(r, c)
			want := seq.cellColor(v)
			lo, hi := cellPixel(t, f, img, 0, r, c, 0, 0), cellPixel(t, f, img, 0, r, c, 1, 1)
			for y := lo.Y + 1; y < hi.Y-1; y++ {
				for x := lo.X + 1; x < hi.X-1; x++ {
					if got := rgbaAt(img, x, y); got != want {
						t.Fatalf("cell (%d,%d) = %g: pixel (%d,%d) is %v, want %v", r, c, v, x, y, got, want)
					}
				}
			}
		}
	}
	if got := rgbaAt(img, cellPixel(t, f, img, 0, 0, 0, 0.5, 0.5).X, cellPixel(t, f, img, 0, 0, 0, 0.5, 0.5).Y); got != Viridis(0) {
		t.Errorf("minimum cell is %v, want Viridis(0)", got)
	}
	if p := cellPixel(t, f, img, 0, 1, 1, 0.5, 0.5); rgbaAt(img, p.X, p.Y) != Viridis(1) {
		t.Errorf("maximum cell is %v, want Viridis(1)", rgbaAt(img, p.X, p.Y))
	}
	if p := cellPixel(t, f, img, 0, 1, 2, 0.5, 0.5); rgbaAt(img, p.X, p.Y) != MissingColor() {
		t.Errorf("NaN cell is %v, want MissingColor", rgbaAt(img, p.X, p.Y))
	}

	// The kernel: zero is the neutral centre, ±2 the ends (symmetric
	// range), sampled off-centre because the centre holds the value.
	for _, tc := range []struct {
		r, c int
		want color.RGBA
	}{{1, 1, rgb(0xf7, 0xf7, 0xf7)}, {1, 0, Diverging(0)}, {1, 2, Diverging(1)}} {
		p := cellPixel(t, f, img, 1, tc.r, tc.c, 0.12, 0.12)
		if got := rgbaAt(img, p.X, p.Y); got != tc.want {
			t.Errorf("kernel cell (%d,%d) corner is %v, want %v", tc.r, tc.c, got, tc.want)
		}
	}
	// Annotations: the dark -2 cell has white text, the light 0 cell black.
	for _, tc := range []struct {
		r, c int
		text color.RGBA
	}{{1, 0, rgb(255, 255, 255)}, {1, 1, rgb(0, 0, 0)}} {
		lo, hi := cellPixel(t, f, img, 1, tc.r, tc.c, 0.3, 0.3), cellPixel(t, f, img, 1, tc.r, tc.c, 0.7, 0.7)
		if n := countNear(img.(interface {
			image.Image
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rectangle{Min: lo, Max: hi}), tc.text, 40); n < 10 {
			t.Errorf("kernel cell (%d,%d): %d text pixels near %v, want its value written", tc.r, tc.c, n, tc.text)
		}
	}

	// Colour bars, under each heat map: both ends of its palette appear.
	for i, ends := range [][]color.RGBA{
		{Viridis(0), Viridis(1)},
		{Diverging(0), Diverging(0.5), Diverging(1)},
	} {
		hd := f.heat[i].DataCanvas(f.heatCanvas(draw.Canvas{}, i))
		below := img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(int(toPx(hd.Min.X)), img.Bounds().Dy()-int(toPx(hd.Min.Y)), int(toPx(hd.Max.X)), img.Bounds().Dy()))
		for _, c := range ends {
			if n := countNear(below, c, 4); n < 10 {
				t.Errorf("colour bar %d: %d pixels near %v, want a palette end", i, n, c)
			}
		}
	}
	checkGolden(t, "heatmaps", buf.Bytes())
}

func TestWriteHeatmapsLarge(t *testing.T) {
	// A 28×28 image and a 26×26 signed output, as in the conv lesson.
	img := make([]float64, 28*28)
	for i := range img {
		r, c := float64(i/28), float64(i%28)
		img[i] = math.Exp(-((r-10)*(r-10) + (c-14)*(c-14)) / 40)
	}
	out := make([]float64, 26*26)
	for i := range out {
		out[i] = 3 * math.Sin(float64(i)/7)
	}
	var buf bytes.Buffer
	err := WriteHeatmaps(&buf, "png", "",
		Panel{Title: "Digit", Grid: Grid{Rows: 28, Cols: 28, Values: img}},
		Panel{Title: "Output map", Grid: Grid{Rows: 26, Cols: 26, Values: out}, Diverging: true})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "heatmaps_large", buf.Bytes())
}

func TestWriteHeatmapsSVG(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHeatmaps(&buf, "svg", "Kernel <3×3> & input", twoPanels()...); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes(), "Kernel <3×3> & input", "Input", "Kernel", "column")
}

func TestHeatmapsWideTitle(t *testing.T) {
	// One 400-px panel under a title far wider than it: the figure widens
	// and the title is whole, its ink clear of the image's sides.
	panel := Panel{Title: "input", Grid: Grid{Rows: 28, Cols: 28, Values: make([]float64, 28*28)}, Min: 0, Max: 1}
	for lang, title := range map[string]string{
		"en":   "Draw a digit — centred as MNIST, shifted +0 px — the drawing is blank: nothing to predict",
		LangZh: "画一个数字 — 按 MNIST 的方式居中，平移 +0 像素 — 画面是空白的：没有可预测的内容",
	} {
		var buf bytes.Buffer
		if err := Write(&buf, FormatPNG, lang, Heatmaps{Title: title, Panels: []Panel{panel}}); err != nil {
			t.Fatal(err)
		}
		img := decodePNG(t, buf.Bytes())
		w := img.Bounds().Dx()
		if w <= heatmapPanelWidth {
			t.Errorf("%s: width %d, want wider than the panel's %d", lang, w, heatmapPanelWidth)
		}
		inked := 0
		for y := range figureTitleBand - 8 {
			for x := range w {
				if c := rgbaAt(img, x, y); c.R < 200 {
					inked++
					if x < 4 || x >= w-4 {
						t.Fatalf("%s: title ink at (%d, %d), at the image's side", lang, x, y)
					}
				}
			}
		}
		if inked < 100 {
			t.Errorf("%s: %d inked pixels in the title band", lang, inked)
		}
		// The panel is centred: as much white left of its heat map as right.
		f, err := layoutHeatmaps(typesetFor(lang), title, []Panel{panel})
		if err != nil {
			t.Fatal(err)
		}
		a := f.areas[0]
		if l, r := toPx(a.Min.X)-panelMarginLeft, toPx(f.w-a.Max.X)-panelMarginRight; math.Abs(l-r) > 1 {
			t.Errorf("%s: panel %v px from the left, %v px from the right", lang, l, r)
		}
	}
}

func TestHeatmapsBadInput(t *testing.T) {
	ok := Panel{Grid: Grid{Rows: 1, Cols: 2, Values: []float64{1, 2}}}
	for name, tc := range map[string]struct {
		format string
		panels []Panel
		want   string
	}{
		"size mismatch": {"png", []Panel{{Grid: Grid{Rows: 2, Cols: 2, Values: []float64{1, 2, 3}}}}, "2×2 grid has 3 values"},
		"empty grid":    {"png", []Panel{{Grid: Grid{}}}, "grid is 0×0"},
		"negative":      {"png", []Panel{{Grid: Grid{Rows: -1, Cols: -1, Values: []float64{1}}}}, "grid is -1×-1"},
		"no panels":     {"png", nil, "no heat-map panels"},
		"format":        {"gif", []Panel{ok}, "unknown format"},
	} {
		var buf bytes.Buffer
		err := WriteHeatmaps(&buf, tc.format, "t", tc.panels...)
		if err == nil || !strings.HasPrefix(err.Error(), "viz: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes before failing", name, buf.Len())
		}
	}
	if _, err := HeatmapPlot(Panel{Grid: Grid{Rows: 3, Cols: 1, Values: []float64{1}}}); err == nil {
		t.Error("HeatmapPlot accepted a 3×1 grid with 1 value")
	}
}

// TestHeatmapsDegenerate draws grids that have no natural colour range.
func TestHeatmapsDegenerate(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	for name, p := range map[string]Panel{
		"1×1":          {Grid: Grid{Rows: 1, Cols: 1, Values: []float64{5}}},
		"constant":     {Grid: Grid{Rows: 2, Cols: 2, Values: []float64{3, 3, 3, 3}}},
		"zeros signed": {Grid: Grid{Rows: 2, Cols: 2, Values: []float64{0, 0, 0, 0}}, Diverging: true},
		"all NaN":      {Grid: Grid{Rows: 2, Cols: 2, Values: []float64{nan, nan, nan, nan}}, Annotate: true},
		"infinities":   {Grid: Grid{Rows: 1, Cols: 3, Values: []float64{-inf, 0, inf}}, Diverging: true},
		"tall":         {Grid: Grid{Rows: 40, Cols: 2, Values: make([]float64, 80)}},
		"wide":         {Grid: Grid{Rows: 1, Cols: 100, Values: make([]float64, 100)}},
		"huge":         {Grid: Grid{Rows: 500, Cols: 500, Values: make([]float64, 250000)}},
	} {
		for _, format := range []string{"png", "svg"} {
			var buf bytes.Buffer
			if err := WriteHeatmaps(&buf, format, name, p); err != nil {
				t.Errorf("%s (%s): %v", name, format, err)
			}
		}
	}
}

func TestPanelColorRange(t *testing.T) {
	for _, tc := range []struct {
		p      Panel
		lo, hi float64
	}{
		{Panel{Grid: Grid{Rows: 1, Cols: 3, Values: []float64{-1, 0, 3}}}, -1, 3},
		{Panel{Grid: Grid{Rows: 1, Cols: 3, Values: []float64{-1, 0, 3}}, Diverging: true}, -3, 3},
		{Panel{Grid: Grid{Rows: 1, Cols: 2, Values: []float64{2, math.Inf(1)}}}, 1, 3},
		{Panel{Grid: Grid{Rows: 1, Cols: 2, Values: []float64{0.5, 0.7}}, Min: 0, Max: 1}, 0, 1},
		{Panel{Grid: Grid{Rows: 1, Cols: 1, Values: []float64{math.NaN()}}}, 0, 1},
	} {
		if lo, hi := tc.p.colorRange(); lo != tc.lo || hi != tc.hi {
			t.Errorf("colorRange of %v = [%g, %g], want [%g, %g]", tc.p.Grid.Values, lo, hi, tc.lo, tc.hi)
		}
	}
	// With a fixed range, values beyond it take the end colours.
	p := Panel{Grid: Grid{Rows: 1, Cols: 2, Values: []float64{-5, 5}}, Min: 0, Max: 1}
	if s := p.colorMap(); s.cellColor(-5) != Viridis(0) || s.cellColor(5) != Viridis(1) {
		t.Error("values outside a fixed range do not take the end colours")
	}
}

func TestCellTicks(t *testing.T) {
	labels := func(tk cellTicks) string {
		var s []string
		for _, x := range tk.Ticks(0, 0) {
			if x.Label != "" {
				s = append(s, x.Label)
			}
		}
		return strings.Join(s, " ")
	}
	if got := labels(cellTicks{n: 3, flip: true}); got != "2 1 0" {
		t.Errorf("3 rows: %q, want row 2 at the bottom (position 0)", got)
	}
	if got := labels(cellTicks{n: 28}); got != "0 5 10 15 20 25" {
		t.Errorf("28 columns: %q", got)
	}
	if n := len((cellTicks{n: 28}).Ticks(0, 0)); n != 28 {
		t.Errorf("28 columns: %d ticks, want one per cell", n)
	}
}
