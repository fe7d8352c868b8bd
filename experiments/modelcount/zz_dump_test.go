package modelcount

import (
	"fmt"
	"testing"
)

func TestDump(t *testing.T) {
	for _, c := range []map[string]any{
		{"preset": "lenet5"}, {"preset": "lenet5", "unshareConv": true}, {"preset": "gpt2"}, {"preset": "gpt2", "tie": false},
		{"preset": "albert-base"}, {"preset": "bert-base"},
	} {
		s, err := picture(values(c))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("==", c, s.Total)
		for _, r := range s.Rows {
			if len(s.Rows) > 30 && r.Params == 0 && r.Unshared == 0 {
				continue
			}
			fmt.Printf("  %-40s %-20s %12d %14d %12d %s %s\n", r.Layer, r.Type, r.Params, r.Uses, r.Unshared, r.SharedWith, r.Output)
		}
	}
}
