package viz

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"math"
	"regexp"
	"strconv"
	"testing"
)

// TestSVGImagesFillTheirRectangles checks that every <image> of a heat-map
// SVG (the colour bars) has the aspect ratio of its rectangle, so that a
// browser, which keeps an image's aspect ratio, fills the rectangle
// instead of shrinking the bar to a line.
func TestSVGImagesFillTheirRectangles(t *testing.T) {
	for _, lang := range []string{"en", LangZh} {
		var buf bytes.Buffer
		if err := Write(&buf, FormatSVG, lang, Heatmaps{Panels: twoPanels()}); err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(`<image x="[^"]*" y="[^"]*" width="([^"]*)" height="([^"]*)" xlink:href="data:image/[a-z]+;base64,([^"]*)"`)
		ms := re.FindAllSubmatch(buf.Bytes(), -1)
		if len(ms) != 2 {
			t.Fatalf("%s: %d <image> elements, want 2 colour bars", lang, len(ms))
		}
		for _, m := range ms {
			w, _ := strconv.ParseFloat(string(m[1]), 64)
			h, _ := strconv.ParseFloat(string(m[2]), 64)
			raw, err := base64.StdEncoding.DecodeString(string(m[3]))
			if err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, raw)
			iw, ih := float64(img.Bounds().Dx()), float64(img.Bounds().Dy())
			if math.Abs(iw/ih-w/h) > (w/h)*(0.5/ih+0.5/iw) {
				t.Errorf("%s: %gx%g image in a %gx%g rectangle", lang, iw, ih, w, h)
			}
		}
	}
}

func TestToAspect(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 4, 1))
	for x := range 4 {
		src.Set(x, 0, color.RGBA{R: uint8(60 * x), A: 255})
	}
	out := toAspect(src, 2) // 4×1 to 4×2: each row repeated
	if got := out.Bounds().Size(); got != image.Pt(4, 2) {
		t.Fatalf("size %v, want 4×2", got)
	}
	for x := range 4 {
		if out.At(x, 1) != src.At(x, 0) {
			t.Errorf("pixel (%d, 1) = %v, want %v", x, out.At(x, 1), src.At(x, 0))
		}
	}
	if out := toAspect(src, 4); out != image.Image(src) {
		t.Error("an image of the right aspect was copied")
	}
	tall := toAspect(src, 8) // 4×1 to 8×1: each column doubled
	if got := tall.Bounds().Size(); got != image.Pt(8, 1) {
		t.Errorf("size %v, want 8×1", got)
	}
}
