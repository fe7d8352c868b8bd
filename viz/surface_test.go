package viz

import (
	"bytes"
	"image"
	"math"
	"strings"
	"testing"
)

// langEn is any lang other than LangZh: English type.
const langEn = "en"

// surfaceTexts are a surface's title and labels in both languages (the
// cliff's, lesson 8).
var surfaceTexts = map[string][4]string{
	langEn: {"Pascanu's cliff — x_t = w·σ(x_{t−1}) + b, E = (σ(x_50) − 0.7)²", "w (W_hh)", "b", "loss E"},
	LangZh: {"Pascanu 的悬崖 — x_t = w·σ(x_{t−1}) + b，E = (σ(x_50) − 0.7)²，学习率 1，第 59 / 100 步", "w（W_hh）", "b（偏置）", "损失 E"},
}

// testSurface is a uniform 4×4 surface over [0, 4] × [0, 2] with one path
// along y = 1 from the middle to x = 40, far beyond the right edge (no
// name: no legend, whose key would also be in the path's colour).
func testSurface(lang string) Surface {
	tx := surfaceTexts[lang]
	vals := make([]float64, 16)
	for i := range vals {
		vals[i] = -2
	}
	return Surface{
		Title: tx[0], XLabel: tx[1], YLabel: tx[2], ColorLabel: tx[3],
		XMin: 0, XMax: 4, YMin: 0, YMax: 2,
		Grid: Grid{Rows: 4, Cols: 4, Values: vals}, LogValues: true,
		Paths: []Series{{X: []float64{2, 3, 40}, Y: []float64{1, 1, 1}}},
	}
}

// TestSurfaceRenders: PNG and SVG, in English and Chinese, at the
// documented size, the Chinese text without missing glyphs.
func TestSurfaceRenders(t *testing.T) {
	for _, lang := range []string{langEn, LangZh} {
		tx := surfaceTexts[lang]
		if lang == LangZh {
			if m := MissingGlyphs(strings.Join(tx[:], "")); len(m) > 0 {
				t.Errorf("zh: the font lacks %q", string(m))
			}
		}
		var png, svg bytes.Buffer
		if err := Write(&png, "png", lang, testSurface(lang)); err != nil {
			t.Fatalf("%s png: %v", lang, err)
		}
		img := decodePNG(t, png.Bytes())
		if got, want := img.Bounds().Size(), image.Pt(surfaceWidth, surfaceHeight+surfaceBar); got != want {
			t.Errorf("%s: size %v, want %v", lang, got, want)
		}
		if err := Write(&svg, "svg", lang, testSurface(lang)); err != nil {
			t.Fatalf("%s svg: %v", lang, err)
		}
		if s := svg.String(); !strings.Contains(s, "<svg") || !strings.Contains(s, "</svg>") {
			t.Errorf("%s: not an SVG: %.80q", lang, s)
		}
		if lang == langEn && !strings.Contains(svg.String(), "cliff") {
			t.Errorf("en: the SVG has no title text")
		}
	}
}

// TestSurfaceClipsPaths: a path that leaves the rectangle is drawn up to
// its edge and not beyond (no line in the margin, no end marker outside).
func TestSurfaceClipsPaths(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, "png", langEn, testSurface(langEn)); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, buf.Bytes())
	col, _, _ := Series{}.style(0)
	b := img.Bounds()

	// The path's row: the row with the most pixels of its colour.
	row, most := -1, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		n := 0
		for x := b.Min.X; x < b.Max.X; x++ {
			if rgbaAt(img, x, y) == col {
				n++
			}
		}
		if n > most {
			row, most = y, n
		}
	}
	if row < 0 || most < 50 {
		t.Fatalf("no path drawn (best row %d, %d pixels)", row, most)
	}
	// The map's right edge, 40 px above the path (away from its halo):
	// the last pixel of the map's one colour.
	mapCol := rgbaAt(img, b.Dx()/2, row-40)
	edge := -1
	for x := b.Min.X; x < b.Max.X; x++ {
		if rgbaAt(img, x, row-40) == mapCol {
			edge = x
		}
	}
	last := -1
	for x := b.Min.X; x < b.Max.X; x++ {
		if rgbaAt(img, x, row) == col {
			last = x
		}
	}
	t.Logf("path row %d: last path pixel at x %d, map edge at %d, image %d wide", row, last, edge, b.Dx())
	if edge < b.Dx()/2 || edge >= b.Max.X-1 {
		t.Fatalf("map edge at %d of %d", edge, b.Dx())
	}
	if math.Abs(float64(last-edge)) > 3 {
		t.Errorf("the path ends at x %d, the map at %d: not clipped at the edge", last, edge)
	}
	// Nothing of the path's colour right of the map, in any row (the end
	// point, at x = 40, gets no marker).
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := edge + 4; x < b.Max.X; x++ {
			if rgbaAt(img, x, y) == col {
				t.Fatalf("path colour at (%d, %d), right of the map's edge %d", x, y, edge)
			}
		}
	}
}
