package engine

import (
	"math"
	"slices"
	"testing"
)

func TestPositionalSinusoidalTable(t *testing.T) {
	pe, err := NewPositionalEncoding("pos", PositionsSinusoidal, 6, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(1, 2, 3, 4)
	y := pe.Forward(x, nil)
	for b := range 2 {
		for pos := range 3 {
			for i := range 4 {
				angle := float64(pos) / math.Pow(10000, float64(2*(i/2))/4)
				want := math.Sin(angle)
				if i%2 == 1 {
					want = math.Cos(angle)
				}
				idx := (b*3+pos)*4 + i
				if got := y.Data[idx] - x.Data[idx]; math.Abs(got-want) > 1e-15 {
					t.Errorf("PE[%d,%d] = %.17g, want %.17g", pos, i, got, want)
				}
			}
		}
	}
	if pe.Params() != nil {
		t.Errorf("sinusoidal has params %v", pe.Params())
	}
	if c := pe.Count([]int{3, 4}); c != (LayerCount{}) {
		t.Errorf("sinusoidal count %+v, want zero", c)
	}
	checkLayerGrads(t, pe, x, gradCheckOpts{})
}

func TestPositionalLearned(t *testing.T) {
	pe, err := NewPositionalEncoding("pos", PositionsLearned, 5, 8, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	if got := pe.Params(); len(got) != 1 || got[0].Local != "weight" || got[0].Name != "pos.weight" || !slices.Equal(got[0].Value.Shape, []int{5, 8}) {
		t.Fatalf("params %+v", got)
	}
	var sum, sq float64
	for _, v := range pe.Weight.Value.Data {
		sum += v
		sq += v * v
	}
	if n := float64(pe.Weight.Size()); math.Abs(sum/n) > 0.5 || math.Abs(sq/n-1) > 0.5 {
		t.Errorf("learned table mean %.3g, mean square %.3g: not N(0,1)-like", sum/n, sq/n)
	}
	checkLayerGrads(t, pe, randTensor(2, 2, 4, 8), gradCheckOpts{})
	// Row 4 (position 4) was never used on T = 4: no gradient.
	if g := pe.Weight.Grad.Data[4*8:]; slices.ContainsFunc(g, func(v float64) bool { return v != 0 }) {
		t.Errorf("unused row 4 got gradient %v", g)
	}
	s := pe.Spec()
	if s.Type != "positional_encoding" || s.Attrs["kind"] != "learned" || s.Attrs["max_len"] != 5 || s.Attrs["d_model"] != 8 || len(s.Attrs) != 3 {
		t.Errorf("spec %+v", s)
	}
	if c := pe.Count([]int{4, 8}); c.Uses != 32 || c.Unshared != 40 {
		t.Errorf("count %+v", c)
	}
}

func TestPositionalInvalid(t *testing.T) {
	for _, c := range []struct {
		kind    string
		max, dm int
	}{{"learned", 0, 4}, {"sinusoidal", 4, 0}, {"rotary", 4, 4}, {"", 4, 4}} {
		if _, err := NewPositionalEncoding("p", c.kind, c.max, c.dm, NewRand(1)); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	for _, kind := range []string{PositionsLearned, PositionsSinusoidal} {
		pe, err := NewPositionalEncoding("p", kind, 4, 8, NewRand(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pe.OutShape([]int{5, 8}); err == nil {
			t.Errorf("%s: T = 5 > max_len 4 accepted", kind)
		}
		if _, err := NewModel("m", []int{5, 8}, nil, pe); err == nil {
			t.Errorf("%s: model on T = 5 > max_len 4 accepted", kind)
		}
		if out, err := pe.OutShape([]int{4, 8}); err != nil || !slices.Equal(out, []int{4, 8}) {
			t.Errorf("%s: OutShape [4 8] = %v, %v", kind, out, err)
		}
		for _, in := range [][]int{{4, 7}, {0, 8}, {8}} {
			if _, err := pe.OutShape(in); err == nil {
				t.Errorf("%s: OutShape %v accepted", kind, in)
			}
		}
		expectShapePanic(t, kind+" forward T > max_len", func() { pe.Forward(NewTensor(1, 5, 8), nil) })
	}
}
