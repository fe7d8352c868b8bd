package drawdigit

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestFigure draws a drawing's figure at step 1 in both formats and
// languages: the input and feature maps above the probabilities, titled
// with the settings; and at step 0, the input alone, saying the models
// have not been asked.
func TestFigure(t *testing.T) {
	waitModels(t)
	d := newDigit(decode(t, nil, `{"digit": 3, "shift": 2}`))
	var step0 bytes.Buffer
	if err := writeFigure("svg")(&step0, d, "en"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(step0.Bytes(), []byte("step 0: the models have not been asked")) {
		t.Error("the step-0 figure does not say the models were not asked")
	}
	if err := d.Advance(); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "zh"} {
		var buf bytes.Buffer
		if err := writeFigure("png")(&buf, d, lang); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		shot := filepath.Join(os.TempDir(), "paramshare-draw-digit-"+lang+".png")
		if err := os.WriteFile(shot, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %v, %d bytes: %s", lang, img.Bounds().Size(), buf.Len(), shot)
	}
	var svg bytes.Buffer
	if err := writeFigure("svg")(&svg, d, "en"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Draw a digit — centred as MNIST, shifted +2 px — MNIST test digit #3", "Class probabilities: CNN says", "conv2 after ReLU: 16 maps of 14×14"} {
		if !bytes.Contains(svg.Bytes(), []byte(want)) {
			t.Errorf("the SVG has no %q", want)
		}
	}
}

// TestJSONExport: the JSON export is the frame with the feature maps at
// full precision, and the parameters it was drawn with.
func TestJSONExport(t *testing.T) {
	waitModels(t)
	d := newDigit(decode(t, nil, `{"digit": 8}`))
	if err := d.Advance(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, d, "en"); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Params map[string]any
		Step   int
		Data   struct {
			Digit int
			Maps  []preciseMaps
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Step != 1 || out.Data.Digit != 8 || out.Params["digit"] != 8.0 || len(out.Data.Maps) != 2 {
		t.Fatalf("step %d, digit %d, params %v, %d layers of maps", out.Step, out.Data.Digit, out.Params, len(out.Data.Maps))
	}
	for i, m := range out.Data.Maps {
		for k, v := range m.Values {
			if v != d.result.maps[i][k] {
				t.Fatalf("%s value %d: %v, the tap's %v", m.Layer, k, v, d.result.maps[i][k])
			}
		}
	}
}
