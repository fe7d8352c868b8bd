package viz

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// regen rewrites the golden images in testdata from the current code, in
// the manner of gonum/plot's cmpimg.CheckPlot. Look at them before
// committing.
var regen = flag.Bool("regen", false, "rewrite testdata/*_golden.png from the current output")

// checkGolden compares a PNG with testdata/name_golden.png. Fonts are
// rasterised by pure Go code pinned in go.mod, so output is deterministic;
// the small tolerance absorbs floating-point differences between
// architectures in anti-aliased edges.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+"_golden.png")
	if *regen {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden image (run go test -regen to create it): %v", err)
	}
	gi, wi := decodePNG(t, got), decodePNG(t, want)
	if gi.Bounds() != wi.Bounds() {
		t.Fatalf("%s: size %v, golden %v", name, gi.Bounds().Size(), wi.Bounds().Size())
	}
	differ, total := 0, 0
	b := gi.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			total++
			if colorDist(rgbaAt(gi, x, y), rgbaAt(wi, x, y)) > 24 {
				differ++
			}
		}
	}
	if float64(differ) > 0.002*float64(total) {
		out := filepath.Join(t.TempDir(), name+".png")
		_ = os.WriteFile(out, got, 0o644)
		t.Errorf("%s: %d of %d pixels differ from the golden image; new image at %s", name, differ, total, out)
	}
}

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not a PNG: %v", err)
	}
	return img
}

func rgbaAt(img image.Image, x, y int) color.RGBA {
	return color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
}

// colorDist is the largest per-channel difference.
func colorDist(a, b color.RGBA) int {
	d := 0
	for _, p := range [][2]uint8{{a.R, b.R}, {a.G, b.G}, {a.B, b.B}, {a.A, b.A}} {
		d = max(d, abs(int(p[0])-int(p[1])))
	}
	return d
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// countNear counts the pixels of img within tol of c (per channel).
func countNear(img image.Image, c color.RGBA, tol int) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if colorDist(rgbaAt(img, x, y), c) <= tol {
				n++
			}
		}
	}
	return n
}

// checkSVG checks that b is well-formed XML with an <svg> root and that its
// text contains each of want.
func checkSVG(t *testing.T, b []byte, want ...string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	for _, w := range want {
		if !strings.Contains(text.String(), w) {
			t.Errorf("SVG text lacks %q", w)
		}
	}
}

func TestCheckFormat(t *testing.T) {
	for _, f := range []string{"png", "svg"} {
		if err := checkFormat(f); err != nil {
			t.Errorf("checkFormat(%q) = %v", f, err)
		}
	}
	for _, f := range []string{"", "PNG", "jpg", "pdf"} {
		if err := checkFormat(f); err == nil || !strings.HasPrefix(err.Error(), "viz: ") {
			t.Errorf("checkFormat(%q) = %v, want a viz: error", f, err)
		}
	}
}

func TestCompact(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {9, "9"}, {25, "25"}, {320, "320"}, {0.25, "0.25"}, {-1.5, "-1.5"},
		{7850, "7.85k"}, {529984, "530k"}, {1606144, "1.61M"}, {2.6e8, "260M"},
		{1e9, "1G"}, {0.1234, "0.123"}, {1e-5, "1e-05"}, {math.NaN(), "NaN"},
	} {
		if got := compact(tc.v); got != tc.want {
			t.Errorf("compact(%g) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		min, max float64
		want     []string
	}{
		{0.05, 2.35, []string{"0.5", "1.0", "1.5", "2.0"}},
		{0, 199, []string{"0", "50", "100", "150"}},
		{-3, 3, []string{"-3", "-2", "-1", "0", "1", "2", "3"}},
		{0, 2.6e8, []string{"0", "50M", "100M", "150M", "200M", "250M"}},
	} {
		var got []string
		for _, tk := range (niceTicks{}).Ticks(tc.min, tc.max) {
			if tk.Value < tc.min || tk.Value > tc.max {
				t.Errorf("Ticks(%g, %g): tick %g outside the range", tc.min, tc.max, tk.Value)
			}
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("Ticks(%g, %g) labels %q, want %q", tc.min, tc.max, got, tc.want)
		}
	}
}

func TestDecadeTicks(t *testing.T) {
	lo, hi := decadeRange(0.05, 2.3)
	if lo != 0.01 || hi != 10 {
		t.Fatalf("decadeRange(0.05, 2.3) = %g, %g, want 0.01, 10", lo, hi)
	}
	var labels []string
	minor := 0
	for _, tk := range (decadeTicks{}).Ticks(lo, hi) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		} else {
			minor++
		}
	}
	if got := strings.Join(labels, " "); got != "0.01 0.1 1 10" {
		t.Errorf("labels %q, want 0.01 0.1 1 10", got)
	}
	if minor != 3*8 {
		t.Errorf("%d minor ticks, want 24", minor)
	}
}
