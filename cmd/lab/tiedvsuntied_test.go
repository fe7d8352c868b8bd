package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lab"
)

func TestTiedVsUntiedTableChartsJSON(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runLab(t, "tied-vs-untied", "-seeds", "2", "-steps", "5", "-eval", "8", "-out", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tied-vs-untied: 2 seed(s); 5 steps", "1109 words", "tied", "untied", " ± ", "tying saves 35,488 parameters (V·d = 1109·32)", "of 2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	for _, name := range []string{"perplexity.png", "params.png"} {
		checkPNG(t, filepath.Join(dir, name))
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not name %s", name)
		}
	}
	stdout, _, err = runLab(t, "tied-vs-untied", "-json", "-seeds", "1", "-steps", "2", "-eval", "4")
	if err != nil {
		t.Fatal(err)
	}
	var res lab.TiedResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if len(res.Models) != 2 || res.Saved != res.Vocab*32 || res.Models[1].Params-res.Models[0].Params != res.Saved {
		t.Fatalf("result %+v", res)
	}
	if _, _, err := runLab(t, "tied-vs-untied", "-d", "7"); err == nil {
		t.Error("odd d accepted")
	}
}
