package viz

import (
	"errors"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot/palette"
)

// Palette names accepted by PaletteAnchors.
const (
	PaletteViridis   = "viridis"
	PaletteDiverging = "diverging"
)

// viridisAnchors samples matplotlib's viridis colour map (Nathaniel Smith and
// Stéfan van der Walt, released under CC0; table _viridis_data in
// matplotlib/_cm_listed.py) at every fifth of its 256 entries: indices 0, 5,
// …, 255, each channel rounded to the nearest of 0–255. Fifty-two anchors
// are more than strictly needed, but with them linear interpolation in RGB
// reproduces all 256 published entries to within one unit per channel
// (eighteen anchors would be off by up to five near the yellow end).
var viridisAnchors = [][3]uint8{
	{68, 1, 84}, {70, 8, 92}, {71, 16, 99}, {72, 23, 105},
	{72, 29, 111}, {72, 36, 117}, {71, 42, 122}, {70, 48, 126},
	{69, 55, 129}, {67, 61, 132}, {65, 66, 135}, {63, 72, 137},
	{61, 78, 138}, {58, 83, 139}, {56, 89, 140}, {53, 94, 141},
	{51, 99, 141}, {49, 104, 142}, {46, 109, 142}, {44, 113, 142},
	{42, 118, 142}, {41, 123, 142}, {39, 128, 142}, {37, 132, 142},
	{35, 137, 142}, {33, 142, 141}, {32, 146, 140}, {31, 151, 139},
	{30, 156, 137}, {31, 161, 136}, {33, 165, 133}, {36, 170, 131},
	{40, 174, 128}, {46, 179, 124}, {53, 183, 121}, {61, 188, 116},
	{70, 192, 111}, {80, 196, 106}, {90, 200, 100}, {101, 203, 94},
	{112, 207, 87}, {124, 210, 80}, {137, 213, 72}, {149, 216, 64},
	{162, 218, 55}, {176, 221, 47}, {189, 223, 38}, {202, 225, 31},
	{216, 226, 25}, {229, 228, 25}, {241, 229, 29}, {253, 231, 37},
}

// divergingAnchors is ColorBrewer's 11-class PuOr (Cynthia Brewer, Mark
// Harrower and The Pennsylvania State University, colorbrewer2.org, Apache
// 2.0 licence; the same values as gonum.org/v1/plot/palette/brewer), listed
// from purple to orange: negative values are purple, zero is the
// near-white centre #f7f7f7, positive values are orange. ColorBrewer rates
// PuOr as safe for colour-blind readers; unlike red–green maps its two arms
// differ in the blue–yellow direction that dichromats still see.
var divergingAnchors = [][3]uint8{
	{0x2d, 0x00, 0x4b}, {0x54, 0x27, 0x88}, {0x80, 0x73, 0xac},
	{0xb2, 0xab, 0xd2}, {0xd8, 0xda, 0xeb}, {0xf7, 0xf7, 0xf7},
	{0xfe, 0xe0, 0xb6}, {0xfd, 0xb8, 0x63}, {0xe0, 0x82, 0x14},
	{0xb3, 0x58, 0x06}, {0x7f, 0x3b, 0x08},
}

// missingColor marks a heat-map cell whose value is NaN (missing or not yet
// computed). A mid grey is not a colour of either palette: viridis has no
// grey, and PuOr's neutral centre is near-white, much lighter than this.
var missingColor = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}

// okabeIto is the Okabe–Ito qualitative palette (Masataka Okabe and Kei Ito,
// "Color Universal Design", 2008), in the order series use it. Yellow comes
// last because it is hard to see on white.
var okabeIto = []color.RGBA{
	{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}, // blue
	{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff}, // vermillion
	{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}, // bluish green
	{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff}, // orange
	{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff}, // reddish purple
	{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff}, // sky blue
	{R: 0x00, G: 0x00, B: 0x00, A: 0xff}, // black
	{R: 0xf0, G: 0xe4, B: 0x42, A: 0xff}, // yellow
}

// PaletteAnchors returns a copy of the anchor colours of the named palette
// (PaletteViridis or PaletteDiverging), or nil for an unknown name. The
// anchors are evenly spaced over t in [0, 1]: anchor i sits at
// t = i/(len-1). Viridis and Diverging interpolate between neighbouring
// anchors linearly in RGB and round each channel to the nearest integer;
// the browser mirrors the same table and rule so that screen and PNG agree.
func PaletteAnchors(name string) [][3]uint8 {
	switch name {
	case PaletteViridis:
		return append([][3]uint8(nil), viridisAnchors...)
	case PaletteDiverging:
		return append([][3]uint8(nil), divergingAnchors...)
	}
	return nil
}

// Viridis returns the viridis colour at t in [0, 1] (0 dark purple, 1
// yellow). t outside [0, 1] is clamped; NaN gives MissingColor.
func Viridis(t float64) color.RGBA { return interpolate(viridisAnchors, t) }

// Diverging returns the purple–white–orange colour at t in [0, 1]: 0 is the
// darkest purple, 0.5 the neutral centre, 1 the darkest orange. t outside
// [0, 1] is clamped; NaN gives MissingColor.
func Diverging(t float64) color.RGBA { return interpolate(divergingAnchors, t) }

// MissingColor is the colour of a heat-map cell whose value is NaN.
func MissingColor() color.RGBA { return missingColor }

// SeriesColors returns a copy of the Okabe–Ito colours that line and bar
// charts give their series, in order; series past the eighth reuse them.
func SeriesColors() []color.RGBA { return append([]color.RGBA(nil), okabeIto...) }

// interpolate evaluates an evenly spaced anchor table at t: with n anchors,
// pos = t·(n−1), i = ⌊pos⌋ (at most n−2), f = pos−i, and each channel is
// round(a[i] + (a[i+1]−a[i])·f).
func interpolate(anchors [][3]uint8, t float64) color.RGBA {
	if math.IsNaN(t) {
		return missingColor
	}
	t = min(max(t, 0), 1)
	pos := t * float64(len(anchors)-1)
	i := min(int(pos), len(anchors)-2)
	f := pos - float64(i)
	a, b := anchors[i], anchors[i+1]
	var c [3]uint8
	for k := range c {
		c[k] = uint8(math.Round(float64(a[k]) + (float64(b[k])-float64(a[k]))*f))
	}
	return color.RGBA{R: c[0], G: c[1], B: c[2], A: 0xff}
}

// ViridisPalette returns n viridis colours evenly spaced from t = 0 to
// t = 1, as a gonum/plot palette. It panics if n < 2.
func ViridisPalette(n int) palette.Palette { return newColorMap(PaletteViridis).Palette(n) }

// DivergingPalette returns n purple–white–orange colours evenly spaced from
// t = 0 to t = 1, as a gonum/plot palette. An odd n puts the neutral centre
// exactly in the middle. It panics if n < 2.
func DivergingPalette(n int) palette.Palette { return newColorMap(PaletteDiverging).Palette(n) }

// ViridisMap returns a gonum/plot ColorMap over [0, 1] backed by Viridis;
// change the range with SetMin and SetMax.
func ViridisMap() palette.ColorMap { return newColorMap(PaletteViridis) }

// DivergingMap returns a gonum/plot ColorMap over [-1, 1] backed by
// Diverging; the neutral centre is at the middle of [Min, Max], so keep the
// range symmetric around zero.
func DivergingMap() palette.ColorMap { return newColorMap(PaletteDiverging) }

// colorMap implements palette.ColorMap over an anchor table.
type colorMap struct {
	fn       func(float64) color.RGBA
	min, max float64
	alpha    float64
}

var _ palette.ColorMap = (*colorMap)(nil)

func newColorMap(name string) *colorMap {
	switch name {
	case PaletteViridis:
		return &colorMap{fn: Viridis, min: 0, max: 1, alpha: 1}
	case PaletteDiverging:
		return &colorMap{fn: Diverging, min: -1, max: 1, alpha: 1}
	}
	panic("viz: unknown palette " + name)
}

// errOutOfRange mirrors the error gonum/plot's own colour maps return.
var errOutOfRange = errors.New("viz: value outside the colour map's range")

// At returns the colour of v, or an error if v is outside [Min, Max] or NaN.
func (m *colorMap) At(v float64) (color.Color, error) {
	if !(v >= m.min && v <= m.max) {
		return nil, errOutOfRange
	}
	if m.max <= m.min {
		return nil, fmt.Errorf("viz: empty colour map range [%g, %g]", m.min, m.max)
	}
	return withAlpha(m.fn((v-m.min)/(m.max-m.min)), m.alpha), nil
}

// withAlpha scales c to opacity a; color.RGBA holds premultiplied channels.
func withAlpha(c color.RGBA, a float64) color.RGBA {
	if a == 1 {
		return c
	}
	return color.RGBA{
		R: uint8(math.Round(float64(c.R) * a)),
		G: uint8(math.Round(float64(c.G) * a)),
		B: uint8(math.Round(float64(c.B) * a)),
		A: uint8(math.Round(255 * a)),
	}
}

func (m *colorMap) Max() float64     { return m.max }
func (m *colorMap) SetMax(v float64) { m.max = v }
func (m *colorMap) Min() float64     { return m.min }
func (m *colorMap) SetMin(v float64) { m.min = v }
func (m *colorMap) Alpha() float64   { return m.alpha }

// SetAlpha sets the opacity; it panics if a is outside [0, 1].
func (m *colorMap) SetAlpha(a float64) {
	if !(a >= 0 && a <= 1) {
		panic(fmt.Sprintf("viz: alpha %g outside [0, 1]", a))
	}
	m.alpha = a
}

// Palette returns n colours evenly spaced over the whole map, independent of
// Min and Max. It panics if n < 2.
func (m *colorMap) Palette(n int) palette.Palette {
	if n < 2 {
		panic(fmt.Sprintf("viz: palette of %d colours, need at least 2", n))
	}
	p := make(colors, n)
	for i := range p {
		p[i] = withAlpha(m.fn(float64(i)/float64(n-1)), m.alpha)
	}
	return p
}

// colors is a fixed palette.
type colors []color.Color

func (c colors) Colors() []color.Color { return c }
