package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

// TestAlbertModesTableAndCharts: a tiny run prints the four modes with the
// engine's counts (the lesson's 34,826 … 9,194 at 4 blocks of d = 32), the
// same multiply-adds in each, the per-block table, and writes the charts.
func TestAlbertModesTableAndCharts(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, "albert-modes", "-seeds", "1", "-steps", "3", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"albert-modes: 1 seed(s); reverse of 8 tokens, 4 blocks, d = 32; 3 steps of 16 sequences",
		"none", "all", "attention", "ffn", "34,826", "21,962", "22,058", "9,194", "267,008", "block 4", "± "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Count(stdout, "267,008") != 4 {
		t.Errorf("want 267,008 multiply-adds in each of the four rows:\n%s", stdout)
	}
	for _, name := range []string{"angle-by-block.png", "l2-by-block.png", "params.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s", name)
		}
	}
}

// TestAlbertModesJSON: -json gives the four modes over the seeds, with the
// flags' sizes, per-block curves and per-seed runs.
func TestAlbertModesJSON(t *testing.T) {
	stdout, _, err := runLab(t, "albert-modes", "-json", "-seeds", "2", "-steps", "2", "-blocks", "3", "-d", "16", "-task", "copy")
	if err != nil {
		t.Fatal(err)
	}
	var res lab.AlbertModesResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if c := res.Config; c.Seeds != 2 || c.Steps != 2 || c.Blocks != 3 || c.D != 16 || c.Task != "copy" || c.Parallel {
		t.Errorf("config %+v", c)
	}
	if len(res.Modes) != 4 {
		t.Fatalf("%d modes", len(res.Modes))
	}
	for i, m := range res.Modes {
		if m.Share != lab.AlbertShares()[i] || m.Params != m.HandParams || len(m.Runs) != 2 || len(m.Angle) != 3 || len(m.L2) != 3 ||
			m.Uses != res.Modes[0].Uses || !(m.Acc.Mean >= 0 && m.Acc.Mean <= 1) || !(m.StepMS.Mean > 0) {
			t.Errorf("mode %d: %+v", i, m)
		}
	}
	// The raw JSON names the fields the docs promise.
	for _, key := range []string{`"modes"`, `"share"`, `"params"`, `"uses"`, `"acc"`, `"stepMs"`, `"angle"`, `"l2"`, `"firstShare"`, `"sumErr"`, `"runs"`} {
		if !strings.Contains(stdout, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

// TestAlbertModesRefusesBadFlags: values outside the ranges are refused
// before any training.
func TestAlbertModesRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-blocks", "7"}, {"-blocks", "1"}, {"-d", "12"}, {"-task", "sort"}, {"-steps", "0"}, {"-seeds", "0"}, {"-lr", "0"}} {
		if _, _, err := runLab(t, append([]string{"albert-modes"}, args...)...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
