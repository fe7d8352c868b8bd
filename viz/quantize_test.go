package viz

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestQuantizeRoundTrip(t *testing.T) {
	vals := []float64{-1.5, 0, 0.25, 2.5, math.NaN(), 1e-9, 2.5, -1.5}
	q := Quantize(vals, 2, 4)
	if q.Min != -1.5 || q.Max != 2.5 {
		t.Fatalf("range [%v, %v], want [-1.5, 2.5]", q.Min, q.Max)
	}
	got, err := q.Values()
	if err != nil {
		t.Fatal(err)
	}
	tol := (q.Max - q.Min) / (2 * (QuantLevels - 1))
	for i, v := range vals {
		if math.IsNaN(v) {
			if !math.IsNaN(got[i]) {
				t.Errorf("value %d: NaN came back as %v", i, got[i])
			}
			continue
		}
		if math.Abs(got[i]-v) > tol+1e-15 {
			t.Errorf("value %d: %v came back as %v (tolerance %v)", i, v, got[i], tol)
		}
	}
	// The extremes are exact: the colour scale's ends are where they were.
	if got[0] != -1.5 || got[3] != 2.5 {
		t.Errorf("extremes came back as %v and %v", got[0], got[3])
	}
}

func TestQuantizeRangeClampsAndConstant(t *testing.T) {
	q := QuantizeRange([]float64{-10, 0, 10}, -1, 1, 3)
	got, _ := q.Values()
	if got[0] != -1 || got[2] != 1 || math.Abs(got[1]) > 1.0/254 {
		t.Errorf("clamped values %v", got)
	}
	c := Quantize([]float64{3, 3, 3}, 3)
	if got, _ := c.Values(); got[0] != 3 || got[2] != 3 {
		t.Errorf("constant array came back as %v", got)
	}
	none := Quantize([]float64{math.NaN(), math.Inf(1)}, 2)
	if none.Min != 0 || none.Max != 0 {
		t.Errorf("no finite values: range [%v, %v]", none.Min, none.Max)
	}
}

func TestQuantizeIsCompact(t *testing.T) {
	vals := make([]float64, 28*28)
	for i := range vals {
		vals[i] = math.Sin(float64(i)) * 0.123456789
	}
	q, _ := json.Marshal(Quantize(vals, 28, 28))
	plain, _ := json.Marshal(vals)
	t.Logf("28×28 map: %d bytes quantized, %d bytes as float64 JSON", len(q), len(plain))
	if len(q) > 1200 || len(q)*5 > len(plain) {
		t.Errorf("quantized %d bytes vs plain %d: not compact", len(q), len(plain))
	}
}

func TestQuantizedValuesRejectsBadData(t *testing.T) {
	if _, err := (Quantized{Shape: []int{2}, Data: "!!"}).Values(); err == nil {
		t.Error("bad base64 accepted")
	}
	if _, err := (Quantized{Shape: []int{3}, Data: "AAA="}).Values(); err == nil {
		t.Error("length mismatch accepted")
	}
}

func TestQuantizePanicsOnShapeMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for a shape mismatch")
		}
	}()
	Quantize([]float64{1, 2, 3}, 2, 2)
}

// TestQuantizeKeepsExactZero checks that on a scale from 0 code 0 means
// exactly 0: positive values too small for code 1 still take it (error
// under one step), and the other values keep the half-step bound.
func TestQuantizeKeepsExactZero(t *testing.T) {
	step := 1.0 / (QuantLevels - 1)
	vals := []float64{0, 1e-12, 0.4 * step, 0.6 * step, 0.5, 1, -0.2}
	q := QuantizeRange(vals, 0, 1, len(vals))
	codes, _ := base64.StdEncoding.DecodeString(q.Data)
	want := []byte{0, 1, 1, 1, 127, 254, 0} // -0.2 is below the range: clamped to 0
	if !bytes.Equal(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	got, err := q.Values()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals[:6] {
		if (v == 0) != (got[i] == 0) {
			t.Errorf("value %v came back as %v: exact zero must stay exactly zero and nothing else", v, got[i])
		}
		tol := step / 2
		if v > 0 && v < step/2 {
			tol = step
		}
		if math.Abs(got[i]-v) > tol+1e-15 {
			t.Errorf("value %v came back as %v (tolerance %v)", v, got[i], tol)
		}
	}
	// Quantize picks the same rule when the values' own minimum is 0.
	q = Quantize([]float64{0, 3, 1e-9}, 3)
	if got, _ := q.Values(); got[0] != 0 || got[2] == 0 {
		t.Errorf("Quantize on [0, 3]: %v, want exactly 0 first and a non-zero last", got)
	}
	// A scale that does not start at 0 is linear as before.
	q = QuantizeRange([]float64{-1, 1e-9}, -1, 1, 2)
	if codes, _ := base64.StdEncoding.DecodeString(q.Data); codes[1] != 127 {
		t.Errorf("on [-1, 1] 1e-9 took code %d, want 127", codes[1])
	}
}

// TestQuantJSMatchesValues runs web/static/widgets/quant.js (what the
// widgets decode with) under node on arrays Go quantized, and checks it
// decodes exactly as Quantized.Values: the same numbers, NaN for missing,
// exact zeros kept. It skips when node is not installed (CI installs only
// chromium; the browser tests exercise quant.js there).
func TestQuantJSMatchesValues(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed: quant.js is checked by the browser tests only")
	}
	src, err := os.ReadFile(filepath.Join("..", "web", "static", "widgets", "quant.js"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// .mjs: node loads it as the ES module the browser loads.
	if err := os.WriteFile(filepath.Join(dir, "quant.mjs"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `import { dequantize } from "./quant.mjs";
import { readFileSync } from "node:fs";
const cases = JSON.parse(readFileSync(0, "utf8"));
const out = cases.map((q) => Array.from(dequantize(q), (v) => (Number.isNaN(v) ? "NaN" : v)));
process.stdout.write(JSON.stringify(out));
`
	if err := os.WriteFile(filepath.Join(dir, "check.mjs"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	step := 1.0 / (QuantLevels - 1)
	cases := []Quantized{
		QuantizeRange([]float64{0, 1e-12, 0.4 * step, 0.5, 1, math.NaN()}, 0, 1, 2, 3),
		Quantize([]float64{-1.5, 0, 0.25, 2.5, math.NaN(), 1e-9}, 6),
		QuantizeRange([]float64{-3, 0, 3, 1e-9}, -3, 3, 4),
		Quantize([]float64{0, 0, 0}, 3), // constant: a zero-width scale
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(node, "check.mjs")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var decoded [][]any
	if err := json.Unmarshal(out, &decoded); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	if len(decoded) != len(cases) {
		t.Fatalf("node decoded %d arrays, want %d", len(decoded), len(cases))
	}
	for i, q := range cases {
		want, err := q.Values()
		if err != nil {
			t.Fatal(err)
		}
		if len(decoded[i]) != len(want) {
			t.Fatalf("case %d: quant.js gave %d values, Go %d", i, len(decoded[i]), len(want))
		}
		for k, w := range want {
			switch g := decoded[i][k].(type) {
			case string:
				if g != "NaN" || !math.IsNaN(w) {
					t.Errorf("case %d value %d: quant.js %v, Go %v", i, k, g, w)
				}
			case float64:
				if g != w {
					t.Errorf("case %d value %d: quant.js %v, Go %v", i, k, g, w)
				}
			}
		}
	}
	if decoded[0][0] != 0.0 || decoded[0][1] == 0.0 {
		t.Errorf("quant.js decoded %v: exact zero must stay 0 and 1e-12 must not", decoded[0][:2])
	}
}
