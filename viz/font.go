package viz

import (
	_ "embed" // the CJK font subset
	"fmt"
	"image/color"
	"sync"

	xfont "golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

//go:generate /usr/bin/python3 cjkfont/gen.py

// LangZh is the lang that sets a chart's text in Chinese type (简体中文);
// every other lang, "en" or "" for example, gives Liberation Sans.
const LangZh = "zh"

// cjkTTF is a subset of Noto Sans CJK SC Regular (SIL Open Font License
// 1.1): ASCII, Latin-1, Greek, chart symbols, CJK punctuation and the
// 6,763 hanzi of GB2312, with TrueType outlines. cjkfont/README.md says
// where it comes from and how to regenerate it.
//
//go:embed cjkfont/NotoSansCJKsc-subset.ttf
var cjkTTF []byte

var (
	sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	cjkFont  = font.Font{Typeface: "Noto Sans CJK SC", Variant: "Sans"}
)

// cjkFace parses the embedded font once, on first use, so that programs
// that never draw Chinese never pay for it.
var cjkFace = sync.OnceValue(func() *opentype.Font {
	f, err := opentype.Parse(cjkTTF)
	if err != nil {
		panic(fmt.Sprintf("viz: embedded CJK font: %v", err)) // the committed file is broken
	}
	return f
})

// cjkHandler lays out text in the CJK font. Its cache holds only that font,
// so a style naming any other font would fall back to it.
var cjkHandler = sync.OnceValue(func() text.Handler {
	return text.Plain{Fonts: font.NewCache(font.Collection{{Font: cjkFont, Face: cjkFace()}})}
})

// MissingGlyphs returns the characters of s that the Chinese chart font
// (the font of lang LangZh) has no glyph for, each once, in order of first
// appearance; line breaks are not counted. Such characters are drawn as
// boxes. Packages with Chinese chart text can assert in a test that
// MissingGlyphs of each string is empty.
func MissingGlyphs(s string) []rune {
	f := cjkFace()
	var buf sfnt.Buffer
	var missing []rune
	seen := map[rune]bool{}
	for _, r := range s {
		if r == '\n' || seen[r] {
			continue
		}
		seen[r] = true
		if i, err := f.GlyphIndex(&buf, r); err != nil || i == 0 {
			missing = append(missing, r)
		}
	}
	return missing
}

// typeset is the font and text handler of all the text of one chart.
type typeset struct {
	lang    string
	font    font.Font
	handler text.Handler
	// legendGap is the space between legend entries. gonum/plot spaces
	// them by about 0.87 em, enough for Latin text but not for hanzi,
	// which fill nearly the whole em.
	legendGap vg.Length
}

// english is Liberation Sans through gonum/plot's default handler, exactly
// as plot.New sets text, so English output does not depend on lang support.
var english = typeset{font: sansFont, handler: plot.DefaultTextHandler}

// typesetFor returns the typeset of lang: the CJK font for LangZh (its
// Latin letters and digits are used too, so a chart is set in one face),
// Liberation Sans otherwise.
func typesetFor(lang string) typeset {
	if lang == LangZh {
		return typeset{lang: LangZh, font: cjkFont, handler: cjkHandler(), legendGap: 0.2 * legendSize}
	}
	return english
}

// style returns a black text style of the given size, centred above its
// point.
func (t typeset) style(size vg.Length) text.Style {
	return text.Style{
		Color:   color.Black,
		Font:    font.From(t.font, size),
		XAlign:  draw.XCenter,
		YAlign:  draw.YBottom,
		Handler: t.handler,
	}
}

// apply sets every text of p — title, axis labels, tick labels, legend —
// in t at the package's sizes.
func (t typeset) apply(p *plot.Plot) {
	p.Title.TextStyle.Font = font.From(t.font, titleSize)
	p.Title.TextStyle.Handler = t.handler
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = font.From(t.font, labelSize)
		ax.Label.TextStyle.Handler = t.handler
		ax.Tick.Label.Font = font.From(t.font, tickSize)
		ax.Tick.Label.Handler = t.handler
	}
	p.Legend.TextStyle.Font = font.From(t.font, legendSize)
	p.Legend.TextStyle.Handler = t.handler
	p.Legend.Padding = t.legendGap
}

// glyphPath returns the outlines of str's glyphs, set in f with the
// baseline starting at pt. Glyphs advance and kern as in font.Face.Width,
// so text takes the width the layout measured.
func glyphPath(buf *sfnt.Buffer, f font.Face, pt vg.Point, str string) vg.Path {
	sf := f.Face
	// At a ppem of UnitsPerEm×64, one 26.6 unit is 1/64 of a font unit.
	ppem := fixed.I(int(sf.UnitsPerEm()))
	scale := float64(f.Font.Size) / float64(ppem)
	var x float64 // pen position in 26.6 units
	at := func(p fixed.Point26_6) vg.Point {
		// sfnt's y axis points down.
		return vg.Point{X: pt.X + vg.Length((x+float64(p.X))*scale), Y: pt.Y - vg.Length(float64(p.Y)*scale)}
	}
	var path vg.Path
	closeContour := func() {
		if len(path) > 0 && path[len(path)-1].Type != vg.CloseComp {
			path.Close()
		}
	}
	var prev sfnt.GlyphIndex
	for i, r := range str {
		idx, err := sf.GlyphIndex(buf, r)
		if err != nil {
			idx = 0 // drawn as the missing-glyph box
		}
		if i > 0 {
			if k, err := sf.Kern(buf, prev, idx, ppem, xfont.HintingNone); err == nil {
				x += float64(k)
			}
		}
		segs, err := sf.LoadGlyph(buf, idx, ppem, nil)
		if err == nil {
			for _, s := range segs {
				switch s.Op {
				case sfnt.SegmentOpMoveTo:
					closeContour()
					path.Move(at(s.Args[0]))
				case sfnt.SegmentOpLineTo:
					path.Line(at(s.Args[0]))
				case sfnt.SegmentOpQuadTo:
					path.QuadTo(at(s.Args[0]), at(s.Args[1]))
				case sfnt.SegmentOpCubeTo:
					path.CubeTo(at(s.Args[0]), at(s.Args[1]), at(s.Args[2]))
				}
			}
			closeContour()
		}
		if adv, err := sf.GlyphAdvance(buf, idx, ppem, xfont.HintingNone); err == nil {
			x += float64(adv)
		}
		prev = idx
	}
	return path
}
