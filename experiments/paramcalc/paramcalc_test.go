package paramcalc

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/url"
	"reflect"
	"strings"
	"testing"

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

// TestFormulaMatchesEngine checks the formula against the engine's
// Model.Count on every setting of a grid where the layer can be built,
// and that the grid reaches layers too big to build.
func TestFormulaMatchesEngine(t *testing.T) {
	built, computed := 0, 0
	for _, size := range []int{8, 13, 16, 28, 32} {
		for _, in := range []int{1, 3} {
			for _, k := range []int{1, 3, 5, 7} {
				for _, out := range []int{1, 2, 8} {
					p := params{Size: size, InChannels: in, Kernel: k, OutChannels: out}
					for _, layer := range layers {
						got, err := countLayer(layer, p, buildLimit)
						if err != nil {
							t.Fatalf("%+v %s: %v", p, layer, err)
						}
						want, err := countLayer(layer, p, 0)
						if err != nil || !want.Computed {
							t.Fatalf("%+v %s: formula %+v, %v", p, layer, want, err)
						}
						if got.Computed {
							computed++
							if want.Params <= buildLimit {
								t.Fatalf("%+v %s: not built though %d ≤ %d parameters", p, layer, want.Params, buildLimit)
							}
							continue
						}
						built++
						if got.Params != want.Params || got.Uses != want.Uses {
							t.Fatalf("%+v %s: engine Count %d params %d uses, formula %d params %d uses", p, layer, got.Params, got.Uses, want.Params, want.Uses)
						}
					}
				}
			}
		}
	}
	if built < 300 || computed == 0 {
		t.Fatalf("%d settings compared, %d too big to build: the grid should have both", built, computed)
	}
	t.Logf("formula = engine Count on %d layers; %d layers above the build limit", built, computed)
}

// TestCounts checks lesson 1's numbers and what changes as the image grows.
func TestCounts(t *testing.T) {
	c, err := newCalc(values(nil))
	if err != nil {
		t.Fatal(err)
	}
	// A 3×3 kernel on a 28×28 digit, padding 1: all three built.
	want := []count{
		{Layer: layerDense, Params: 784*784 + 784, Uses: 784 * 784},
		{Layer: layerLocal, Params: 784*9 + 784, Uses: 784 * 9},
		{Layer: layerConv, Params: 10, Uses: 784 * 9},
	}
	if got := c.static.Counts; !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %+v, want %+v (all built by the engine)", got, want)
	}
	// Growing the image: the conv's parameters stay, its uses and the dense
	// layer's parameters grow; at 64×64 the dense layer is computed.
	rev := c.rev
	if err := c.SetParams(values(map[string]any{"size": 64})); err != nil {
		t.Fatal(err)
	}
	got := c.static.Counts
	if got[2].Params != 10 || got[2].Computed || got[2].Uses != 64*64*9 {
		t.Fatalf("conv at 64×64: %+v", got[2])
	}
	if got[0].Params != 4096*4096+4096 || !got[0].Computed {
		t.Fatalf("dense at 64×64: %+v, want %d parameters, computed", got[0], 4096*4096+4096)
	}
	if c.rev == rev || c.static.Out != [3]int{1, 64, 64} {
		t.Fatalf("after set-params: rev %d (was %d), out %v", c.rev, rev, c.static.Out)
	}
	if len(c.static.Sweep) != 16 {
		t.Fatalf("sweep has %d sizes, want 16 (8..128)", len(c.static.Sweep))
	}
	for i, pt := range c.static.Sweep {
		if pt.Size != 8*(i+1) || pt.Params[2] != 10 || pt.Params[0] != (pt.Size*pt.Size+1)*pt.Size*pt.Size {
			t.Fatalf("sweep at size %d: %v, want conv 10, dense (n²+1)·n²", pt.Size, pt.Params)
		}
	}
}

// TestEvenKernelRefused checks the kernel field's step of 2 (odd sizes
// only), in a start message and in an export URL.
func TestEvenKernelRefused(t *testing.T) {
	spec, ok := run.Lookup(name)
	if !ok {
		t.Fatal("param-calc is not registered")
	}
	_, err := spec.Decode(nil, []byte(`{"kernel":4}`))
	pe, ok := run.AsParamError(err)
	if !ok || pe.Field != "kernel" || !strings.Contains(pe.Text.En, "in steps of 2") || !strings.Contains(pe.Text.Zh, "以 2 为步长") {
		t.Fatalf("kernel 4: %v", err)
	}
	if _, err := spec.DecodeQuery(url.Values{"kernel": {"2"}}); err == nil {
		t.Fatal("kernel=2 accepted in a query")
	}
	if _, err := spec.Decode(nil, []byte(`{"kernel":11,"size":128,"inChannels":64,"outChannels":256}`)); err != nil {
		t.Fatal(err)
	}
}

// TestExports draws the bars and reads the counts back from the JSON.
func TestExports(t *testing.T) {
	spec, _ := run.Lookup(name)
	write := func(c *calc, format, lang string) []byte {
		e, ok := spec.Export(format)
		if !ok {
			t.Fatalf("no %s export", format)
		}
		var b bytes.Buffer
		if err := e.Write(&b, c, lang); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		return b.Bytes()
	}
	c, err := newCalc(values(map[string]any{"size": 64, "inChannels": 3, "kernel": 5, "outChannels": 16}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(write(c, "png", "en"))); err != nil {
		t.Fatal(err)
	}
	if svg := write(c, "svg", "en"); !bytes.Contains(svg, []byte("(computed)")) {
		t.Error("the svg does not name the computed dense layer")
	}
	// Chinese text is drawn as glyph outlines: check its glyphs exist.
	for _, tx := range []run.Text{figureText.title, figureText.axis, figureText.params, figureText.uses, figureText.computed} {
		if m := viz.MissingGlyphs(tx.Zh); len(m) > 0 {
			t.Errorf("%q: the chart font lacks %q", tx.Zh, m)
		}
	}
	c, err = newCalc(values(map[string]any{"size": 16}))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Experiment string
		Static     staticPart
	}
	if err := json.Unmarshal(write(c, "json", "en"), &exp); err != nil {
		t.Fatal(err)
	}
	if exp.Experiment != name || exp.Static.Params.Size != 16 || exp.Static.Counts[2] != (count{Layer: layerConv, Params: 10, Uses: 256 * 9}) {
		t.Fatalf("json: %+v", exp)
	}
}
