package attnlearn

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

func defaults(t testing.TB) run.Values {
	t.Helper()
	s, ok := run.Lookup(Name)
	if !ok {
		t.Fatal("attention-learn is not registered")
	}
	return run.Defaults(s.Fields)
}

// TestNumbersAreTheEngines: after k steps the frame's loss and accuracy
// are those of an engine transformer trained here by hand (same seed,
// batches and Adam), its maps that model's attention weights on the probe
// and its fixed-set scores that model's on the same sequences.
func TestNumbersAreTheEngines(t *testing.T) {
	v := defaults(t).With("task", lab.TaskSort).With("blocks", 2).With("heads", 2).With("positions", engine.PositionsLearned)
	l, err := newLearn(v)
	if err != nil {
		t.Fatal(err)
	}
	const k = EvalEvery
	for range k {
		if err := l.Advance(); err != nil {
			t.Fatal(err)
		}
	}
	c := Config(v)
	m, err := engine.NewTransformer("hand", c.Model(), c.Seed)
	if err != nil {
		t.Fatal(err)
	}
	opt := engine.NewAdam(c.LR, 0.9, 0.999, 1e-8)
	rng := lab.AttnTrainRand(c.Seed)
	var loss, acc float64
	for range k {
		x, y := lab.SortBatch(rng, c.Batch, 8, c.Vocab)
		m.ZeroGrad()
		out := m.Forward(x, nil)
		loss, acc = m.Loss.Forward(out, y), engine.Accuracy(out, y)
		m.Backward(m.Loss.Backward(), nil)
		engine.ClipGradNorm(m.Params(), c.Clip)
		opt.Step(m.Params())
	}
	d := l.dataFrame()
	if *d.Loss != loss || *d.Accuracy != acc {
		t.Errorf("frame loss %v acc %v, by hand %v %v", *d.Loss, *d.Accuracy, loss, acc)
	}
	if st := l.staticFrame(); st.ModelParams != m.Count().Params {
		t.Errorf("frame params %d, engine %d", st.ModelParams, m.Count().Params)
	}
	rec := engine.NewRecorder(engine.RecordFilter{Internals: []string{engine.InternalAttention}})
	px, _ := Probe(lab.TaskSort)
	m.Forward(px, rec)
	vals := rec.Internals()
	if len(vals) != 4 {
		t.Fatalf("%d maps recorded, want 4", len(vals))
	}
	for i, iv := range vals {
		got := l.maps[i/2][i%2]
		for j, w := range iv.Value.Data {
			if got[j] != w {
				t.Fatalf("map %d entry %d: %v, engine %v", i, j, got[j], w)
			}
		}
	}
	e := l.lastEval() // full precision (the frame rounds to 4 digits)
	if e.Step != k {
		t.Fatalf("last evaluation at step %d", e.Step)
	}
	for i, L := range Lengths {
		x, y := lab.AttnEvalSet(lab.TaskSort, EvalSize, L, c.Vocab)
		out := m.Forward(x, nil)
		if a := engine.Accuracy(out, y); a != e.Accuracy[i] {
			t.Errorf("length %d: frame accuracy %v, by hand %v", L, e.Accuracy[i], a)
		}
	}
}

// TestFrameSize: the largest frame (2 blocks of 4 heads, the last of 1000
// steps: the most evaluations) stays inside the budget.
func TestFrameSize(t *testing.T) {
	t.Parallel() // a long run, beside TestClaims' on the other core
	s, _ := run.Lookup(Name)
	l, err := newLearn(s.CostliestValues())
	if err != nil {
		t.Fatal(err)
	}
	for l.Pos() < l.Total() {
		if err := l.Advance(); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(l.Frame().Data)
	if err != nil {
		t.Fatal(err)
	}
	static, _ := json.Marshal(l.Frame().Static)
	t.Logf("frame data %d bytes, static %d bytes", len(data), len(static))
	if len(data) > s.Budget.FrameBytes || len(static) > s.Budget.StaticBytes {
		t.Errorf("data %d B (budget %d), static %d B (budget %d)", len(data), s.Budget.FrameBytes, len(static), s.Budget.StaticBytes)
	}
}

// TestFigure draws the PNG export at the default run's end; with
// ATTNLEARN_SHOTS set it keeps it there to be looked at.
func TestFigure(t *testing.T) {
	l, err := newLearn(defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	for range 60 {
		if err := l.Advance(); err != nil {
			t.Fatal(err)
		}
	}
	for _, lang := range []string{"en", "zh"} {
		var b bytes.Buffer
		if err := l.figure(&b, "png", lang); err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv("ATTNLEARN_SHOTS"); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, "attention-learn-export-"+lang+".png"), b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestDivergenceIsReported(t *testing.T) {
	l, err := newLearn(defaults(t).With("lr", 0.1))
	if err != nil {
		t.Fatal(err)
	}
	for l.pos < l.Total() {
		if err := l.Advance(); err != nil {
			if l.diverged == nil {
				t.Fatal(err)
			}
			return // diverged, and said so
		}
	}
	// lr 0.1 may also just train: then nothing was to be reported.
}
