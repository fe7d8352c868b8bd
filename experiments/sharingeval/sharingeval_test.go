package sharingeval

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

func spec(t *testing.T) *run.Spec {
	t.Helper()
	s, ok := run.Lookup(name)
	if !ok {
		t.Fatal("sharing-eval is not registered")
	}
	return s
}

// values returns the spec's values for a question.
func values(t *testing.T, comparison, size string, seeds int) run.Values {
	t.Helper()
	raw := fmt.Sprintf(`{"comparison":%q,"size":%q,"seeds":%d}`, comparison, size, seeds)
	v, err := spec(t).Decode(nil, json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func computed() int {
	computations.Lock()
	defer computations.Unlock()
	return computations.n
}

// TestCacheBounds: the cache keeps at most its entries and bytes, dropping
// the least recently used (a get counts as a use, a peek does not).
func TestCacheBounds(t *testing.T) {
	c := newCache(3, 100)
	put := func(k string, size int) { c.put(&entry{key: k, size: size}) }
	put("a", 10)
	put("b", 10)
	put("c", 10)
	c.get("a") // a is now the most recent: b is the oldest
	c.peek("b")
	put("d", 10)
	if _, ok := c.peek("b"); ok {
		t.Error("b kept: the entry bound dropped another")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.peek(k); !ok {
			t.Errorf("%s dropped", k)
		}
	}
	put("e", 75) // 10+10+10+75 > 100: the oldest go until it fits
	if n, b := c.len(); n > 3 || b > 100 {
		t.Errorf("cache holds %d entries, %d bytes; bounds 3, 100", n, b)
	}
	if _, ok := c.peek("e"); !ok {
		t.Error("e not kept")
	}
	if _, ok := c.peek("c"); ok {
		t.Error("c kept although older than a, d and over the byte bound")
	}
	put("huge", 101) // larger than the whole bound: not kept, nothing lost
	if _, ok := c.peek("huge"); ok {
		t.Error("an answer over the byte bound was kept")
	}
	put("e", 20) // replacing an entry counts its new size only
	if _, b := c.len(); b != 20+10+10 && b != 20+10 {
		t.Errorf("bytes %d after replacing e", b)
	}
	for i := range 50 {
		put(fmt.Sprint(i), 5)
	}
	if n, b := c.len(); n != 3 || b != 15 {
		t.Errorf("after 50 puts: %d entries, %d bytes; want 3, 15", n, b)
	}
	// The server's cache: bounded too.
	if cacheEntries*12<<10 > cacheBytes*2 || cacheBytes > 16<<20 {
		t.Errorf("cache bounds %d entries, %d bytes: not a few MB", cacheEntries, cacheBytes)
	}
}

// TestSingleFlight: two runs asking the same uncached question at once get
// it from one computation, and their answer is lab.Eval's, number for
// number (only the times differ); the counts shown before training are
// lab's too.
func TestSingleFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("trains ALBERT's 4 modes for 100 steps twice (~5 s)")
	}
	answers.clear()
	v := values(t, lab.EvalAlbert, lab.EvalSmall, 1)
	sched := run.NewScheduler(2)
	before := computed()
	var runs []*run.Run
	for i := range 2 {
		exp, err := spec(t).New(v)
		if err != nil {
			t.Fatal(err)
		}
		r := run.New(spec(t), v, exp, run.Options{Sched: sched, Owner: run.Owner{Addr: fmt.Sprint("10.0.0.", i), Session: "s"}})
		defer r.Close()
		runs = append(runs, r)
	}
	for _, r := range runs {
		if err := r.Step(1); err != nil {
			t.Fatal(err)
		}
	}
	var got []*lab.EvalResult
	for _, r := range runs {
		deadline := time.Now().Add(60 * time.Second)
		for r.Snapshot().Step < 1 {
			if time.Now().After(deadline) {
				t.Fatalf("no answer after 60 s: %+v", r.Snapshot().State)
			}
			time.Sleep(20 * time.Millisecond)
		}
		var d struct {
			Answer *lab.EvalResult `json:"answer"`
		}
		if err := json.Unmarshal(r.Snapshot().Data, &d); err != nil || d.Answer == nil {
			t.Fatalf("frame: %v (%s)", err, r.Snapshot().Data)
		}
		got = append(got, d.Answer)
	}
	if n := computed() - before; n != 1 {
		t.Errorf("two runs asking the same question computed it %d times", n)
	}
	want, err := lab.Eval(context.Background(), lab.EvalConfig{Comparison: lab.EvalAlbert, Size: lab.EvalSmall, Seeds: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	params, err := lab.EvalParams(lab.EvalAlbert)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range got {
		if len(g.Models) != len(want.Models) {
			t.Fatalf("%d models, lab %d", len(g.Models), len(want.Models))
		}
		for i, m := range want.Models {
			gm := g.Models[i]
			if gm.Model != m.Model || gm.Params != m.Params || gm.Params != params[i] || gm.Memory != m.Memory || gm.Pareto != m.Pareto ||
				gm.Test.Mean != m.Test.Mean || gm.Runs[0].Test != m.Runs[0].Test || gm.Runs[0].Diverged != m.Runs[0].Diverged {
				t.Errorf("%s: answer %+v, lab %+v (counted before training: %d)", m.Model, gm, m, params[i])
			}
		}
	}
}

// TestCloseStops: a run closed while its flight trains stops within a
// second — its worker, its background lending and the flight's goroutine
// — and the flight, asked by nobody else, is dropped.
func TestCloseStops(t *testing.T) {
	v := values(t, lab.EvalCNN, lab.EvalLarge, 10) // minutes of work
	exp, err := spec(t).New(v)
	if err != nil {
		t.Fatal(err)
	}
	r := run.New(spec(t), v, exp, run.Options{Sched: run.NewScheduler(2)})
	if err := r.Step(1); err != nil {
		t.Fatal(err)
	}
	key := keyOf(configOf(v))
	var f *flight
	for deadline := time.Now().Add(20 * time.Second); ; {
		if f = flightOf(key); f != nil && f.snapshot().Step > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flight did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	r.Close()
	select {
	case <-r.Done():
	case <-time.After(time.Second):
		t.Fatal("the run's worker did not end within a second of Close")
	}
	select {
	case <-f.over:
	case <-time.After(time.Second):
		t.Fatal("the flight's goroutine did not stop within a second of Close")
	}
	t.Logf("stopped %v after Close, at %+v", time.Since(start).Round(time.Millisecond), f.snapshot())
	if flightOf(key) != nil {
		t.Error("the flight is still in the air")
	}
	if _, ok := answers.peek(key); ok {
		t.Error("a cancelled flight left an answer")
	}
}

// cpuTime is the CPU time the process has used: a piece's work runs on
// the flight's goroutine while Advance waits, so the thread's time would
// not see it.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapNow() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestPieceBudget measures every comparison at the small budget, one seed,
// against the spec's budget: the CPU of the longest Advance (a piece of
// training, or a measurement) and the heap a flight holds while it trains.
func TestPieceBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("trains every comparison once (~15 s); needs full speed")
	}
	b := spec(t).Budget
	lab.TrainSet()
	lab.TestSet()
	for _, c := range lab.EvalComparisons() {
		answers.clear()
		before := heapNow()
		e := newEval(values(t, c, lab.EvalSmall, 1))
		var worst, sum time.Duration
		n := 0
		var held int64
		for e.Pos() < 1 {
			t0 := cpuTime(t)
			if err := e.Advance(); err != nil {
				t.Fatal(err)
			}
			d := cpuTime(t) - t0
			worst, sum, n = max(worst, d), sum+d, n+1
			if n == 3 {
				held = heapNow() - before // trainers built, mid-training
			}
		}
		t.Logf("%s: %d pieces, mean %v CPU, longest %v (budget %v); heap mid-flight %.1f MB (budget %.1f MB)",
			c, n, (sum / time.Duration(n)).Round(time.Millisecond), worst.Round(time.Millisecond), b.Step, float64(held)/1e6, float64(b.Memory)/1e6)
		if worst > b.Step*3/2 {
			t.Errorf("%s: a piece took %v of CPU, budget %v", c, worst, b.Step)
		}
		if held > b.Memory {
			t.Errorf("%s: a flight holds %.1f MB, budget %.1f MB", c, float64(held)/1e6, float64(b.Memory)/1e6)
		}
		st, _ := json.Marshal(e.Frame().Static)
		d, _ := json.Marshal(e.Frame().Data)
		if len(st) > b.StaticBytes || len(d) > b.FrameBytes {
			t.Errorf("%s: frame static %d B, data %d B; budgets %d, %d", c, len(st), len(d), b.StaticBytes, b.FrameBytes)
		}
	}
}

// TestFrameAtMostSeeds: the largest answer (ALBERT's 4 modes, 10 seeds)
// fits the frame budget; built from a synthetic result, nothing trained.
func TestFrameAtMostSeeds(t *testing.T) {
	res := &lab.EvalResult{Config: lab.EvalConfig{Comparison: lab.EvalAlbert, Size: lab.EvalLarge, Seeds: lab.MaxEvalSeeds}, HasTrain: true, HasTime: true}
	for _, m := range lab.AlbertShares() {
		em := lab.EvalModel{Model: m, Params: 123456, Memory: 123456 * lab.BytesPerParam}
		for s := range lab.MaxEvalSeeds {
			em.Runs = append(em.Runs, lab.EvalRun{Model: m, Seed: uint64(s + 1), Test: math.Pi / 4, Train: math.Pi / 3, Gap: math.Pi / 7, Seconds: math.E * 10})
		}
		res.Models = append(res.Models, em)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	e := newEval(values(t, lab.EvalAlbert, lab.EvalLarge, lab.MaxEvalSeeds))
	e.ans, e.pos = &entry{res: res, frozen: b, at: time.Now()}, 1
	d, _ := json.Marshal(e.Frame().Data)
	if len(d) > spec(t).Budget.FrameBytes {
		t.Errorf("frame data %d B over budget %d", len(d), spec(t).Budget.FrameBytes)
	}
	t.Logf("largest answer: %d B of JSON, frame %d B", len(b), len(d))
}

// TestCSV: the table has a header, a row per model per seed and a row per
// model, every row as wide as the header, with the answer's numbers;
// unmeasured values are empty. At step 0: the parameters only.
func TestCSV(t *testing.T) {
	res := &lab.EvalResult{Config: lab.EvalConfig{Comparison: lab.EvalCNN, Size: lab.EvalSmall, Seeds: 2}, HasTrain: true, HasTime: false, Shifts: []int{0, 4}}
	for i, m := range lab.Models() {
		em := lab.EvalModel{Model: m, Params: 1000 * (i + 1), Memory: int64(1000*(i+1)) * lab.BytesPerParam, Pareto: i == 0}
		for s := range 2 {
			em.Runs = append(em.Runs, lab.EvalRun{Model: m, Seed: uint64(s + 1), Test: 0.5 + 0.1*float64(i) + 0.01*float64(s), Train: 0.9, Gap: 0.4, Shifted: []float64{0.5, 0.25}})
		}
		em.Test = lab.NewEvalStat([]float64{em.Runs[0].Test, em.Runs[1].Test})
		em.Shifted = []lab.EvalStat{lab.NewEvalStat([]float64{0.5, 0.5}), lab.NewEvalStat([]float64{0.25, 0.25})}
		em.Diff = lab.NewEvalStat([]float64{0.1 * float64(i), 0.1 * float64(i)})
		res.Models = append(res.Models, em)
	}
	e := newEval(values(t, lab.EvalCNN, lab.EvalSmall, 2))
	var buf bytes.Buffer
	if err := writeCSV(&buf, e, "en"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 5 || rows[1][0] != "params" || rows[2][3] != "299498" || rows[4][1] != lab.ModelMLPWide || rows[4][3] != "299725" {
		t.Errorf("step 0: %v %v", rows, err)
	}
	e.ans, e.pos = &entry{res: res}, 1
	buf.Reset()
	if err := writeCSV(&buf, e, "en"); err != nil {
		t.Fatal(err)
	}
	rows, err = csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+3*2+3 || len(rows[0]) != len(csvHeader)+2 || rows[0][len(rows[0])-1] != "test_shifted_4px" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	if r := rows[3]; r[0] != "run" || r[1] != "lc" || r[2] != "1" || r[3] != "2000" || r[5] != "0.6" || r[8] != "" || r[14] != "0.09999999999999998" || r[18] != "0.25" {
		t.Errorf("lc seed 1 row %v", r)
	}
	if r := rows[7]; r[0] != "mean" || r[1] != "cnn" || r[5] != "0.505" || r[11] == "" || r[13] != "true" || r[14] != "0" {
		t.Errorf("cnn mean row %v", r)
	}
}

// TestExportsFromCache: an export (a replay without a run) of a question
// the server has not answered does not train: it fails at once with the
// en/zh text telling the reader to run it on the page; once the answer is
// in the cache, the same export is drawn from it.
func TestExportsFromCache(t *testing.T) {
	answers.clear()
	defer answers.clear()
	v := values(t, lab.EvalCNN, lab.EvalMedium, 3)
	before := computed()
	t0 := time.Now()
	_, err := run.Replay(context.Background(), spec(t), v, 1, run.NewScheduler(1), run.Owner{Session: "export"})
	var re *run.Error
	if !errors.As(err, &re) || re.Text.En == "" || re.Text.Zh == "" || !strings.Contains(re.Text.En, "run the comparison") {
		t.Fatalf("export of an unanswered question: %v, want the run.Error asking to run it first", err)
	}
	if d := time.Since(t0); d > time.Second || computed() != before {
		t.Errorf("the refused export took %v and started %d computations", d, computed()-before)
	}
	// At step 0 the export draws the parameters, without an answer.
	if _, err := run.Replay(context.Background(), spec(t), v, 0, run.NewScheduler(1), run.Owner{Session: "export"}); err != nil {
		t.Errorf("step 0: %v", err)
	}
	// The answer in the cache: the export is drawn from it.
	cfg := configOf(v)
	res := &lab.EvalResult{Config: cfg, Budget: cfg.Budget(), Measure: "accuracy", HigherBetter: true}
	for _, m := range modelsOf(cfg.Comparison) {
		em := lab.EvalModel{Model: m, Params: 1000}
		for s := range 3 {
			em.Runs = append(em.Runs, lab.EvalRun{Model: m, Seed: uint64(s + 1), Test: 0.5})
		}
		em.Test = lab.NewEvalStat([]float64{0.5, 0.5, 0.5})
		res.Models = append(res.Models, em)
	}
	b, _ := json.Marshal(res)
	answers.put(&entry{key: keyOf(cfg), res: res, at: time.Now(), size: len(b), frozen: b})
	exp, err := run.Replay(context.Background(), spec(t), v, 1, run.NewScheduler(1), run.Owner{Session: "export"})
	if err != nil || exp.Pos() != 1 {
		t.Fatalf("export of a cached answer: %v", err)
	}
	var buf bytes.Buffer
	if err := writeCSV(&buf, exp, "en"); err != nil || !strings.Contains(buf.String(), "mean,mlp-wide,,1000") {
		t.Errorf("csv of the cached answer: %v\n%s", err, buf.String())
	}
	if computed() != before {
		t.Errorf("exports computed %d answers", computed()-before)
	}
}

// TestDigits: the digits field sets the CNN question's training digits
// (lab's TrainSize, a question of its own), and changes no other question.
func TestDigits(t *testing.T) {
	s := spec(t)
	dec := func(raw string) lab.EvalConfig {
		v, err := s.Decode(nil, json.RawMessage(raw))
		if err != nil {
			t.Fatal(err)
		}
		return configOf(v)
	}
	c := dec(`{"comparison":"cnn-lc-mlp","size":"small","seeds":3,"digits":"1000"}`)
	if c.TrainSize != 1000 || c.Budget().TrainSize != 1000 || c.Budget().Steps != 27 || keyOf(c) == keyOf(dec(`{"comparison":"cnn-lc-mlp","size":"small","seeds":3}`)) {
		t.Errorf("cnn with 1,000 digits: %+v, budget %+v", c, c.Budget())
	}
	if tw := dec(`{"comparison":"twins-towers","size":"small","seeds":3,"digits":"1000"}`); keyOf(tw) != keyOf(dec(`{"comparison":"twins-towers","size":"small","seeds":3}`)) {
		t.Errorf("twins with digits set: %+v, a question of its own", tw)
	}
	if _, err := s.Decode(nil, json.RawMessage(`{"digits":"123"}`)); err == nil {
		t.Error("digits 123 accepted")
	}
}
