package viz

import (
	"bytes"
	"image"
	"math"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot/vg"
)

// zhChartText is Chinese chart text of the kinds the lessons use: CJK
// punctuation, Latin, digits and the symbols of formulas.
const zhChartText = "同一个卷积核，用在许多位置 — 第 7 号数字（3），步幅 1，填充 0：" +
	"输入（像素 / 255）、卷积核（偏置 0.5）、输出特征图；交叉熵损失 ≤ 2.3，准确率 ≥ 95%，" +
	"参数量 3×3×1 = 9 ± 0 … Σ Δ ∂L/∂w ∇ x² α β γ θ λ μ σ ω “共享” 「权重」。"

func TestMissingGlyphs(t *testing.T) {
	if m := MissingGlyphs(zhChartText + "\nABCabc0123456789"); len(m) != 0 {
		t.Errorf("MissingGlyphs(chart text) = %q, want none", string(m))
	}
	// Hangul, an emoji and a rare hanzi outside GB2312 are not in the
	// subset; each is reported once, in order.
	if got, want := MissingGlyphs("한국 😀 和 𠀀 한"), []rune("한국😀𠀀"); !slices.Equal(got, want) {
		t.Errorf("MissingGlyphs = %q, want %q", string(got), string(want))
	}
	if m := MissingGlyphs(""); m != nil {
		t.Errorf("MissingGlyphs(\"\") = %q", string(m))
	}
}

// TestGB2312Level1Covered checks the subset against a few of the 3,755
// level-1 hanzi spread over the table and some level-2 ones.
func TestGB2312Covered(t *testing.T) {
	const sample = "啊阿埃挨哎唉哀皑癌蔼矮艾碍爱隘鞍氨安俺按暗岸胺案肮昂盎凹敖熬翱袄傲奥懊澳" +
		"芭捌扒叭吧笆八疤巴拔跋靶把耙坝霸罢爸白柏百摆佰败拜稗斑班搬扳般颁板版扮拌伴瓣半办" +
		"座做坐柞祚胙阼作唑亍丌兀丐廿卅丕亘丞鬲孬噩丨禺丿匕乇夭爻卮氐囟胤馗毓睾鼗丶亟鼐乜乩亓芈"
	if m := MissingGlyphs(sample); len(m) != 0 {
		t.Errorf("missing from the subset: %q", string(m))
	}
}

// zhPanels are Chinese-titled versions of twoPanels.
func zhPanels() []Panel {
	nan := math.NaN()
	return []Panel{
		{Title: "输入（像素 / 255）", Grid: Grid{Rows: 2, Cols: 3, Values: []float64{0, 1, 2, 3, 4, nan}}, XLabel: "列", YLabel: "行"},
		{Title: "卷积核（偏置 0.5）", Grid: Grid{Rows: 3, Cols: 3, Values: []float64{-1, 0, 1, -2, 0, 2, -1, 0, 1}}, Diverging: true, Annotate: true, XLabel: "横向 kx", YLabel: "纵向 ky"},
	}
}

func TestWriteHeatmapsZh(t *testing.T) {
	c := Heatmaps{Title: "同一个卷积核，用在许多位置 — 第 7 号数字（3）", Panels: zhPanels()}
	var buf bytes.Buffer
	if err := Write(&buf, FormatPNG, LangZh, c); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "heatmaps_zh", buf.Bytes())
	img := decodePNG(t, buf.Bytes())
	if got := img.Bounds().Dx(); got != 2*heatmapPanelWidth {
		t.Errorf("width %d, want %d", got, 2*heatmapPanelWidth)
	}
	// The title band holds dark text pixels: glyphs, not nothing.
	if n := darkPixels(img, image.Rect(0, 0, img.Bounds().Dx(), figureTitleBand)); n < 300 {
		t.Errorf("title band has %d dark pixels, want glyphs", n)
	}

	// English text through the same path is unchanged by lang support.
	var en, direct bytes.Buffer
	if err := Write(&en, FormatPNG, "en", Heatmaps{Title: "Input and kernel", Panels: twoPanels()}); err != nil {
		t.Fatal(err)
	}
	if err := WriteHeatmaps(&direct, FormatPNG, "Input and kernel", twoPanels()...); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(en.Bytes(), direct.Bytes()) {
		t.Error(`Write(…, "en", Heatmaps{…}) differs from WriteHeatmaps`)
	}
}

func TestWriteBarsZh(t *testing.T) {
	c := BarChart{
		Title: "参数量：稠密层与共享权重的卷积层", YLabel: "参数个数（对数刻度）",
		Categories: []string{"全连接", "卷积", "局部连接"}, LogY: true,
		Groups: []BarGroup{
			{Label: "唯一参数", Values: []float64{7850, 10, 6770}},
			{Label: "使用次数（乘加）", Values: []float64{7850, 6084, 6084}},
		},
	}
	var buf bytes.Buffer
	if err := Write(&buf, FormatPNG, LangZh, c); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "bars_zh", buf.Bytes())
	img := decodePNG(t, buf.Bytes())
	if got := img.Bounds().Size(); got != image.Pt(chartWidth, chartHeight) {
		t.Fatalf("size %v", got)
	}
}

func TestWriteLinesZh(t *testing.T) {
	s := lossCurves()
	s[0].Name, s[1].Name, s[2].Name = "全连接（训练）", "卷积（训练）", "卷积（测试）"
	s[2].X = []float64{0, 20, 40, 60, 80, 100, 120, 140, 160, 180}
	s[2].Y = []float64{2.4, 1.7, 1.2, 0.9, 0.7, 0.55, 0.45, 0.4, 0.35, 0.32}
	c := LineChart{Title: "损失 — 交叉熵，每步一个批次", XLabel: "步数", YLabel: "交叉熵损失", Series: s}
	var buf bytes.Buffer
	if err := Write(&buf, FormatPNG, LangZh, c); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "lines_zh", buf.Bytes())
}

// TestWriteZhSVG checks that Chinese SVG output has no <text> that a
// browser would have to find a font for: its text is glyph outlines.
func TestWriteZhSVG(t *testing.T) {
	for name, c := range map[string]Chart{
		"heatmaps": Heatmaps{Title: "卷积核", Panels: zhPanels()},
		"bars":     BarChart{Title: "准确率", YLabel: "准确率（%）", Categories: []string{"训练", "测试"}, Groups: []BarGroup{{Label: "卷积", Values: []float64{98, 97}}}},
		"lines":    LineChart{Title: "损失", XLabel: "步数", YLabel: "损失", Series: lossCurves()},
	} {
		var buf bytes.Buffer
		if err := Write(&buf, FormatSVG, LangZh, c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkSVG(t, buf.Bytes())
		s := buf.String()
		if strings.Contains(s, "<text") || strings.Contains(s, "font-family") {
			t.Errorf("%s: Chinese SVG has <text> or a font-family; want glyph outlines", name)
		}
		if n := strings.Count(s, "<path"); n < 10 {
			t.Errorf("%s: Chinese SVG has %d paths", name, n)
		}
		if len(s) > 400_000 {
			t.Errorf("%s: Chinese SVG is %d bytes", name, len(s))
		}
	}
	// English SVG keeps real text.
	var buf bytes.Buffer
	if err := Write(&buf, FormatSVG, "", BarChart{Title: "Accuracy", Categories: []string{"train"}, Groups: []BarGroup{{Values: []float64{98}}}}); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes(), "Accuracy", "train")
}

// TestGlyphPath checks that outlined SVG text takes the width the text
// handler measured, from pt on the baseline: a line of 13 full-width
// characters spans about 13 em, and its ink sits around the baseline.
func TestGlyphPath(t *testing.T) {
	sty := typesetFor(LangZh).style(titleSize)
	face := sty.Handler.Cache().Lookup(sty.Font, sty.Font.Size)
	const s = "同一个卷积核，用在许多位置"
	width := float64(face.Width(s))
	if math.Abs(width-13*titleSize) > 0.5 {
		t.Errorf("width of %q is %.2f pt, want 13 em = %d pt", s, width, 13*titleSize)
	}
	at := vg.Point{X: 100, Y: 50}
	var buf sfnt.Buffer
	path := glyphPath(&buf, face, at, s)
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, c := range path {
		if c.Type == vg.CloseComp {
			continue
		}
		for _, p := range append(c.Control, c.Pos) {
			minX, maxX = math.Min(minX, float64(p.X)), math.Max(maxX, float64(p.X))
			minY, maxY = math.Min(minY, float64(p.Y)), math.Max(maxY, float64(p.Y))
		}
	}
	// Ink starts a little right of pt and ends a little left of the
	// advance (side bearings), and spans from just below the baseline to
	// about the cap height.
	if minX < 100 || minX > 100+0.2*titleSize || maxX > 100+width || maxX < 100+width-0.3*titleSize {
		t.Errorf("ink spans x %.1f…%.1f, want within 100…%.1f, near both ends", minX, maxX, 100+width)
	}
	if minY > 50 || minY < 50-0.3*titleSize || maxY < 50+0.7*titleSize || maxY > 50+titleSize {
		t.Errorf("ink spans y %.1f…%.1f, want around the baseline at 50", minY, maxY)
	}
}

// darkPixels counts pixels in r darker than mid-grey.
func darkPixels(img image.Image, r image.Rectangle) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := rgbaAt(img, x, y)
			if int(c.R)+int(c.G)+int(c.B) < 3*128 {
				n++
			}
		}
	}
	return n
}

// TestWriteZhConcurrent draws Chinese charts from several goroutines, as a
// server does for simultaneous exports (run with -race).
func TestWriteZhConcurrent(t *testing.T) {
	c := BarChart{Title: "准确率", YLabel: "准确率（%）", Categories: []string{"训练", "测试"}, Groups: []BarGroup{{Label: "卷积", Values: []float64{98, 97}}}}
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			var buf bytes.Buffer
			format := FormatPNG
			if i%2 == 1 {
				format = FormatSVG
			}
			errs <- Write(&buf, format, LangZh, c)
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
