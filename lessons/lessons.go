// Package lessons loads the course: Markdown lessons with front matter, in
// one directory per language (en/ and zh/), rendered once at load time to
// HTML with widget placeholders and MathML formulas.
//
// A lesson file looks like
//
//	---
//	title: One kernel, many places
//	slug: one-kernel-many-places
//	order: 2
//	summary: A 3×3 kernel slides over a digit; the same 10 numbers everywhere.
//	---
//	Prose in Markdown, formulas as $H_{out}$ or $$\frac{a}{b}$$, and widgets:
//
//	```widget conv-slide
//	{"preset": "vertical-edge", "digit": 0}
//	```
//
// Each language directory may also hold outline.txt, the planned course
// (see parseOutline); planned lessons without a file are listed as coming
// soon. Adding or translating a lesson means adding a file, not Go code.
package lessons

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/yuin/goldmark"
)

// Languages are the languages a lesson set may hold. The first one is the
// fallback: a lesson missing in another language is shown in it.
var Languages = []string{"en", "zh"}

// Lesson is one loaded lesson in one language.
type Lesson struct {
	Slug    string
	Title   string
	Summary string
	Order   int
	Lang    string   // language of this content
	File    string   // path within the lesson file system, e.g. "en/one-kernel-many-places.md"
	HTML    string   // the rendered body; trusted, produced by this package from the file
	Widgets []Widget // the widgets in the body, in page order
}

// Entry is one row of the course outline in one language.
type Entry struct {
	Order   int
	Slug    string
	Title   string
	Summary string
	// Lesson is the lesson to link to, nil when it is planned but not
	// written yet ("coming soon").
	Lesson *Lesson
	// Fallback is true when Lesson is in another language than the one
	// asked for (no translation yet).
	Fallback bool
}

// Set is a loaded course. It is read-only after Load and safe for
// concurrent use.
type Set struct {
	lessons map[string]map[string]*Lesson // lang → slug → lesson
	outline map[string][]Entry            // lang → planned rows (Lesson filled in later)
	code    map[string][]byte             // CodeDir's files by name
}

// A Loader loads lesson sets, with checks beyond the lessons' own syntax.
// The zero Loader is ready to use: it is what Load uses.
type Loader struct {
	// ValidateWidget, when not nil, is called at load time for every widget
	// directive of every lesson, with the widget's name (the experiment it
	// runs, e.g. "conv-slide") and its params: a JSON object, canonical as
	// in Widget.Params, which is what the page will start the experiment
	// with. A non-nil error fails the load, reported with the lesson file,
	// the line of the directive, the widget's name and the error's message,
	// so a bad parameter ({"stride": 99}, an unknown key) is found when the
	// server starts rather than when a student starts the widget. It is
	// called from the goroutine that called Load, once per directive.
	ValidateWidget func(experiment string, params json.RawMessage) error
}

// Load reads a lesson set from fsys with the zero Loader: lessons are
// checked for their own syntax and the package's limits, widget params only
// for being a JSON object.
func Load(fsys fs.FS) (*Set, error) { return Loader{}.Load(fsys) }

// Load reads a lesson set from fsys, which must hold an en directory and
// may hold a zh directory, each with *.md lessons and an optional
// outline.txt. Other files (images, notes) are ignored. Every file must be
// valid UTF-8 and within the limits of MaxFileBytes, MaxBlockBytes,
// MaxNesting, MaxTeXBytes and MaxTeXDepth. Every problem found is
// reported, each naming its file (and line where there is one).
func (ld Loader) Load(fsys fs.FS) (*Set, error) {
	s := &Set{lessons: map[string]map[string]*Lesson{}, outline: map[string][]Entry{}}
	md := newMarkdown()
	var errs []error
	for _, lang := range Languages {
		entries, err := fs.ReadDir(fsys, lang)
		if errors.Is(err, fs.ErrNotExist) && lang != Languages[0] {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lessons: reading the %s directory: %w", lang, err)
		}
		s.lessons[lang] = map[string]*Lesson{}
		orders := map[int]string{}
		for _, e := range entries {
			name := path.Join(lang, e.Name())
			if e.IsDir() {
				continue
			}
			if e.Name() == "outline.txt" {
				src, err := readLimited(fsys, name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if s.outline[lang], err = parseOutline(string(src)); err != nil {
					errs = append(errs, fmt.Errorf("lessons: %s: %w", name, err))
				}
				continue
			}
			if path.Ext(e.Name()) != ".md" {
				continue
			}
			l, err := ld.loadLesson(fsys, md, name, lang)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if other, dup := s.lessons[lang][l.Slug]; dup {
				errs = append(errs, fmt.Errorf("lessons: %s: slug %q is already used by %s", name, l.Slug, other.File))
				continue
			}
			if other, dup := orders[l.Order]; dup {
				errs = append(errs, fmt.Errorf("lessons: %s: order %d is already used by %s", name, l.Order, other))
				continue
			}
			orders[l.Order] = name
			s.lessons[lang][l.Slug] = l
		}
	}
	code, err := loadCode(fsys)
	if err != nil {
		errs = append(errs, fmt.Errorf("lessons: %s: %w", CodeDir, err))
	}
	s.code = code
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(s.lessons[Languages[0]]) == 0 && len(s.lessons) < 2 {
		return nil, fmt.Errorf("lessons: no lessons found (expected %s/*.md)", Languages[0])
	}
	return s, nil
}

func (ld Loader) loadLesson(fsys fs.FS, md goldmark.Markdown, name, lang string) (*Lesson, error) {
	src, err := readLimited(fsys, name)
	if err != nil {
		return nil, err
	}
	fm, body, bodyLine, err := parseFrontMatter(string(src))
	if err != nil {
		return nil, fmt.Errorf("lessons: %s: %w", name, err)
	}
	if base := strings.TrimSuffix(path.Base(name), ".md"); base != fm.Slug {
		return nil, fmt.Errorf("lessons: %s: slug %q must match the file name (%s.md)", name, fm.Slug, fm.Slug)
	}
	html, widgets, err := renderBody(md, fsys, []byte(body), bodyLine, lang, ld.ValidateWidget)
	if err != nil {
		return nil, nameEach(name, err)
	}
	return &Lesson{
		Slug: fm.Slug, Title: fm.Title, Summary: fm.Summary, Order: fm.Order,
		Lang: lang, File: name, HTML: html, Widgets: widgets,
	}, nil
}

// nameEach prefixes every error joined in err with the file name, so each
// line of the message says where its problem is.
func nameEach(name string, err error) error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fmt.Errorf("lessons: %s: %w", name, err)
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, fmt.Errorf("lessons: %s: %w", name, e))
	}
	return errors.Join(out...)
}

// parseOutline reads outline.txt: one planned lesson per line as
//
//	ORDER | SLUG | TITLE | SUMMARY
//
// Blank lines and lines starting with # are ignored.
func parseOutline(src string) ([]Entry, error) {
	var out []Entry
	for i, line := range strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) != 4 {
			return nil, fmt.Errorf("line %d: want \"ORDER | SLUG | TITLE | SUMMARY\", got %d fields", i+1, len(f))
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		order, err := strconv.Atoi(f[0])
		if err != nil || order < 1 {
			return nil, fmt.Errorf("line %d: order %q must be a positive whole number", i+1, f[0])
		}
		if !slugPattern.MatchString(f[1]) {
			return nil, fmt.Errorf("line %d: bad slug %q", i+1, f[1])
		}
		if f[2] == "" {
			return nil, fmt.Errorf("line %d: empty title", i+1)
		}
		out = append(out, Entry{Order: order, Slug: f[1], Title: f[2], Summary: f[3]})
	}
	return out, nil
}

// Lesson returns the lesson slug in lang. When it exists only in the
// fallback language, that one is returned with fallback true. ok is false
// when there is no such lesson at all.
func (s *Set) Lesson(lang, slug string) (l *Lesson, fallback, ok bool) {
	if l, ok := s.lessons[lang][slug]; ok {
		return l, false, true
	}
	if l, ok := s.lessons[Languages[0]][slug]; ok {
		return l, true, true
	}
	return nil, false, false
}

// Lessons returns the lessons readable in lang (with fallbacks) in course
// order.
func (s *Set) Lessons(lang string) []*Lesson {
	var out []*Lesson
	for _, e := range s.Outline(lang) {
		if e.Lesson != nil {
			out = append(out, e.Lesson)
		}
	}
	return out
}

// Neighbours returns the lessons before and after slug in course order in
// lang; either is nil at the ends.
func (s *Set) Neighbours(lang, slug string) (prev, next *Lesson) {
	ls := s.Lessons(lang)
	for i, l := range ls {
		if l.Slug != slug {
			continue
		}
		if i > 0 {
			prev = ls[i-1]
		}
		if i+1 < len(ls) {
			next = ls[i+1]
		}
	}
	return prev, next
}

// CodeFile returns the file of CodeDir called name (a script or Go file a
// lesson shows), and whether there is one.
func (s *Set) CodeFile(name string) ([]byte, bool) {
	b, ok := s.code[name]
	return b, ok
}

// Outline returns the course in lang, in order: the planned rows of the
// outline (from lang's outline.txt, else the fallback language's) merged
// with every lesson that exists. A written lesson's own title and summary
// win over the outline's.
func (s *Set) Outline(lang string) []Entry {
	planned, ok := s.outline[lang]
	if !ok {
		planned = s.outline[Languages[0]]
	}
	rows := map[string]Entry{}
	for _, e := range planned {
		rows[e.Slug] = e
	}
	slugs := map[string]bool{}
	for _, l := range s.lessons[Languages[0]] {
		slugs[l.Slug] = true
	}
	for _, l := range s.lessons[lang] {
		slugs[l.Slug] = true
	}
	for slug := range slugs {
		l, fallback, _ := s.Lesson(lang, slug)
		rows[slug] = Entry{Order: l.Order, Slug: slug, Title: l.Title, Summary: l.Summary, Lesson: l, Fallback: fallback}
	}
	out := make([]Entry, 0, len(rows))
	for _, e := range rows {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Slug < out[j].Slug
	})
	return out
}
