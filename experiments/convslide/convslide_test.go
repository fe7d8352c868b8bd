package convslide

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"image/png"
	"io"
	"math"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
	"github.com/paramshare/paramshare/viz"
)

// values returns the defaults with the given changes.
func values(changes map[string]any) run.Values {
	v := run.Defaults(fields)
	for k, x := range changes {
		v = v.With(k, x)
	}
	return v
}

func build(t *testing.T, v run.Values) *slide {
	t.Helper()
	s, err := newSlide(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forward computes the whole output map directly with the engine's
// Forward, on a layer built here (not the experiment's).
func forward(t *testing.T, v run.Values) *engine.Tensor {
	t.Helper()
	p := paramsOf(v)
	conv, err := engine.NewConv2d("direct", engine.Conv2dConfig{InChannels: 1, OutChannels: 1, KernelSize: 3, Stride: p.Stride, Padding: p.Padding, Dilation: p.Dilation}, engine.NewRand(42))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := Preset(p.Preset)
	copy(conv.Weight.Value.Data, k[:])
	conv.Bias.Value.Data[0] = 0
	return conv.Forward(lab.TestSet().Image(p.Digit), nil)
}

// checkData compares a frame's data part (decoded from its JSON, as the
// widget reads it) with the engine's Forward y: the current cell's nine
// terms read the right pixels, and the cell and the map so far equal y
// (to tol for the map, which live frames round).
func checkData(t *testing.T, raw []byte, v run.Values, y *engine.Tensor, tol float64) {
	t.Helper()
	var d dataPart
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	p := paramsOf(v)
	img := lab.TestSet().Image(p.Digit)
	ow := y.Shape[3]
	if len(d.Map) != d.Step {
		t.Fatalf("map has %d cells at step %d", len(d.Map), d.Step)
	}
	for i, m := range d.Map {
		if math.Abs(m-y.Data[i]) > tol {
			t.Fatalf("step %d: map cell %d = %g, Forward %g", d.Step, i, m, y.Data[i])
		}
	}
	if d.Step == 0 {
		if d.Cell != nil {
			t.Fatalf("a cell at step 0: %+v", d.Cell)
		}
		return
	}
	c := d.Cell
	if c.OY*ow+c.OX != d.Step-1 {
		t.Fatalf("cell (%d,%d) at step %d: not raster order", c.OY, c.OX, d.Step)
	}
	if len(c.Terms) != 9 {
		t.Fatalf("%d terms", len(c.Terms))
	}
	k, _ := Preset(p.Preset)
	var sum float64
	for i, tm := range c.Terms {
		ky, kx := i/3, i%3
		yy, xx := c.OY*p.Stride-p.Padding+ky*p.Dilation, c.OX*p.Stride-p.Padding+kx*p.Dilation
		var in float64
		inside := yy >= 0 && yy < 28 && xx >= 0 && xx < 28
		if inside {
			in = img.Data[yy*28+xx]
		}
		if tm.Y != yy || tm.X != xx || tm.Input != in || tm.Weight != k[i] || tm.Product != in*k[i] || tm.Padding == inside {
			t.Fatalf("cell (%d,%d) term %d = %+v, want input %g at (%d,%d) × %g", c.OY, c.OX, i, tm, in, yy, xx, k[i])
		}
		sum += tm.Product
	}
	want := y.Data[d.Step-1]
	if math.Abs(c.Out-want) > 1e-12 || math.Abs(c.Sum+c.Bias-want) > 1e-12 || math.Abs(sum-want) > 1e-12 {
		t.Fatalf("cell (%d,%d): out %g, sum %g + bias %g, terms %g; engine Forward %g", c.OY, c.OX, c.Out, c.Sum, c.Bias, sum, want)
	}
	w := c.Window
	if w.Top != c.OY*p.Stride-p.Padding || w.Left != c.OX*p.Stride-p.Padding || w.Bottom != w.Top+2*p.Dilation || w.Right != w.Left+2*p.Dilation || w.Dilation != p.Dilation {
		t.Fatalf("cell (%d,%d): window %+v", c.OY, c.OX, w)
	}
}

func frameData(t *testing.T, s *slide) []byte {
	t.Helper()
	b, err := json.Marshal(s.Frame().Data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCellsMatchForward steps through every cell of several settings and
// checks each frame against the engine's Forward.
func TestCellsMatchForward(t *testing.T) {
	settings := []map[string]any{
		{"digit": 4},
		{"digit": 7, "preset": "sharpen", "stride": 2, "padding": 2, "dilation": 2},
		{"digit": 999, "preset": "blur", "stride": 3, "padding": 0, "dilation": 1},
	}
	for _, ch := range settings {
		v := values(ch)
		s, y := build(t, v), forward(t, v)
		if s.Total() != y.Shape[2]*y.Shape[3] {
			t.Fatalf("%v: %d cells, Forward %v", ch, s.Total(), y.Shape)
		}
		checkData(t, frameData(t, s), v, y, 0)
		for s.Pos() < s.Total() {
			if err := s.Advance(); err != nil {
				t.Fatal(err)
			}
			checkData(t, frameData(t, s), v, y, 0.5e-4+1e-12)
		}
	}
}

// TestSharingCounts checks the sharing line: ten parameters used at every
// position, against the unshared twin's count.
func TestSharingCounts(t *testing.T) {
	c := build(t, values(nil)).static.Counts
	if c != (counts{Params: 10, Positions: 784, MultiplyAdds: 7056, Unshared: 784 * 10}) {
		t.Fatalf("counts %+v, want 10 params, 784 positions, 7056 multiply-adds, 7840 unshared", c)
	}
	c = build(t, values(map[string]any{"stride": 2})).static.Counts
	if c.Params != 10 || c.Positions != 14*14 || c.MultiplyAdds != 14*14*9 {
		t.Fatalf("stride 2: counts %+v", c)
	}
}

// TestSetParamsKeepsStep changes kernel and stride mid-run: the step is
// kept (clamped to the new map's size) and the cells follow the new layer.
func TestSetParamsKeepsStep(t *testing.T) {
	v := values(map[string]any{"digit": 4})
	s := build(t, v)
	for range 300 {
		s.Advance()
	}
	rev := s.Frame().StaticRev
	v2 := v.With("preset", "sharpen").With("stride", 2)
	if err := s.SetParams(v2); err != nil {
		t.Fatal(err)
	}
	if s.Pos() != 196 || s.Total() != 196 || s.Frame().StaticRev == rev {
		t.Fatalf("after set-params: step %d of %d, static rev %d (was %d)", s.Pos(), s.Total(), s.Frame().StaticRev, rev)
	}
	if got := s.static.Params; got.Preset != "sharpen" || got.Stride != 2 {
		t.Fatalf("static params %+v", got)
	}
	checkData(t, frameData(t, s), v2, forward(t, v2), 0.5e-4+1e-12)
	if err := s.SetParams(v2); err != nil || s.Frame().StaticRev != rev+1 {
		t.Fatalf("the same parameters again: %v, static rev %d, want %d unchanged", err, s.Frame().StaticRev, rev+1)
	}
}

// TestRewindIsExact goes back and forth and compares each frame with a
// fresh run's at that step, byte for byte.
func TestRewindIsExact(t *testing.T) {
	v := values(map[string]any{"digit": 12, "preset": "horizontal-edge", "padding": 2})
	s := build(t, v)
	for range 500 {
		s.Advance()
	}
	for _, k := range []int{317, 1, 0, 250} {
		if err := s.Rewind(k); err != nil {
			t.Fatal(err)
		}
		fresh := build(t, v)
		for range k {
			fresh.Advance()
		}
		if got, want := frameData(t, s), frameData(t, fresh); !bytes.Equal(got, want) {
			t.Fatalf("rewound to %d: frame differs from a fresh run's\n got %.200s\nwant %.200s", k, got, want)
		}
		for range 40 {
			s.Advance()
		}
	}
}

// TestExports draws the figures and checks the JSON export's full
// precision against Forward.
func TestExports(t *testing.T) {
	v := values(map[string]any{"digit": 3})
	s := build(t, v)
	for range 200 {
		s.Advance()
	}
	spec, ok := run.Lookup(name)
	if !ok {
		t.Fatal("conv-slide is not registered")
	}
	write := func(format, lang string) []byte {
		e, ok := spec.Export(format)
		if !ok {
			t.Fatalf("no %s export", format)
		}
		var b bytes.Buffer
		if err := e.Write(&b, s, lang); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		return b.Bytes()
	}
	img, err := png.Decode(bytes.NewReader(write("png", "en")))
	if err != nil {
		t.Fatalf("png does not decode: %v", err)
	}
	if r := img.Bounds(); r.Dx() < 600 || r.Dy() < 200 {
		t.Fatalf("png is %v", r)
	}
	for _, lang := range []string{"en", "zh"} {
		svg := write("svg", lang)
		dec := xml.NewDecoder(bytes.NewReader(svg))
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s svg does not parse: %v", lang, err)
			}
		}
		// Chinese text is drawn as glyph outlines: check its glyphs exist.
		if lang == "en" && !bytes.Contains(svg, []byte("200 of 784 cells")) {
			t.Errorf("svg title does not say %q", "200 of 784 cells")
		}
		if lang == "zh" && bytes.Contains(svg, []byte("200 of 784 cells")) {
			t.Error("the Chinese svg has the English title")
		}
	}
	for _, tx := range []run.Text{figureText.title, figureText.input, figureText.kernel, figureText.output} {
		if m := viz.MissingGlyphs(tx.Zh); len(m) > 0 {
			t.Errorf("%q: the chart font lacks %q", tx.Zh, m)
		}
	}
	var exp struct {
		Experiment string
		Params     map[string]any
		Step       int
		Static     staticPart
		Data       dataPart
	}
	if err := json.Unmarshal(write("json", "en"), &exp); err != nil {
		t.Fatal(err)
	}
	if exp.Experiment != name || exp.Step != 200 || exp.Params["digit"] != 3.0 || exp.Static.Label != int(lab.TestSet().Labels[3]) {
		t.Fatalf("json: %s step %d params %v label %d", exp.Experiment, exp.Step, exp.Params, exp.Static.Label)
	}
	y := forward(t, v)
	if exp.Data.Cell.OY != 7 || exp.Data.Cell.OX != 3 {
		t.Fatalf("json cell %+v, want (7, 3)", exp.Data.Cell)
	}
	for i, m := range exp.Data.Map {
		if math.Abs(m-y.Data[i]) > 1e-12 {
			t.Fatalf("json map cell %d = %g, Forward %g", i, m, y.Data[i])
		}
	}
}
