package run

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestCalcFormulaMatchesEngine checks the calculator's formula against the
// engine's Model.Count on every setting of a grid where the layer can be
// built, and that the grid reaches layers too big to build.
func TestCalcFormulaMatchesEngine(t *testing.T) {
	built, computed := 0, 0
	for _, size := range []int{8, 13, 16, 28, 32} {
		for _, in := range []int{1, 3} {
			for _, k := range []int{1, 3, 5, 7} {
				for _, out := range []int{1, 2, 8} {
					p := ParamCalcParams{Size: size, InChannels: in, Kernel: k, OutChannels: out}
					for _, layer := range CalcLayers() {
						got, ok, err := CalcEngine(layer, p)
						if err != nil {
							t.Fatalf("%+v %s: %v", p, layer, err)
						}
						want := CalcFormula(layer, p)
						if !ok {
							computed++
							if want.Params <= CalcBuildLimit {
								t.Fatalf("%+v %s: not built though %d ≤ %d parameters", p, layer, want.Params, CalcBuildLimit)
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

func TestParamCalcCounts(t *testing.T) {
	c, err := NewParamCalc(DefaultParamCalcParams())
	if err != nil {
		t.Fatal(err)
	}
	// Lesson 2's numbers: a 3×3 kernel on a 28×28 digit, padding 1.
	want := []CalcCount{
		{Layer: CalcDense, Params: 784*784 + 784, Uses: 784 * 784},
		{Layer: CalcLocal, Params: 784*9 + 784, Uses: 784 * 9},
		{Layer: CalcConv, Params: 10, Uses: 784 * 9},
	}
	if got := c.Counts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("counts %+v, want %+v (all built by the engine)", got, want)
	}
	// Growing the image: the conv's parameters stay, its uses and the dense
	// layer's parameters grow; at 64×64 the dense layer is computed.
	if err := c.SetParams(json.RawMessage(`{"size":64}`)); err != nil {
		t.Fatal(err)
	}
	got := c.Counts()
	if got[2].Params != 10 || got[2].Computed || got[2].Uses != 64*64*9 {
		t.Fatalf("conv at 64×64: %+v", got[2])
	}
	if got[0].Params != 4096*4096+4096 || !got[0].Computed {
		t.Fatalf("dense at 64×64: %+v, want %d parameters, computed", got[0], 4096*4096+4096)
	}
	if len(c.StaticFrame().Sweep) != 16 {
		t.Fatalf("sweep has %d sizes, want 16 (8..128)", len(c.StaticFrame().Sweep))
	}
	for _, pt := range c.StaticFrame().Sweep {
		if pt.Params[2] != 10 {
			t.Fatalf("conv parameters at size %d: %d, want 10", pt.Size, pt.Params[2])
		}
	}
}

func TestParamCalcBadParamsChangeNothing(t *testing.T) {
	r, err := Start(ParamCalcName, json.RawMessage(`{"size":32,"inChannels":3,"kernel":5,"outChannels":16}`))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before, _ := json.Marshal(r.Snapshot().Frame)
	for _, bad := range []string{`{"size":7}`, `{"size":129}`, `{"kernel":4}`, `{"kernel":13}`, `{"inChannels":0}`, `{"outChannels":257}`, `{"size":"big"}`, `{"colour":1}`, `[1]`} {
		wantCode(t, r.SetParams(json.RawMessage(bad)), CodeBadParams)
		after, _ := json.Marshal(r.Snapshot().Frame)
		if string(after) != string(before) {
			t.Fatalf("set-params %s changed the frame", bad)
		}
	}
	if _, err := Start(ParamCalcName, json.RawMessage(`{"kernel":2}`)); err == nil {
		t.Fatal("start with an even kernel accepted")
	}
}
