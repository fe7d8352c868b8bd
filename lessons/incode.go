package lessons

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// CodeDir is the directory of the lesson file system that holds the code
// the lessons show: the PyTorch scripts (*.py) and Go files (*.go) of
// lessons/code, where tests run them. A lesson shows them with
//
//	```code
//	pytorch: how-a-shared-kernel-learns.py
//	go: convgrad_test.go#ledger
//	```
//
// Each line names a file of CodeDir and, after #, a region of it: the
// lines between "in-code:begin NAME" and "in-code:end NAME" markers (in a
// comment of the file's language). Without a region the whole file is
// shown. A file or region that does not exist fails the load, so the page
// can only show code that is in the repository (and tested there).
const CodeDir = "code"

// codeLangs are the languages a code directive may name, in the order the
// page shows them, with their labels.
var codeLangs = []struct{ key, ext, en, zh string }{
	{"pytorch", ".py", "PyTorch", "PyTorch"},
	{"go", ".go", "Go — ParamShare's engine", "Go — ParamShare 的引擎"},
}

var (
	kindCode    = ast.NewNodeKind("Code")
	codeFile    = regexp.MustCompile(`^[a-z0-9]+([-_][a-z0-9]+)*\.(py|go)$`)
	regionName  = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	downloadFor = map[string]string{"en": "Download", "zh": "下载"}
	inCodeTitle = map[string]string{"en": "The code", "zh": "代码"}
)

// codeShown is one file (or region of it) in a code directive.
type codeShown struct {
	lang, file, region, text string
}

// codeNode replaces a fenced block whose info string is "code".
type codeNode struct {
	ast.BaseBlock
	shown []codeShown
	lang  string // the page's language
}

func (n *codeNode) Kind() ast.NodeKind { return kindCode }

func (n *codeNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, nil, nil)
}

// parseCodeDirective reads a code directive's lines and the code they
// name from fsys.
func parseCodeDirective(fsys fs.FS, lines []string) ([]codeShown, error) {
	var out []codeShown
	seen := map[string]bool{}
	for _, raw := range lines {
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		key, ref, ok := strings.Cut(line, ":")
		key, ref = strings.TrimSpace(key), strings.TrimSpace(ref)
		idx := -1
		for i, l := range codeLangs {
			if l.key == key {
				idx = i
			}
		}
		if !ok || idx < 0 {
			return nil, fmt.Errorf("code directive line %q must be \"pytorch: FILE.py[#region]\" or \"go: FILE.go[#region]\"", line)
		}
		if seen[key] {
			return nil, fmt.Errorf("code directive names %s twice", key)
		}
		seen[key] = true
		file, region, _ := strings.Cut(ref, "#")
		if !codeFile.MatchString(file) || path.Ext(file) != codeLangs[idx].ext {
			return nil, fmt.Errorf("code directive: %q is not a %s file name of %s/", file, codeLangs[idx].ext, CodeDir)
		}
		if region != "" && !regionName.MatchString(region) {
			return nil, fmt.Errorf("code directive: region %q must be lower-case and hyphenated", region)
		}
		src, err := fs.ReadFile(fsys, path.Join(CodeDir, file))
		if err != nil {
			return nil, fmt.Errorf("code directive: %s/%s: %w", CodeDir, file, err)
		}
		text := string(src)
		if region != "" {
			if text, err = codeRegion(text, region); err != nil {
				return nil, fmt.Errorf("code directive: %s/%s: %w", CodeDir, file, err)
			}
		}
		out = append(out, codeShown{lang: key, file: file, region: region, text: text})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("code directive names no file")
	}
	// The page shows PyTorch first, then our Go, whatever the order written.
	sorted := make([]codeShown, 0, len(out))
	for _, l := range codeLangs {
		for _, c := range out {
			if c.lang == l.key {
				sorted = append(sorted, c)
			}
		}
	}
	return sorted, nil
}

// codeRegion returns the lines strictly between the markers
// "in-code:begin NAME" and "in-code:end NAME", with their common
// indentation removed.
func codeRegion(src, name string) (string, error) {
	lines := strings.Split(src, "\n")
	begin, end := -1, -1
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 || (f[0] != "//" && f[0] != "#") || f[2] != name {
			continue
		}
		switch f[1] {
		case "in-code:begin":
			if begin >= 0 {
				return "", fmt.Errorf("region %q begins twice", name)
			}
			begin = i
		case "in-code:end":
			if begin >= 0 && end < 0 {
				end = i
			}
		}
	}
	if begin < 0 || end < 0 {
		return "", fmt.Errorf("no region %q (in-code:begin %s … in-code:end %s)", name, name, name)
	}
	body := lines[begin+1 : end]
	indent := ""
	first := true
	for _, l := range body {
		if strings.TrimSpace(l) == "" {
			continue
		}
		lead := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			indent, first = lead, false
			continue
		}
		for !strings.HasPrefix(lead, indent) {
			indent = indent[:len(indent)-1]
		}
	}
	var b strings.Builder
	for i, l := range body {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimPrefix(l, indent))
	}
	if strings.TrimSpace(b.String()) == "" {
		return "", fmt.Errorf("region %q is empty", name)
	}
	return b.String(), nil
}

// renderCode writes a code directive: the files side by side (stacked on a
// narrow screen), each captioned with its language and a link to the whole
// file (served at /code/FILE).
func renderCode(w util.BufWriter, _ []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	cn := n.(*codeNode)
	fmt.Fprintf(w, `<section class="in-code" aria-label="%s">`+"\n", html.EscapeString(inCodeTitle[cn.lang]))
	for _, c := range cn.shown {
		label := c.lang
		for _, l := range codeLangs {
			if l.key == c.lang {
				label = l.en
				if cn.lang == "zh" {
					label = l.zh
				}
			}
		}
		name := c.file
		if c.region != "" {
			name += " · " + c.region
		}
		fmt.Fprintf(w, `<figure class="code" data-code="%s"><figcaption><span class="code-lang">%s</span> <code>%s</code> <a href="/code/%s" download="%s">%s</a></figcaption>`,
			html.EscapeString(c.lang), html.EscapeString(label), html.EscapeString(name),
			html.EscapeString(c.file), html.EscapeString(c.file), html.EscapeString(downloadFor[cn.lang]))
		fmt.Fprintf(w, `<pre tabindex="0"><code class="language-%s">%s</code></pre></figure>`+"\n", html.EscapeString(c.lang), html.EscapeString(c.text))
	}
	_, _ = w.WriteString("</section>\n")
	return ast.WalkSkipChildren, nil
}

// loadCode reads every file of CodeDir a page may link to (*.py, *.go).
func loadCode(fsys fs.FS) (map[string][]byte, error) {
	entries, err := fs.ReadDir(fsys, CodeDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !codeFile.MatchString(e.Name()) {
			continue
		}
		b, err := readLimited(fsys, path.Join(CodeDir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = bytes.Clone(b)
	}
	return out, nil
}

var _ renderer.NodeRendererFunc = renderCode
