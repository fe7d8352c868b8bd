package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

func TestBPTTContributionsJSON(t *testing.T) {
	stdout, _, err := runLab(t, "bptt-contributions", "-json", "-cells", "rnn,lstm", "-lambdas", "0.5,2", "-T", "12", "-hidden", "6", "-seeds", "2")
	if err != nil {
		t.Fatal(err)
	}
	var got lab.BPTTResult
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	cfg := lab.DefaultBPTTConfig()
	cfg.Cells, cfg.Lambdas, cfg.T, cfg.Hidden, cfg.Seeds = []string{"rnn", "lstm"}, []float64{0.5, 2}, 12, 6, 2
	want, err := lab.BPTTContributions(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 4 {
		t.Fatalf("%d runs, want 4", len(got.Runs))
	}
	for i, r := range want.Runs {
		g := got.Runs[i]
		if g.Cell != r.Cell || g.Lambda1 != r.Lambda1 || g.Rho != r.Rho || len(g.Ratio) != len(r.Ratio) || g.Ratio[5] != r.Ratio[5] {
			t.Errorf("run %d: %s %v %v, want %s %v %v", i, g.Cell, g.Lambda1, g.Ratio[5], r.Cell, r.Lambda1, r.Ratio[5])
		}
	}
}

func TestBPTTContributionsTableAndCharts(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, "bptt-contributions", "-cells", "rnn,gru", "-T", "25", "-hidden", "8", "-seeds", "2", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"d = 1", "d = 20", "d = 23", "rnn", "gru", "0.5", " ± ", "0/2", "ρ"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"contributions-rnn.png", "contributions-gru.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s: %q", name, stderr)
		}
	}
	if _, _, err := runLab(t, "bptt-contributions", "-lambdas", "0.5,x"); err == nil {
		t.Error("-lambdas 0.5,x accepted")
	}
	if _, _, err := runLab(t, "bptt-contributions", "-cells", "cnn"); err == nil {
		t.Error("-cells cnn accepted")
	}
}
