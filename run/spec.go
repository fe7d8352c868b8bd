package run

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"
)

// Text is a sentence in both of the course's languages.
type Text struct {
	En string
	Zh string
}

// In returns t in lang ("zh" for 简体中文; anything else is English).
func (t Text) In(lang string) string {
	if lang == "zh" && t.Zh != "" {
		return t.Zh
	}
	return t.En
}

// Spec is everything the server knows of one experiment: its name, its
// parameters as typed fields, how to build it, its exports and its budget.
// Each experiment package registers one in its init function; web serves
// every experiment through its Spec and knows none of their parameters.
type Spec struct {
	Name  string
	Title Text
	// Fields are the parameters, in the order a page shows them.
	Fields []Field
	// Check, if not nil, refuses combinations of values that are each
	// within their field's bounds but not together (a batch larger than
	// the training set). It returns a *ParamError.
	Check func(Values) error
	// New builds the experiment at step 0 from valid values. It must be
	// quick (no training): the work of steps is done by Advance.
	New func(Values) (Experiment, error)
	// Exports are the files a page can download of the experiment's state.
	Exports []Export
	// Widget holds the page's side: NAME.js, the widget module (its
	// drawing code and string table), and optionally NAME.css, served
	// under /static/widgets/. Nil for an experiment without a page.
	Widget fs.FS
	// Budget is what one run may cost; the conformance test measures it
	// at Costliest: the values (over the defaults) that make a step and a
	// run the most expensive.
	Budget    Budget
	Costliest map[string]any
	// Trains says the experiment is a Scorer (it trains: a class's board
	// draws it, and its runs take turns in a room); the conformance test
	// checks the two agree.
	Trains bool
}

// Export is one downloadable file of an experiment's state at a step:
// /export/NAME.FORMAT?params&step=K&lang=L.
type Export struct {
	Format string // "png", "svg", "json" (the frame at full precision), "trace.json" (the step trace), "csv" (a table)
	// Heavy marks an export whose replay to its step re-trains models (a
	// second or more of CPU): it has slots of its own and a cache.
	Heavy bool
	// Write writes the file of exp (at the requested step) in lang.
	Write func(w io.Writer, exp Experiment, lang string) error
}

// Budget is what one run of an experiment may cost.
type Budget struct {
	// Step is the most CPU time one Advance may take, on the development
	// machine, at the fields' most expensive values.
	Step time.Duration
	// Memory is the most heap one run may hold beyond the data shared
	// read-only across runs, at the fields' most expensive values.
	Memory int64
	// FrameBytes is the most bytes of one encoded frame's data part, and
	// StaticBytes of its static part.
	FrameBytes, StaticBytes int
}

// ContentType returns the MIME type of an export format.
func ContentType(format string) string {
	switch format {
	case "png":
		return "image/png"
	case "svg":
		return "image/svg+xml"
	case "csv":
		return "text/csv; charset=utf-8"
	}
	return "application/json"
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Spec{}
)

// Register makes an experiment available by its spec's name. It panics if
// the spec is incomplete, a field is malformed or the name is taken:
// registrations happen in init functions, and these are programmer's
// mistakes.
func Register(s Spec) {
	if s.Name == "" || s.New == nil || s.Title.En == "" || s.Title.Zh == "" {
		panic("run: Register needs a name, a title in both languages and New")
	}
	if s.Budget.Step <= 0 || s.Budget.Memory <= 0 || s.Budget.FrameBytes <= 0 || s.Budget.StaticBytes <= 0 {
		panic(fmt.Sprintf("run: experiment %q needs a budget", s.Name))
	}
	seen := map[string]bool{}
	for _, f := range s.Fields {
		f.check()
		if seen[f.Name] || f.Name == "step" || f.Name == "lang" {
			panic(fmt.Sprintf("run: experiment %q: field %q repeated or reserved", s.Name, f.Name))
		}
		seen[f.Name] = true
	}
	for k, x := range s.Costliest {
		i := slices.IndexFunc(s.Fields, func(f Field) bool { return f.Name == k })
		if i < 0 || fmt.Sprintf("%T", x) != fmt.Sprintf("%T", s.Fields[i].Default) {
			panic(fmt.Sprintf("run: experiment %q: Costliest %q is not a field of its kind", s.Name, k))
		}
	}
	if s.Widget != nil {
		if _, err := fs.Stat(s.Widget, s.Name+".js"); err != nil {
			panic(fmt.Sprintf("run: experiment %q: its widget files have no %s.js", s.Name, s.Name))
		}
	}
	for _, e := range s.Exports {
		if e.Write == nil || !slices.Contains([]string{"png", "svg", "json", "trace.json", "csv"}, e.Format) {
			panic(fmt.Sprintf("run: experiment %q: bad export %q", s.Name, e.Format))
		}
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[s.Name]; dup {
		panic(fmt.Sprintf("run: experiment %q registered twice", s.Name))
	}
	registry[s.Name] = &s
}

// Sub returns the subtree dir of fsys, for Spec.Widget: an experiment's
// embedded widget folder. It panics if dir is not a valid path.
func Sub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(fmt.Sprintf("run: widget files: %v", err))
	}
	return sub
}

// CostliestValues returns the defaults with Costliest over them.
func (s *Spec) CostliestValues() Values {
	v := Defaults(s.Fields)
	for k, x := range s.Costliest {
		v[k] = x
	}
	return v
}

// Lookup returns the named experiment's spec.
func Lookup(name string) (*Spec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := registry[name]
	return s, ok
}

// Specs returns every registered spec, by name.
func Specs() []*Spec {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]*Spec, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Experiments lists the registered names in order.
func Experiments() []string {
	var names []string
	for _, s := range Specs() {
		names = append(names, s.Name)
	}
	return names
}

// Export returns the spec's export of format.
func (s *Spec) Export(format string) (Export, bool) {
	i := slices.IndexFunc(s.Exports, func(e Export) bool { return e.Format == format })
	if i < 0 {
		return Export{}, false
	}
	return s.Exports[i], true
}

// Decode decodes raw (a JSON object, as a start or set-params message
// carries) onto base and checks the combination. base nil means the
// defaults.
func (s *Spec) Decode(base Values, raw []byte) (Values, error) {
	if base == nil {
		base = Defaults(s.Fields)
	}
	v, err := DecodeJSON(s.Fields, base, raw)
	if err != nil {
		return nil, err
	}
	if s.Check != nil {
		if err := s.Check(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Validate reports whether raw would start the named experiment: a lesson
// file's widget directive is checked with it when the lessons load.
func Validate(name string, raw []byte) error {
	s, ok := Lookup(name)
	if !ok {
		return unknownExperiment(name)
	}
	_, err := s.Decode(nil, raw)
	return err
}

func unknownExperiment(name string) *Error {
	n := shown(name)
	return &Error{Code: CodeUnknownExperiment, Text: Text{
		En: fmt.Sprintf("no experiment named %q (have %v)", n, Experiments()),
		Zh: fmt.Sprintf("没有名为 %q 的实验（现有 %v）", n, Experiments()),
	}}
}

// DecodeQuery decodes an export URL's query (see DecodeQuery) and checks
// the combination; extra names keys the caller reads itself.
func (s *Spec) DecodeQuery(q url.Values, extra ...string) (Values, error) {
	v, err := DecodeQuery(s.Fields, q, extra...)
	if err != nil {
		return nil, err
	}
	if s.Check != nil {
		if err := s.Check(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// WriteFrameJSON writes the JSON export of an experiment's state: its
// name, parameters, step and frame (which the caller draws at full
// precision), indented for people who read it.
func WriteFrameJSON(w io.Writer, name string, v Values, step, total int, f Frame) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(struct {
		Experiment string `json:"experiment"`
		Params     Values `json:"params"`
		Step       int    `json:"step"`
		Total      int    `json:"total"`
		Static     any    `json:"static"`
		Data       any    `json:"data"`
	}{name, v, step, total, f.Static, f.Data})
}
