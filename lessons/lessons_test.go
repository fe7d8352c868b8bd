package lessons

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

const goodFront = "---\ntitle: T\nslug: a\norder: 1\nsummary: S\n---\n"

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, src := range files {
		m[name] = &fstest.MapFile{Data: []byte(src)}
	}
	return m
}

func TestLoadEmbedded(t *testing.T) {
	set, err := Load(Embedded)
	if err != nil {
		t.Fatalf("Load(Embedded): %v", err)
	}
	for _, lang := range Languages {
		l, fallback, ok := set.Lesson(lang, "one-kernel-many-places")
		if !ok || fallback || l.Lang != lang {
			t.Fatalf("%s lesson: ok=%v fallback=%v", lang, ok, fallback)
		}
		if l.Order != 2 || len(l.Widgets) != 1 {
			t.Errorf("%s: order %d, %d widgets; want 2 and 1", lang, l.Order, len(l.Widgets))
		}
		w := l.Widgets[0]
		if w.ID != "w1" || w.Name != "conv-slide" ||
			w.Params != `{"digit":0,"dilation":1,"padding":1,"preset":"vertical-edge","stride":1}` {
			t.Errorf("%s widget = %+v", lang, w)
		}
		if !strings.Contains(l.HTML, `data-params="{&#34;digit&#34;:0,&#34;dilation&#34;:1,`) {
			t.Errorf("%s: widget params attribute not HTML-escaped canonical JSON", lang)
		}
		if strings.Contains(l.HTML, "$") {
			t.Errorf("%s: unconverted $ left in the HTML", lang)
		}
		if !strings.Contains(l.HTML, "⌊") || !strings.Contains(l.HTML, `<math display="block">`) {
			t.Errorf("%s: output size formula not rendered as display MathML", lang)
		}
		outline := set.Outline(lang)
		if want := outlineRows(t, lang); len(outline) != want {
			t.Fatalf("%s outline has %d rows, want the file's %d", lang, len(outline), want)
		}
		for i, e := range outline {
			if e.Order != i+1 {
				t.Errorf("%s outline row %d has order %d", lang, i, e.Order)
			}
			// A row links to a lesson exactly when its file exists in this
			// language or in English (the fallback).
			_, own := fs.Stat(Embedded, lang+"/"+e.Slug+".md")
			_, en := fs.Stat(Embedded, "en/"+e.Slug+".md")
			if exists := own == nil || en == nil; (e.Lesson != nil) != exists {
				t.Errorf("%s outline row %q: linked %v, file exists %v", lang, e.Slug, e.Lesson != nil, exists)
			}
		}
	}
	en, _, _ := set.Lesson("en", "one-kernel-many-places")
	zh, _, _ := set.Lesson("zh", "one-kernel-many-places")
	if en.Title == zh.Title || set.Outline("zh")[0].Title != "为什么要共享？" {
		t.Errorf("zh titles not translated: %q / %q", zh.Title, set.Outline("zh")[0].Title)
	}
}

func TestLoadFallbackAndNeighbours(t *testing.T) {
	set, err := Load(mapFS(map[string]string{
		"en/a.md":      goodFront + "First.",
		"en/b.md":      "---\ntitle: B\nslug: b\norder: 2\nsummary: S\n---\nSecond.",
		"en/c.md":      "---\ntitle: C\nslug: c\norder: 3\nsummary: S\n---\nThird.",
		"zh/b.md":      "---\ntitle: 乙\nslug: b\norder: 2\nsummary: 简\n---\n第二。",
		"en/notes.txt": "ignored",
	}))
	if err != nil {
		t.Fatal(err)
	}
	l, fallback, ok := set.Lesson("zh", "a")
	if !ok || !fallback || l.Lang != "en" {
		t.Errorf("zh/a: ok=%v fallback=%v lang=%q; want the en lesson as a fallback", ok, fallback, l.Lang)
	}
	if l, fallback, _ := set.Lesson("zh", "b"); fallback || l.Title != "乙" {
		t.Errorf("zh/b = %q fallback=%v", l.Title, fallback)
	}
	if _, _, ok := set.Lesson("en", "nope"); ok {
		t.Error("unknown slug found")
	}
	prev, next := set.Neighbours("zh", "b")
	if prev == nil || prev.Slug != "a" || next == nil || next.Slug != "c" {
		t.Errorf("Neighbours(zh, b) = %v, %v", prev, next)
	}
	if prev, _ := set.Neighbours("en", "a"); prev != nil {
		t.Errorf("first lesson has a previous one: %v", prev)
	}
	rows := set.Outline("zh")
	if len(rows) != 3 || !rows[0].Fallback || rows[1].Fallback {
		t.Errorf("zh outline = %+v", rows)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"no front matter", map[string]string{"en/a.md": "# Hello"},
			[]string{"en/a.md", "line 1", "must start with a front matter block"}},
		{"unknown key", map[string]string{"en/a.md": "---\ntitle: T\nslug: a\nauthor: me\norder: 1\nsummary: S\n---\n"},
			[]string{"en/a.md", "line 4", `unknown front matter key "author"`}},
		{"missing key", map[string]string{"en/a.md": "---\ntitle: T\nslug: a\norder: 1\n---\n"},
			[]string{"en/a.md", `missing "summary"`}},
		{"bad order", map[string]string{"en/a.md": "---\ntitle: T\nslug: a\norder: two\nsummary: S\n---\n"},
			[]string{"en/a.md", "line 4", `order "two" must be a positive whole number`}},
		{"unclosed", map[string]string{"en/a.md": "---\ntitle: T\n"},
			[]string{"en/a.md", "not closed"}},
		{"repeated key", map[string]string{"en/a.md": "---\ntitle: T\ntitle: U\n---\n"},
			[]string{"en/a.md", "line 3", `"title" repeated`}},
		{"slug and file name differ", map[string]string{"en/b.md": goodFront},
			[]string{"en/b.md", `slug "a" must match the file name`}},
		{"bad widget JSON", map[string]string{"en/a.md": goodFront + "Text.\n\n```widget conv-slide\n{\"digit\": 0,}\n```\n"},
			[]string{"en/a.md", "line 9", "widget conv-slide", "not valid JSON"}},
		{"widget params not an object", map[string]string{"en/a.md": goodFront + "```widget conv-slide\n[1, 2]\n```\n"},
			[]string{"en/a.md", "line 7", "must be a JSON object"}},
		{"widget params with trailing text", map[string]string{"en/a.md": goodFront + "```widget conv-slide\n{} {}\n```\n"},
			[]string{"en/a.md", "extra text"}},
		{"bad widget name", map[string]string{"en/a.md": goodFront + "```widget Conv_Slide\n{}\n```\n"},
			[]string{"en/a.md", "line 7", "widget NAME"}},
		{"unknown TeX command", map[string]string{"en/a.md": goodFront + "Line one.\n\nSee $\\alpha + \\bogus{x}$ here.\n"},
			[]string{"en/a.md", "line 9", `unknown command \bogus`}},
		{"unknown TeX in zh", map[string]string{"en/a.md": goodFront, "zh/a.md": goodFront + "$$\\tilde{x}$$\n"},
			[]string{"zh/a.md", "line 7", `unknown command \tilde`}},
		{"duplicate order", map[string]string{"en/a.md": goodFront, "en/b.md": "---\ntitle: B\nslug: b\norder: 1\nsummary: S\n---\n"},
			[]string{"en/b.md", "order 1 is already used by en/a.md"}},
		{"bad outline", map[string]string{"en/a.md": goodFront, "en/outline.txt": "1 | a | only three"},
			[]string{"en/outline.txt", "line 1", "ORDER | SLUG | TITLE | SUMMARY"}},
		{"no en directory", map[string]string{"zh/a.md": goodFront},
			[]string{"reading the en directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(mapFS(tt.files))
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "lessons: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(mapFS(map[string]string{
		"en/a.md": goodFront + "$\\foo$ and $\\bar$\n",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	msg := err.Error()
	if !strings.Contains(msg, `\foo`) || !strings.Contains(msg, `\bar`) || strings.Count(msg, "lessons: en/a.md: line 7") != 2 {
		t.Errorf("want both unknown commands, each naming file and line; got %q", msg)
	}
}

func TestMathDelimiters(t *testing.T) {
	set, err := Load(mapFS(map[string]string{
		"en/a.md": goodFront + "It costs $5 and $6 today, and $x_1$ is a variable; `$y$` is code.\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	l, _, _ := set.Lesson("en", "a")
	if !strings.Contains(l.HTML, "costs $5 and $6 today") {
		t.Errorf("prices were taken as math: %s", l.HTML)
	}
	if !strings.Contains(l.HTML, "<msub><mi>x</mi><mn>1</mn></msub>") {
		t.Errorf("$x_1$ not converted: %s", l.HTML)
	}
	if !strings.Contains(l.HTML, "<code>$y$</code>") {
		t.Errorf("math converted inside code: %s", l.HTML)
	}
}

func TestLoaderValidateWidget(t *testing.T) {
	type call struct{ experiment, params string }
	var calls []call
	errBadStride := errors.New("stride 99: want 1…3")
	ld := Loader{ValidateWidget: func(experiment string, params json.RawMessage) error {
		calls = append(calls, call{experiment, string(params)})
		var p map[string]any
		if err := json.Unmarshal(params, &p); err != nil {
			t.Errorf("params %s are not a JSON object: %v", params, err)
		}
		if _, ok := p["bogus"]; ok {
			return errors.New(`unknown parameter "bogus"`)
		}
		if p["stride"] == 99.0 {
			return errBadStride
		}
		return nil
	}}
	files := map[string]string{
		"en/a.md": goodFront + "Text.\n\n```widget conv-slide\n{\"stride\": 1,\n \"digit\": 0}\n```\n\n```widget param-calc\n{}\n```\n",
		"zh/a.md": goodFront + "文字。\n\n```widget conv-slide\n{\"stride\": 2}\n```\n",
	}
	if _, err := ld.Load(mapFS(files)); err != nil {
		t.Fatalf("Load with params the validator accepts: %v", err)
	}
	want := []call{{"conv-slide", `{"digit":0,"stride":1}`}, {"param-calc", `{}`}, {"conv-slide", `{"stride":2}`}}
	if fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("validator called with %v, want %v (every directive, canonical params)", calls, want)
	}

	files["en/a.md"] = goodFront + "Text.\n\n```widget conv-slide\n{\"stride\": 99, \"bogus\": 1}\n```\n"
	files["zh/a.md"] = goodFront + "```widget conv-slide\n{\"stride\": 99}\n```\n"
	_, err := ld.Load(mapFS(files))
	if err == nil {
		t.Fatal("Load succeeded, want the validator's errors")
	}
	for _, w := range []string{
		`lessons: en/a.md: line 9: widget conv-slide: unknown parameter "bogus"`,
		`lessons: zh/a.md: line 7: widget conv-slide: stride 99: want 1…3`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if !errors.Is(err, errBadStride) {
		t.Errorf("error %v does not wrap the validator's error", err)
	}

	// Load, the zero Loader, checks only that params are a JSON object; a
	// directive that is not is reported without calling the validator.
	if _, err := Load(mapFS(files)); err != nil {
		t.Errorf("Load without a validator: %v", err)
	}
	calls = nil
	files["en/a.md"] = goodFront + "```widget conv-slide\n[1]\n```\n"
	if _, err := ld.Load(mapFS(files)); err == nil || !strings.Contains(err.Error(), "must be a JSON object") {
		t.Errorf("Load of a non-object: %v", err)
	}
	if len(calls) != 1 || calls[0].params != `{"stride":99}` {
		t.Errorf("validator called with %v; want only the zh directive", calls)
	}
}

// outlineRows counts the rows of lang's outline file (its lines that are
// neither blank nor comments), independently of the parser.
func outlineRows(t *testing.T, lang string) int {
	t.Helper()
	b, err := fs.ReadFile(Embedded, lang+"/outline.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}
