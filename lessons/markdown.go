package lessons

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Widget is one interactive widget placed in a lesson by a directive
//
//	```widget NAME
//	{"json": "params"}
//	```
type Widget struct {
	ID     string // unique on the page: w1, w2, …
	Name   string // e.g. "conv-slide"; the browser loads /static/widgets/NAME.js
	Params string // the params object, re-encoded canonically (sorted keys)
}

// kindMath and kindWidget are the AST node kinds this package adds.
var (
	kindMath   = ast.NewNodeKind("Math")
	kindWidget = ast.NewNodeKind("Widget")
)

// mathNode is a $…$ or $$…$$ formula. The MathML is filled in after parsing,
// because conversion can fail and goldmark's parsers cannot return errors.
type mathNode struct {
	ast.BaseInline
	tex     string
	display bool
	offset  int // byte offset in the body, for error line numbers
	mathML  string
}

func (n *mathNode) Kind() ast.NodeKind { return kindMath }

func (n *mathNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"TeX": n.tex}, nil)
}

// widgetNode replaces a fenced code block whose info string is "widget NAME".
type widgetNode struct {
	ast.BaseBlock
	widget   Widget
	noscript string
}

func (n *widgetNode) Kind() ast.NodeKind { return kindWidget }

func (n *widgetNode) Dump(source []byte, level int) {
	ast.DumpHelper(n, source, level, map[string]string{"Name": n.widget.Name}, nil)
}

// mathParser recognises $…$ (inline) and $$…$$ (display) on one line. A
// lone or unmatched dollar, or $ followed or preceded by a space inside
// (as in "costs $5 and $6"), stays literal text.
type mathParser struct{}

func (mathParser) Trigger() []byte { return []byte{'$'} }

func (mathParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	line, seg := block.PeekLine()
	delim := 1
	if len(line) > 1 && line[1] == '$' {
		delim = 2
	}
	rest := line[delim:]
	end := -1
	for i := 0; i < len(rest); i++ {
		if rest[i] == '\\' {
			i++ // \$ inside a formula is not a delimiter
			continue
		}
		if rest[i] != '$' {
			continue
		}
		if delim == 2 {
			if i+1 < len(rest) && rest[i+1] == '$' {
				end = i
			}
		} else {
			end = i
		}
		break
	}
	if end <= 0 {
		return nil
	}
	tex := rest[:end]
	if delim == 1 && (tex[0] == ' ' || tex[len(tex)-1] == ' ') {
		return nil
	}
	block.Advance(delim + end + delim)
	return &mathNode{tex: string(tex), display: delim == 2, offset: seg.Start}
}

// htmlRenderer writes the nodes this package adds.
type htmlRenderer struct{}

func (htmlRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(kindMath, func(w util.BufWriter, _ []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			_, _ = w.WriteString(n.(*mathNode).mathML)
		}
		return ast.WalkSkipChildren, nil
	})
	reg.Register(kindCode, renderCode)
	reg.Register(kindWidget, func(w util.BufWriter, _ []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		wn := n.(*widgetNode)
		fmt.Fprintf(w, `<div class="widget" id="%s" data-widget="%s" data-params="%s" data-testid="widget-%s"><noscript><p>%s</p></noscript></div>`+"\n",
			wn.widget.ID, wn.widget.Name, html.EscapeString(wn.widget.Params), wn.widget.Name, html.EscapeString(wn.noscript))
		return ast.WalkSkipChildren, nil
	})
}

// newMarkdown returns the goldmark converter used for every lesson: GFM
// (tables, strikethrough, autolinks), CJK-aware line breaking, and this
// package's math and widget nodes. Raw HTML in lessons is not passed
// through (goldmark's default), so a lesson cannot inject scripts.
// Lists and block quotes are refused beyond MaxNesting levels (see
// nestingLimit).
func newMarkdown() goldmark.Markdown {
	blocks := parser.DefaultBlockParsers()
	for i, b := range blocks {
		// A list's items are not wrapped: a list allowed at the deepest
		// level must still get its items.
		switch b.Value {
		case parser.NewListParser():
			blocks[i].Value = nestingLimit{BlockParser: parser.NewListParser()}
		case parser.NewBlockquoteParser():
			blocks[i].Value = nestingLimit{BlockParser: parser.NewBlockquoteParser(), quote: true}
		}
	}
	return goldmark.New(
		goldmark.WithParser(parser.NewParser(
			parser.WithBlockParsers(blocks...),
			parser.WithInlineParsers(parser.DefaultInlineParsers()...),
			parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
		)),
		goldmark.WithExtensions(
			extension.GFM,
			extension.NewCJK(extension.WithEastAsianLineBreaks(), extension.WithEscapedSpace()),
		),
		goldmark.WithParserOptions(
			parser.WithInlineParsers(util.Prioritized(mathParser{}, 50)),
		),
		goldmark.WithRendererOptions(
			renderer.WithNodeRenderers(util.Prioritized(htmlRenderer{}, 50)),
		),
	)
}

// noscriptText is shown where a widget would be when JavaScript is off.
var noscriptText = map[string]string{
	"en": "This interactive widget needs JavaScript.",
	"zh": "此交互组件需要启用 JavaScript。",
}

// renderBody converts a lesson body to HTML. firstLine is the body's line
// number in the file, so errors point at the right line. validate, when not
// nil, is Loader.ValidateWidget. Every problem (bad widget params, unknown
// TeX) is reported, joined; a body beyond MaxBlockBytes or MaxNesting is
// reported alone, without converting the rest.
func renderBody(md goldmark.Markdown, fsys fs.FS, body []byte, firstLine int, lang string, validate func(string, json.RawMessage) error) (string, []Widget, error) {
	if err := checkBlocks(body, firstLine); err != nil {
		return "", nil, err
	}
	lineOf := func(offset int) int { return firstLine + bytes.Count(body[:offset], []byte("\n")) }
	pc := parser.NewContext()
	doc := md.Parser().Parse(text.NewReader(body), parser.WithContext(pc))
	if off, ok := pc.Get(nestingKey).(int); ok {
		return "", nil, fmt.Errorf("line %d: lists and block quotes are nested more than %d deep", lineOf(off), MaxNesting)
	}

	var errs []error
	var widgets []Widget
	var fences []*ast.FencedCodeBlock
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *mathNode:
			ml, err := TeXToMathML(n.tex, n.display)
			var te *TeXError
			if errors.As(err, &te) {
				errs = append(errs, fmt.Errorf("line %d: formula %q: %s", lineOf(n.offset), te.TeX, te.Msg))
			} else if err != nil {
				errs = append(errs, fmt.Errorf("line %d: %w", lineOf(n.offset), err))
			}
			n.mathML = ml
		case *ast.FencedCodeBlock:
			fences = append(fences, n)
		}
		return ast.WalkContinue, nil
	})

	for _, fence := range fences {
		info := ""
		if fence.Info != nil {
			info = strings.TrimSpace(string(fence.Info.Segment.Value(body)))
		}
		fields := strings.Fields(info)
		if len(fields) == 1 && fields[0] == "code" {
			var lines []string
			for i := 0; i < fence.Lines().Len(); i++ {
				seg := fence.Lines().At(i)
				lines = append(lines, string(seg.Value(body)))
			}
			shown, err := parseCodeDirective(fsys, lines)
			if err != nil {
				errs = append(errs, fmt.Errorf("line %d: %w", lineOf(fence.Info.Segment.Start), err))
				continue
			}
			fence.Parent().ReplaceChild(fence.Parent(), fence, &codeNode{shown: shown, lang: lang})
			continue
		}
		if len(fields) == 0 || fields[0] != "widget" {
			continue
		}
		// The fence line is the line before the first content line; an
		// empty block has no lines, so fall back to the info segment.
		line := lineOf(fence.Info.Segment.Start)
		if len(fields) != 2 || !slugPattern.MatchString(fields[1]) {
			errs = append(errs, fmt.Errorf("line %d: widget directive %q must be \"widget NAME\" with a lower-case hyphenated name", line, info))
			continue
		}
		var raw bytes.Buffer
		for i := 0; i < fence.Lines().Len(); i++ {
			seg := fence.Lines().At(i)
			raw.Write(seg.Value(body))
		}
		params, err := canonicalParams(raw.Bytes())
		if err == nil && validate != nil {
			err = validate(fields[1], json.RawMessage(params))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: widget %s: %w", line, fields[1], err))
			continue
		}
		w := Widget{ID: fmt.Sprintf("w%d", len(widgets)+1), Name: fields[1], Params: params}
		widgets = append(widgets, w)
		node := &widgetNode{widget: w, noscript: noscriptText[lang]}
		fence.Parent().ReplaceChild(fence.Parent(), fence, node)
	}
	if len(errs) > 0 {
		return "", nil, errors.Join(errs...)
	}

	var out bytes.Buffer
	if err := md.Renderer().Render(&out, body, doc); err != nil {
		return "", nil, fmt.Errorf("rendering: %w", err)
	}
	return out.String(), widgets, nil
}

// canonicalParams checks that raw is exactly one JSON object and re-encodes
// it with sorted keys and no insignificant space, keeping numbers as
// written (json.Number), so the page carries a predictable attribute.
func canonicalParams(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("params are not valid JSON: %v", err)
	}
	if err := dec.Decode(new(any)); err != io.EOF {
		return "", errors.New("params have extra text after the JSON object")
	}
	if _, ok := v.(map[string]any); !ok {
		return "", errors.New("params must be a JSON object {…}")
	}
	out, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("params: %v", err)
	}
	return string(out), nil
}
