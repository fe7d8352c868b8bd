package viz

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Grid is a matrix of values, row-major, with row 0 drawn at the top as in
// an image: the value of row r, column c is Values[r*Cols+c]. A NaN value
// means missing or not yet computed and is drawn in MissingColor.
type Grid struct {
	Rows, Cols int
	Values     []float64
}

// At returns the value at row r, column c. It panics if r or c is out of
// range.
func (g Grid) At(r, c int) float64 {
	if r < 0 || r >= g.Rows || c < 0 || c >= g.Cols {
		panic(fmt.Sprintf("viz: cell (%d, %d) outside a %d×%d grid", r, c, g.Rows, g.Cols))
	}
	return g.Values[r*g.Cols+c]
}

// check returns an error if the grid is empty or its size disagrees with
// its values; grids come from run state, so a mismatch is data to report,
// not a reason to crash a server.
func (g Grid) check() error {
	if g.Rows <= 0 || g.Cols <= 0 {
		return fmt.Errorf("viz: grid is %d×%d, want at least 1×1", g.Rows, g.Cols)
	}
	if g.Rows*g.Cols != len(g.Values) {
		return fmt.Errorf("viz: %d×%d grid has %d values, want %d", g.Rows, g.Cols, len(g.Values), g.Rows*g.Cols)
	}
	return nil
}

// finiteRange returns the smallest and largest finite values, and false if
// there is none.
func (g Grid) finiteRange() (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range g.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return lo, hi, lo <= hi
}

// gridXYZ adapts a Grid to plotter.GridXYZ. gonum/plot puts row index 0 at
// the bottom, so plot row r shows grid row Rows-1-r.
type gridXYZ struct{ g Grid }

var _ plotter.GridXYZ = gridXYZ{}

func (a gridXYZ) Dims() (c, r int)   { return a.g.Cols, a.g.Rows }
func (a gridXYZ) Z(c, r int) float64 { return a.g.At(a.g.Rows-1-r, c) }
func (a gridXYZ) X(c int) float64    { return float64(c) }
func (a gridXYZ) Y(r int) float64    { return float64(r) }

// Panel is one heat map with its colour bar.
type Panel struct {
	Title string
	Grid  Grid
	// Diverging draws signed data (weights, gradients) with the diverging
	// palette over a range symmetric around zero, so zero is always the
	// neutral centre. Otherwise viridis spans the data's range.
	Diverging bool
	// Annotate writes each cell's value inside it; meant for small grids
	// such as a 3×3 kernel. Text shrinks with the cell and is left out
	// when cells are too small to hold it.
	Annotate       bool
	XLabel, YLabel string
	// Min and Max fix the colour range when Min < Max (to compare frames
	// of a run on one scale); otherwise the range comes from the finite
	// values. Values outside the range take the colour of its nearer end.
	Min, Max float64
}

// paletteSize is the number of discrete colours a heat map uses: about as
// many as an 8-bit channel can tell apart along viridis, and odd, so that
// zero on a symmetric diverging range gets exactly the neutral centre.
const paletteSize = 255

// colorRange returns the value range the panel's palette spans.
func (p Panel) colorRange() (lo, hi float64) {
	if p.Min < p.Max {
		lo, hi = p.Min, p.Max
	} else if l, h, ok := p.Grid.finiteRange(); ok {
		lo, hi = l, h
	} else if p.Diverging {
		return -1, 1 // nothing finite to scale by: every cell is missing
	} else {
		return 0, 1
	}
	if p.Diverging {
		m := math.Max(math.Abs(lo), math.Abs(hi))
		if m == 0 {
			m = 1
		}
		return -m, m
	}
	if lo == hi {
		// A constant grid is drawn mid-palette on a range around its value.
		d := math.Abs(lo) / 2
		if d == 0 {
			d = 0.5
		}
		return lo - d, hi + d
	}
	return lo, hi
}

// colorMap returns the panel's palette as a ColorMap over its range.
func (p Panel) colorMap() scale {
	name := PaletteViridis
	if p.Diverging {
		name = PaletteDiverging
	}
	m := newColorMap(name)
	lo, hi := p.colorRange()
	m.SetMin(lo)
	m.SetMax(hi)
	return scale{m}
}

// scale is a colour map over a panel's value range, with the heat map's
// quantisation.
type scale struct{ *colorMap }

// cellColor is the colour plotter.HeatMap gives value v: the nearest of
// paletteSize evenly spaced palette colours, the end colours beyond the
// range, MissingColor for NaN.
func (m scale) cellColor(v float64) color.RGBA {
	switch {
	case math.IsNaN(v):
		return missingColor
	case v <= m.min:
		return m.fn(0)
	case v >= m.max:
		return m.fn(1)
	}
	i := int((v-m.min)*float64(paletteSize-1)/(m.max-m.min) + 0.5)
	return m.fn(float64(i) / float64(paletteSize-1))
}

// rasterLimit is the most cells a heat map draws as vector rectangles.
const rasterLimit = 128 * 128

// HeatmapPlot returns the heat map of p as a plot: cells drawn as vector
// rectangles (an image for grids of more than 128×128 cells), row 0 at the top, ticks at cell centres labelled with row and
// column indices. Its colour bar is a separate plot (ColorBarPlot);
// WriteHeatmaps lays the two out together with square cells. It returns an
// error if p.Grid is empty or inconsistent. Its text is English
// (Liberation Sans).
func HeatmapPlot(p Panel) (*plot.Plot, error) { return heatmapPlot(english, p) }

func heatmapPlot(t typeset, p Panel) (*plot.Plot, error) {
	if err := p.Grid.check(); err != nil {
		return nil, err
	}
	m := p.colorMap()
	h := plotter.NewHeatMap(gridXYZ{p.Grid}, m.Palette(paletteSize))
	h.Min, h.Max = m.min, m.max
	h.Underflow, h.Overflow = m.fn(0), m.fn(1) // ±Inf and values beyond a fixed range
	h.NaN = missingColor
	// Past rasterLimit cells are about a pixel each: vector rectangles
	// would only make output slow and SVGs huge, and the image's smoothing
	// at cell edges no longer shows.
	h.Rasterized = p.Grid.Rows*p.Grid.Cols > rasterLimit

	pl := newPlot(t, p.Title, p.XLabel, p.YLabel)
	pl.Add(cells{h})
	pl.X.Padding, pl.Y.Padding = 0, 0
	pl.X.Tick.Marker = cellTicks{n: p.Grid.Cols}
	pl.Y.Tick.Marker = cellTicks{n: p.Grid.Rows, flip: true}
	if p.Annotate {
		pl.Add(cellLabels{text: t, grid: p.Grid, pal: m})
	}
	return pl, nil
}

// ColorBarPlot returns the horizontal colour bar of p: its palette over its
// value range, with the scale as the x axis. It returns an error if p.Grid
// is empty or inconsistent. Its text is English (Liberation Sans).
func ColorBarPlot(p Panel) (*plot.Plot, error) { return colorBarPlot(english, p) }

func colorBarPlot(t typeset, p Panel) (*plot.Plot, error) {
	if err := p.Grid.check(); err != nil {
		return nil, err
	}
	pl := newPlot(t, "", "", "")
	pl.Add(&plotter.ColorBar{ColorMap: p.colorMap().colorMap})
	pl.HideY()
	pl.X.Padding = 0
	pl.X.Tick.Marker = niceTicks{}
	return pl, nil
}

// cells is a HeatMap without glyph boxes. HeatMap gives every cell a
// 10-point box so the plot pads small cells away from the axes; our axes
// have no padding, the data area must be exactly whole cells, and walking
// a box per cell (250 000 for a 500×500 grid) on every layout pass is slow.
type cells struct{ h *plotter.HeatMap }

func (c cells) Plot(dc draw.Canvas, p *plot.Plot)           { c.h.Plot(dc, p) }
func (c cells) DataRange() (xmin, xmax, ymin, ymax float64) { return c.h.DataRange() }

// cellTicks puts ticks at the centres of n cells. Every cell gets a label
// when n ≤ 12; larger grids label every step-th cell (2, 5, 10, 20, 50, …,
// so at most about eight labels) and keep unlabelled ticks at each cell up
// to 64 cells. flip labels position k as row n-1-k for the y axis.
type cellTicks struct {
	n    int
	flip bool
}

func (t cellTicks) Ticks(min, max float64) []plot.Tick {
	step := 1
	if t.n > 12 {
		for _, s := range []int{2, 5, 10, 20, 50, 100, 200, 500, 1000} {
			step = s
			if t.n/s <= 8 {
				break
			}
		}
	}
	var ticks []plot.Tick
	for k := range t.n {
		idx := k
		if t.flip {
			idx = t.n - 1 - k
		}
		tk := plot.Tick{Value: float64(k)}
		if idx%step == 0 {
			tk.Label = strconv.Itoa(idx)
		} else if t.n > 64 {
			continue
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// cellLabels writes each cell's value inside it, in black or white
// whichever contrasts with the cell.
type cellLabels struct {
	text typeset
	grid Grid
	pal  scale
}

func (l cellLabels) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	cell := min(trX(1)-trX(0), trY(1)-trY(0))
	size := min(vg.Length(annotationSize), cell*0.3)
	if size < 5 {
		return // unreadable; the colour bar still gives the scale
	}
	sty := l.text.style(size)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	for r := range l.grid.Rows {
		for col := range l.grid.Cols {
			v := l.grid.At(r, col)
			s := cellText(v)
			if sty.Width(s) > cell*0.92 {
				continue
			}
			sty.Color = textColorOn(l.pal.cellColor(v))
			c.FillText(sty, vg.Point{X: trX(float64(col)), Y: trY(float64(l.grid.Rows - 1 - r))}, s)
		}
	}
}

// cellText formats a cell value in at most three significant digits.
func cellText(v float64) string {
	if math.IsNaN(v) {
		return "?"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1000 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return compact(v)
}

// textColorOn returns black or white, whichever has the higher WCAG
// contrast ratio against background bg.
func textColorOn(bg color.RGBA) color.Color {
	l := luminance(bg)
	if (l+0.05)/0.05 >= 1.05/(l+0.05) {
		return color.Black
	}
	return color.White
}

// luminance is the relative luminance (WCAG 2) of c, 0 black to 1 white.
func luminance(c color.RGBA) float64 {
	lin := func(u uint8) float64 {
		s := float64(u) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Heat-map layout in CSS pixels.
const (
	figureTitleBand   = 40 // above the panels when the figure has a title
	titleMargin       = 12 // between a figure title and the image's side
	colorBarBand      = 44 // colour bar with its tick labels
	colorBarGap       = 8  // between the heat map's x axis and the bar
	panelMarginLeft   = 6
	panelMarginRight  = 18 // room for the last x tick label
	panelMarginTop    = 6
	panelMarginBottom = 4
	maxDataAspect     = 1.5 // tallest data area, as height/width
	minDataExtent     = 48  // a data area narrower or shorter than this stretches its cells
	minColorBarWidth  = 180
)

// WriteHeatmaps draws panels side by side, each heat map with square cells
// above its colour bar, under an optional figure title, and writes the
// figure in format ("png" or "svg"). Each panel is 400 px wide (a title
// wider than the panels widens the figure, the panels centred under it);
// the height follows the grids' shapes. It returns an error for an unknown format, no
// panels, or an empty or inconsistent grid.
//
// Its text is English; Write with a Heatmaps draws the same chart in
// another language.
func WriteHeatmaps(w io.Writer, format, title string, panels ...Panel) error {
	return Write(w, format, "", Heatmaps{Title: title, Panels: panels})
}

// heatFigure is a laid-out WriteHeatmaps figure.
type heatFigure struct {
	text       typeset
	title      string
	w, h       vg.Length
	grids      []Grid
	heat, bars []*plot.Plot
	areas      []vg.Rectangle // each panel's heat-map area, colour bar below it
}

func layoutHeatmaps(t typeset, title string, panels []Panel) (*heatFigure, error) {
	if len(panels) == 0 {
		return nil, errors.New("viz: no heat-map panels to draw")
	}
	f := &heatFigure{
		text:  t,
		title: title,
		grids: make([]Grid, len(panels)),
		heat:  make([]*plot.Plot, len(panels)),
		bars:  make([]*plot.Plot, len(panels)),
	}
	for i, p := range panels {
		var err error
		if f.heat[i], err = heatmapPlot(t, p); err != nil {
			return nil, fmt.Errorf("viz: panel %d (%q): %w", i, p.Title, err)
		}
		if f.bars[i], err = colorBarPlot(t, p); err != nil {
			return nil, fmt.Errorf("viz: panel %d (%q): %w", i, p.Title, err)
		}
		f.grids[i] = p.Grid
	}

	// Find the height at which every panel's data area, at full panel
	// width, has square cells (capped for very tall grids).
	// Every size is a whole number of pixels (see heatCanvas).
	inner := float64(heatmapPanelWidth - panelMarginLeft - panelMarginRight)
	heatH := 0.0
	for i, g := range f.grids {
		probe := draw.Canvas{Rectangle: vg.Rectangle{Max: vg.Point{X: px(inner), Y: px(1000)}}}
		d := f.heat[i].DataCanvas(probe)
		dataH := toPx(d.Size().X) * math.Min(float64(g.Rows)/float64(g.Cols), maxDataAspect)
		heatH = math.Max(heatH, math.Ceil(1000-toPx(d.Size().Y)+math.Max(dataH, minDataExtent)))
	}
	top := float64(panelMarginTop)
	if title != "" {
		top = float64(figureTitleBand)
	}
	bottom := float64(colorBarGap + colorBarBand + panelMarginBottom)
	// A title wider than the panels widens the figure, the panels centred
	// under it, so that it is never cut off at the image's edges.
	width, left := float64(heatmapPanelWidth*len(panels)), 0.0
	if title != "" {
		if tw := math.Ceil(toPx(t.style(titleSize+1).Width(title))) + 2*titleMargin; tw > width {
			left = math.Round((tw - width) / 2)
			width = tw
		}
	}
	f.w = px(width)
	f.h = px(top + heatH + bottom)
	for i := range panels {
		x0 := left + float64(heatmapPanelWidth*i)
		f.areas = append(f.areas, vg.Rectangle{
			Min: vg.Point{X: px(x0 + panelMarginLeft), Y: px(bottom)},
			Max: vg.Point{X: px(x0 + heatmapPanelWidth - panelMarginRight), Y: px(bottom + heatH)},
		})
	}
	return f, nil
}

func (f *heatFigure) draw(c draw.Canvas) {
	if f.title != "" {
		sty := f.text.style(titleSize + 1)
		sty.YAlign = draw.YTop
		c.FillText(sty, vg.Point{X: f.w / 2, Y: f.h - px(8)}, f.title)
	}
	for i := range f.areas {
		hc := f.heatCanvas(c, i)
		f.heat[i].Draw(hc)
		hd := f.heat[i].DataCanvas(hc)
		// The bar sits just under the heat map's x axis, its data area
		// lined up with the cells above it.
		band := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: f.areas[i].Min.X, Y: hc.Min.Y - px(colorBarGap+colorBarBand)},
			Max: vg.Point{X: f.areas[i].Max.X, Y: hc.Min.Y - px(colorBarGap)},
		}}
		// Under a narrow heat map the bar is widened, centred, so its
		// scale stays legible.
		lo, hi := hd.Min.X, hd.Max.X
		if w := px(minColorBarWidth); hi-lo < w {
			mid := (lo + hi) / 2
			lo, hi = mid-w/2, mid+w/2
		}
		bd := f.bars[i].DataCanvas(band)
		band.Min.X += lo - bd.Min.X
		band.Max.X += hi - bd.Max.X
		f.bars[i].Draw(band)
	}
}

// heatCanvas returns the part of panel i's area in which its heat map has
// square cells, centred horizontally and held against the top. Cells are a
// whole number of pixels wide and the data area starts on a pixel
// boundary, so neighbouring cells meet exactly: with fractional edges,
// anti-aliasing would leave a faint light seam between every two cells.
// A grid so wide or tall that square cells would leave the data area
// under minDataExtent pixels across gets rectangular cells instead, so
// that its axis labels still fit.
func (f *heatFigure) heatCanvas(c draw.Canvas, i int) draw.Canvas {
	area := draw.Canvas{Canvas: c.Canvas, Rectangle: f.areas[i]}
	g := f.grids[i]
	d := f.heat[i].DataCanvas(area)
	availW, availH := toPx(d.Size().X), toPx(d.Size().Y)
	cell := math.Min(availW/float64(g.Cols), availH/float64(g.Rows))
	cw := math.Max(cell, math.Min(availW, minDataExtent)/float64(g.Cols))
	ch := math.Max(cell, math.Min(availH, minDataExtent)/float64(g.Rows))
	if cw >= 1 { // else: more cells than pixels, nothing to align
		cw = math.Floor(cw)
	}
	if ch >= 1 {
		ch = math.Floor(ch)
	}
	w, h := cw*float64(g.Cols), ch*float64(g.Rows)
	left := math.Round(toPx(d.Min.X) + (availW-w)/2)
	top := math.Floor(toPx(d.Max.Y))
	want := vg.Rectangle{Min: vg.Point{X: px(left), Y: px(top - h)}, Max: vg.Point{X: px(left + w), Y: px(top)}}
	// The data area moves with the canvas, except that tick labels wider
	// than a cell can change the padding; more passes absorb that.
	for range 3 {
		area = draw.Crop(area, want.Min.X-d.Min.X, want.Max.X-d.Max.X, want.Min.Y-d.Min.Y, want.Max.Y-d.Max.Y)
		d = f.heat[i].DataCanvas(area)
	}
	return area
}

// toPx converts a vg.Length to pixels at DPI.
func toPx(l vg.Length) float64 { return float64(l) * DPI / 72 }
