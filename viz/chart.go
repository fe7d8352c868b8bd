package viz

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Output formats accepted by the Write functions.
const (
	FormatPNG = "png"
	FormatSVG = "svg"
)

// DPI is the resolution of PNG output. At 96 dots per inch one CSS pixel is
// one image pixel, so a chart shown at its natural size in a browser is
// neither blurred nor shrunk.
const DPI = 96

// px converts CSS pixels to a vg.Length (points, 1/72 inch) at DPI.
func px(n float64) vg.Length { return vg.Length(n * 72 / DPI) }

// Chart sizes in CSS pixels.
const (
	heatmapPanelWidth = 400 // each heat-map panel
	chartWidth        = 640 // line and bar charts
	chartHeight       = 400
)

// Text sizes in points. English text is set in Liberation Sans, which
// gonum/plot embeds; Chinese text (lang LangZh) in the embedded subset of
// Noto Sans CJK SC (font.go). No system font is ever needed.
const (
	titleSize      = 13
	labelSize      = 11
	tickSize       = 9.5
	legendSize     = 10
	annotationSize = 11 // upper bound; small cells get smaller text
)

// newPlot returns a plot with t's fonts and the title and axis labels.
func newPlot(t typeset, title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = px(8)
	t.apply(p)
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	return p
}

// checkFormat returns an error unless format is FormatPNG or FormatSVG.
func checkFormat(format string) error {
	switch format {
	case FormatPNG, FormatSVG:
		return nil
	}
	return fmt.Errorf("viz: unknown format %q, want %q or %q", format, FormatPNG, FormatSVG)
}

// newCanvas returns a blank white canvas of w×h in the given format for
// text set in t. English SVG output names its font (Liberation Sans)
// rather than embedding it: embedding adds about half a megabyte per
// chart, and a browser without Liberation substitutes a similar
// sans-serif, so text may be slightly wider or narrower than in the PNG.
// Chinese SVG output draws its text as glyph outlines (svgCanvas).
func newCanvas(format string, t typeset, w, h vg.Length) (vg.CanvasWriterTo, error) {
	switch format {
	case FormatPNG:
		return vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))}, nil
	case FormatSVG:
		return &svgCanvas{Canvas: vgsvg.New(w, h), outlineText: t.lang == LangZh}, nil
	}
	return nil, checkFormat(format)
}

// writeCanvas draws with paint onto a new w×h canvas and writes it to out.
func writeCanvas(out io.Writer, format string, t typeset, w, h vg.Length, paint func(draw.Canvas)) error {
	c, err := newCanvas(format, t, w, h)
	if err != nil {
		return err
	}
	paint(draw.New(c))
	if _, err := c.WriteTo(out); err != nil {
		return fmt.Errorf("viz: writing %s: %w", format, err)
	}
	return nil
}

// chartMargin keeps a chart's outermost glyphs (the last x tick label, a
// line's end) off the image edge.
const chartMargin = 14

// writePlot writes a single plot of w×h, inset by chartMargin on the right
// and a little at top and bottom.
func writePlot(out io.Writer, format string, t typeset, w, h vg.Length, p *plot.Plot) error {
	return writeCanvas(out, format, t, w, h, func(c draw.Canvas) { drawPlot(c, p) })
}

// drawPlot draws p into c, inset by chartMargin on the right and a little
// on the other sides.
func drawPlot(c draw.Canvas, p *plot.Plot) {
	p.BackgroundColor = nil // the canvas is already white
	p.Draw(plotArea(c))
}

// plotArea is the part of c that drawPlot draws a plot in.
func plotArea(c draw.Canvas) draw.Canvas {
	return draw.Crop(c, px(4), -px(chartMargin), px(4), -px(6))
}

// compact formats v in at most about four characters of mantissa: 7850 is
// "7.85k", 1606144 is "1.61M", 0.25 is "0.25", 25 is "25". Axis labels and
// bar labels use it so large parameter counts stay short.
func compact(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	a := math.Abs(v)
	for _, u := range []struct {
		scale  float64
		suffix string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if a >= u.scale {
			return trimFloat(v/u.scale, 3) + u.suffix
		}
	}
	if a != 0 && a < 1e-3 {
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
	return trimFloat(v, 3)
}

// trimFloat formats v with at most sig significant digits and no exponent
// for |v| in [1e-3, 1e3), dropping trailing zeros.
func trimFloat(v float64, sig int) string {
	if v == 0 {
		return "0"
	}
	digits := sig - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	if digits < 0 {
		digits = 0
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if digits > 0 {
		for s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		if s[len(s)-1] == '.' {
			s = s[:len(s)-1]
		}
	}
	return s
}

// niceTicks marks a linear axis with labelled ticks at multiples of a
// round step (1, 2 or 5 times a power of ten, giving three to seven labels)
// and unlabelled ticks between them.
type niceTicks struct{}

func (niceTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) || !finite(min) || !finite(max) {
		return []plot.Tick{{Value: min, Label: compact(min)}}
	}
	step, minor := niceStep((max - min) / 6)
	digits := max0(-int(math.Floor(math.Log10(step) + 1e-9)))
	big := math.Max(math.Abs(min), math.Abs(max)) >= 1e5
	label := func(v float64) string {
		if big {
			return compact(v)
		}
		return strconv.FormatFloat(v, 'f', digits, 64)
	}
	var ticks []plot.Tick
	eps := step * 1e-9
	for k := math.Ceil((min - eps) / minor); k*minor <= max+eps; k++ {
		v := k * minor
		t := plot.Tick{Value: v}
		if r := math.Round(v / step); math.Abs(v-r*step) < eps {
			v = r * step
			if v == 0 {
				v = 0 // not -0
			}
			t = plot.Tick{Value: v, Label: label(v)}
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// niceStep returns the round number (1, 2 or 5 × 10^k) nearest above
// raw, and the step of the unlabelled ticks between.
func niceStep(raw float64) (step, minor float64) {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch m := raw / p; {
	case m <= 1:
		return p, p / 5
	case m <= 2:
		return 2 * p, p / 2
	case m <= 5:
		return 5 * p, p
	default:
		return 10 * p, 2 * p
	}
}

func max0(n int) int { return max(n, 0) }

// decadeTicks marks a log axis: a labelled tick at each power of ten (every
// k-th one when there are more than eight) and unlabelled ticks at 2…9
// times each power when there are at most five decades.
type decadeTicks struct{}

func (decadeTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0 && max > min) {
		return nil
	}
	lo, hi := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	every := 1
	for (hi-lo)/every > 8 {
		every++
	}
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		v := math.Pow(10, float64(e))
		if v >= min*(1-1e-9) && v <= max*(1+1e-9) {
			t := plot.Tick{Value: v}
			if (e-lo)%every == 0 {
				t.Label = compact(v)
			}
			ticks = append(ticks, t)
		}
		if hi-lo > 5 {
			continue
		}
		for k := 2; k <= 9; k++ {
			if m := float64(k) * v; m >= min && m <= max {
				ticks = append(ticks, plot.Tick{Value: m})
			}
		}
	}
	return ticks
}

// decadeRange widens [lo, hi] (both > 0) to whole powers of ten, so a log
// axis always shows at least two labelled ticks.
func decadeRange(lo, hi float64) (float64, float64) {
	l := math.Pow(10, math.Floor(math.Log10(lo)))
	h := math.Pow(10, math.Ceil(math.Log10(hi)))
	if h <= l {
		h = l * 10
	}
	return l, h
}

// legendCorner places the legend in the corner of the data area that covers
// the fewest of the given points (in axis-normalised coordinates, 0–1), so
// a rising accuracy curve and a falling loss curve both stay visible.
// h is the legend's height as a fraction of the data area.
func legendCorner(p *plot.Plot, pts [][2]float64, h float64) {
	const w = 0.45
	best, bestCount := 0, math.MaxInt
	corners := []struct{ top, left bool }{{true, false}, {true, true}, {false, false}, {false, true}}
	for i, c := range corners {
		n := 0
		for _, q := range pts {
			inX := (c.left && q[0] <= w) || (!c.left && q[0] >= 1-w)
			inY := (c.top && q[1] >= 1-h) || (!c.top && q[1] <= h)
			if inX && inY {
				n++
			}
		}
		if n < bestCount {
			best, bestCount = i, n
		}
	}
	p.Legend.Top, p.Legend.Left = corners[best].top, corners[best].left
	p.Legend.XOffs, p.Legend.YOffs = -px(6), -px(6)
	if p.Legend.Left {
		p.Legend.XOffs = px(6)
	}
	if !p.Legend.Top {
		p.Legend.YOffs = px(6)
	}
}

// dashes are the line patterns series cycle through, so lines stay apart
// when printed in grey.
var dashes = [][]vg.Length{
	nil,
	{px(8), px(4)},
	{px(2), px(3)},
	{px(8), px(3), px(2), px(3)},
	{px(14), px(5)},
	{px(4), px(2), px(4), px(6)},
}

// seriesStyle returns the colour and dash pattern of the i-th series.
func seriesStyle(i int) (color.RGBA, []vg.Length) {
	return okabeIto[i%len(okabeIto)], dashes[i%len(dashes)]
}

func rgb(r, g, b uint8) color.RGBA { return color.RGBA{R: r, G: g, B: b, A: 0xff} }
