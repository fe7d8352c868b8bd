package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxConfigBytes bounds a config ParseConfig reads.
const MaxConfigBytes = 64 << 10

// ParseConfig reads a teacher's model: a JSON object
//
//	{"name": "tiny-cnn", "input": [1, 28, 28], "layers": [
//	  {"name": "conv1", "type": "conv2d", "attrs": {"in_channels": 1, …}},
//	  {"name": "conv2", "type": "conv2d", "attrs": {…}, "same_as": "conv1"}, …]}
//
// with "input" an image [C,H,W], a vector [N] or {"seq_len": T} (or a
// top-level "seq_len": T, as a Model marshals itself), and layers
// in the step-trace vocabulary (Types). It counts the model once, so that
// every mistake — an unknown type or attr, a missing or bad attr, a
// same_as naming no earlier layer or one of another type or shape, shapes
// that do not chain — is refused here with the layer's index and name.
func ParseConfig(data []byte) (Model, error) {
	if len(data) > MaxConfigBytes {
		return Model{}, fmt.Errorf("arch: the config is %d bytes, at most %d", len(data), MaxConfigBytes)
	}
	var raw struct {
		Name   string            `json:"name"`
		Source string            `json:"source"`
		Rule   string            `json:"rule"`
		Input  json.RawMessage   `json:"input"`
		SeqLen int               `json:"seq_len"` // as a Model marshals it
		Layers []json.RawMessage `json:"layers"`
	}
	if err := strict(data, &raw); err != nil {
		return Model{}, fmt.Errorf("arch: the config: %w", err)
	}
	m := Model{Name: raw.Name, Source: raw.Source, Rule: raw.Rule}
	if m.Name == "" {
		return Model{}, errors.New(`arch: the config has no "name"`)
	}
	if m.Rule == "" {
		m.Rule = "weights and biases counted; normalisation γ and β counted, buffers not"
	}
	switch in := bytes.TrimSpace(raw.Input); {
	case raw.SeqLen != 0 && len(in) > 0:
		return Model{}, errors.New(`arch: the config has both "input" and "seq_len"`)
	case raw.SeqLen != 0:
		m.SeqLen = raw.SeqLen
	case len(in) == 0 || string(in) == "null":
		return Model{}, errors.New(`arch: the config has no "input": give [C,H,W], [N] or {"seq_len": T}`)
	case in[0] == '[':
		if err := json.Unmarshal(in, &m.Input); err != nil {
			return Model{}, fmt.Errorf(`arch: "input" %s: want [C,H,W] or [N] of whole numbers`, in)
		}
		if len(m.Input) == 0 {
			return Model{}, errors.New(`arch: "input" is empty: want [C,H,W] or [N]`)
		}
	case in[0] == '{':
		var s struct {
			SeqLen int `json:"seq_len"`
		}
		if err := strict(in, &s); err != nil || s.SeqLen == 0 {
			return Model{}, fmt.Errorf(`arch: "input" %s: want {"seq_len": T} with T a whole number ≥ 1`, in)
		}
		m.SeqLen = s.SeqLen
	default:
		return Model{}, fmt.Errorf(`arch: "input" %s: want [C,H,W], [N] or {"seq_len": T}`, in)
	}
	if len(raw.Layers) == 0 {
		return Model{}, errors.New(`arch: the config has no "layers"`)
	}
	if len(raw.Layers) > MaxLayers {
		return Model{}, fmt.Errorf("arch: the config has %d layers, at most %d", len(raw.Layers), MaxLayers)
	}
	for i, r := range raw.Layers {
		var l Layer
		if err := strict(r, &l); err != nil {
			return Model{}, fmt.Errorf("arch: layer %d%s: %w", i, nameOf(r), err)
		}
		if l.Type == "" {
			return Model{}, fmt.Errorf("arch: layer %d %q: no \"type\"", i, l.Name)
		}
		m.Layers = append(m.Layers, l)
	}
	if _, err := Count(m); err != nil {
		return Model{}, err
	}
	return m, nil
}

// strict decodes one JSON value into v, refusing unknown keys and
// trailing data.
func strict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// nameOf finds a layer's name in JSON that did not decode, for the error.
func nameOf(r json.RawMessage) string {
	var l struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(r, &l) == nil && l.Name != "" {
		return fmt.Sprintf(" %q", l.Name)
	}
	return ""
}
