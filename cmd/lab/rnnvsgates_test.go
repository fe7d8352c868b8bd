package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

func TestRNNvsGatesTableAndCharts(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, "rnn-vs-gates", "-seeds", "2", "-steps", "20", "-distances", "3,6", "-eval", "50", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rnn-vs-gates: 2 seed(s); 20 steps", "remember-first", "adding", "± ", "recurrent layer", "4", "3", "1,344", "5,376", "4,032"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"remember-first-by-distance.png", "adding-by-distance.png", "params.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s", name)
		}
	}
}

func TestRNNvsGatesJSON(t *testing.T) {
	stdout, _, err := runLab(t, "rnn-vs-gates", "-json", "-seeds", "1", "-steps", "5", "-distances", "4", "-tasks", "adding", "-eval", "20")
	if err != nil {
		t.Fatal(err)
	}
	var res lab.GatesResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if len(res.Rows) != 1 || len(res.Rows[0].Cells) != 3 || res.Rows[0].Cell("lstm").CellParams != 4*res.Rows[0].Cell("rnn").CellParams {
		t.Fatalf("result %+v", res)
	}
	if _, _, err := runLab(t, "rnn-vs-gates", "-distances", "1"); err == nil {
		t.Error("distance 1 accepted")
	}
}
