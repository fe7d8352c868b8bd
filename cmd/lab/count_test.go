package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCountTotals: the table's total line for each preset with its
// source's own switches, against the counts the sources report
// (torchvision's num_params, Hugging Face's num_parameters(), the LeNet-5
// paper's 60,000); the derivations are in engine/arch/presets_test.go.
func TestCountTotals(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-model", "lenet5"}, "60,000"},
		{[]string{"-model", "alexnet"}, "61,100,840"},
		{[]string{"-model", "vgg16"}, "138,357,544"},
		{[]string{"-model", "resnet18"}, "11,689,512"},
		{[]string{"-model", "bert-base"}, "109,482,240"},
		{[]string{"-model", "bert-base", "-pooler=false"}, "108,891,648"},
		{[]string{"-model", "bert-large"}, "335,141,888"},
		{[]string{"-model", "bert-large", "-pooler=false"}, "334,092,288"},
		{[]string{"-model", "albert-base"}, "11,683,584"},
		{[]string{"-model", "gpt2"}, "124,439,808"},
		{[]string{"-model", "gpt2", "-tie=false"}, "163,037,184"}, // + 50257·768
	} {
		stdout, _, err := runLab(t, append([]string{"count"}, c.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		total := strings.Fields(lines[len(lines)-1])
		if len(total) < 2 || total[0] != "total" || total[1] != c.want {
			t.Errorf("%v: total line %q, want parameters %s", c.args, lines[len(lines)-1], c.want)
		}
	}
}

func TestCountJSON(t *testing.T) {
	stdout, _, err := runLab(t, "count", "-model", "albert-base", "-share", "none", "-pooler=false", "-seq", "128", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Model    string
		Rule     string
		SeqLen   int `json:"seq_len"`
		Params   int64
		Uses     int64
		Unshared int64
		Rows     []struct {
			Layer, Type, Output string
			Params, Uses        int64
			Unshared            int64
			SharedWith          string `json:"shared_with"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	// 3,906,048 embeddings + 99,072 projection + 12·7,087,872 layers
	if got.Model != "albert-base" || got.SeqLen != 128 || got.Params != 89059584 || got.Unshared != 89059584 || got.Rule == "" {
		t.Errorf("%+v", got)
	}
	var sum int64
	for _, r := range got.Rows {
		sum += r.Params
		if r.SharedWith != "" {
			t.Errorf("share none, but %s is shared with %s", r.Layer, r.SharedWith)
		}
	}
	if sum != got.Params || len(got.Rows) != 5+1+24 {
		t.Errorf("%d rows summing to %d", len(got.Rows), sum)
	}
	for _, key := range []string{`"layer"`, `"type"`, `"params"`, `"uses"`, `"unshared"`, `"output"`, `"seq_len"`, `"rows"`} {
		if !strings.Contains(stdout, key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	// all-shared: the shared rows name layer 0's halves
	stdout, _, err = runLab(t, "count", "-model", "albert-base", "-json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, `"shared_with": "encoder.layer.0.attention"`) || !strings.Contains(stdout, `"shared_with": "encoder.layer.0.ffn"`) {
		t.Errorf("all-shared JSON names no shared layer")
	}
}

func TestCountList(t *testing.T) {
	stdout, _, err := runLab(t, "count", "-model", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lenet5", "alexnet", "vgg16", "resnet18", "bert-base", "bert-large", "albert-base", "albert-large", "albert-xlarge", "gpt2"} {
		if !strings.Contains(stdout, name+" ") {
			t.Errorf("list lacks %s", name)
		}
	}
}

func TestCountConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"name": "mlp", "input": [784], "layers": [
	  {"name": "fc1", "type": "linear", "attrs": {"in_features": 784, "out_features": 100}},
	  {"name": "relu", "type": "relu"},
	  {"name": "fc2", "type": "linear", "attrs": {"in_features": 100, "out_features": 10}}]}`), 0o644)
	stdout, _, err := runLab(t, "count", "-config", good)
	if err != nil {
		t.Fatal(err)
	}
	// 784·100+100 + 100·10+10 = 79,510
	if !strings.Contains(stdout, "79,510") {
		t.Errorf("no total 79,510 in\n%s", stdout)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"name": "mlp", "input": [784], "layers": [
	  {"name": "fc1", "type": "linear", "attrs": {"in_features": 784, "out_features": 100}},
	  {"name": "fc2", "type": "linear", "attrs": {"in_features": 10, "out_features": 10}}]}`), 0o644)
	_, _, err = runLab(t, "count", "-config", bad)
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), `layer 1 "fc2"`) {
		t.Errorf("bad config: %v", err)
	}
}

// TestCountRefusesBadFlags: each mistake is a usage error (exit status 2).
func TestCountRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-model", "gpt5"},
		{"-model", "alexnet", "-tie"},
		{"-model", "bert-base", "-share", "all"},
		{"-model", "albert-base", "-share", "some"},
		{"-model", "bert-base", "-seq", "0"},
		{"-model", "bert-base", "-seq", "1000"},
		{"-model", "gpt2", "-vocab", "-1"},
		{"-model", "gpt2", "-pooler"},
		{"-model", "gpt2", "-config", "x.json"},
		{"-config", "/nonexistent/x.json"},
		{"-config", "x.json", "-tie"},
		{"-model", "bert-base", "-seq", "ten"},
		{"-model", "bert-base", "-out", "/tmp/x"},
	} {
		_, _, err := runLab(t, append([]string{"count"}, args...)...)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
