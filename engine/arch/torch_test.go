package arch

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/internal/pytorch"
)

// TestCountsMatchPyTorch counts every preset variant a second time in
// PyTorch (testdata/count_torch.py: the models written as torchvision and
// Hugging Face write them, sharing by module reuse and tying by
// assignment, counted by model.parameters()), and for the CNNs compares
// uses and unshared too, from the output shapes PyTorch itself computes.
// It needs python3 with torch and is skipped without.
func TestCountsMatchPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: starting PyTorch takes seconds")
	}
	py := pytorch.Python()
	if py == "" {
		t.Skip("no python3 with torch: install torch to count the presets again in PyTorch")
	}
	out, err := exec.Command(py, "testdata/count_torch.py").Output()
	if err != nil {
		t.Fatalf("count_torch.py: %v", err)
	}
	var torch map[string]struct{ Params, Uses, Unshared int64 }
	if err := json.Unmarshal(out, &torch); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for key, want := range torch {
		f := strings.Fields(key)
		name, o := f[0], Options{}
		if d, err := DefaultOptions(name); err == nil {
			o = d
		}
		for _, w := range f[1:] {
			switch {
			case w == "nopooler":
				o.Pooler = false
			case w == "vocab30000":
				o.Vocab = 30000
			case w == "tied":
				o.Tie = true
			case w == "untied":
				o.Tie = false
			case strings.HasPrefix(w, "embed"):
				o.Embed = map[string]int{"embed64": 64, "embed256": 256, "embed768": 768}[w]
			default:
				o.Share = w
			}
		}
		got := count(t, name, o)
		if got.Params != want.Params {
			t.Errorf("%s: %d parameters, PyTorch %d", key, got.Params, want.Params)
		}
		if want.Uses != 0 && (got.Uses != want.Uses || got.Unshared != want.Unshared) {
			t.Errorf("%s: uses %d unshared %d, PyTorch %d %d", key, got.Uses, got.Unshared, want.Uses, want.Unshared)
		}
		seen++
	}
	if seen < 60 {
		t.Errorf("only %d variants compared", seen)
	}
	t.Logf("%d variants agree with PyTorch", seen)
}
