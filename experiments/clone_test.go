package experiments_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/paramshare/paramshare/run"
)

// TestClonesContinue: an experiment that copies itself (run.Cloner, what
// a class's fork uses) gives a copy that goes on exactly as the original,
// step for step, sharing nothing the steps change; and a trainer's score
// is a finite loss once it has stepped.
func TestClonesContinue(t *testing.T) {
	forEach(t, func(t *testing.T, s *run.Spec) {
		orig := mustNew(t, s, run.Defaults(s.Fields))
		defer closeExp(orig)
		cl, isCloner := orig.(run.Cloner)
		sc, isScorer := orig.(run.Scorer)
		if isScorer != s.Trains {
			t.Errorf("the spec says Trains %v, the experiment is a Scorer: %v", s.Trains, isScorer)
		}
		if !isCloner && !isScorer {
			t.Skip("neither a Cloner nor a Scorer")
		}
		advance(t, orig, min(3, orig.Total()))
		if isScorer {
			if l := sc.Score().Loss; math.IsNaN(l) || math.IsInf(l, 0) {
				t.Errorf("after %d steps the score's loss is %v, want a finite loss", orig.Pos(), l)
			}
		}
		if !isCloner {
			return
		}
		c, err := cl.Clone()
		if err != nil {
			t.Fatal(err)
		}
		defer closeExp(c)
		if c.Pos() != orig.Pos() {
			t.Fatalf("the copy is at step %d, the original at %d", c.Pos(), orig.Pos())
		}
		k := min(orig.Pos()+3, orig.Total())
		advance(t, c, k) // the copy first: shared state would change the original's steps
		advance(t, orig, k)
		cs, cd := encode(t, c.Frame())
		os, od := encode(t, orig.Frame())
		if !bytes.Equal(cs, os) || !bytes.Equal(cd, od) {
			t.Errorf("at step %d the copy's frame differs from the original's:\n%.300s\n%.300s", k, cd, od)
		}
	})
}

// advance takes exp to step k (an experiment owing work at a step does it
// inside Advance when no run hosts it).
func advance(t *testing.T, exp run.Experiment, k int) {
	t.Helper()
	for i := 0; exp.Pos() < k; i++ {
		if i > 100*k+1000 {
			t.Fatalf("stuck at step %d of %d", exp.Pos(), k)
		}
		if err := exp.Advance(); err != nil {
			t.Fatal(err)
		}
	}
}

func closeExp(exp run.Experiment) {
	if c, ok := exp.(run.Closer); ok {
		c.Close()
	}
}
