// Package experiments_test holds the conformance test that every
// registered experiment passes: the lesson kit's promise that an
// experiment package plus a widget and two texts make a working lesson.
package experiments_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/paramshare/paramshare/experiments/all"
	"github.com/paramshare/paramshare/run"
)

// forEach runs f as a subtest per registered experiment.
func forEach(t *testing.T, f func(t *testing.T, s *run.Spec)) {
	specs := run.Specs()
	if len(specs) < 5 {
		t.Fatalf("only %d experiments registered", len(specs))
	}
	for _, s := range specs {
		t.Run(s.Name, func(t *testing.T) {
			if raceEnabled && !raceSample(t, s) {
				t.Skip("under -race only the experiments with background goroutines (and conv-slide) run: the others' steps are single-threaded and run in full without -race")
			}
			f(t, s)
		})
	}
}

// raceSample reports whether s is run under the race detector: an
// experiment with work of its own beside the run's worker (run.Attacher:
// its goroutines and the run's share data), and conv-slide for the plain
// rest. Running all of them took CI's race pass seven minutes.
func raceSample(t *testing.T, s *run.Spec) bool {
	if s.Name == "conv-slide" {
		return true
	}
	// Replays to the end (seek against a fresh run, frames along a whole
	// run) check determinism and size, not concurrency, and under the
	// race detector they re-train for minutes; the experiments' own
	// packages test their background work under -race.
	for _, long := range []string{"TestSeekMatchesFreshRun/", "TestFramesWithinBudget/"} {
		if strings.HasPrefix(t.Name(), long) {
			return false
		}
	}
	exp, err := s.New(run.Defaults(s.Fields))
	if err != nil {
		t.Fatal(err)
	}
	_, background := exp.(run.Attacher)
	if c, ok := exp.(run.Closer); ok {
		c.Close()
	}
	return background
}

// TestDefaultsBuild: the defaults decode, build and draw a frame.
func TestDefaultsBuild(t *testing.T) {
	forEach(t, func(t *testing.T, s *run.Spec) {
		v, err := s.Decode(nil, nil)
		if err != nil {
			t.Fatalf("defaults refused: %v", err)
		}
		exp, err := s.New(v)
		if err != nil {
			t.Fatalf("defaults do not build: %v", err)
		}
		if exp.Total() < 1 || exp.Pos() != 0 {
			t.Fatalf("fresh experiment at %d of %d", exp.Pos(), exp.Total())
		}
		staticJSON, dataJSON := encode(t, exp.Frame())
		t.Logf("%d fields, %d steps; frame: static %d B, data %d B", len(s.Fields), exp.Total(), len(staticJSON), len(dataJSON))
		if _, err := s.Decode(nil, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	})
}

func encode(t *testing.T, f run.Frame) (static, data []byte) {
	t.Helper()
	s, err := json.Marshal(f.Static)
	if err != nil {
		t.Fatal(err)
	}
	d, err := json.Marshal(f.Data)
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

// TestFieldBounds: every field's bounds and choices are accepted, and the
// values just outside them refused, naming the field in both languages,
// over the websocket's JSON and an export's query alike.
func TestFieldBounds(t *testing.T) {
	forEach(t, func(t *testing.T, s *run.Spec) {
		for _, f := range s.Fields {
			var good, bad []string
			switch f.Kind {
			case run.Int:
				good = []string{num(f.Min), num(f.Max)}
				bad = []string{num(f.Min - 1), num(f.Max + 1)}
				if f.Max > f.Min {
					bad = append(bad, num(f.Min+0.5))
				}
			case run.Number:
				step := math.Max(math.Abs(f.Min), math.Abs(f.Max)) * 1e-6
				good = []string{num(f.Min), num(f.Max)}
				bad = []string{num(f.Min - math.Max(step, math.Abs(f.Min)*1e-3)), num(f.Max + math.Max(step, math.Abs(f.Max)*1e-3))}
			case run.Choice:
				for _, c := range f.Choices {
					good = append(good, c)
				}
				bad = []string{"no-such-" + f.Name, strings.ToUpper(f.Choices[0]) + "x"}
			case run.Bool:
				good, bad = []string{"true", "false"}, []string{"1", "yes"}
			case run.Bytes:
				good = []string{base64.StdEncoding.EncodeToString(make([]byte, f.Len))}
				bad = []string{base64.StdEncoding.EncodeToString(make([]byte, f.Len-1)), base64.StdEncoding.EncodeToString(make([]byte, f.Len+1)), "not base64!"}
			}
			for _, g := range good {
				v, err := run.DecodeJSON(s.Fields, run.Defaults(s.Fields), jsonOf(f, g))
				if err != nil {
					t.Errorf("%s = %s refused: %v", f.Name, g, err)
					continue
				}
				q, err := run.DecodeQuery(s.Fields, url.Values{f.Name: {g}})
				if err != nil || !q.Equal(v) {
					t.Errorf("%s = %s in a query: %v (%v vs %v)", f.Name, g, err, q, v)
				}
			}
			for _, b := range bad {
				_, err := run.DecodeJSON(s.Fields, run.Defaults(s.Fields), jsonOf(f, b))
				wantFieldError(t, err, f.Name, b)
				_, err = run.DecodeQuery(s.Fields, url.Values{f.Name: {b}})
				wantFieldError(t, err, f.Name, b)
			}
		}
	})
}

func num(x float64) string { return fmt.Sprint(x) }

// jsonOf writes value as f's JSON: quoted for a choice, bytes, and for a
// bool that is not a JSON literal.
func jsonOf(f run.Field, value string) []byte {
	if f.Kind == run.Choice || f.Kind == run.Bytes || f.Kind == run.Bool && value != "true" && value != "false" && value != "1" {
		return []byte(fmt.Sprintf(`{%q: %q}`, f.Name, value))
	}
	return []byte(fmt.Sprintf(`{%q: %s}`, f.Name, value))
}

func wantFieldError(t *testing.T, err error, field, value string) {
	t.Helper()
	pe, ok := run.AsParamError(err)
	switch {
	case !ok:
		t.Errorf("%s = %s: %v, want a ParamError", field, value, err)
	case pe.Field != field || !strings.HasPrefix(pe.Text.En, fmt.Sprintf("parameter %q must be", field)) ||
		!strings.HasPrefix(pe.Text.Zh, fmt.Sprintf("参数 %q 必须是", field)) || !strings.Contains(pe.Text.En, "; got "):
		t.Errorf("%s = %s: message %q / %q is not the one format", field, value, pe.Text.En, pe.Text.Zh)
	}
}

// TestSameBadInputsEverywhere: the same careless inputs give the same
// behaviour for every experiment and every field.
func TestSameBadInputsEverywhere(t *testing.T) {
	forEach(t, func(t *testing.T, s *run.Spec) {
		def := run.Defaults(s.Fields)
		for _, f := range s.Fields {
			// null keeps the value.
			base := def
			if v, err := run.DecodeJSON(s.Fields, base, []byte(fmt.Sprintf(`{%q: null}`, f.Name))); err != nil || !v.Equal(base) {
				t.Errorf("%s: null changed the value or was refused: %v", f.Name, err)
			}
			cases := map[string]string{
				"wrong kind":  `{%q: [1]}`,
				"object":      `{%q: {"a": 1}}`,
				"huge":        `{%q: 1e400}`,
				"empty":       `{%q: ""}`,
				"long string": `{%q: "` + strings.Repeat("x", 2000) + `"}`,
			}
			if f.Kind == run.Choice {
				cases["wrong kind"] = `{%q: 1}`
			} else {
				cases["string"] = `{%q: "1"}`
			}
			for what, tmpl := range cases {
				_, err := run.DecodeJSON(s.Fields, base, []byte(fmt.Sprintf(tmpl, f.Name)))
				pe, ok := run.AsParamError(err)
				if !ok || pe.Field != f.Name || pe.Text.Zh == "" || len(pe.Text.En) > 400 {
					t.Errorf("%s %s: %v", f.Name, what, err)
				}
			}
			// Keys are case-sensitive and appear once.
			upper := strings.ToUpper(f.Name[:1]) + f.Name[1:]
			if upper != f.Name {
				_, err := run.DecodeJSON(s.Fields, base, []byte(fmt.Sprintf(`{%q: null}`, upper)))
				if pe, ok := run.AsParamError(err); !ok || !strings.Contains(pe.Text.En, "unknown parameter") {
					t.Errorf("%s: key %q accepted: %v", f.Name, upper, err)
				}
			}
			_, err := run.DecodeJSON(s.Fields, base, []byte(fmt.Sprintf(`{%q: null, %q: null}`, f.Name, f.Name)))
			if _, ok := run.AsParamError(err); !ok {
				t.Errorf("%s twice accepted", f.Name)
			}
		}
		for _, raw := range []string{`[]`, `"x"`, `1`, `{"bogus": 1}`, `{} {}`, `{`} {
			if _, err := s.Decode(nil, []byte(raw)); err == nil {
				t.Errorf("%s accepted", raw)
			} else if _, ok := run.AsParamError(err); !ok {
				t.Errorf("%s: %v is not a ParamError", raw, err)
			}
		}
	})
}

// settle waits for a run's worker to finish what it was asked.
func settle(t *testing.T, r *run.Run) run.Update {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		u := r.Snapshot()
		if u.State != run.Working {
			time.Sleep(20 * time.Millisecond)
			if v := r.Snapshot(); v.Seq == u.Seq {
				return u
			}
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("run still working at %d of %d", u.Step, u.Target)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSeekMatchesFreshRun: a run stepped forward, sought back and sought
// forward again shows, at each step, the same frame (byte for byte) as a
// fresh experiment replayed to that step.
func TestSeekMatchesFreshRun(t *testing.T) {
	forEach(t, func(t *testing.T, s *run.Spec) {
		v := run.Defaults(s.Fields)
		exp, err := s.New(v)
		if err != nil {
			t.Fatal(err)
		}
		total := exp.Total()
		k := min(total, 3)
		far := min(total, k+4)
		r := run.New(s, v, exp, run.Options{})
		defer r.Close()
		for _, to := range []int{far, k, far, 0, k} {
			if err := r.Seek(to); err != nil {
				t.Fatal(err)
			}
			u := settle(t, r)
			if u.Step != to {
				t.Fatalf("seek %d: at %d (%s %s)", to, u.Step, u.State, u.Err.En)
			}
			fresh, err := run.Replay(context.Background(), s, v, to, run.NewScheduler(1), run.Owner{})
			if err != nil {
				t.Fatal(err)
			}
			fs, fd := encode(t, fresh.Frame())
			if !bytes.Equal(fs, u.Static) || !bytes.Equal(fd, u.Data) {
				t.Fatalf("at step %d after seeking: frame differs from a fresh run's\nrun:   %.300s\nfresh: %.300s", to, u.Data, fd)
			}
		}
	})
}

// TestExportsRender: every export of every experiment renders, for the
// defaults at step 0 and at a mid-run step, as a valid PNG, SVG or JSON, in
// both languages. TestFramesWithinBudget renders them at the last step too,
// on the run it has already taken to its end.
func TestExportsRender(t *testing.T) {
	forEach(t, func(t *testing.T, s *run.Spec) {
		if len(s.Exports) == 0 {
			t.Skip("no exports")
		}
		v := run.Defaults(s.Fields)
		probe, _ := s.New(v)
		for _, step := range []int{0, min(probe.Total(), 3)} {
			exp, err := run.Replay(context.Background(), s, v, step, run.NewScheduler(1), run.Owner{})
			if err != nil {
				t.Fatalf("replay to %d: %v", step, err)
			}
			checkExports(t, s, exp)
		}
	})
}

// checkExports writes every export of s for exp in both languages and
// checks each is a valid file of its format.
func checkExports(t *testing.T, s *run.Spec, exp run.Experiment) {
	t.Helper()
	for _, e := range s.Exports {
		for _, lang := range []string{"en", "zh"} {
			var buf bytes.Buffer
			if err := e.Write(&buf, exp, lang); err != nil {
				t.Fatalf("%s at step %d (%s): %v", e.Format, exp.Pos(), lang, err)
			}
			checkFormat(t, e.Format, buf.Bytes())
			if lang == "en" && exp.Pos() != 0 {
				t.Logf("%s.%s at step %d: %d bytes", s.Name, e.Format, exp.Pos(), buf.Len())
			}
		}
	}
}

func checkFormat(t *testing.T, format string, b []byte) {
	t.Helper()
	var err error
	switch format {
	case "png":
		_, err = png.Decode(bytes.NewReader(b))
	case "svg":
		d := xml.NewDecoder(bytes.NewReader(b))
		for err == nil {
			_, err = d.Token()
		}
		if err == io.EOF {
			err = nil
		}
		if !bytes.Contains(b, []byte("<svg")) {
			err = fmt.Errorf("no <svg> element")
		}
	case "csv":
		// A header and at least one row, every row as wide as the header
		// (encoding/csv refuses ragged rows).
		var rows [][]string
		if rows, err = csv.NewReader(bytes.NewReader(b)).ReadAll(); err == nil && len(rows) < 2 {
			err = fmt.Errorf("%d rows: want a header and at least one row", len(rows))
		}
	default:
		if !json.Valid(b) {
			err = fmt.Errorf("invalid JSON: %.200s", b)
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", format, err)
	}
}

// TestFramesWithinBudget: frames at the start, the middle and the end of a
// run at the defaults and at the costliest values stay under the spec's
// byte budget; at the end of the default run (without -short) every export
// renders too, so that the long default run is taken once.
func TestFramesWithinBudget(t *testing.T) {
	forEach(t, func(t *testing.T, s *run.Spec) {
		for _, v := range []run.Values{run.Defaults(s.Fields), s.CostliestValues()} {
			exp, err := s.New(v)
			if err != nil {
				t.Fatal(err)
			}
			// The whole run at the defaults; the start at the costliest
			// values (a costly run to its end would take minutes).
			ends := []int{0, min(exp.Total(), 5)}
			if !testing.Short() && v.Equal(run.Defaults(s.Fields)) {
				ends = append(ends, exp.Total()/2, exp.Total())
			}
			biggest := [2]int{}
			for _, k := range ends {
				for exp.Pos() < k {
					if err := exp.Advance(); err != nil {
						t.Fatalf("step %d: %v", exp.Pos(), err)
					}
				}
				st, d := encode(t, exp.Frame())
				biggest = [2]int{max(biggest[0], len(st)), max(biggest[1], len(d))}
				if len(st) > s.Budget.StaticBytes || len(d) > s.Budget.FrameBytes {
					t.Fatalf("at step %d: static %d B (budget %d), data %d B (budget %d)", k, len(st), s.Budget.StaticBytes, len(d), s.Budget.FrameBytes)
				}
			}
			t.Logf("largest static %d B of %d, data %d B of %d (steps %v)", biggest[0], s.Budget.StaticBytes, biggest[1], s.Budget.FrameBytes, ends)
			if len(ends) > 2 {
				checkExports(t, s, exp)
			}
		}
	})
}

// TestBudget measures a step's time and a run's memory at the costliest
// values against the spec's declaration. Time is the CPU time of the
// thread taking the steps (the mean of the steps taken, and the slowest
// step within 2.5×); the race detector slows it tenfold, so the test is
// skipped under it and with -short.
func TestBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("budget measurement needs full speed (no -short, no -race)")
	}
	forEach(t, func(t *testing.T, s *run.Spec) {
		v := s.CostliestValues()
		// Warm up: shared data sets and caches load once per process.
		warm, err := run.Replay(context.Background(), s, v, min(3, mustNew(t, s, v).Total()), run.NewScheduler(1), run.Owner{})
		if err != nil {
			t.Fatal(err)
		}
		_ = warm
		warm = nil

		before := heap()
		exp := mustNew(t, s, v)
		r := run.New(s, v, exp, run.Options{Sched: run.NewScheduler(1)})
		n := min(exp.Total(), 12)
		r.Seek(n)
		settle(t, r)
		used := heap() - before
		runtime.KeepAlive(r)

		// Step times, on a fresh experiment, in CPU time of this thread
		// (other work on the machine does not count).
		exp2 := mustNew(t, s, v)
		var slowest, sum time.Duration
		runtime.LockOSThread()
		for exp2.Pos() < n {
			t0 := threadCPU()
			if err := exp2.Advance(); err != nil {
				t.Fatal(err)
			}
			d := threadCPU() - t0
			slowest, sum = max(slowest, d), sum+d
		}
		runtime.UnlockOSThread()
		mean := sum / time.Duration(n)
		t.Logf("at %v: mean step %v CPU, slowest %v (budget %v); run memory %.2f MB (budget %.2f MB)",
			s.Costliest, mean.Round(time.Microsecond), slowest.Round(time.Microsecond), s.Budget.Step, float64(used)/1e6, float64(s.Budget.Memory)/1e6)
		if mean > s.Budget.Step || slowest > s.Budget.Step*5/2+5*time.Millisecond {
			t.Errorf("steps over budget: mean %v, slowest %v, budget %v", mean, slowest, s.Budget.Step)
		}
		if used > s.Budget.Memory {
			t.Errorf("a run holds %.2f MB beyond the shared data, over its budget of %.2f MB", float64(used)/1e6, float64(s.Budget.Memory)/1e6)
		}
		r.Close()
		<-r.Done()
	})
}

func mustNew(t *testing.T, s *run.Spec, v run.Values) run.Experiment {
	t.Helper()
	exp, err := s.New(v)
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// heap is the live heap after a full collection.
func heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestSpecsAreComplete: every spec's fields have descriptions in both
// languages (Register checks), and its exports include the frame JSON.
func TestSpecsAreComplete(t *testing.T) {
	forEach(t, func(t *testing.T, s *run.Spec) {
		if _, ok := s.Export("json"); !ok {
			t.Error("no JSON export of the frame")
		}
		if slices.ContainsFunc(s.Exports, func(e run.Export) bool { return e.Format == "png" }) {
			if _, ok := s.Export("svg"); !ok {
				t.Error("a PNG export without its SVG")
			}
		}
	})
}
