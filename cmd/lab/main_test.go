package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

func runLab(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestParamsJSON(t *testing.T) {
	stdout, _, err := runLab(t, "params", "-json", "-sizes", "8,28,256", "-out-ch", "4")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Config lab.ParamsConfig
		Rows   []lab.ParamsRow
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	want, err := lab.ParamsTable(lab.ParamsConfig{Sizes: []int{8, 28, 256}, InChannels: 1, OutChannels: 4, Kernel: 3, Padding: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(got.Rows), len(want))
	}
	for i := range want {
		if got.Rows[i].Params != want[i].Params || got.Rows[i].Uses != want[i].Uses || got.Rows[i].Layer != want[i].Layer {
			t.Errorf("row %d: %+v, want %+v", i, got.Rows[i], want[i])
		}
	}
}

func TestParamsTableAndCharts(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, "params", "-size", "28", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1×28×28", "dense", "locally_connected", "conv", "4,923,520", "80", "computed", "built"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"params-by-size.png", "uses-by-size.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s: %q", name, stderr)
		}
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("%s: %v", path, err)
	}
}

var tinyCompare = []string{"-seeds", "1", "-epochs", "1", "-train-size", "48", "-batch", "16", "-eval", "50", "-shifts", "0,3"}

func TestCompareJSON(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, append([]string{"cnn-vs-unshared", "-json", "-out", dir}, tinyCompare...)...)
	if err != nil {
		t.Fatal(err)
	}
	var res lab.CompareResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if len(res.Models) != 3 || res.Config.TrainSize != 48 {
		t.Fatalf("result %+v", res)
	}
	for _, m := range res.Models {
		if len(m.Runs) != 1 || m.Runs[0].Steps != 3 || len(m.ShiftAcc) != 2 || m.Params <= 0 {
			t.Errorf("%s: %+v", m.Model, m)
		}
	}
	// Not a terminal: plain progress lines, one per run start and measure.
	if n := strings.Count(stderr, "training 3 steps"); n != 3 {
		t.Errorf("%d 'training' progress lines, want 3:\n%s", n, stderr)
	}
	if strings.Contains(stderr, "\r") {
		t.Errorf("progress redrawn with \\r on a non-terminal:\n%q", stderr)
	}
	for _, name := range []string{"shift-accuracy.png", "params.png", "accuracy.png"} {
		checkPNG(t, filepath.Join(dir, name))
	}
}

func TestCompareTable(t *testing.T) {
	stdout, _, err := runLab(t, append([]string{"cnn-vs-unshared", "-models", "cnn,mlp", "-lr", "0.01"}, tinyCompare...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model", "train acc %", "9,098", "9,550", "0.01", "shift (px)", " ± 0.0"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "lc") {
		t.Errorf("table has lc, which was not asked for:\n%s", stdout)
	}
}

func TestCompareCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, append([]string{"cnn-vs-unshared"}, tinyCompare...), &out, &errOut)
	if !errors.Is(err, context.Canceled) || out.Len() != 0 {
		t.Errorf("cancelled: %v, stdout %q; want context.Canceled and nothing printed", err, out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"nonsense"},
		{"params", "-k", "0"},
		{"params", "-sizes", "8,x"},
		{"params", "-bogus"},
		{"params", "extra"},
		{"cnn-vs-unshared", "-seeds", "0"},
		{"cnn-vs-unshared", "-models", "cnn,rnn"},
		{"cnn-vs-unshared", "-format", "gif"},
	} {
		_, stderr, err := runLab(t, args...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%q: error %v, want a usage error (exit 2)", args, err)
		}
		if len(args) < 2 && !strings.Contains(stderr, "cnn-vs-unshared") {
			t.Errorf("%q: usage does not list the experiments:\n%s", args, stderr)
		}
	}
	if _, stderr, err := runLab(t, "params", "-h"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, "-out-ch") {
		t.Errorf("params -h: %v\n%s", err, stderr)
	}
}
