package tiedembed

import (
	"math"
	"net/url"
	"sync"
	"testing"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

func defaults(t testing.TB) run.Values {
	t.Helper()
	s, ok := run.Lookup(Name)
	if !ok {
		t.Fatal("tied-embed is not registered")
	}
	v, err := s.DecodeQuery(url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFrameAgainstEngine: the frame's parameter counts and ledger are the
// engine's, and the ledger adds up to 1e-12 at every step shown.
func TestFrameAgainstEngine(t *testing.T) {
	r, err := newRace(defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; step <= 12; step++ {
		if step > 0 {
			if err := r.Advance(); err != nil {
				t.Fatal(err)
			}
		}
		d := r.dataFrame()
		if d.Ledger.MaxErr > 1e-12 {
			t.Fatalf("step %d: max |input + output − dW| = %g", step, d.Ledger.MaxErr)
		}
		l := d.Ledger
		if l.OutRows != r.staticFrame().Vocab {
			t.Fatalf("step %d: output side touched %d rows", step, l.OutRows)
		}
		// The lesson: about 120 of the rows are read; for the rarest band
		// and the word of rank 901 the output side outweighs the input side.
		if l.InRows < 80 || l.InRows > 160 {
			t.Errorf("step %d: input side touched %d rows, the lesson says about 120", step, l.InRows)
		}
		last := len(l.BandIn) - 1
		if !(l.BandIn[last] < l.BandOut[last]/10) || !(l.WordIn[3] < l.WordOut[3]) {
			t.Errorf("step %d: rarest band input %g output %g; rank-901 word input %g output %g", step, l.BandIn[last], l.BandOut[last], l.WordIn[3], l.WordOut[3])
		}
	}
	s := r.staticFrame()
	if s.Saved != s.Vocab*r.v.Int("d") || s.Models[0].Params != r.r.Model(lab.Tied).Model.Count().Params {
		t.Fatalf("saved %d, want V·d = %d·%d; models %+v", s.Saved, s.Vocab, r.v.Int("d"), s.Models)
	}
	if s.Vocab < 1000 || s.TrainTokens < 100_000 {
		t.Fatalf("vocabulary %d, %d training tokens", s.Vocab, s.TrainTokens)
	}
}

// claimSeeds are the seeds the lesson's perplexity claims are checked on.
const claimSeeds = 3

// TestClaimsPerplexity re-checks the orderings the lesson states for the
// default race (d 32, batch 16, Adam 3e-3, 1,500 steps), seed by seed,
// on 512 windows of each split as `lab tied-vs-untied` measures them:
// tied's training perplexity ends above untied's, its validation
// perplexity below, and its gap (validation − training) is smaller; at
// step 500 it is behind on both. The
// seeds race in parallel (about 30 s of CPU each).
func TestClaimsPerplexity(t *testing.T) {
	v := defaults(t)
	type result struct{ train, valid, train500, valid500 [2]float64 }
	res := make([]result, claimSeeds)
	var wg sync.WaitGroup
	errs := make([]error, claimSeeds)
	for i := range claimSeeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := Config(v)
			cfg.Seed = uint64(i + 1)
			r, err := lab.NewTiedRace(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			c := r.Corpus()
			for step := 1; step <= v.Int("steps"); step++ {
				if _, err := r.Step(); err != nil {
					errs[i] = err
					return
				}
				if step == 500 {
					res[i].train500, res[i].valid500 = r.Perplexity(c.Train, 512), r.Perplexity(c.Valid, 512)
				}
			}
			res[i].train, res[i].valid = r.Perplexity(c.Train, 512), r.Perplexity(c.Valid, 512)
		}()
	}
	wg.Wait()
	var gapT, gapU float64
	for i, r := range res {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Logf("seed %d: training ppl tied %.3f untied %.3f; validation tied %.3f untied %.3f", i+1, r.train[0], r.train[1], r.valid[0], r.valid[1])
		if !(r.train[0] > r.train[1]) {
			t.Errorf("seed %d: tied training perplexity %.3f not above untied %.3f", i+1, r.train[0], r.train[1])
		}
		if !(r.valid[0] < r.valid[1]) {
			t.Errorf("seed %d: tied validation perplexity %.3f not below untied %.3f", i+1, r.valid[0], r.valid[1])
		}
		// Early on the tied model is behind on both splits.
		if !(r.train500[0] > r.train500[1] && r.valid500[0] > r.valid500[1]) {
			t.Errorf("seed %d, step 500: tied %.3f/%.3f, untied %.3f/%.3f (training/validation): want tied behind on both", i+1, r.train500[0], r.valid500[0], r.train500[1], r.valid500[1])
		}
		gapT += r.valid[0] - r.train[0]
		gapU += r.valid[1] - r.train[1]
	}
	if !(gapT < gapU) || math.IsNaN(gapT) {
		t.Errorf("mean gap tied %.3f, untied %.3f: want tied's smaller", gapT/claimSeeds, gapU/claimSeeds)
	}
}
