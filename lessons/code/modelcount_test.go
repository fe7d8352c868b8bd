package code_test

import (
	"testing"

	"github.com/paramshare/paramshare/engine/arch"
)

// TestCountALBERT is lesson 16's "In code" in Go: the counter the widget
// runs, on ALBERT-base with all its layers sharing layer 0's tensors.
func TestCountALBERT(t *testing.T) {
	// in-code:begin count
	m, err := arch.Build("albert-base", arch.Options{Share: "all", Pooler: true, Embed: 128})
	if err != nil {
		t.Fatal(err)
	}
	table, err := arch.Count(m) // a row per layer: params, uses, unshared
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range table.Rows {
		if r.SharedWith != "" && r.Params != 0 {
			t.Errorf("%s uses %s's tensors but adds %d", r.Layer, r.SharedWith, r.Params)
		}
	}
	// table.Params: 11,683,584 (each tensor once)
	// table.Unshared: 89,650,176 (a copy per use, as with Share: "none")
	// in-code:end count
	if table.Params != 11_683_584 || table.Unshared != 89_650_176 {
		t.Fatalf("ALBERT-base all-shared: %d params, %d unshared; the comment says 11,683,584 and 89,650,176", table.Params, table.Unshared)
	}
	none, err := arch.Build("albert-base", arch.Options{Share: "none", Pooler: true, Embed: 128})
	if err != nil {
		t.Fatal(err)
	}
	if nt, err := arch.Count(none); err != nil || nt.Params != table.Unshared {
		t.Fatalf("Share none: %d params (%v), want the shared model's unshared count %d", nt.Params, err, table.Unshared)
	}
}
