package lessons

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// The pathological files below took tens of seconds (up to 332 s and
// 1.75 GB) before the limits. Each test checks the limit's own error: had
// the loader converted the file instead, the error would be another one or
// none, so the tests do not depend on timing.

// loadErr loads files and returns the error, failing the test if there is
// none or it does not contain every one of want.
func loadErr(t *testing.T, files map[string]string, want ...string) error {
	t.Helper()
	_, err := Load(mapFS(files))
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if len(err.Error()) > 500 {
		t.Errorf("error is %d bytes long; it should name the problem, not quote the file", len(err.Error()))
	}
	return err
}

// loadOK loads files and fails the test on an error.
func loadOK(t *testing.T, files map[string]string) *Set {
	t.Helper()
	set, err := Load(mapFS(files))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return set
}

// lineOfPrefix is the 1-based line at which prefix ends in src.
func lineOfPrefix(prefix string) int { return strings.Count(prefix, "\n") + 1 }

// endless is a lesson file that says it is 25 MB long and reads as a
// 5,000-deep nested list, made up as it is read; it counts what is read.
type endless struct {
	size, read int64
}

func (e *endless) Open(name string) (fs.File, error) {
	if name != "en/a.md" {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &endlessFile{e: e, r: strings.NewReader(goodFront)}, nil
}

func (e *endless) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "en" {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return []fs.DirEntry{fs.FileInfoToDirEntry(endlessInfo{e.size})}, nil
}

type endlessFile struct {
	e     *endless
	r     *strings.Reader
	depth int
}

func (f *endlessFile) Read(p []byte) (int, error) {
	if f.e.read >= f.e.size {
		return 0, io.EOF
	}
	if f.r.Len() == 0 {
		f.r = strings.NewReader(strings.Repeat("  ", f.depth%5000) + "- item\n")
		f.depth++
	}
	n, _ := f.r.Read(p)
	f.e.read += int64(n)
	return n, nil
}

func (f *endlessFile) Stat() (fs.FileInfo, error) { return endlessInfo{f.e.size}, nil }
func (f *endlessFile) Close() error               { return nil }

type endlessInfo struct{ size int64 }

func (i endlessInfo) Name() string       { return "a.md" }
func (i endlessInfo) Size() int64        { return i.size }
func (i endlessInfo) Mode() fs.FileMode  { return 0o444 }
func (i endlessInfo) ModTime() time.Time { return time.Time{} }
func (i endlessInfo) IsDir() bool        { return false }
func (i endlessInfo) Sys() any           { return nil }

func TestLimitFileSize(t *testing.T) {
	fsys := &endless{size: 25 << 20}
	_, err := Load(fsys)
	if err == nil || !strings.Contains(err.Error(), "en/a.md: the file is 25.0 MiB; a lesson file may be at most 256 KiB") {
		t.Fatalf("Load of a 25 MB file: %v", err)
	}
	if fsys.read > MaxFileBytes+1 {
		t.Errorf("read %d bytes of the 25 MB file; want at most MaxFileBytes+1 = %d", fsys.read, MaxFileBytes+1)
	}

	// A file of exactly MaxFileBytes loads; one byte more does not.
	para := strings.Repeat("word ", 1000) + "\n\n"
	body := strings.Repeat(para, (MaxFileBytes-len(goodFront))/len(para))
	body += strings.Repeat("x", MaxFileBytes-len(goodFront)-len(body))
	loadOK(t, map[string]string{"en/a.md": goodFront + body})
	loadErr(t, map[string]string{"en/a.md": goodFront + body + "x"},
		fmt.Sprintf("lessons: en/a.md: the file is %d bytes; a lesson file may be at most 256 KiB", MaxFileBytes+1))
	loadErr(t, map[string]string{"en/a.md": goodFront, "en/outline.txt": strings.Repeat("# comment\n", MaxFileBytes/10+1)},
		"lessons: en/outline.txt: the file is 262150 bytes")
}

func TestLimitUTF8(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"Latin-1 title", map[string]string{"en/a.md": "---\ntitle: Caf\xe9\nslug: a\norder: 1\nsummary: S\n---\nText."},
			[]string{"lessons: en/a.md: line 2: byte 11 of the line (0xe9) is not valid UTF-8"}},
		{"quoted title", map[string]string{"en/a.md": "---\ntitle: \"Caf\\xe9\"\nslug: a\norder: 1\nsummary: S\n---\nText."},
			[]string{"lessons: en/a.md: line 2: quoted value for \"title\" is not valid UTF-8"}},
		{"body", map[string]string{"en/a.md": goodFront + "Fine.\n\nNot \xff fine.\n"},
			[]string{"lessons: en/a.md: line 9: byte 5 of the line (0xff) is not valid UTF-8"}},
		{"cut multibyte character", map[string]string{"en/a.md": goodFront, "zh/a.md": goodFront + "参数\xe5\x85"},
			[]string{"lessons: zh/a.md: line 7: byte 7 of the line (0xe5)"}},
		{"outline", map[string]string{"en/a.md": goodFront, "en/outline.txt": "1 | a | T\xc0 | S\n"},
			[]string{"lessons: en/outline.txt: line 1: byte 10 of the line (0xc0)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { loadErr(t, tt.files, tt.want...) })
	}
}

func TestLimitBlockSize(t *testing.T) {
	// One paragraph of 64,000 unclosed links took 26 s to parse.
	links := strings.Repeat("[a](", 64000)
	loadErr(t, map[string]string{"en/a.md": goodFront + "Intro.\n\n" + links + "\n"},
		"lessons: en/a.md: lines 9–9: more than 16 KiB of text without a blank line")

	// A paragraph over many lines is measured whole and named by its lines.
	line := strings.Repeat("x", 99) + "\n"
	para := strings.Repeat(line, MaxBlockBytes/len(line)+1)
	loadErr(t, map[string]string{"en/a.md": goodFront + "Intro.\n\n" + para},
		fmt.Sprintf("lines 9–%d: more than 16 KiB", 9+MaxBlockBytes/len(line)))

	// Blank lines reset the count, even lines of spaces; a block of exactly
	// MaxBlockBytes is fine.
	block := strings.Repeat(line, MaxBlockBytes/len(line))
	block += strings.Repeat("y", MaxBlockBytes-len(block)-1) + "\n"
	loadOK(t, map[string]string{"en/a.md": goodFront + block + "\n" + block + "  \t\n" + block})
}

func TestLimitMarkdownNesting(t *testing.T) {
	deep := func(open string, levels int) string { return strings.Repeat(open, levels) + "x\n" }
	tests := []struct {
		name, body string
	}{
		{"block quotes on one line", deep("> ", 5000)},
		{"bullet lists on one line", deep("* ", 5000)}, // "- - -" would be a thematic break
		{"ordered lists on one line", deep("1. ", 3000)},
		{"block quotes and lists", deep("> - ", 2000)},
		{"block quotes over lines", func() string {
			var b strings.Builder
			for i := 1; i <= 100; i++ {
				b.WriteString(strings.Repeat(">", i) + " x\n")
			}
			return b.String()
		}()},
		{"a list nested 5,000 deep over loose lines", func() string {
			// The 25 MB file of the issue, cut at the file limit: the
			// blank lines make each item a block of its own.
			var b strings.Builder
			for i := 0; b.Len() < MaxFileBytes-1000; i++ {
				b.WriteString(strings.Repeat("  ", i) + "- item\n\n")
			}
			return b.String()
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loadErr(t, map[string]string{"en/a.md": goodFront + "Intro.\n\n" + tt.body},
				"lessons: en/a.md: line ", "lists and block quotes are nested more than 16 deep")
		})
	}

	// The line named is the first one that would go deeper.
	var b strings.Builder
	for i := 0; i < 20; i++ {
		b.WriteString(strings.Repeat("  ", i) + "- item\n")
	}
	lines := strings.SplitAfter(b.String(), "\n")
	prefix := goodFront + "Intro.\n\n" + strings.Join(lines[:MaxNesting], "")
	loadErr(t, map[string]string{"en/a.md": goodFront + "Intro.\n\n" + b.String()},
		fmt.Sprintf("lessons: en/a.md: line %d: lists", lineOfPrefix(prefix)))

	// MaxNesting levels are fine, and so is text at the deepest level that
	// only looks like the start of a list.
	set := loadOK(t, map[string]string{"en/a.md": goodFront +
		deep("> ", MaxNesting) + "\n" + deep("- ", MaxNesting) + "\n" + strings.Repeat("> ", MaxNesting) + "-5 °C, 1999 and\n" + strings.Repeat("> ", MaxNesting) + "2000.\n"})
	l, _, _ := set.Lesson("en", "a")
	if got := strings.Count(l.HTML, "<blockquote>"); got != 2*MaxNesting {
		t.Errorf("%d block quotes rendered, want %d", got, 2*MaxNesting)
	}
	if got := strings.Count(l.HTML, "<li>"); got != MaxNesting {
		t.Errorf("%d list items rendered, want %d", got, MaxNesting)
	}
}

func TestLimitTeX(t *testing.T) {
	var te *TeXError
	// 20,000 nested \frac took 24 s: now the size limit refuses them before
	// tokenizing, and the error quotes only the formula's start.
	frac := strings.Repeat(`\frac{1}{`, 20000) + "x" + strings.Repeat("}", 20000)
	_, err := TeXToMathML(frac, true)
	if !errors.As(err, &te) || !strings.Contains(te.Msg, "the formula is 200001 bytes long; one formula may be at most 2048") {
		t.Fatalf("20,000 nested \\frac: %v", err)
	}
	if te.TeX != `\frac{1}{\frac{1}{\frac{1}{\frac{1}{\fra…` {
		t.Errorf("error quotes %q, want the formula's first 40 bytes", te.TeX)
	}

	// Within the size limit, the depth limit: every way of nesting counts.
	for _, tex := range []string{
		strings.Repeat(`\frac{1}{`, 40) + "x" + strings.Repeat("}", 40),
		strings.Repeat(`\frac 1`, 40) + "x", // arguments without braces
		strings.Repeat("{", 40) + "x" + strings.Repeat("}", 40),
		strings.Repeat("x^{", 40) + "x" + strings.Repeat("}", 40),
		strings.Repeat(`\sqrt`, 40) + "x",
		strings.Repeat(`\sqrt[`, 40) + "x" + strings.Repeat("]", 40) + "y",
		strings.Repeat(`\mathbf`, 40) + "x",
		strings.Repeat(`\left(`, 40) + "x" + strings.Repeat(`\right)`, 40),
	} {
		_, err := TeXToMathML(tex, false)
		if !errors.As(err, &te) || te.Msg != "nested more than 16 deep" {
			t.Errorf("TeXToMathML(%.30q…) = %v, want the depth limit", tex, err)
		}
	}
	// MaxTeXDepth levels are fine.
	if _, err := TeXToMathML(strings.Repeat("x^{", MaxTeXDepth)+"x"+strings.Repeat("}", MaxTeXDepth), false); err != nil {
		t.Errorf("%d levels: %v", MaxTeXDepth, err)
	}
	if _, err := TeXToMathML(strings.Repeat("x", MaxTeXBytes), false); err != nil {
		t.Errorf("a formula of MaxTeXBytes: %v", err)
	}

	// In a lesson, the error names the file and line.
	loadErr(t, map[string]string{"en/a.md": goodFront + "Intro.\n\n$$" + strings.Repeat("x+", 1500) + "x$$\n"},
		"lessons: en/a.md: line 9: formula", "the formula is 3001 bytes long")
	loadErr(t, map[string]string{"zh/a.md": goodFront + "$" + strings.Repeat("{", 40) + "x" + strings.Repeat("}", 40) + "$\n", "en/a.md": goodFront},
		"lessons: zh/a.md: line 7: formula", "nested more than 16 deep")
}
