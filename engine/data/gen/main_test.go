package main

import (
	"slices"
	"testing"

	"github.com/paramshare/paramshare/engine"
)

func TestBalancedSubset(t *testing.T) {
	// 3 classes with 5, 4 and 6 examples; class of index i is labels[i].
	labels := []uint8{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 2, 2}
	idx, err := balancedSubset(labels, 3, 4, engine.NewRand(7))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 12 {
		t.Fatalf("%d indices, want 12", len(idx))
	}
	if sorted := slices.Sorted(slices.Values(idx)); len(slices.Compact(sorted)) != 12 {
		t.Fatalf("repeated indices in %v", idx)
	}
	for round := range 4 {
		var classes []uint8
		for _, i := range idx[3*round : 3*round+3] {
			classes = append(classes, labels[i])
		}
		slices.Sort(classes)
		if !slices.Equal(classes, []uint8{0, 1, 2}) {
			t.Fatalf("round %d has classes %v, want one of each", round, classes)
		}
	}
	again, _ := balancedSubset(labels, 3, 4, engine.NewRand(7))
	if !slices.Equal(idx, again) {
		t.Fatal("same seed, different subset")
	}

	if _, err := balancedSubset(labels, 3, 5, engine.NewRand(7)); err == nil {
		t.Fatal("class 1 has 4 examples, but 5 per class was accepted")
	}
	if _, err := balancedSubset([]uint8{0, 3}, 3, 1, engine.NewRand(7)); err == nil {
		t.Fatal("label 3 with 3 classes was accepted")
	}
}
