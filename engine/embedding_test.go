package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// tokens returns a [B, T] tensor of the given indices.
func tokens(batch, steps int, idx ...int) *Tensor {
	x := NewTensor(batch, steps)
	for i, k := range idx {
		x.Data[i] = float64(k)
	}
	return x
}

func TestEmbeddingForward(t *testing.T) {
	e, err := NewEmbedding("emb", 6, 3, NewRand(1))
	if err != nil {
		t.Fatal(err)
	}
	x := tokens(2, 3, 5, 0, 5, 2, 2, 1)
	y := e.Forward(x, nil)
	if !slices.Equal(y.Shape, []int{2, 3, 3}) {
		t.Fatalf("shape %v", y.Shape)
	}
	for n, k := range []int{5, 0, 5, 2, 2, 1} {
		if !slices.Equal(y.Data[n*3:(n+1)*3], e.Weight.Value.Data[k*3:(k+1)*3]) {
			t.Errorf("position %d: %v, want row %d", n, y.Data[n*3:(n+1)*3], k)
		}
	}
	s := e.Spec()
	if s.Type != "embedding" || s.Attrs["num_embeddings"] != 6 || s.Attrs["embedding_dim"] != 3 || len(s.Attrs) != 2 {
		t.Errorf("spec %+v", s)
	}
	if e.Weight.Name != "emb.weight" || e.Params()[0].Local != "weight" {
		t.Errorf("param %q local %q", e.Weight.Name, e.Params()[0].Local)
	}
}

func TestEmbeddingInitIsStandardNormal(t *testing.T) {
	e, err := NewEmbedding("emb", 200, 50, NewRand(2))
	if err != nil {
		t.Fatal(err)
	}
	var sum, sq float64
	for _, v := range e.Weight.Value.Data {
		sum += v
		sq += v * v
	}
	n := float64(e.Weight.Size())
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	// 10 000 samples: the mean's standard error is 0.01, the variance's ≈ 0.014.
	if mean < -0.05 || mean > 0.05 || variance < 0.93 || variance > 1.07 {
		t.Errorf("mean %.3f variance %.3f, want N(0, 1)", mean, variance)
	}
}

func TestEmbeddingGrads(t *testing.T) {
	e, err := NewEmbedding("emb", 5, 4, NewRand(3))
	if err != nil {
		t.Fatal(err)
	}
	// Token 3 appears three times: its row's gradient is the sum of three.
	x := tokens(2, 4, 3, 1, 3, 0, 4, 3, 2, 1)
	checkLayerGrads(t, e, x, gradCheckOpts{skipInput: true})

	tap := checkTapSums(t, e, x)
	if n := useCounts(tap); n[UseToken] != 4 || len(n) != 1 {
		t.Errorf("contributions %v, want 4 of kind %q", n, UseToken)
	}
	dx := e.Backward(randTensor(1, 2, 4, 4), nil)
	if !slices.Equal(dx.Shape, []int{2, 4}) || slices.ContainsFunc(dx.Data, func(v float64) bool { return v != 0 }) {
		t.Errorf("dx %v %v, want zeros [2 4]", dx.Shape, dx.Data)
	}
}

func TestEmbeddingUnusedRowsGetNoGradient(t *testing.T) {
	e, err := NewEmbedding("emb", 5, 2, NewRand(3))
	if err != nil {
		t.Fatal(err)
	}
	y := e.Forward(tokens(1, 3, 1, 1, 4), nil)
	dy := TensorFrom([]float64{1, 2, 10, 20, 100, 200}, y.Shape...)
	e.Backward(dy, nil)
	want := []float64{0, 0, 11, 22, 0, 0, 0, 0, 100, 200}
	if !slices.Equal(e.Weight.Grad.Data, want) {
		t.Errorf("grad %v, want %v", e.Weight.Grad.Data, want)
	}
}

func TestEmbeddingBadIndexPanics(t *testing.T) {
	e, err := NewEmbedding("emb", 5, 2, NewRand(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{5, -1, 1.5} {
		func() {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.HasPrefix(msg, `engine: embedding "emb": index`) {
					t.Errorf("index %v: panic %q", v, msg)
				}
			}()
			e.Forward(TensorFrom([]float64{0, v}, 1, 2), nil)
		}()
	}
	expectShapePanic(t, "embedding [B T 1]", func() { e.Forward(NewTensor(1, 2, 1), nil) })
}

func TestEmbeddingShapesCountsConfigs(t *testing.T) {
	e, err := NewEmbedding("emb", 7, 3, NewRand(3))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := e.OutShape([]int{9}); err != nil || !slices.Equal(out, []int{9, 3}) {
		t.Errorf("OutShape([9]) = %v, %v", out, err)
	}
	for _, bad := range [][]int{{}, {0}, {9, 3}} {
		if _, err := e.OutShape(bad); err == nil {
			t.Errorf("OutShape(%v) accepted", bad)
		}
	}
	if c := e.Count([]int{9}); c.Uses != 9*3 || c.Unshared != 9*7*3 {
		t.Errorf("count %+v", c)
	}
	for _, sizes := range [][2]int{{0, 3}, {7, 0}, {-1, 3}} {
		if _, err := NewEmbedding("emb", sizes[0], sizes[1], NewRand(1)); err == nil || !strings.HasPrefix(err.Error(), "engine: ") {
			t.Errorf("sizes %v: error %v", sizes, err)
		}
	}
}
