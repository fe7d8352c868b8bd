package viz

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BarGroup is one coloured set of bars, one value per category: for
// example the parameter counts of a dense layer across several input
// sizes.
type BarGroup struct {
	Label  string
	Values []float64
}

// WriteBars draws grouped bars — for each category one bar per group, side
// by side, each group in its own Okabe–Ito colour and named in the legend
// — with each bar's value written above it (unless the label would run
// into a neighbour's: the first group's labels come first), and writes the
// chart in format ("png" or "svg"), 640×400 px. With logY the value axis
// is logarithmic, so counts that differ by orders of magnitude (dense
// against shared weights) can be read on one chart; it starts below the
// smallest value, so every bar has a height. It returns an error for an
// unknown format, no categories or groups, a group whose number of values
// differs from the number of categories, a NaN or infinite value, or a
// value ≤ 0 with logY.
//
// Its text is English; Write with a BarChart draws the same chart in
// another language.
func WriteBars(w io.Writer, format, title, yLabel string, categories []string, logY bool, groups ...BarGroup) error {
	return Write(w, format, "", BarChart{Title: title, YLabel: yLabel, Categories: categories, LogY: logY, Groups: groups})
}

// barSpan is the fraction of each category's slot that its bars fill.
const barSpan = 0.8

func barsPlot(t typeset, c BarChart) (*plot.Plot, error) {
	title, yLabel, categories, logY, groups := c.Title, c.YLabel, c.Categories, c.LogY, c.Groups
	if len(categories) == 0 {
		return nil, errors.New("viz: no bar categories")
	}
	if len(groups) == 0 {
		return nil, errors.New("viz: no bar groups to draw")
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, g := range groups {
		if len(g.Values) != len(categories) {
			return nil, fmt.Errorf("viz: bar group %q has %d values for %d categories", g.Label, len(g.Values), len(categories))
		}
		for k, v := range g.Values {
			if !finite(v) {
				return nil, fmt.Errorf("viz: bar group %q, category %q: value %g is not finite", g.Label, categories[k], v)
			}
			if logY && v <= 0 {
				return nil, fmt.Errorf("viz: bar group %q, category %q: value %g on a log axis, want > 0", g.Label, categories[k], v)
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}

	p := newPlot(t, title, "", yLabel)
	p.Legend.ThumbnailWidth = px(18)
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil // categories need no vertical rules
	grid.Horizontal.Color = lightGrey
	p.Add(grid)

	// Leave headroom above the tallest bar for its label and the legend.
	var base float64
	if logY {
		least := lo
		lo, hi = decadeRange(lo, hi)
		if lo >= least {
			// The smallest value is a power of ten: a bar standing on
			// the axis at its own value would have no height.
			lo /= 10
		}
		if hi/lo < 100 {
			hi *= 10 // one decade is too little to read a log axis
		}
		hi *= 3
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = decadeTicks{}
		base = lo
	} else {
		lo, hi = math.Min(lo, 0), math.Max(hi, 0)
		pad := (hi - lo) * 0.22
		if pad == 0 {
			pad = 1
		}
		if hi > 0 {
			hi += pad
		}
		if lo < 0 {
			lo -= pad
		}
		p.Y.Tick.Marker = niceTicks{}
	}
	p.Y.Min, p.Y.Max = lo, hi

	var tops [][2]float64
	placed := new([]vg.Rectangle) // the value labels drawn so far, shared by the groups
	for i, g := range groups {
		col, _ := seriesStyle(i)
		b := &groupBars{
			text:   t,
			values: g.Values, base: base, color: col, labelMin: c.LabelMin,
			first: i == 0, placed: placed,
			offset: barSpan*(float64(i)+0.5)/float64(len(groups)) - barSpan/2,
			width:  barSpan / float64(len(groups)),
		}
		p.Add(b)
		if g.Label != "" {
			p.Legend.Add(g.Label, b)
		}
		for k, v := range g.Values {
			x := (float64(k) + 0.5 + b.offset) / float64(len(categories))
			tops = append(tops, [2]float64{x, unit(math.Max(v, base), lo, hi, logY)}, [2]float64{x, unit(base, lo, hi, logY)})
		}
	}
	p.NominalX(categories...)
	if k := (len(categories) + maxCategoryLabels - 1) / maxCategoryLabels; k > 1 {
		// Many bars: every k-th is named, so that the names do not run
		// into each other (every bar keeps its tick).
		ticks := make([]plot.Tick, len(categories))
		for i, name := range categories {
			ticks[i] = plot.Tick{Value: float64(i)}
			if i%k == 0 {
				ticks[i].Label = name
			}
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	p.X.Min, p.X.Max = -0.5, float64(len(categories))-0.5
	p.X.Padding, p.Y.Padding = 0, 0 // bars stand on the x axis
	legendCorner(p, tops, float64(len(groups))*16/320+0.04)
	return p, nil
}

// maxCategoryLabels is how many category names fit under a bar chart
// side by side (short names such as "#12").
const maxCategoryLabels = 20

// groupBars draws one group's bars, one per category, from base to each
// value, and writes the value above the bar.
type groupBars struct {
	text          typeset
	values        []float64
	base          float64 // 0, or the bottom of a log axis
	labelMin      float64 // bars whose |value| is below it get no label
	color         color.Color
	offset, width float64 // in category units
	// placed are the value labels the chart's groups have drawn, so that
	// a label that would overlap one is left out; the first group, drawn
	// first, starts the list afresh.
	first  bool
	placed *[]vg.Rectangle
}

var (
	_ plot.Plotter     = (*groupBars)(nil)
	_ plot.Thumbnailer = (*groupBars)(nil)
)

func (b *groupBars) Plot(c draw.Canvas, plt *plot.Plot) {
	if b.first {
		*b.placed = (*b.placed)[:0]
	}
	trX, trY := plt.Transforms(&c)
	sty := b.text.style(8.5)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
	for k, v := range b.values {
		x0 := trX(float64(k) + b.offset - b.width/2)
		x1 := trX(float64(k) + b.offset + b.width/2)
		// A small gap between neighbouring bars keeps them apart.
		gap := min(px(1.5), (x1-x0)/8)
		x0, x1 = x0+gap, x1-gap
		y0, y1 := trY(b.base), trY(v)
		c.FillPolygon(b.color, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		if math.Abs(v) < b.labelMin {
			continue
		}
		label := compact(v)
		if sty.Width(label) > (x1-x0)*1.6 {
			continue // would run into the neighbouring bar's label
		}
		y := y1 + px(2)
		if v < b.base {
			y = y1 - px(2) - sty.Height(label)
		}
		// Nor into a neighbouring group's label at the same height.
		lw, lh := sty.Width(label), sty.Height(label)
		box := vg.Rectangle{Min: vg.Point{X: (x0+x1)/2 - lw/2, Y: y}, Max: vg.Point{X: (x0+x1)/2 + lw/2, Y: y + lh}}
		if slices.ContainsFunc(*b.placed, func(r vg.Rectangle) bool { return overlaps(r, box) }) {
			continue
		}
		*b.placed = append(*b.placed, box)
		c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: y}, label)
	}
}

// overlaps reports whether a and b share more than an edge.
func overlaps(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

func (b *groupBars) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{
		{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y},
		{X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y},
	}
	c.FillPolygon(b.color, c.ClipPolygonY(pts))
}
