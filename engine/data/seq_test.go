package data

import (
	"math"
	"slices"
	"testing"

	"github.com/paramshare/paramshare/engine"
)

func TestCopyAndReverse(t *testing.T) {
	x, y := Copy(engine.NewRand(1), 4, 7, 5)
	if !slices.Equal(x.Shape, []int{4, 7}) || !slices.Equal(y.Shape, []int{4, 7}) {
		t.Fatalf("Copy shapes %v %v, want [4 7]", x.Shape, y.Shape)
	}
	if !slices.Equal(x.Data, y.Data) || &x.Data[0] == &y.Data[0] {
		t.Fatal("Copy: y is not an independent copy of x")
	}
	checkTokens(t, "Copy", x, 0, 4)

	x, y = Reverse(engine.NewRand(1), 3, 6, 10)
	if !slices.Equal(x.Shape, []int{3, 6}) || !slices.Equal(y.Shape, []int{3, 6}) {
		t.Fatalf("Reverse shapes %v %v, want [3 6]", x.Shape, y.Shape)
	}
	checkTokens(t, "Reverse", x, 0, 9)
	for b := range 3 {
		row := slices.Clone(x.Data[b*6 : (b+1)*6])
		slices.Reverse(row)
		if !slices.Equal(row, y.Data[b*6:(b+1)*6]) {
			t.Fatalf("Reverse row %d: x %v, y %v", b, x.Data[b*6:(b+1)*6], y.Data[b*6:(b+1)*6])
		}
	}
	// An odd length keeps the middle token in place and still reverses.
	x, y = Reverse(engine.NewRand(3), 1, 5, 100)
	if y.Data[0] != x.Data[4] || y.Data[2] != x.Data[2] || y.Data[4] != x.Data[0] {
		t.Fatalf("Reverse odd length: x %v, y %v", x.Data, y.Data)
	}
}

func TestAdding(t *testing.T) {
	const batch, length = 2000, 10
	x, y := Adding(engine.NewRand(2), batch, length)
	if !slices.Equal(x.Shape, []int{batch, length, 2}) || !slices.Equal(y.Shape, []int{batch, 1}) {
		t.Fatalf("shapes %v %v, want [%d %d 2] [%d 1]", x.Shape, y.Shape, batch, length, batch)
	}
	var sqErr float64
	for b := range batch {
		var sum float64
		var marked []int
		for step := range length {
			v, m := x.Data[(b*length+step)*2], x.Data[(b*length+step)*2+1]
			if v < 0 || v >= 1 {
				t.Fatalf("value %v outside [0,1)", v)
			}
			switch m {
			case 1:
				marked = append(marked, step)
				sum += v
			case 0:
			default:
				t.Fatalf("marker %v, want 0 or 1", m)
			}
		}
		if len(marked) != 2 || marked[0] >= length/2 || marked[1] < length/2 {
			t.Fatalf("row %d: markers at %v, want one in each half", b, marked)
		}
		if y.Data[b] != sum {
			t.Fatalf("row %d: y %v, want the marked sum %v", b, y.Data[b], sum)
		}
		sqErr += (y.Data[b] - 1) * (y.Data[b] - 1)
	}
	// The documented baseline: always answering 1 has mse 1/6.
	if mse := sqErr / batch; math.Abs(mse-1.0/6) > 0.02 {
		t.Fatalf("mse of predicting 1 = %.4f, want about 1/6", mse)
	}
	// The shortest sequence marks both steps.
	x, _ = Adding(engine.NewRand(2), 1, 2)
	if x.Data[1] != 1 || x.Data[3] != 1 {
		t.Fatalf("length 2: markers %v %v, want 1 1", x.Data[1], x.Data[3])
	}
}

func TestRememberFirst(t *testing.T) {
	const batch, distance, vocab = 500, 9, 4
	x, y := RememberFirst(engine.NewRand(3), batch, distance, vocab)
	if !slices.Equal(x.Shape, []int{batch, distance + 1}) || !slices.Equal(y.Shape, []int{batch}) {
		t.Fatalf("shapes %v %v, want [%d %d] [%d]", x.Shape, y.Shape, batch, distance+1, batch)
	}
	checkTokens(t, "RememberFirst", x, 0, vocab-1)
	seen := map[float64]int{}
	noiseZeros := 0
	for b := range batch {
		first := x.Data[b*(distance+1)]
		if first < 1 || first != y.Data[b] {
			t.Fatalf("row %d: first %v, y %v", b, first, y.Data[b])
		}
		seen[first]++
		for _, v := range x.Data[b*(distance+1)+1 : (b+1)*(distance+1)] {
			if v == 0 {
				noiseZeros++
			}
		}
	}
	if len(seen) != vocab-1 {
		t.Fatalf("targets %v, want every symbol 1..%d", seen, vocab-1)
	}
	if noiseZeros == 0 {
		t.Fatal("noise never uses token 0, want all of 0..vocab-1")
	}
	x, y = RememberFirst(engine.NewRand(3), 2, 0, 2)
	if !slices.Equal(x.Data, []float64{1, 1}) || !slices.Equal(y.Data, []float64{1, 1}) {
		t.Fatalf("distance 0, vocab 2: x %v y %v, want all 1", x.Data, y.Data)
	}
	mustPanic(t, "negative distance", func() { RememberFirst(engine.NewRand(1), 1, -1, 3) })
}

func TestSequenceTasksDeterministic(t *testing.T) {
	type task func(seed uint64) (x, y *engine.Tensor)
	tasks := map[string]task{
		"Copy":          func(s uint64) (x, y *engine.Tensor) { return Copy(engine.NewRand(s), 3, 8, 6) },
		"Reverse":       func(s uint64) (x, y *engine.Tensor) { return Reverse(engine.NewRand(s), 3, 8, 6) },
		"Adding":        func(s uint64) (x, y *engine.Tensor) { return Adding(engine.NewRand(s), 3, 8) },
		"RememberFirst": func(s uint64) (x, y *engine.Tensor) { return RememberFirst(engine.NewRand(s), 3, 8, 6) },
	}
	for name, f := range tasks {
		x1, y1 := f(42)
		x2, y2 := f(42)
		x3, _ := f(43)
		if !slices.Equal(x1.Data, x2.Data) || !slices.Equal(y1.Data, y2.Data) {
			t.Errorf("%s: same seed, different batch", name)
		}
		if slices.Equal(x1.Data, x3.Data) {
			t.Errorf("%s: seeds 42 and 43 give the same batch", name)
		}
	}
	mustPanic(t, "Copy vocab 1", func() { Copy(engine.NewRand(1), 1, 1, 1) })
	mustPanic(t, "Reverse length 0", func() { Reverse(engine.NewRand(1), 1, 0, 3) })
	mustPanic(t, "Adding length 1", func() { Adding(engine.NewRand(1), 1, 1) })
}

// checkTokens fails unless every element of x is an integer in lo..hi and
// both ends occur.
func checkTokens(t *testing.T, op string, x *engine.Tensor, lo, hi float64) {
	t.Helper()
	for _, v := range x.Data {
		if v != math.Trunc(v) || v < lo || v > hi {
			t.Fatalf("%s: token %v, want an integer in %v..%v", op, v, lo, hi)
		}
	}
	if !slices.Contains(x.Data, lo) || !slices.Contains(x.Data, hi) {
		t.Fatalf("%s: tokens %v never reach %v or %v", op, x.Data, lo, hi)
	}
}
