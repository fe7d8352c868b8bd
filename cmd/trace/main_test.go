package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/internal/pytorch"
)

func trace(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(args, &out, &errOut); err != nil {
		t.Fatalf("run %v: %v (stderr %q)", args, err, errOut.String())
	}
	return out.Bytes()
}

// TestEveryModelTrace writes every model's trace, reads it back strictly,
// checks it, recomputes its loss from a model rebuilt from the same seed on
// the same batch, and checks that a second run gives the same bytes and
// another seed different ones.
func TestEveryModelTrace(t *testing.T) {
	for _, name := range engine.ModelNames() {
		t.Run(name, func(t *testing.T) {
			raw := trace(t, "-model", name, "-seed", "3")
			tr, err := engine.ReadTrace(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if err := engine.CheckTrace(tr); err != nil {
				t.Fatal(err)
			}
			m, err := engine.BuildModel(name, 3)
			if err != nil {
				t.Fatal(err)
			}
			x, target, err := exampleBatch(name, 3, defaultBatch(name))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tr.Input.Data, x.Data) || !slices.Equal(tr.Target.Data, target.Data) || !slices.Equal(tr.Input.Shape, x.Shape) {
				t.Error("the trace's batch is not the one exampleBatch draws")
			}
			if got := m.Loss.Forward(m.Forward(x, nil), target); got != tr.Loss.Value {
				t.Errorf("loss in the trace %v, recomputed %v", tr.Loss.Value, got)
			}
			if tr.Model != name || tr.Seed != 3 || len(tr.Layers) != len(m.Layers) {
				t.Errorf("trace of %q seed %d with %d layers, want %q seed 3 with %d", tr.Model, tr.Seed, len(tr.Layers), name, len(m.Layers))
			}
			if again := trace(t, "-model", name, "-seed", "3"); !bytes.Equal(raw, again) {
				t.Error("two runs with the same seed differ")
			}
			if other := trace(t, "-model", name, "-seed", "4"); bytes.Equal(raw, other) {
				t.Error("seeds 3 and 4 give the same trace")
			}
		})
	}
}

func TestBatchFlag(t *testing.T) {
	tr, err := engine.ReadTrace(bytes.NewReader(trace(t, "-model", "mlp", "-seed", "1", "-batch", "3")))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tr.Input.Shape, []int{3, 1, 28, 28}) || !slices.Equal(tr.Target.Shape, []int{3}) {
		t.Errorf("-batch 3: input %v, target %v", tr.Input.Shape, tr.Target.Shape)
	}
}

func TestPairsAndTargets(t *testing.T) {
	x, target, err := exampleBatch("siamese", 5, 6)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Shape, []int{6, 2, 1, 28, 28}) || !slices.Equal(target.Data, []float64{1, 0, 1, 0, 1, 0}) {
		t.Fatalf("pairs %v, targets %v", x.Shape, target.Data)
	}
	for b := range 6 {
		first, second := x.Data[(2*b)*784:][:784], x.Data[(2*b+1)*784:][:784]
		if slices.Equal(first, second) {
			t.Errorf("pair %d holds the same image twice", b)
		}
	}
	_, mt, err := exampleBatch("multitask", 5, 8)
	if err != nil {
		t.Fatal(err)
	}
	for b := range 8 {
		if digit, parity := mt.Data[2*b], mt.Data[2*b+1]; parity != float64(int(digit)%2) {
			t.Errorf("multitask target %d: digit %v, parity %v", b, digit, parity)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-model", "transformer"},
		{},
		{"-model", "cnn", "-batch", "-1"},
		{"-model", "cnn", "extra"},
		{"-nosuchflag"},
	} {
		var out, errOut bytes.Buffer
		err := run(args, &out, &errOut)
		var usage usageError
		if !errors.As(err, &usage) || out.Len() != 0 {
			t.Errorf("run %v: error %v, %d bytes on stdout; want a usage error and nothing written", args, err, out.Len())
		}
	}
	err := run([]string{"-model", "transformer"}, &bytes.Buffer{}, &bytes.Buffer{})
	for _, name := range engine.ModelNames() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("unknown model error %q does not list %q", err, name)
		}
	}
}

// TestTracesMatchPyTorch rebuilds every model's trace in PyTorch with
// scripts/check_trace_torch.py and requires the loss and every gradient to
// agree within a relative 1e-9 (float64 both sides). It needs python3 with
// torch and is skipped without (CI installs python3-torch).
func TestTracesMatchPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: starting PyTorch takes seconds")
	}
	py := pytorch.Python()
	if py == "" {
		t.Skip("no python3 with torch: install python3-torch to check traces against PyTorch")
	}
	dir := t.TempDir()
	args := []string{filepath.Join("..", "..", "scripts", "check_trace_torch.py"), "--tol", "1e-9"}
	for _, name := range engine.ModelNames() {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, trace(t, "-model", name, "-seed", "1"), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, path)
	}
	out, err := exec.Command(py, args...).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("check_trace_torch.py: %v", err)
	}
}
