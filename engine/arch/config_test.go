package arch

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// exampleConfig is a small CNN whose second conv reuses the first one's
// kernel (an 8→8 conv applied twice, as a module called twice in forward).
const exampleConfig = `{
  "name": "twice-conv",
  "input": [1, 28, 28],
  "layers": [
    {"name": "stem", "type": "conv2d", "attrs": {"in_channels": 1, "out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 1}},
    {"name": "relu1", "type": "relu"},
    {"name": "conv", "type": "conv2d", "attrs": {"in_channels": 8, "out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 1}},
    {"name": "relu2", "type": "relu"},
    {"name": "conv_again", "type": "conv2d", "attrs": {"in_channels": 8, "out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 1}, "same_as": "conv"},
    {"name": "pool", "type": "maxpool2d", "attrs": {"kernel_size": 2, "stride": 2}},
    {"name": "flatten", "type": "flatten"},
    {"name": "fc", "type": "linear", "attrs": {"in_features": 1568, "out_features": 10}}
  ]
}`

func TestParseConfigExample(t *testing.T) {
	m, err := ParseConfig([]byte(exampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	tab, err := Count(m)
	if err != nil {
		t.Fatal(err)
	}
	// stem 8·1·9+8 = 80; conv 8·8·9+8 = 584; conv_again 0 (shared);
	// fc 1568·10+10 = 15,690 (8·14·14 = 1568 after the pool).
	if tab.Params != 80+584+15690 {
		t.Errorf("params %d, want %d", tab.Params, 80+584+15690)
	}
	again := row(t, tab, "conv_again")
	// used at 28·28 positions: 784·576 multiply-adds; unshared it would be
	// its own 584; as a locally connected layer 784·576 + 8·784.
	if again.Params != 0 || again.SharedWith != "conv" || again.Uses != 784*576 || again.Unshared != 784*576+8*784 {
		t.Errorf("conv_again: %+v", again)
	}
	if tab.Unshared != (784*72+8*784)+2*(784*576+8*784)+15690 {
		t.Errorf("unshared %d", tab.Unshared)
	}
}

// TestDocsExampleConfig: the config printed in docs/counting.md parses and
// gives the totals the page states.
func TestDocsExampleConfig(t *testing.T) {
	doc, err := os.ReadFile("../../docs/counting.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/counting.md has no ```json block")
	}
	for i, b := range blocks {
		m, err := ParseConfig(b[1])
		if err != nil {
			t.Errorf("block %d: %v", i, err)
			continue
		}
		tab, _ := Count(m)
		// the page states each example's totals right after it
		want := fmt.Sprintf("params %s, uses %s, unshared %s", group(tab.Params), group(tab.Uses), group(tab.Unshared))
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/counting.md does not state %q for %s", want, m.Name)
		}
	}
}

func group(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestParseConfigSequence(t *testing.T) {
	cfg := `{"name": "tiny-lm", "input": {"seq_len": 16}, "layers": [
	  {"name": "embed", "type": "embedding", "attrs": {"num_embeddings": 100, "embedding_dim": 32}},
	  {"name": "pos", "type": "positional_encoding", "attrs": {"kind": "sinusoidal", "max_len": 64, "d_model": 32}},
	  {"name": "block0", "type": "transformer_block", "attrs": {"d_model": 32, "num_heads": 4, "d_ff": 64, "causal": true}},
	  {"name": "block1", "type": "transformer_block", "attrs": {"d_model": 32, "num_heads": 4, "d_ff": 64, "causal": true}, "same_as": "block0"},
	  {"name": "head", "type": "linear", "attrs": {"in_features": 32, "out_features": 100, "bias": false}, "same_as": "embed"}
	]}`
	m, err := ParseConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := Count(m)
	// embed 3,200; block 4·(32²+32) + 4·32 + 2·32·64 + 64 + 32 = 4,224
	// + 128 + 4,192 = 8,544; block1 and head shared.
	if tab.Params != 3200+8544 || tab.Unshared != 3200+2*8544+3200 {
		t.Errorf("params %d unshared %d", tab.Params, tab.Unshared)
	}
}

func TestParseConfigErrors(t *testing.T) {
	layer := func(s string) string {
		return `{"name": "m", "input": [1, 8, 8], "layers": [` +
			`{"name": "c1", "type": "conv2d", "attrs": {"in_channels": 1, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 0}},` + s + `]}`
	}
	big := `{"name": "m", "input": [4], "layers": [` + strings.Repeat(`{"name": "r", "type": "relu"},`, MaxLayers) + `{"name": "x", "type": "relu"}]}`
	for _, c := range []struct {
		cfg  string
		want []string // every piece the message must hold
	}{
		{layer(`{"name": "c2", "type": "conv3d"}`), []string{`layer 1 "c2"`, `unknown layer type "conv3d"`}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": 1}}`), []string{`layer 1 "c2"`, `missing attr "padding"`}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 4, "kernel_size": 2.5, "stride": 1, "padding": 0}}`), []string{`layer 1 "c2"`, `"kernel_size"`, "whole number"}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 0, "kernel_size": 3, "stride": 1, "padding": 0}}`), []string{`layer 1 "c2"`, `"out_channels" is 0`}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 0, "colour": 1}}`), []string{`layer 1 "c2"`, `unknown attr "colour"`}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 0}}`), []string{`layer 1 "c2"`, "in_channels is 3", "4 channels"}},
		{layer(`{"name": "fc", "type": "linear", "attrs": {"in_features": 10, "out_features": 2}}`), []string{`layer 1 "fc"`, "flatten it first"}},
		{layer(`{"name": "f", "type": "flatten"}, {"name": "fc", "type": "linear", "attrs": {"in_features": 100, "out_features": 2}}`), []string{`layer 2 "fc"`, "in_features is 100", "vector of 144"}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1}, "same_as": "c9"}`), []string{`layer 1 "c2"`, `same_as "c9" names no earlier layer`}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1}, "same_as": "c1"}`), []string{`layer 1 "c2"`, `same_as "c1"`, "weight [4,1,3,3]"}},
		{layer(`{"name": "r", "type": "relu", "same_as": "c1"}`), []string{`layer 1 "r"`, "no parameters to share"}},
		{layer(`{"name": "r", "type": "relu", "attrs": {"inplace": true}}`), []string{`layer 1 "r"`, `unknown attr "inplace"`, "takes none"}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 1e30, "kernel_size": 3, "stride": 1, "padding": 0}}`), []string{`layer 1 "c2"`, `"out_channels"`}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 33554432, "kernel_size": 3, "stride": 1, "padding": 0}}`), []string{`layer 1 "c2"`, `"out_channels" is 33554432, want 1 to 16777216`}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": "8", "kernel_size": 3, "stride": 1, "padding": 0}}`), []string{`layer 1 "c2"`, `"out_channels" is "8", not a whole number`}},
		{layer(`{"name": "c2", "type": "locally_connected2d", "attrs": {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1}, "same_as": "c1"}`), []string{`layer 1 "c2"`, "same type"}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1}, "same_as": "c2"}`), []string{`layer 1 "c2"`, "itself"}},
		{layer(`{"name": "c1", "type": "relu"}`), []string{`layer 1 "c1"`, "used by an earlier layer"}},
		{layer(`{"name": "", "type": "relu"}`), []string{"layer 1", "no name"}},
		{layer(`{"name": "p", "type": "maxpool2d", "attrs": {"kernel_size": 9, "stride": 1}}`), []string{`layer 1 "p"`, "larger than the padded input"}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 0}, "sameas": "c1"}`), []string{`layer 1 "c2"`, `unknown field "sameas"`}},
		{layer(`{"name": "e", "type": "embedding", "attrs": {"num_embeddings": 10, "embedding_dim": 4}}`), []string{`layer 1 "e"`, "token indices"}},
		{layer(`{"name": "c2", "type": "conv2d", "attrs": {"in_channels": 4, "out_channels": 16777216, "kernel_size": 4096, "stride": 1, "padding": 4096}}`), []string{`layer 1 "c2"`, "overflow"}},
		{`{"name": "m", "input": {"seq_len": 600}, "layers": [{"name": "e", "type": "embedding", "attrs": {"num_embeddings": 10, "embedding_dim": 4}}, {"name": "p", "type": "positional_encoding", "attrs": {"kind": "learned", "max_len": 512, "d_model": 4}}]}`, []string{`layer 1 "p"`, "max_len is 512"}},
		{`{"name": "m", "input": {"seq_len": 8}, "layers": [{"name": "e", "type": "embedding", "attrs": {"num_embeddings": 10, "embedding_dim": 6}}, {"name": "a", "type": "self_attention", "attrs": {"d_model": 6, "num_heads": 4}}]}`, []string{`layer 1 "a"`, "num_heads 4 does not divide d_model 6"}},
		{`{"name": "m", "input": {"seq_len": 8}, "layers": [{"name": "e", "type": "embedding", "attrs": {"num_embeddings": 10, "embedding_dim": 4}}, {"name": "h", "type": "linear", "attrs": {"in_features": 4, "out_features": 10}, "same_as": "e"}]}`, []string{`layer 1 "h"`, "weight [10,4]", "bias"}},
		{`{"name": "m", "input": [1, 8, 8], "layers": []}`, []string{`no "layers"`}},
		{`{"name": "m", "layers": [{"name": "r", "type": "relu"}]}`, []string{`no "input"`}},
		{`{"name": "m", "input": [1, 8], "layers": [{"name": "r", "type": "relu"}]}`, []string{"[C,H,W]"}},
		{`{"name": "m", "input": {"seq": 8}, "layers": [{"name": "r", "type": "relu"}]}`, []string{`{"seq_len": T}`}},
		{`{"input": [4], "layers": [{"name": "r", "type": "relu"}]}`, []string{`no "name"`}},
		{`{"name": "m", "input": [4], "layers": [{"name": "r", "type": "relu"}], "extra": 1}`, []string{`unknown field "extra"`}},
		{`{"name": "m", "input": [4], "layers": [{"name": "r", "type": "relu"}]} {}`, []string{"after the JSON value"}},
		{`{"name": "m", "input": [4], "layers": [{"name": "r"}]}`, []string{`layer 0 "r"`, `no "type"`}},
		{`{"name": "m", "input": [4], "layers": [{"name": "r", "type": 7}]}`, []string{`layer 0 "r"`}},
		{`not json`, []string{"config"}},
		{big, []string{fmt.Sprintf("%d layers, at most %d", MaxLayers+1, MaxLayers)}},
		{`{"name": "m", "input": [4], "layers": [` + strings.Repeat(" ", MaxConfigBytes) + `]}`, []string{"bytes, at most"}},
	} {
		_, err := ParseConfig([]byte(c.cfg))
		if err == nil {
			t.Errorf("accepted: %.200s", c.cfg)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
}

// TestPresetsRoundTrip: every preset, marshalled as JSON, is a config that
// ParseConfig reads back to the same table, so a teacher can start from one.
func TestPresetsRoundTrip(t *testing.T) {
	for _, p := range Presets() {
		for _, o := range []Options{{}, p.Defaults} {
			m, err := Build(p.Name, o)
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseConfig(data)
			if err != nil {
				t.Errorf("%s %+v: %v", p.Name, o, err)
				continue
			}
			a, _ := Count(m)
			b, _ := Count(back)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s %+v: the config counts %d/%d/%d, the preset %d/%d/%d", p.Name, o, b.Params, b.Uses, b.Unshared, a.Params, a.Uses, a.Unshared)
			}
		}
	}
	if _, err := ParseConfig([]byte(`{"name": "m", "input": [4], "seq_len": 8, "layers": [{"name": "r", "type": "relu"}]}`)); err == nil || !strings.Contains(err.Error(), "both") {
		t.Errorf("input and seq_len both: %v", err)
	}
}
