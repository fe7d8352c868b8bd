package run

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/paramshare/paramshare/engine"
)

// The draw-digit models are trained once per test binary, on a small budget
// (about 10 s of CPU for the three) unless PARAMSHARE_DRAW_FULL=1 asks for the
// server's own budget, to measure it:
//
//	PARAMSHARE_DRAW_FULL=1 go test ./run -run DrawDigit -v
func init() {
	if os.Getenv("PARAMSHARE_DRAW_FULL") == "" {
		SetDigitTraining(DigitTraining{TrainSize: 1000, Epochs: 1, EvalSize: 200})
	}
}

// waitModels waits for the shared training, failing the test after 3 min.
// Under -short it skips the test instead: the training takes ~10 s of CPU,
// minutes under -race.
func waitModels(t *testing.T) {
	t.Helper()
	skipTrainingInShort(t, "needs the draw-digit models trained (~10 s of CPU)")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := WaitDigitModels(ctx); err != nil {
		t.Fatalf("training the digit models: %v", err)
	}
}

// testDigit returns test digit i's bytes.
func testDigit(i int) []byte {
	return slices.Clone(mnistTest().Pixels[i*DigitPixels : (i+1)*DigitPixels])
}

// TestDrawDigitShowsTrainingProgress starts a run before the models exist
// (this is the first test in the binary to touch them), plays it, and sees
// step 0 with the progress moving, then step 1 once the models are loaded.
func TestDrawDigitShowsTrainingProgress(t *testing.T) {
	skipTrainingInShort(t, "trains the draw-digit models (~10 s of CPU)")
	r, err := Start(DrawDigitName, json.RawMessage(`{"digit": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	u := r.Snapshot()
	if u.Total != 1 || (u.Step == 0) != (u.State == Paused) {
		t.Fatalf("start: %s at %d/%d", u.State, u.Step, u.Total)
	}
	if err := r.SetSpeed(MaxSpeed); err != nil {
		t.Fatal(err)
	}
	if err := r.Play(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var fractions []float64
	for r.Snapshot().State != Done {
		if time.Since(start) > 3*time.Minute {
			t.Fatal("models not loaded after 3 min")
		}
		d := r.Snapshot().Frame.Data.(DrawDigitData)
		if !d.Training.Started {
			t.Fatal("a draw-digit run did not start the training")
		}
		if len(fractions) == 0 || fractions[len(fractions)-1] != d.Training.Fraction {
			fractions = append(fractions, d.Training.Fraction)
		}
		if d.Predictions != nil {
			t.Fatal("predictions before the models are loaded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !slices.IsSorted(fractions) {
		t.Errorf("progress went backwards: %v", fractions)
	}
	u = r.Snapshot()
	d := u.Frame.Data.(DrawDigitData)
	if u.Step != 1 || len(d.Predictions) != 3 || !d.Training.Done || d.Training.Fraction != 1 {
		t.Fatalf("after training: step %d, %d predictions, training %+v", u.Step, len(d.Predictions), d.Training)
	}
	st := u.Frame.Static.(DrawDigitStatic)
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
	t.Logf("%d distinct progress values seen, %v from start to loaded", len(fractions), time.Since(start).Round(time.Millisecond))
}

// TestDrawDigitMatchesForward checks that the experiment's predictions and
// feature maps are those of a direct Forward of the trained models on the
// same preprocessed input, for drawings with and without centring and
// shifted.
func TestDrawDigitMatchesForward(t *testing.T) {
	waitModels(t)
	d := NewDrawDigit()
	if err := d.Seek(1); err != nil {
		t.Fatal(err)
	}
	if got := d.DataFrame(); !got.Empty || got.Predictions != nil {
		t.Fatalf("blank drawing: empty %v, %d predictions", got.Empty, len(got.Predictions))
	}
	// A test digit squeezed into the top-left corner, as a careless drawing.
	corner := make([]byte, DigitPixels)
	src := testDigit(7)
	for y := range 14 {
		for x := range 14 {
			corner[y*DigitSide+x] = src[(2*y)*DigitSide+2*x]
		}
	}
	for _, tc := range []struct {
		params string
		px     []byte
		center bool
		shift  int
	}{
		{`{"digit": 0}`, testDigit(0), true, 0},
		{`{"pixels": "` + base64.StdEncoding.EncodeToString(corner) + `", "shift": -5}`, corner, true, -5},
		{`{"center": false}`, corner, false, -5},
		{`{"digit": 11, "shift": 8, "center": true}`, testDigit(11), true, 8},
	} {
		if err := d.SetParams(json.RawMessage(tc.params)); err != nil {
			t.Fatalf("%s: %v", tc.params, err)
		}
		in := PrepareDigit(tc.px, tc.center, tc.shift)
		if !slices.Equal(d.Input(), in) {
			t.Fatalf("%s: the run's input differs from PrepareDigit", tc.params)
		}
		frame := d.DataFrame()
		if got, _ := base64.StdEncoding.DecodeString(frame.Input); !slices.Equal(got, in) {
			t.Fatalf("%s: the frame's input differs from PrepareDigit", tc.params)
		}
		for i, name := range DigitModelNames() {
			m, err := NewDigitModel(name)
			if err != nil {
				t.Fatal(err)
			}
			var tap *mapTap
			if name == "cnn" {
				tap = &mapTap{want: map[string]int{"relu1": 0, "relu2": 1}, maps: new([2][]float64)}
			}
			var y *engine.Tensor
			if tap != nil {
				y = m.Forward(digitTensor(in), tap)
			} else {
				y = m.Forward(digitTensor(in), nil)
			}
			want := engine.Softmax(y.Data)
			got := frame.Predictions[i]
			if got.Model != name || !slices.Equal(got.Probs, want) || got.Top != digitArgmax(want) || got.P != want[got.Top] {
				t.Fatalf("%s %s: frame %+v, Forward gives %v", tc.params, name, got, want)
			}
			if tap == nil {
				continue
			}
			for l, dm := range frame.Maps {
				vals, err := dm.Maps.Values()
				if err != nil {
					t.Fatal(err)
				}
				ref := tap.maps[l]
				step := slices.Max(ref) / 254
				for k := range ref {
					// Half a step, but a positive value too small for
					// code 1 still takes it (code 0 is exactly 0, the
					// ReLU's dead cells).
					tol := step / 2
					if ref[k] > 0 && ref[k] < step/2 {
						tol = step
					}
					if math.Abs(vals[k]-ref[k]) > tol+1e-9 || (ref[k] == 0) != (vals[k] == 0) {
						t.Fatalf("%s %s map value %d: %g, Forward %g", tc.params, dm.Layer, k, vals[k], ref[k])
					}
				}
			}
			// The sweep's unshifted entry is the centred drawing's answer.
			sw := frame.Sweep
			if tc.center && tc.shift == 0 && sw.Top[name][-DrawMinShift] != got.Top {
				t.Errorf("%s: sweep at shift 0 says %d, prediction %d", tc.params, sw.Top[name][-DrawMinShift], got.Top)
			}
		}
		t.Logf("%s: cnn %d (%.3f), lc %d (%.3f), mlp %d (%.3f); label %d", tc.params,
			frame.Predictions[0].Top, frame.Predictions[0].P, frame.Predictions[1].Top, frame.Predictions[1].P,
			frame.Predictions[2].Top, frame.Predictions[2].P, frame.Label)
	}
}

// TestDrawDigitBadParams sends malformed parameters to a loaded run and
// checks each is refused with a clear message and changes nothing.
func TestDrawDigitBadParams(t *testing.T) {
	waitModels(t)
	r, err := Start(DrawDigitName, json.RawMessage(`{"digit": 5, "shift": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Step(1); err != nil {
		t.Fatal(err)
	}
	before := r.Snapshot()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	for _, tc := range []struct{ params, msg string }{
		{`{"pixels": "` + b64(783) + `"}`, `parameter "pixels" must hold exactly 784 bytes (28×28), got 783`},
		{`{"pixels": "` + b64(785) + `"}`, `parameter "pixels" must hold exactly 784 bytes (28×28), got 785`},
		{`{"pixels": "***"}`, `parameter "pixels" is not valid base64: illegal base64 data at input byte 0`},
		{`{"pixels": 12}`, `parameter "pixels" must be a base64 string of 784 bytes (28×28, 0–255), got a number 12`},
		{`{"pixels": [0, 1, 2]}`, `parameter "pixels" must be a base64 string of 784 bytes (28×28, 0–255), got an array`},
		{`{"center": "yes"}`, `parameter "center" must be true or false, got a string "yes"`},
		{`{"shift": 9}`, `shift must be between -8 and 8, got 9`},
		{`{"shift": 1.5}`, `parameter "shift" must be a whole number between -8 and 8, got 1.5`},
		{`{"shift": 1, "center": 0}`, `parameter "center" must be true or false, got a number 0`},
		{`{"digit": 1000}`, `digit must be between 0 and 999, got 1000`},
		{`{"digit": 1, "pixels": "` + b64(784) + `"}`, `give either pixels or digit, not both`},
		{`{"colour": 1}`, `unknown parameter "colour" (allowed: pixels, digit, center, shift)`},
		{`[1]`, `parameters must be a JSON object`},
	} {
		err := r.SetParams(json.RawMessage(tc.params))
		var re *Error
		if !errors.As(err, &re) || re.Code != CodeBadParams || re.Message != tc.msg {
			t.Errorf("%s: error %v, want bad-params %q", tc.params, err, tc.msg)
		}
		after := r.Snapshot()
		if after.Seq != before.Seq || !reflect.DeepEqual(after.Frame, before.Frame) {
			t.Fatalf("%s: the refused parameters changed the run", tc.params)
		}
	}
}

// TestDrawDigitNewModelIsACopy checks that each NewDigitModel call gets its
// own weights (a session's Forward cannot disturb another's) equal to the
// trained ones.
func TestDrawDigitNewModelIsACopy(t *testing.T) {
	waitModels(t)
	a, err := NewDigitModel("cnn")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewDigitModel("cnn")
	x := digitTensor(testDigit(2))
	ya := slices.Clone(a.Forward(x, nil).Data)
	a.Params()[0].Value.Data[0] += 1
	if yb := b.Forward(x, nil).Data; !slices.Equal(ya, yb) {
		t.Fatalf("changing one copy's weights changed the other's output: %v vs %v", ya, yb)
	}
	if _, err := NewDigitModel("rnn"); err == nil {
		t.Fatal("NewDigitModel(rnn) did not fail")
	}
}

// TestDrawDigitSeek checks the one-step semantics: Seek(0) forgets the
// predictions, Seek(1) loads them again.
func TestDrawDigitSeek(t *testing.T) {
	waitModels(t)
	d := NewDrawDigit()
	if err := d.SetParams(json.RawMessage(`{"digit": 4}`)); err != nil {
		t.Fatal(err)
	}
	if d.DataFrame().Predictions != nil {
		t.Fatal("predictions at step 0")
	}
	if err := d.Advance(); err != nil || d.Pos() != 1 || d.DataFrame().Predictions == nil {
		t.Fatalf("Advance: %v, pos %d", err, d.Pos())
	}
	if err := d.Seek(0); err != nil || d.Pos() != 0 || d.DataFrame().Predictions != nil {
		t.Fatalf("Seek(0): %v, pos %d", err, d.Pos())
	}
	if err := d.Seek(1); err != nil || d.Pos() != 1 || d.DataFrame().Predictions == nil {
		t.Fatalf("Seek(1): %v, pos %d", err, d.Pos())
	}
	if err := d.Seek(2); err == nil {
		t.Fatal("Seek(2) did not fail")
	}
}

// TestDrawDigitTraceNeedsModelsAndInk checks WriteTrace's refusals, which
// need no trained models: before step 1 there is no CNN to trace.
func TestDrawDigitTraceNeedsModelsAndInk(t *testing.T) {
	d := NewDrawDigit()
	var buf bytes.Buffer
	if err := d.WriteTrace(&buf); err == nil || buf.Len() != 0 {
		t.Errorf("trace before the models are loaded: %v, %d bytes written", err, buf.Len())
	}
}
