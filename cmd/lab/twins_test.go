package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

func TestSiameseVsTowersTableAndCharts(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, "siamese-vs-towers", "-seeds", "2", "-steps", "5", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"siamese-vs-towers: 2 seed(s); 5 steps of 16 pairs", "twins", "towers", "6,624", "13,248", "± "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"siamese-vs-towers-accuracy.png", "siamese-vs-towers-params.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s", name)
		}
	}
	if _, _, err := runLab(t, "siamese-vs-towers", "-batch", "1"); err == nil {
		t.Error("batch 1 accepted")
	}
}

func TestMultitaskJSON(t *testing.T) {
	stdout, _, err := runLab(t, "multitask", "-json", "-seeds", "1", "-steps", "5")
	if err != nil {
		t.Fatal(err)
	}
	var res lab.TwinsCompareResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if len(res.Rows) != 2 || res.Rows[0].Model != "shared" || res.Rows[0].Params != 10668 || res.Rows[1].Params != 11916 {
		t.Fatalf("result %+v", res)
	}
	if c, ok := res.Rows[0].Stats["trunk-cos"]; !ok || c.Mean < -1 || c.Mean > 1 {
		t.Errorf("trunk cosine %+v", c)
	}
}
