package viz

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var _ Chart = Figure{}

// Figure tiles several charts into one image: Charts fill a grid of Cols
// columns row by row (Cols ≤ 0 puts them all in one row), under an
// optional Title. Every cell has the width of the widest chart and the
// height of the tallest, and a nil chart leaves its cell blank. Line and
// bar charts stretch to fill their cell; in a figure of only line and bar
// charts their plot areas line up along rows and columns (gonum's
// plot.Align), and a blank cell lends room to its neighbours' axis labels.
// Heat maps and nested figures keep their natural size, centred at the
// top of their cell.
type Figure struct {
	Title  string
	Cols   int
	Charts []Chart
}

func (f Figure) layout(t typeset) (*laidOut, error) {
	g, err := f.tile(t)
	if err != nil {
		return nil, err
	}
	return &laidOut{w: g.w, h: g.h, draw: g.draw}, nil
}

// tile lays out the charts of f in their grid.
func (f Figure) tile(t typeset) (*tiled, error) {
	n := len(f.Charts)
	cols := f.Cols
	if cols <= 0 || cols > n {
		cols = n
	}
	kids := make([]*laidOut, n)
	var cellW, cellH vg.Length
	for i, c := range f.Charts {
		if c == nil {
			continue
		}
		k, err := c.layout(t)
		if err != nil {
			return nil, fmt.Errorf("viz: figure chart %d: %w", i, err)
		}
		kids[i] = k
		cellW, cellH = max(cellW, k.w), max(cellH, k.h)
	}
	if cellW == 0 {
		return nil, errors.New("viz: figure has no charts to draw")
	}
	g := &tiled{
		title: f.Title, t: t, kids: kids, cols: cols, rows: (n + cols - 1) / cols,
		cellW: cellW, cellH: cellH,
	}
	if f.Title != "" {
		g.top = px(figureTitleBand)
	}
	g.w, g.h = vg.Length(cols)*cellW, vg.Length(g.rows)*cellH+g.top
	return g, nil
}

// tiled is a laid-out Figure.
type tiled struct {
	title        string
	t            typeset
	kids         []*laidOut // nil for a blank cell
	cols, rows   int
	cellW, cellH vg.Length
	top          vg.Length // title band
	w, h         vg.Length
}

// canvases returns the canvas each chart is drawn into, given the
// figure's canvas c whose rectangle is (0, 0)–(w, h). When every chart is
// a line or bar chart (or blank), plot.Align adjusts their cells so that
// data areas line up along rows and columns and have one size; a blank
// cell gives up the room its neighbours need. Otherwise each line or bar
// chart fills its cell, and heat maps and nested figures get a canvas of
// their natural size, centred at the top of their cell, a whole number of
// pixels from its corner (heat-map cells must stay on pixel boundaries).
func (g *tiled) canvases(c draw.Canvas) []draw.Canvas {
	grid := draw.Crop(c, 0, 0, 0, -g.top)
	tiles := draw.Tiles{Rows: g.rows, Cols: g.cols}
	onlyPlots := true
	plots := make([][]*plot.Plot, g.rows)
	for r := range plots {
		plots[r] = make([]*plot.Plot, g.cols)
	}
	for i, k := range g.kids {
		if k != nil {
			plots[i/g.cols][i%g.cols] = k.plot
			onlyPlots = onlyPlots && k.plot != nil
		}
	}
	var aligned [][]draw.Canvas
	if onlyPlots {
		aligned = plot.Align(plots, tiles, grid)
	}
	out := make([]draw.Canvas, len(g.kids))
	for i, k := range g.kids {
		r, col := i/g.cols, i%g.cols
		cell := tiles.At(grid, col, r)
		switch {
		case k == nil:
		case onlyPlots:
			out[i] = aligned[r][col]
		case k.plot != nil:
			out[i] = cell
		default:
			x := cell.Min.X + px(math.Round(toPx(g.cellW-k.w)/2))
			y := cell.Max.Y - k.h
			out[i] = draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: y}, Max: vg.Point{X: x + k.w, Y: y + k.h}}}
		}
	}
	return out
}

func (g *tiled) draw(c draw.Canvas) {
	if g.title != "" {
		sty := g.t.style(titleSize + 1)
		sty.YAlign = draw.YTop
		c.FillText(sty, vg.Point{X: g.w / 2, Y: g.h - px(8)}, g.title)
	}
	for i, cc := range g.canvases(c) {
		k := g.kids[i]
		switch {
		case k == nil:
		case k.plot != nil:
			k.draw(cc)
		default:
			// k draws from (0, 0): move the origin to its corner.
			c.Push()
			c.Translate(cc.Min)
			k.draw(draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Max: cc.Size()}})
			c.Pop()
		}
	}
}
