package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

func TestRNNVsUnsharedTableAndCharts(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, "rnn-vs-unshared", "-seeds", "2", "-steps", "10", "-train-sizes", "32,64", "-T", "4", "-eval", "30", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	// remember-first at T = 4: 5 steps of a cell of 32·(8+32) + 64 = 1,344.
	for _, want := range []string{"rnn-vs-unshared: remember-first at T = 4; 2 seed(s); 10 steps", "from 32 training", "from 64 training", "1,608", "6,984", "± "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"accuracy-32.png", "params-32.png", "accuracy-64.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s", name)
		}
	}
}

func TestRNNVsUnsharedJSON(t *testing.T) {
	stdout, _, err := runLab(t, "rnn-vs-unshared", "-json", "-seeds", "1", "-steps", "5", "-task", "adding", "-T", "6", "-train-sizes", "40", "-eval", "20")
	if err != nil {
		t.Fatal(err)
	}
	var res []lab.UnsharedResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if len(res) != 1 || len(res[0].Models) != 2 || res[0].Config.TrainSize != 40 || res[0].Model("unshared") == nil {
		t.Fatalf("result %+v", res)
	}
	for _, args := range [][]string{{"-train-sizes", "5"}, {"-models", "lstm"}, {"-T", "1"}} {
		if _, _, err := runLab(t, append([]string{"rnn-vs-unshared"}, args...)...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestGlobalPoolCommand(t *testing.T) {
	dir := t.TempDir()
	stdout, _, err := runLab(t, "global-pool", "-seeds", "1", "-epochs", "1", "-train-size", "48", "-batch", "16", "-eval", "50", "-shifts", "0,4", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"global-pool: 1 seed(s)", "cnn-gap", "cnn-gap-wide", "1,418", "10,090", "9,098", "0.01"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	checkPNG(t, filepath.Join(dir, "shift-accuracy.png"))
}
