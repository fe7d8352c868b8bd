package run

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the type of a parameter field.
type Kind string

// The kinds of parameter.
const (
	Int    Kind = "int"    // a whole number in [Min, Max]
	Number Kind = "number" // a finite number in [Min, Max]
	Choice Kind = "choice" // one of Choices
	Bool   Kind = "bool"   // true or false
	// Bytes is exactly Len bytes written in standard base64 (RFC 4648,
	// with padding), such as a 28×28 drawing: a value too large for a
	// number and too free for a list of choices. Values hold it as its
	// canonical base64 text (Values.Bytes decodes it).
	Bytes Kind = "bytes"
)

// Field describes one parameter of an experiment: everything the one
// decoder, the page's controls and the documentation need to know of it.
type Field struct {
	Name    string
	Kind    Kind
	Default any      // int for Int, float64 for Number, string for Choice and Bytes, bool for Bool
	Min     float64  // Int and Number: the smallest value allowed
	Max     float64  // Int and Number: the largest value allowed
	Choices []string // Choice: the values allowed, in the order a page lists them
	Len     int      // Bytes: the number of bytes a value holds
	Step    int      // Int: values are Min, Min+Step, … (0 means 1): odd kernel sizes
	Desc    Text     // one line, both languages
}

// FieldInfo is a Field as the page receives it (hello's specs), with its
// description in the page's language.
type FieldInfo struct {
	Name    string   `json:"name"`
	Kind    Kind     `json:"kind"`
	Default any      `json:"default"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Choices []string `json:"choices,omitempty"`
	Len     int      `json:"len,omitempty"`
	Step    int      `json:"step,omitempty"`
	Desc    string   `json:"desc"`
}

// Info returns f for the page, in lang.
func (f Field) Info(lang string) FieldInfo {
	fi := FieldInfo{Name: f.Name, Kind: f.Kind, Default: f.Default, Choices: f.Choices, Len: f.Len, Step: f.Step, Desc: f.Desc.In(lang)}
	if f.Kind == Int || f.Kind == Number {
		lo, hi := f.Min, f.Max
		fi.Min, fi.Max = &lo, &hi
	}
	return fi
}

// check panics if f is not a well-formed field: a registration mistake.
func (f Field) check() {
	bad := func(why string) { panic(fmt.Sprintf("run: field %q: %s", f.Name, why)) }
	if f.Name == "" || f.Desc.En == "" || f.Desc.Zh == "" {
		bad("needs a name and a description in both languages")
	}
	switch f.Kind {
	case Int:
		d, ok := f.Default.(int)
		if !ok || float64(d) < f.Min || float64(d) > f.Max || f.Min != math.Trunc(f.Min) || f.Max != math.Trunc(f.Max) {
			bad("an int field needs an int default within whole-number bounds")
		}
		if f.Step < 0 || f.Step > 1 && ((d-int(f.Min))%f.Step != 0 || (int(f.Max)-int(f.Min))%f.Step != 0) {
			bad("an int field's default and maximum must be on its steps")
		}
	case Number:
		d, ok := f.Default.(float64)
		if !ok || d < f.Min || d > f.Max {
			bad("a number field needs a float64 default within its bounds")
		}
	case Choice:
		d, ok := f.Default.(string)
		if !ok || !slices.Contains(f.Choices, d) {
			bad("a choice field needs a string default among its choices")
		}
	case Bool:
		if _, ok := f.Default.(bool); !ok {
			bad("a bool field needs a bool default")
		}
	case Bytes:
		d, ok := f.Default.(string)
		if !ok || f.Len <= 0 {
			bad("a bytes field needs a length and a string default")
		}
		if c, err := bytesValue(f, d); err != nil || c != d {
			bad("a bytes field's default must be the canonical base64 of Len bytes")
		}
	default:
		bad("unknown kind " + string(f.Kind))
	}
}

// Values are decoded parameters: every field of an experiment, by name,
// as int, float64, string or bool (see Field.Default). Values are never
// modified once made; With returns a changed copy.
type Values map[string]any

// Int returns the Int field name. It panics if there is none: a
// programmer's mistake, since decoding always fills every field.
func (v Values) Int(name string) int { return mustGet[int](v, name) }

// Float returns the Number field name.
func (v Values) Float(name string) float64 { return mustGet[float64](v, name) }

// String returns the Choice field name.
func (v Values) String(name string) string { return mustGet[string](v, name) }

// Bool returns the Bool field name.
func (v Values) Bool(name string) bool { return mustGet[bool](v, name) }

// Bytes returns the Bytes field name, decoded: a new slice of the field's
// Len bytes.
func (v Values) Bytes(name string) []byte {
	b, err := base64.StdEncoding.DecodeString(mustGet[string](v, name))
	if err != nil {
		panic(fmt.Sprintf("run: parameter %q is not base64: %v", name, err))
	}
	return b
}

func mustGet[T any](v Values, name string) T {
	x, ok := v[name].(T)
	if !ok {
		var zero T
		panic(fmt.Sprintf("run: parameter %q is %T, not %T", name, v[name], zero))
	}
	return x
}

// With returns a copy of v with name set to x.
func (v Values) With(name string, x any) Values {
	w := make(Values, len(v)+1)
	for k, y := range v {
		w[k] = y
	}
	w[name] = x
	return w
}

// Equal reports whether v and w hold the same values.
func (v Values) Equal(w Values) bool {
	if len(v) != len(w) {
		return false
	}
	for k, x := range v {
		if y, ok := w[k]; !ok || x != y {
			return false
		}
	}
	return true
}

// Query returns v as an export URL's query, in fields' order, leaving out
// the values equal to their defaults.
func (v Values) Query(fields []Field) url.Values {
	q := url.Values{}
	for _, f := range fields {
		x, ok := v[f.Name]
		if !ok || x == f.Default {
			continue
		}
		q.Set(f.Name, formatValue(x))
	}
	return q
}

func formatValue(x any) string {
	switch x := x.(type) {
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return fmt.Sprint(x)
}

// Defaults returns every field's default.
func Defaults(fields []Field) Values {
	v := make(Values, len(fields))
	for _, f := range fields {
		v[f.Name] = f.Default
	}
	return v
}

// ParamError is a refused parameter: which field, what was sent and why.
// Its message, in either language, names the field, the value and the
// bounds, in one format for every experiment and for both the websocket
// and the export URL.
type ParamError struct {
	Field string // "" when the parameters as a whole are malformed
	Value string // the value as sent, shortened
	Text  Text
}

func (e *ParamError) Error() string { return "run: " + e.Text.En }

// maxShownValue is how much of a refused value a message repeats.
const maxShownValue = 40

func shown(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "�")
	}
	if utf8.RuneCountInString(s) > maxShownValue {
		r := []rune(s)
		s = string(r[:maxShownValue]) + "…"
	}
	return s
}

// wantText says what field f accepts, in both languages.
func (f Field) wantText() Text {
	switch f.Kind {
	case Int:
		if f.Step > 1 {
			return Text{
				En: fmt.Sprintf("a whole number from %g to %g in steps of %d", f.Min, f.Max, f.Step),
				Zh: fmt.Sprintf("%g 到 %g 之间、以 %d 为步长的整数", f.Min, f.Max, f.Step),
			}
		}
		return Text{
			En: fmt.Sprintf("a whole number from %g to %g", f.Min, f.Max),
			Zh: fmt.Sprintf("%g 到 %g 之间的整数", f.Min, f.Max),
		}
	case Number:
		return Text{
			En: fmt.Sprintf("a number from %g to %g", f.Min, f.Max),
			Zh: fmt.Sprintf("%g 到 %g 之间的数", f.Min, f.Max),
		}
	case Choice:
		return Text{
			En: "one of " + strings.Join(f.Choices, ", "),
			Zh: "以下之一：" + strings.Join(f.Choices, "、"),
		}
	case Bytes:
		return Text{
			En: fmt.Sprintf("base64 of exactly %d bytes", f.Len),
			Zh: fmt.Sprintf("恰好 %d 个字节的 base64 文本", f.Len),
		}
	}
	return Text{En: "true or false", Zh: "true 或 false"}
}

// latinGap is the space Chinese text puts before a number or a Latin
// word (必须是 1 到 3…), and nothing before Chinese (必须是以下之一…).
func latinGap(next string) string {
	if next != "" && next[0] < utf8.RuneSelf {
		return " "
	}
	return ""
}

func fieldError(f Field, value string) *ParamError {
	w := f.wantText()
	v := shown(value)
	return &ParamError{Field: f.Name, Value: v, Text: Text{
		En: fmt.Sprintf("parameter %q must be %s; got %s", f.Name, w.En, v),
		Zh: fmt.Sprintf("参数 %q 必须是%s%s；收到的是 %s", f.Name, latinGap(w.Zh), w.Zh, v),
	}}
}

func unknownError(fields []Field, name string) *ParamError {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	n := shown(name)
	return &ParamError{Field: n, Text: Text{
		En: fmt.Sprintf("unknown parameter %q (this experiment has %s)", n, strings.Join(names, ", ")),
		Zh: fmt.Sprintf("没有名为 %q 的参数（这个实验的参数有 %s）", n, strings.Join(names, "、")),
	}}
}

func shapeError(en, zh string) *ParamError {
	return &ParamError{Text: Text{En: en, Zh: zh}}
}

// DecodeJSON decodes raw, a JSON object of parameters, onto base (which
// holds every field) and returns the result; base is not modified. Keys
// must match field names exactly (case included) and appear once; a null
// value keeps the field's current value; an empty raw or null keeps them
// all. Every refusal is a *ParamError.
func DecodeJSON(fields []Field, base Values, raw json.RawMessage) (Values, error) {
	raw = bytes.TrimSpace(raw)
	out := make(Values, len(base))
	for k, x := range base {
		out[k] = x
	}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return out, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	notObject := shapeError("parameters must be one JSON object of name: value", "参数必须是一个 JSON 对象（名称: 值）")
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, notObject
		}
		i := slices.IndexFunc(fields, func(f Field) bool { return f.Name == name })
		if i < 0 {
			return nil, unknownError(fields, name)
		}
		if seen[name] {
			return nil, repeatedError(name)
		}
		seen[name] = true
		if bytes.Equal(v, []byte("null")) {
			continue // null keeps the current value
		}
		x, err := jsonValue(fields[i], v)
		if err != nil {
			return nil, err
		}
		out[name] = x
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, notObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, notObject
	}
	return out, nil
}

// jsonValue decodes one JSON value for f.
func jsonValue(f Field, v json.RawMessage) (any, error) {
	switch f.Kind {
	case Int, Number:
		if !isJSONNumber(v) {
			return nil, fieldError(f, string(v))
		}
		return numberValue(f, string(v))
	case Choice:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, fieldError(f, string(v))
		}
		if !slices.Contains(f.Choices, s) {
			return nil, fieldError(f, strconv.Quote(s))
		}
		return s, nil
	case Bytes:
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, fieldError(f, string(v))
		}
		return bytesValue(f, s)
	default: // Bool
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return nil, fieldError(f, string(v))
		}
		return b, nil
	}
}

// numberValue parses s (a number's text) for an Int or Number field.
// Whole numbers may be written in any JSON form (3, 3.0, 3e0).
func numberValue(f Field, s string) (any, error) {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < f.Min || x > f.Max {
		return nil, fieldError(f, s)
	}
	if f.Kind == Int {
		if x != math.Trunc(x) || f.Step > 1 && (int(x)-int(f.Min))%f.Step != 0 {
			return nil, fieldError(f, s)
		}
		return int(x), nil
	}
	return x, nil
}

// bytesValue decodes s, base64 of exactly f.Len bytes, for a Bytes field
// and returns its canonical text (equal bytes make equal values).
func bytesValue(f Field, s string) (any, error) {
	if base64.StdEncoding.DecodedLen(len(s)) > f.Len+3 { // do not decode what cannot fit
		return nil, fieldError(f, strconv.Quote(s))
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fieldError(f, strconv.Quote(s))
	}
	if len(b) != f.Len {
		pe := fieldError(f, strconv.Quote(s))
		pe.Text.En += fmt.Sprintf(" (%d bytes)", len(b))
		pe.Text.Zh += fmt.Sprintf("（%d 个字节）", len(b))
		return nil, pe
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// isJSONNumber reports whether v is a JSON number literal (of any size).
func isJSONNumber(v json.RawMessage) bool {
	s := bytes.TrimSpace(v)
	return len(s) > 0 && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
}

// DecodeQuery decodes an export URL's query onto the fields' defaults.
// Every key must be a field or one of extra (such as "step", which the
// caller reads itself) and appear once; values are written as in JSON but
// without quotes (stride=2, preset=blur, lr=0.003, shift=true). Every
// refusal is a *ParamError.
func DecodeQuery(fields []Field, q url.Values, extra ...string) (Values, error) {
	out := Defaults(fields)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the same problem first every time
	for _, k := range keys {
		vs := q[k]
		if slices.Contains(extra, k) {
			if len(vs) != 1 {
				return nil, repeatedError(k)
			}
			continue
		}
		i := slices.IndexFunc(fields, func(f Field) bool { return f.Name == k })
		if i < 0 {
			return nil, unknownError(fields, k)
		}
		if len(vs) != 1 {
			return nil, repeatedError(k)
		}
		f, s := fields[i], vs[0]
		var x any
		var err error
		switch f.Kind {
		case Int, Number:
			if isJSONNumber(json.RawMessage(s)) && json.Valid([]byte(s)) { // JSON's number syntax: no 0x1p1, 1., +2
				x, err = numberValue(f, s)
			} else {
				err = fieldError(f, strconv.Quote(s))
			}
		case Choice:
			if !slices.Contains(f.Choices, s) {
				err = fieldError(f, strconv.Quote(s))
			}
			x = s
		case Bytes:
			// A '+' that was not percent-encoded arrives as a space;
			// base64 has no spaces, so the repair is unambiguous.
			x, err = bytesValue(f, strings.ReplaceAll(s, " ", "+"))
		default:
			b, perr := strconv.ParseBool(s)
			if perr != nil || (s != "true" && s != "false") {
				err = fieldError(f, strconv.Quote(s))
			}
			x = b
		}
		if err != nil {
			return nil, err
		}
		out[k] = x
	}
	return out, nil
}

func repeatedError(k string) *ParamError {
	n := shown(k)
	return &ParamError{Field: n, Text: Text{
		En: fmt.Sprintf("parameter %q is given more than once", n),
		Zh: fmt.Sprintf("参数 %q 出现了不止一次", n),
	}}
}

// AsParamError returns err's *ParamError, if it is one.
func AsParamError(err error) (*ParamError, bool) {
	var pe *ParamError
	ok := errors.As(err, &pe)
	return pe, ok
}

// CheckError is a Spec.Check refusal of field's value, with the reason in
// both languages (the field and value are named before it).
func CheckError(field string, value any, en, zh string) *ParamError {
	v := shown(formatValue(value))
	return &ParamError{Field: field, Value: v, Text: Text{
		En: fmt.Sprintf("parameter %q = %s: %s", field, v, en),
		Zh: fmt.Sprintf("参数 %q = %s：%s", field, v, zh),
	}}
}
