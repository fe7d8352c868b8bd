package viz

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var _ Chart = Surface{}

// Surface is a heat map of a quantity over a rectangle of the plane — a
// loss surface over two parameters — with paths drawn over it (the way
// gradient descent went), on real axes, 600 px wide with its colour bar
// underneath. Grid row 0 is at YMax and column 0 at XMin; its cells evenly
// divide the rectangle. With LogValues the grid holds log10 of the
// quantity and the colour bar is labelled with the quantity at each power
// of ten. The colour range is [Min, Max] when Min < Max, else the grid's
// finite range; viridis, as every heat map here. Each path is drawn with a
// white halo, so it shows on any colour of the map; points outside the
// rectangle are clipped at its edge. Its start gets a ring and its last
// point a filled marker.
type Surface struct {
	Title, XLabel, YLabel  string
	XMin, XMax, YMin, YMax float64
	Grid                   Grid
	LogValues              bool
	ColorLabel             string
	Min, Max               float64
	Paths                  []Series
}

// Surface layout in CSS pixels.
const (
	surfaceWidth  = 600
	surfaceHeight = 560
	surfaceBar    = 70 // colour bar with its ticks and label
)

func (s Surface) layout(t typeset) (*laidOut, error) {
	if err := s.Grid.check(); err != nil {
		return nil, err
	}
	if !(s.XMin < s.XMax && s.YMin < s.YMax) {
		return nil, fmt.Errorf("viz: surface range [%g, %g] × [%g, %g] is empty", s.XMin, s.XMax, s.YMin, s.YMax)
	}
	lo, hi := s.Min, s.Max
	if !(lo < hi) {
		var ok bool
		if lo, hi, ok = s.Grid.finiteRange(); !ok {
			return nil, errors.New("viz: surface has no finite value")
		}
		if lo == hi {
			lo, hi = lo-0.5, hi+0.5
		}
	}
	cm := newColorMap(PaletteViridis)
	cm.SetMin(lo)
	cm.SetMax(hi)

	p := newPlot(t, s.Title, s.XLabel, s.YLabel)
	h := plotter.NewHeatMap(surfaceXYZ{s}, cm.Palette(paletteSize))
	h.Min, h.Max = lo, hi
	h.Underflow, h.Overflow = cm.fn(0), cm.fn(1)
	h.NaN = missingColor
	h.Rasterized = true
	p.Add(cells{h})
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = s.XMin, s.XMax, s.YMin, s.YMax
	p.X.Padding, p.Y.Padding = 0, 0
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Legend.ThumbnailWidth = px(40)
	for i, sr := range s.Paths {
		if len(sr.X) != len(sr.Y) || len(sr.X) == 0 {
			return nil, fmt.Errorf("viz: surface path %q has %d x and %d y values", sr.Name, len(sr.X), len(sr.Y))
		}
		col, dash, shape := sr.style(i)
		xys := make(plotter.XYs, 0, len(sr.X))
		for k := range sr.X {
			if finite(sr.X[k]) && finite(sr.Y[k]) {
				xys = append(xys, plotter.XY{X: sr.X[k], Y: sr.Y[k]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		halo := &clippedLine{xys: xys, style: draw.LineStyle{Color: color.White, Width: px(5)}}
		line := &clippedLine{xys: xys, style: draw.LineStyle{Color: col, Width: px(2.5), Dashes: dash}}
		ends := &pathEnds{xys: xys, color: col, shape: shape}
		p.Add(halo, line, ends)
		if sr.Name != "" {
			p.Legend.Add(sr.Name, thumbs{line, ends})
		}
	}

	bar := newPlot(t, "", s.ColorLabel, "")
	bar.Add(&plotter.ColorBar{ColorMap: cm})
	bar.HideY()
	bar.X.Padding = 0
	if s.LogValues {
		bar.X.Tick.Marker = powerTicks{}
	} else {
		bar.X.Tick.Marker = niceTicks{}
	}
	w, hgt := px(surfaceWidth), px(surfaceHeight+surfaceBar)
	return &laidOut{w: w, h: hgt, draw: func(c draw.Canvas) {
		main := draw.Crop(c, px(4), -px(chartMargin), px(surfaceBar), -px(6))
		p.BackgroundColor = nil
		p.Draw(main)
		d := p.DataCanvas(main)
		band := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: c.Min.X, Y: c.Min.Y + px(4)},
			Max: vg.Point{X: c.Max.X, Y: c.Min.Y + px(surfaceBar-8)},
		}}
		bd := bar.DataCanvas(band)
		band.Min.X += d.Min.X - bd.Min.X
		band.Max.X += d.Max.X - bd.Max.X
		bar.BackgroundColor = nil
		bar.Draw(band)
	}}, nil
}

// surfaceXYZ adapts a Surface's grid to plotter.GridXYZ at the cell
// centres of its rectangle (gonum/plot's row 0 is at the bottom).
type surfaceXYZ struct{ s Surface }

func (a surfaceXYZ) Dims() (c, r int) { return a.s.Grid.Cols, a.s.Grid.Rows }
func (a surfaceXYZ) Z(c, r int) float64 {
	return a.s.Grid.At(a.s.Grid.Rows-1-r, c)
}
func (a surfaceXYZ) X(c int) float64 {
	return a.s.XMin + (float64(c)+0.5)*(a.s.XMax-a.s.XMin)/float64(a.s.Grid.Cols)
}
func (a surfaceXYZ) Y(r int) float64 {
	return a.s.YMin + (float64(r)+0.5)*(a.s.YMax-a.s.YMin)/float64(a.s.Grid.Rows)
}

// clippedLine is a polyline clipped to the data area (a path may leave
// the surface's rectangle: a step thrown off the cliff).
type clippedLine struct {
	xys   plotter.XYs
	style draw.LineStyle
}

func (l *clippedLine) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	pts := make([]vg.Point, len(l.xys))
	for i, q := range l.xys {
		pts[i] = vg.Point{X: trX(q.X), Y: trY(q.Y)}
	}
	if len(pts) == 1 {
		return
	}
	c.StrokeLines(l.style, c.ClipLinesXY(pts)...)
}

func (l *clippedLine) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
}

// pathEnds marks a path's start with a ring and its last point with its
// marker, each on a white disc; a point outside the rectangle is not
// marked.
type pathEnds struct {
	xys   plotter.XYs
	color color.RGBA
	shape draw.GlyphDrawer
}

func (e *pathEnds) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	mark := func(q plotter.XY, shape draw.GlyphDrawer, r vg.Length) {
		pt := vg.Point{X: trX(q.X), Y: trY(q.Y)}
		if !c.Contains(pt) {
			return
		}
		c.DrawGlyph(draw.GlyphStyle{Color: color.White, Radius: r + px(2), Shape: draw.CircleGlyph{}}, pt)
		c.DrawGlyph(draw.GlyphStyle{Color: e.color, Radius: r, Shape: shape}, pt)
	}
	mark(e.xys[0], draw.RingGlyph{}, px(6))
	mark(e.xys[len(e.xys)-1], e.shape, px(5))
}

func (e *pathEnds) Thumbnail(c *draw.Canvas) {
	c.DrawGlyph(draw.GlyphStyle{Color: e.color, Radius: px(4), Shape: e.shape}, c.Center())
}

// powerTicks labels a log10 axis with the quantity: a tick at each whole
// k labelled 10^k as 1e-5, 0.001, 0.1, 1, ….
type powerTicks struct{}

func (powerTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for k := math.Ceil(min - 1e-9); k <= max+1e-9; k++ {
		v := math.Pow(10, k)
		label := compact(v)
		if k < -3 {
			label = fmt.Sprintf("1e%d", int(k))
		}
		ticks = append(ticks, plot.Tick{Value: k, Label: label})
	}
	return ticks
}
