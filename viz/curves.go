package viz

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one named curve: Y[i] at X[i]. Its colour, dash pattern and
// marker shape are those of its position among the chart's series, unless
// Style chooses them.
type Series struct {
	Name string
	X, Y []float64
	// Style, when not nil, gives the series the look it names instead of
	// its position's, so that several curves can share a colour: one
	// model's training and test accuracy, told apart by their dashes.
	Style *Style
}

// Style is a series' look by index: Color into the Okabe–Ito palette
// (SeriesColors: 0 blue, 1 vermillion, 2 bluish green, …), Dash into the
// dash patterns (0 solid, 1 long dashes, 2 dots, …) and Marker into the
// marker shapes (0 circle, 1 square, 2 triangle, …). The n-th series
// without a Style has Style{n, n, n}; indices wrap around.
type Style struct{ Color, Dash, Marker int }

// style returns the colour, dash pattern and marker of the i-th series s.
func (s Series) style(i int) (color.RGBA, []vg.Length, draw.GlyphDrawer) {
	st := Style{i, i, i}
	if s.Style != nil {
		st = *s.Style
	}
	return okabeIto[mod(st.Color, len(okabeIto))], dashes[mod(st.Dash, len(dashes))], markers[mod(st.Marker, len(markers))]
}

// mod is i modulo n, in [0, n).
func mod(i, n int) int { return (i%n + n) % n }

// markerLimit is the most points a series may have and still get a marker
// at each point; denser curves are plain lines.
const markerLimit = 30

// markers are the point shapes series cycle through.
var markers = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{},
	draw.PyramidGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{},
}

// WriteLines draws series as lines on one set of axes — loss and accuracy
// curves, gradient norms over time (logY), accuracy per shift — and writes
// the chart in format ("png" or "svg"), 640×400 px. Each series has its
// own Okabe–Ito colour and dash pattern (or those its Style names), so
// lines can be told apart by colour-blind readers and in grey print;
// series of at most 30 points also get point markers. Points that cannot be drawn — NaN or ±Inf, and y ≤ 0
// on a log axis — leave a gap in their line, so a loss that blew up shows
// where it stopped. It returns an error for an unknown format, no series,
// a series with no points or with len(X) ≠ len(Y), or when no point at all
// can be drawn.
//
// Its text is English; Write with a LineChart draws the same chart in
// another language.
func WriteLines(w io.Writer, format, title, xLabel, yLabel string, logY bool, series ...Series) error {
	return Write(w, format, "", LineChart{Title: title, XLabel: xLabel, YLabel: yLabel, LogY: logY, Series: series})
}

func linesPlot(t typeset, title, xLabel, yLabel string, logY bool, series []Series) (*plot.Plot, error) {
	if len(series) == 0 {
		return nil, errors.New("viz: no series to draw")
	}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	runs := make([][]plotter.XYs, len(series))
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("viz: series %q has %d x values and %d y values", s.Name, len(s.X), len(s.Y))
		}
		if len(s.X) == 0 {
			return nil, fmt.Errorf("viz: series %q has no points", s.Name)
		}
		var run plotter.XYs
		for k := range s.X {
			x, y := s.X[k], s.Y[k]
			if !finite(x) || !finite(y) || (logY && y <= 0) {
				if len(run) > 0 {
					runs[i] = append(runs[i], run)
					run = nil
				}
				continue
			}
			run = append(run, plotter.XY{X: x, Y: y})
			xlo, xhi = math.Min(xlo, x), math.Max(xhi, x)
			ylo, yhi = math.Min(ylo, y), math.Max(yhi, y)
		}
		if len(run) > 0 {
			runs[i] = append(runs[i], run)
		}
	}
	if xlo > xhi {
		if logY {
			return nil, errors.New("viz: no point to draw: every y is NaN, infinite or, on a log axis, not positive")
		}
		return nil, errors.New("viz: no point to draw: every x or y is NaN or infinite")
	}

	p := newPlot(t, title, xLabel, yLabel)
	p.Legend.ThumbnailWidth = px(40)
	grid := plotter.NewGrid()
	grid.Vertical.Color = lightGrey
	grid.Horizontal.Color = lightGrey
	p.Add(grid)
	p.X.Tick.Marker = niceTicks{}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = decadeTicks{}
		ylo, yhi = decadeRange(ylo, yhi)
		p.Y.Min, p.Y.Max = ylo, yhi
	} else {
		p.Y.Tick.Marker = niceTicks{}
	}

	var drawn plotter.XYs
	for i, s := range series {
		col, dash, shape := s.style(i)
		var first plot.Thumbnailer
		for _, run := range runs[i] {
			l, err := plotter.NewLine(run)
			if err != nil {
				return nil, fmt.Errorf("viz: series %q: %w", s.Name, err)
			}
			l.Color, l.Dashes, l.Width = col, dash, px(2)
			p.Add(l)
			if first == nil {
				first = l
			}
			if len(s.X) <= markerLimit {
				sc, err := plotter.NewScatter(run)
				if err != nil {
					return nil, fmt.Errorf("viz: series %q: %w", s.Name, err)
				}
				sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: px(3.5), Shape: shape}
				p.Add(sc)
				first = thumbs{l, sc}
			}
			drawn = append(drawn, run...)
		}
		if s.Name != "" && first != nil {
			p.Legend.Add(s.Name, first)
		}
	}
	norm := make([][2]float64, len(drawn))
	for k, q := range drawn {
		norm[k] = [2]float64{unit(q.X, xlo, xhi, false), unit(q.Y, ylo, yhi, logY)}
	}
	legendCorner(p, norm, legendFraction(series))
	return p, nil
}

// lightGrey draws grid lines that guide the eye without competing with data.
var lightGrey = rgb(0xdd, 0xdd, 0xdd)

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// thumbs draws several legend thumbnails on top of each other (line and
// marker).
type thumbs []plot.Thumbnailer

func (t thumbs) Thumbnail(c *draw.Canvas) {
	for _, th := range t {
		th.Thumbnail(c)
	}
}

// legendFraction estimates the legend's height as a fraction of the data
// area of a 640×400 chart: one entry is about 16 px of about 320.
func legendFraction(series []Series) float64 {
	n := 0
	for _, s := range series {
		if s.Name != "" {
			n++
		}
	}
	return float64(n)*16/320 + 0.04
}

// unit maps v in [lo, hi] to [0, 1], logarithmically if logScale.
func unit(v, lo, hi float64, logScale bool) float64 {
	if hi == lo {
		return 0.5
	}
	if logScale {
		return math.Log(v/lo) / math.Log(hi/lo)
	}
	return (v - lo) / (hi - lo)
}
