package viz

import (
	"image"
	"image/draw"
	"math"

	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// svgCanvas is gonum/plot's SVG canvas with two repairs for browsers.
//
// Text: with outlineText, text is drawn as filled glyph outlines instead
// of <text> elements. A browser draws an SVG's text in its own fonts, and
// many have no CJK font, or none that matches; outlines look the same
// everywhere and as in the PNG, and cost only the glyphs a chart uses
// (embedding the font would add megabytes to every file). The text can no
// longer be selected or searched.
//
// Images: vgsvg writes an <image> with the rectangle's width and height
// but no preserveAspectRatio, so a browser scales the picture uniformly
// to fit inside the rectangle: a colour bar, a 255×1 image in a wide flat
// rectangle, shrinks to a hairline. DrawImage first resamples the image
// (nearest neighbour) to the rectangle's aspect ratio.
type svgCanvas struct {
	*vgsvg.Canvas
	outlineText bool
	buf         sfnt.Buffer
}

var _ vg.CanvasWriterTo = (*svgCanvas)(nil)

// FillString draws str set in f with its baseline starting at pt, in the
// current colour.
func (c *svgCanvas) FillString(f font.Face, pt vg.Point, str string) {
	if !c.outlineText {
		c.Canvas.FillString(f, pt, str)
		return
	}
	if path := glyphPath(&c.buf, f, pt, str); len(path) > 0 {
		c.Fill(path)
	}
}

// DrawImage draws img stretched over rect.
func (c *svgCanvas) DrawImage(rect vg.Rectangle, img image.Image) {
	c.Canvas.DrawImage(rect, toAspect(img, float64(rect.Size().X/rect.Size().Y)))
}

// maxStretchedPixels bounds the image toAspect makes; past it the aspect
// ratio is matched only approximately.
const maxStretchedPixels = 4 << 20

// toAspect returns img, or img resampled by repeating rows or columns,
// so that its width/height ratio is within half a pixel of aspect.
func toAspect(img image.Image, aspect float64) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 || !(aspect > 0) || math.IsInf(aspect, 0) {
		return img
	}
	nw, nh := w, h
	if float64(w)/float64(h) > aspect {
		nh = int(math.Round(float64(w) / aspect))
	} else {
		nw = int(math.Round(float64(h) * aspect))
	}
	if nw*nh > maxStretchedPixels {
		return img
	}
	if nw == w && nh == h {
		return img
	}
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	out := image.NewRGBA(image.Rect(0, 0, nw, nh))
	for y := range nh {
		sy := y * h / nh
		for x := range nw {
			sx := x * w / nw
			i, j := out.PixOffset(x, y), src.PixOffset(sx, sy)
			copy(out.Pix[i:i+4], src.Pix[j:j+4])
		}
	}
	return out
}
