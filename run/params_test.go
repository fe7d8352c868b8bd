package run

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestDecodeJSON runs the one decoder over the inputs a careless or
// hostile client sends: every refusal names the field (when there is
// one) in both languages, and every acceptance gives typed values.
func TestDecodeJSON(t *testing.T) {
	base := Defaults(counterFields)
	good := []struct {
		raw  string
		want Values
	}{
		{``, base},
		{`null`, base},
		{`{}`, base},
		{`{"total": 3}`, base.With("total", 3)},
		{`{"total": 3.0}`, base.With("total", 3)},
		{`{"total": 3e1}`, base.With("total", 30)},
		{`{"total": null}`, base},
		{`{"lr": 0.5, "preset": "c", "shift": true}`, base.With("lr", 0.5).With("preset", "c").With("shift", true)},
		{` {"lr": 1} `, base.With("lr", 1.0)},
	}
	for _, c := range good {
		v, err := DecodeJSON(counterFields, base, json.RawMessage(c.raw))
		if err != nil || !v.Equal(c.want) {
			t.Errorf("%s: %v %v, want %v", c.raw, v, err, c.want)
		}
	}
	bad := []struct{ raw, field, en, zh string }{
		{`{"TOTAL": 3}`, "TOTAL", "unknown parameter", "没有名为"},
		{`{"bogus": 1}`, "bogus", "unknown parameter", "没有名为"},
		{`{"total": 0}`, "total", "whole number from 1 to 100000; got 0", "1 到 100000 之间的整数"},
		{`{"total": 2.5}`, "total", "whole number", "整数"},
		{`{"total": 1e400}`, "total", "got 1e400", "1e400"},
		{`{"total": "3"}`, "total", `got "3"`, "整数"},
		{`{"total": true}`, "total", "got true", "整数"},
		{`{"total": [3]}`, "total", "got [3]", "整数"},
		{`{"lr": 2}`, "lr", "a number from 1e-06 to 1; got 2", "之间的数"},
		{`{"lr": -0}`, "lr", "got -0", "之间的数"},
		{`{"preset": "d"}`, "preset", `one of a, b, c; got "d"`, "以下之一：a、b、c"},
		{`{"preset": 1}`, "preset", "one of", "以下之一"},
		{`{"shift": "yes"}`, "shift", "true or false", "true 或 false"},
		{`{"total": 3, "total": 4}`, "total", "more than once", "不止一次"},
		{`[1]`, "", "one JSON object", "JSON 对象"},
		{`"x"`, "", "one JSON object", "JSON 对象"},
		{`{"total": 3} {}`, "", "one JSON object", "JSON 对象"},
		{`{"total": 3`, "", "one JSON object", "JSON 对象"},
		{`{"preset": "` + strings.Repeat("x", 500) + `"}`, "preset", "…", "…"},
	}
	for _, c := range bad {
		_, err := DecodeJSON(counterFields, base, json.RawMessage(c.raw))
		pe, ok := AsParamError(err)
		if !ok {
			t.Errorf("%.40s: %v, want a ParamError", c.raw, err)
			continue
		}
		if pe.Field != c.field || !strings.Contains(pe.Text.En, c.en) || !strings.Contains(pe.Text.Zh, c.zh) {
			t.Errorf("%.40s: field %q, %q / %q; want %q with %q / %q", c.raw, pe.Field, pe.Text.En, pe.Text.Zh, c.field, c.en, c.zh)
		}
		if len(pe.Text.En) > 300 {
			t.Errorf("%.40s: message of %d bytes", c.raw, len(pe.Text.En))
		}
	}
}

func TestDecodeQuery(t *testing.T) {
	def := Defaults(counterFields)
	q := func(s string) url.Values { v, _ := url.ParseQuery(s); return v }
	v, err := DecodeQuery(counterFields, q("total=5&lr=0.5&preset=a&shift=true&step=3"), "step")
	if err != nil || !v.Equal(def.With("total", 5).With("lr", 0.5).With("preset", "a").With("shift", true)) {
		t.Fatalf("%v %v", v, err)
	}
	for _, s := range []string{"Total=5", "total=0", "total=x", "total=", "total=1&total=2", "step=1&step=2", "lr=NaN", "lr=Inf", "shift=1", "preset=A", "bogus=1", "total=0x1p1", "total=2.", "total=+2", "lr=.5"} {
		if _, err := DecodeQuery(counterFields, q(s), "step"); err == nil {
			t.Errorf("%s accepted", s)
		} else if _, ok := AsParamError(err); !ok {
			t.Errorf("%s: %v is not a ParamError", s, err)
		}
	}
	// Query is DecodeQuery's inverse.
	want := def.With("total", 5).With("lr", 0.25).With("shift", true)
	if got, err := DecodeQuery(counterFields, want.Query(counterFields)); err != nil || !got.Equal(want) {
		t.Fatalf("round trip: %v %v (query %s)", got, err, want.Query(counterFields).Encode())
	}
}

// bytesFields has a Bytes field of 4 bytes beside a number.
var bytesFields = []Field{
	{Name: "pixels", Kind: Bytes, Len: 4, Default: "AAAAAA==", Desc: Text{En: "pixels", Zh: "像素"}},
	{Name: "n", Kind: Int, Default: 1, Min: 0, Max: 9, Desc: Text{En: "n", Zh: "n"}},
}

// TestBytesField: a Bytes field takes base64 of exactly Len bytes, in JSON
// and in a query (where an unescaped '+' arrives as a space), keeps its
// canonical text in Values, and refuses the rest naming the field.
func TestBytesField(t *testing.T) {
	for _, f := range bytesFields {
		f.check()
	}
	base := Defaults(bytesFields)
	want := base.With("pixels", "+/8AAQ==") // fb ff 00 01
	for _, raw := range []string{`{"pixels": "+/8AAQ=="}`, `{"pixels": "+/8AAR=="}` /* padding bits set */} {
		v, err := DecodeJSON(bytesFields, base, json.RawMessage(raw))
		if err != nil || !v.Equal(want) {
			t.Errorf("%s: %v %v, want %v", raw, v, err, want)
		}
	}
	if got := want.Bytes("pixels"); string(got) != "\xfb\xff\x00\x01" {
		t.Errorf("Bytes: % x", got)
	}
	if v, err := DecodeJSON(bytesFields, want, json.RawMessage(`{"pixels": null, "n": 2}`)); err != nil || !v.Equal(want.With("n", 2)) {
		t.Errorf("null: %v %v, want the drawing kept", v, err)
	}
	q, _ := url.ParseQuery("pixels=+/8AAQ==")
	if v, err := DecodeQuery(bytesFields, q); err != nil || !v.Equal(want) {
		t.Errorf("query with '+' as a space: %v %v", v, err)
	}
	if v, err := DecodeQuery(bytesFields, want.Query(bytesFields)); err != nil || !v.Equal(want) {
		t.Errorf("round trip through Query: %v %v (%s)", v, err, want.Query(bytesFields).Encode())
	}
	for _, c := range []struct{ raw, en string }{
		{`{"pixels": "AAAA"}`, "base64 of exactly 4 bytes; got \"AAAA\" (3 bytes)"},
		{`{"pixels": "AAAAAAA="}`, "(5 bytes)"},
		{`{"pixels": "AA AAAA="}`, "base64 of exactly 4 bytes"},
		{`{"pixels": "AAAAAA"}`, "base64 of exactly 4 bytes"}, // padding is required
		{`{"pixels": "____AA=="}`, "base64 of exactly 4 bytes"},
		{`{"pixels": 1234}`, "got 1234"},
		{`{"pixels": [0, 0, 0, 0]}`, "got [0, 0, 0, 0]"},
		{`{"pixels": "` + strings.Repeat("A", 1<<20) + `"}`, "…"},
	} {
		_, err := DecodeJSON(bytesFields, base, json.RawMessage(c.raw))
		pe, ok := AsParamError(err)
		if !ok || pe.Field != "pixels" || !strings.Contains(pe.Text.En, c.en) || !strings.Contains(pe.Text.Zh, "恰好 4 个字节的 base64") {
			t.Errorf("%.40s: %v, want a ParamError on pixels with %q", c.raw, err, c.en)
		}
	}
	for _, bad := range []Field{
		{Name: "p", Kind: Bytes, Len: 0, Default: "", Desc: Text{En: "p", Zh: "p"}},
		{Name: "p", Kind: Bytes, Len: 4, Default: "AAAA", Desc: Text{En: "p", Zh: "p"}},
		{Name: "p", Kind: Bytes, Len: 4, Default: "AAAAAR==", Desc: Text{En: "p", Zh: "p"}},
		{Name: "p", Kind: Bytes, Len: 4, Default: []byte{0, 0, 0, 0}, Desc: Text{En: "p", Zh: "p"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("field %+v accepted", bad)
				}
			}()
			bad.check()
		}()
	}
}

func TestIntStep(t *testing.T) {
	f := []Field{{Name: "k", Kind: Int, Default: 3, Min: 1, Max: 11, Step: 2, Desc: Text{En: "k", Zh: "k"}}}
	f[0].check()
	for raw, ok := range map[string]bool{`{"k":1}`: true, `{"k":11}`: true, `{"k":5.0}`: true, `{"k":4}`: false, `{"k":13}`: false} {
		_, err := DecodeJSON(f, Defaults(f), json.RawMessage(raw))
		if (err == nil) != ok {
			t.Errorf("%s: %v", raw, err)
		}
	}
	if fi := f[0].Info("en"); fi.Step != 2 {
		t.Fatalf("info %+v", fi)
	}
}
