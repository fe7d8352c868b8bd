package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

func TestAttentionTasksTableAndCharts(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, "attention-tasks", "-seeds", "2", "-steps", "10", "-lengths", "8,12", "-tasks", "reverse,sort", "-eval", "20", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"attention-tasks: 2 seed(s); 10 steps", "reverse", "sort", "sinusoidal", "learned", "none", "acc % L=12", "± ", "5,122", "5,410"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"attention-accuracy.png", "attention-lengths-reverse.png", "attention-lengths-sort.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s", name)
		}
	}
}

func TestAttentionTasksJSON(t *testing.T) {
	stdout, _, err := runLab(t, "attention-tasks", "-json", "-seeds", "1", "-steps", "3", "-tasks", "copy", "-positions", "none", "-lengths", "8,9", "-eval", "10")
	if err != nil {
		t.Fatal(err)
	}
	var res lab.AttnTasksResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if len(res.Rows) != 1 || res.Rows[0].Task != "copy" || len(res.Rows[0].Accuracy) != 2 {
		t.Fatalf("result %+v", res)
	}
	if _, _, err := runLab(t, "attention-tasks", "-lengths", "8,40"); err == nil {
		t.Error("length 40 accepted")
	}
	if _, _, err := runLab(t, "attention-tasks", "-heads", "5"); err == nil {
		t.Error("5 heads accepted")
	}
}
