package drawdigit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// The models train once per test binary, on the small budget of test
// binaries (see budget; a few seconds of CPU) unless PARAMSHARE_DRAW_FULL=1
// asks for the server's, to measure it:
//
//	PARAMSHARE_DRAW_FULL=1 go test ./experiments/drawdigit -run Progress -v

// skipTrainingInShort skips a test that needs the models under -short.
func skipTrainingInShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipped, this test needs the draw-digit models trained (seconds of CPU, minutes under -race)")
	}
}

// slowestPiece is the longest piece of training the tests timed.
var slowestPiece struct {
	sync.Mutex
	d time.Duration
}

func timedPiece() error {
	start := time.Now()
	err := trainPiece()
	slowestPiece.Lock()
	slowestPiece.d = max(slowestPiece.d, time.Since(start))
	slowestPiece.Unlock()
	return err
}

// waitModels trains what is left of the models, piece by piece, failing
// the test after 3 min.
func waitModels(t *testing.T) {
	t.Helper()
	skipTrainingInShort(t)
	deadline := time.Now().Add(3 * time.Minute)
	for trained() == errTraining {
		if time.Now().After(deadline) {
			t.Fatal("models not trained after 3 min")
		}
		if err := timedPiece(); err != nil {
			t.Fatal(err)
		}
	}
	if err := trained(); err != nil {
		t.Fatal(err)
	}
}

// decode decodes raw onto base (nil: the defaults) through the spec.
func decode(t *testing.T, base run.Values, raw string) run.Values {
	t.Helper()
	s, _ := run.Lookup(name)
	v, err := s.Decode(base, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testDigit returns test digit i's bytes.
func testDigit(i int) []byte {
	return slices.Clone(lab.TestSet().Pixels[i*area : (i+1)*area])
}

// fakeHost runs Compute at once and counts the pieces it ran.
type fakeHost struct {
	pieces  atomic.Int64
	changed atomic.Int64
}

func (h *fakeHost) Changed()   { h.changed.Add(1) }
func (h *fakeHost) Fail(error) {}
func (h *fakeHost) Compute(ctx context.Context, f func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.pieces.Add(1)
	start := time.Now()
	f()
	slowestPiece.Lock()
	slowestPiece.d = max(slowestPiece.d, time.Since(start))
	slowestPiece.Unlock()
	return nil
}

// TestLendingStopsAtClose attaches an experiment before the models exist
// (this is the first test in the binary to touch them): the training runs
// on its host, and once Close has returned the host is not called again.
func TestLendingStopsAtClose(t *testing.T) {
	skipTrainingInShort(t)
	if trained() != errTraining {
		t.Skip("the models are trained already")
	}
	h := &fakeHost{}
	d := newDigit(decode(t, nil, `{}`))
	d.Attach(h)
	for h.pieces.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	d.Close()
	took := time.Since(start)
	n := h.pieces.Load()
	time.Sleep(300 * time.Millisecond)
	if m := h.pieces.Load(); m != n {
		t.Fatalf("%d pieces ran on the host after Close", m-n)
	}
	if took > time.Second {
		t.Fatalf("Close took %v", took)
	}
	if p := currentProgress(); !p.Started || p.Fraction <= 0 || p.Done {
		t.Fatalf("after %d pieces: progress %+v", n, p)
	}
	t.Logf("%d pieces on the host, %d notifications; Close returned in %v; progress %.1f %%", n, h.changed.Load(), took.Round(time.Microsecond), 100*currentProgress().Fraction)
}

// TestShowsTrainingProgress plays a run while the models train: it shows
// step 0 with the progress moving, then step 1 once the models answer.
func TestShowsTrainingProgress(t *testing.T) {
	skipTrainingInShort(t)
	r, err := run.Start(name, json.RawMessage(`{"digit": 3}`), run.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.SetSpeed(run.MaxSpeed); err != nil {
		t.Fatal(err)
	}
	if err := r.Play(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var fractions []float64
	var d dataPart
	for {
		u := r.Snapshot()
		if u.State == run.Done {
			break
		}
		if u.State != run.Running && u.State != run.Paused {
			t.Fatalf("state %s: %s", u.State, u.Err.En)
		}
		if time.Since(start) > 3*time.Minute {
			t.Fatal("models not asked after 3 min")
		}
		if err := json.Unmarshal(u.Data, &d); err != nil {
			t.Fatal(err)
		}
		if !d.Training.Started {
			t.Fatal("a draw-digit run did not start the training")
		}
		if len(fractions) == 0 || fractions[len(fractions)-1] != d.Training.Fraction {
			fractions = append(fractions, d.Training.Fraction)
		}
		if d.Predictions != nil {
			t.Fatal("predictions before step 1")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.IsSorted(fractions) {
		t.Errorf("progress went backwards: %v", fractions)
	}
	u := r.Snapshot()
	d = dataPart{}
	if err := json.Unmarshal(u.Data, &d); err != nil {
		t.Fatal(err)
	}
	if u.Step != 1 || len(d.Predictions) != 3 || !d.Training.Done || d.Training.Fraction != 1 {
		t.Fatalf("after training: step %d, %d predictions, training %+v", u.Step, len(d.Predictions), d.Training)
	}
	var st staticPart
	if err := json.Unmarshal(u.Static, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Models) != 3 {
		t.Fatalf("static lists %d models, want 3", len(st.Models))
	}
	for _, m := range st.Models {
		t.Logf("%s: %d params, %d steps in %.1f s, test accuracy %.1f %%, shifted %v → %v",
			m.Name, m.Params, m.Steps, m.Seconds, 100*m.TestAccuracy, m.Shifts, m.ShiftAccuracy)
		if m.TestAccuracy < 0.5 {
			t.Errorf("%s test accuracy %.1f %%: not trained", m.Name, 100*m.TestAccuracy)
		}
	}
	t.Logf("%d distinct progress values seen, %v from start to answered", len(fractions), time.Since(start).Round(time.Millisecond))
}

// TestMatchesForward checks that the experiment's predictions and feature
// maps are those of a direct Forward of the trained models on the same
// preprocessed input, for drawings with and without centring and shifted.
func TestMatchesForward(t *testing.T) {
	waitModels(t)
	d := newDigit(decode(t, nil, `{}`))
	if err := d.Advance(); err != nil || d.Pos() != 1 {
		t.Fatalf("Advance: %v, pos %d", err, d.Pos())
	}
	if got := d.data(); !got.Empty || got.Predictions != nil {
		t.Fatalf("blank drawing: empty %v, %d predictions", got.Empty, len(got.Predictions))
	}
	// A test digit squeezed into the top-left corner, as a careless drawing.
	corner := make([]byte, area)
	src := testDigit(7)
	for y := range 14 {
		for x := range 14 {
			corner[y*side+x] = src[(2*y)*side+2*x]
		}
	}
	for _, tc := range []struct {
		params string
		px     []byte
		center bool
		shift  int
	}{
		{`{"digit": 0}`, testDigit(0), true, 0},
		{`{"digit": -1, "pixels": "` + base64.StdEncoding.EncodeToString(corner) + `", "shift": -5}`, corner, true, -5},
		{`{"center": false}`, corner, false, -5},
		{`{"digit": 11, "shift": 8, "center": true}`, testDigit(11), true, 8},
	} {
		if err := d.SetParams(decode(t, d.v, tc.params)); err != nil {
			t.Fatalf("%s: %v", tc.params, err)
		}
		in := prepare(tc.px, tc.center, tc.shift)
		if !slices.Equal(d.input, in) {
			t.Fatalf("%s: the run's input differs from prepare", tc.params)
		}
		frame := d.data()
		if got, _ := base64.StdEncoding.DecodeString(frame.Input); !slices.Equal(got, in) {
			t.Fatalf("%s: the frame's input differs from prepare", tc.params)
		}
		for i, m := range lab.Models() {
			net := newTrained(m)
			tap := &mapTap{want: map[string]int{"relu1": 0, "relu2": 1}, maps: new([2][]float64)}
			want := engine.Softmax(net.Forward(digitTensor(in), tap).Data)
			got := frame.Predictions[i]
			if got.Model != m || !slices.Equal(got.Probs, want) || got.Top != argmax(want) || got.P != want[got.Top] {
				t.Fatalf("%s %s: frame %+v, Forward gives %v", tc.params, m, got, want)
			}
			if m == "cnn" {
				checkMaps(t, tc.params, frame.Maps, tap.maps)
			}
			// The sweep's unshifted entry is the centred drawing's answer.
			if sw := frame.Sweep; tc.center && tc.shift == 0 && sw.Top[m][-minShift] != got.Top {
				t.Errorf("%s: sweep at shift 0 says %d, prediction %d", tc.params, sw.Top[m][-minShift], got.Top)
			}
		}
		t.Logf("%s: cnn %d (%.3f), lc %d (%.3f), mlp %d (%.3f); label %d", tc.params,
			frame.Predictions[0].Top, frame.Predictions[0].P, frame.Predictions[1].Top, frame.Predictions[1].P,
			frame.Predictions[2].Top, frame.Predictions[2].P, frame.Label)
	}
}

// checkMaps compares the frame's quantized maps with the tap's: within
// half a code step, and exactly 0 where the ReLU gave 0.
func checkMaps(t *testing.T, what string, got []layerMaps, want *[2][]float64) {
	t.Helper()
	for l, dm := range got {
		vals, err := dm.Maps.Values()
		if err != nil {
			t.Fatal(err)
		}
		ref := want[l]
		step := slices.Max(ref) / 254
		for k := range ref {
			// Half a step, but a positive value too small for code 1
			// still takes it (code 0 is exactly 0, the ReLU's dead cells).
			tol := step / 2
			if ref[k] > 0 && ref[k] < step/2 {
				tol = step
			}
			if math.Abs(vals[k]-ref[k]) > tol+1e-9 || (ref[k] == 0) != (vals[k] == 0) {
				t.Fatalf("%s %s map value %d: %g, Forward %g", what, dm.Layer, k, vals[k], ref[k])
			}
		}
	}
}

// TestDrawingAndTestDigit: a test digit is shown instead of the drawing,
// which stays as it was; -1 brings the drawing back; null keeps every
// value (it used to replace the drawing with test digit 0).
func TestDrawingAndTestDigit(t *testing.T) {
	drawing := make([]byte, area)
	for y := 8; y < 20; y++ {
		drawing[y*side+14] = 255
	}
	v := decode(t, nil, `{"pixels": "`+base64.StdEncoding.EncodeToString(drawing)+`"}`)
	d := newDigit(v)
	want := prepare(drawing, true, 0)
	if !slices.Equal(d.input, want) || d.data().Digit != -1 || d.data().Drawing != "" {
		t.Fatal("the drawing is not what the models read")
	}
	for _, raw := range []string{`{"digit": null}`, `{"pixels": null, "digit": null, "center": null, "shift": null}`, `null`, `{}`} {
		if w := decode(t, v, raw); !w.Equal(v) {
			t.Fatalf("%s changed the values", raw)
		}
	}
	v = decode(t, v, `{"digit": 5}`)
	d.SetParams(v)
	if !slices.Equal(d.input, prepare(testDigit(5), true, 0)) || d.data().Label != int(lab.TestSet().Labels[5]) {
		t.Fatal("test digit 5 is not what the models read")
	}
	if got, _ := base64.StdEncoding.DecodeString(d.data().Drawing); !slices.Equal(got, testDigit(5)) {
		t.Fatal("the frame does not carry the test digit for the page to paint")
	}
	d.SetParams(decode(t, v, `{"digit": -1}`))
	if !slices.Equal(d.input, want) {
		t.Fatal("digit -1 did not bring the drawing back")
	}
}

// TestInstancesAreCopies checks that each instance has weights of its own
// (a computation cannot disturb another's) equal to the trained ones.
func TestInstancesAreCopies(t *testing.T) {
	waitModels(t)
	a, b := newTrained("cnn"), newTrained("cnn")
	x := digitTensor(testDigit(2))
	ya := slices.Clone(a.Forward(x, nil).Data)
	a.Params()[0].Value.Data[0] += 1
	if yb := b.Forward(x, nil).Data; !slices.Equal(ya, yb) {
		t.Fatalf("changing one copy's weights changed the other's output: %v vs %v", ya, yb)
	}
	for i, p := range b.Params() {
		if !slices.Equal(p.Value.Data, shared.weights["cnn"][i]) {
			t.Fatalf("param %s differs from the trained weights", p.Name)
		}
	}
}

// TestRestart: Restart forgets the answers, Advance asks again.
func TestRestart(t *testing.T) {
	waitModels(t)
	d := newDigit(decode(t, nil, `{"digit": 4}`))
	if d.data().Predictions != nil {
		t.Fatal("predictions at step 0")
	}
	if err := d.Advance(); err != nil || d.Pos() != 1 || d.data().Predictions == nil {
		t.Fatalf("Advance: %v, pos %d", err, d.Pos())
	}
	if err := d.Restart(); err != nil || d.Pos() != 0 || d.data().Predictions != nil || len(d.static().Models) != 0 {
		t.Fatalf("Restart: %v, pos %d", err, d.Pos())
	}
	if err := d.Advance(); err != nil || d.Pos() != 1 || d.data().Predictions == nil || len(d.static().Models) != 3 {
		t.Fatalf("Advance again: %v, pos %d", err, d.Pos())
	}
}

// TestTrace checks the trace export: the CNN on the input the models read,
// its own answer as the target — trained at step 1, as its training starts
// at step 0.
func TestTrace(t *testing.T) {
	waitModels(t)
	d := newDigit(decode(t, nil, `{"digit": 3, "shift": 2}`))
	seed := lab.DefaultTrainConfig("cnn").Seed
	initial, err := engine.BuildModel("cnn", seed)
	if err != nil {
		t.Fatal(err)
	}
	for step, net := range []*engine.Model{initial, newTrained("cnn")} {
		var buf bytes.Buffer
		if err := writeTrace(&buf, d, "en"); err != nil {
			t.Fatal(err)
		}
		tr, err := engine.ReadTrace(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := engine.CheckTrace(tr); err != nil {
			t.Fatal(err)
		}
		probs := engine.Softmax(net.Forward(digitTensor(d.input), nil).Data)
		top := argmax(probs)
		if tr.Model != "cnn" || tr.Seed != seed || tr.Target.Data[0] != float64(top) || math.Abs(tr.Loss.Value+math.Log(probs[top])) > 1e-9 {
			t.Fatalf("step %d: trace of %s, target %v, loss %v; want cnn, %d, %v", d.pos, tr.Model, tr.Target.Data, tr.Loss.Value, top, -math.Log(probs[top]))
		}
		for i, v := range d.input {
			if tr.Input.Data[i] != float64(v)/255 {
				t.Fatalf("trace input %d = %v, want %v", i, tr.Input.Data[i], float64(v)/255)
			}
		}
		if step == 0 {
			if err := d.Advance(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBudget measures what the spec declares: the longest piece of
// training the tests timed, the longest answer at the costliest values
// (a test digit: maps and sweep), and the heap one run adds beyond the
// shared data (the trained weights and the pooled instances).
func TestBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("budget measurement needs full speed (no -race)")
	}
	waitModels(t)
	s, _ := run.Lookup(name)
	v := s.CostliestValues()
	warm := newDigit(v)
	warm.Advance()
	// Every pooled instance exists: they are shared, not the runs'.
	var sets []nets
	for range cap(pool.sem) {
		sets = append(sets, takeNets())
	}
	for _, s := range sets {
		putNets(s)
	}
	var slowest time.Duration
	for i := range 20 {
		d := newDigit(v.With("digit", i))
		start := time.Now()
		if err := d.Advance(); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	slowestPiece.Lock()
	piece := slowestPiece.d
	slowestPiece.Unlock()

	const n = 20
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	runs := make([]*run.Run, n)
	for i := range runs {
		exp, err := s.New(v.With("digit", i))
		if err != nil {
			t.Fatal(err)
		}
		runs[i] = run.New(s, v.With("digit", i), exp, run.Options{})
		if err := runs[i].Step(1); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range runs {
		for r.Snapshot().Step != 1 {
			time.Sleep(time.Millisecond)
		}
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	runtime.KeepAlive(runs)
	for _, r := range runs {
		r.Close()
		<-r.Done()
	}
	var f bytes.Buffer
	json.NewEncoder(&f).Encode(warm.Frame().Data)
	t.Logf("slowest training piece %v, slowest answer %v (budget %v); a run at step 1 holds %.0f kB (budget %.0f kB); frame data %d B (budget %d)",
		piece.Round(time.Millisecond), slowest.Round(time.Microsecond), s.Budget.Step, float64(per)/1e3, float64(s.Budget.Memory)/1e3, f.Len(), s.Budget.FrameBytes)
	if max(piece, slowest) > s.Budget.Step || per > s.Budget.Memory || f.Len() > s.Budget.FrameBytes {
		t.Error("over budget")
	}
}
