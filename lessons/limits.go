package lessons

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// Limits on what one lesson file may ask of the loader. A teacher can serve
// lessons of their own (cmd/web -lessons DIR), so a file is not trusted to be
// reasonable: without these limits 20,000 nested \frac took 24 s to convert,
// a 25 MB, 5,000-deep nested list 332 s and 1.75 GB, and some 256 KiB files
// over 20 s each (64,000 unclosed links in one paragraph, a line of 100,000
// "> "). Each limit is far above what a readable lesson needs; a file beyond
// one fails to load with an error naming the file and line, before the work
// it would have cost is done. Within them, the slowest files we could
// construct load in about a second on one core (16 paragraphs of 16 KiB of
// nested brackets), most in well under that.
const (
	// MaxFileBytes is the largest lesson or outline file, 256 KiB: the
	// built-in lessons are under 6 KiB each. A larger file is not read
	// beyond this size.
	MaxFileBytes = 256 << 10
	// MaxBlockBytes is the most text that may stand together without a blank
	// line, 16 KiB (the built-in lessons' longest run is 1.4 KiB). Goldmark's
	// inline parsing can take time quadratic in a paragraph's length;
	// blank lines cut a file into blocks that are parsed on their own, so
	// this bounds that cost.
	MaxBlockBytes = 16 << 10
	// MaxNesting is how deep lists and block quotes may be nested in one
	// another (a list and its items count as one level); deeper ones are
	// refused while goldmark parses, before they are built.
	MaxNesting = 16
	// MaxTeXBytes is the longest formula between $ or $$ delimiters, 2 KiB
	// (the built-in lessons' longest is 165 bytes).
	MaxTeXBytes = 2 << 10
	// MaxTeXDepth is how deeply a formula's parts may be nested: each braced
	// group, command argument, script, \left…\right and root index opens a
	// level (the built-in lessons need 2).
	MaxTeXDepth = 16
)

// readLimited reads the file name from fsys, refusing one larger than
// MaxFileBytes without reading the rest of it, or one that is not valid
// UTF-8. Its errors start "lessons: NAME: ".
func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("lessons: %s: %w", name, err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("lessons: %s: %w", name, err)
	}
	if len(src) > MaxFileBytes {
		size := "more than 256 KiB"
		if fi, err := f.Stat(); err == nil && fi.Size() >= 1<<20 {
			size = fmt.Sprintf("%.1f MiB", float64(fi.Size())/(1<<20))
		} else if err == nil && fi.Size() > MaxFileBytes {
			size = fmt.Sprintf("%d bytes", fi.Size())
		}
		return nil, fmt.Errorf("lessons: %s: the file is %s; a lesson file may be at most %d KiB", name, size, MaxFileBytes>>10)
	}
	if err := checkUTF8(src); err != nil {
		return nil, fmt.Errorf("lessons: %s: %w", name, err)
	}
	return src, nil
}

// checkUTF8 returns an error naming the line and column (in bytes, from 1)
// of the first byte of src that is not valid UTF-8, or nil.
func checkUTF8(src []byte) error {
	if utf8.Valid(src) {
		return nil
	}
	for i := 0; i < len(src); {
		r, w := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && w == 1 {
			line := 1 + bytes.Count(src[:i], []byte("\n"))
			col := i - (bytes.LastIndexByte(src[:i], '\n') + 1) + 1
			return fmt.Errorf("line %d: byte %d of the line (0x%02x) is not valid UTF-8; save the file as UTF-8", line, col, src[i])
		}
		i += w
	}
	return nil
}

// checkBlocks returns an error for the first run of non-blank lines in body
// longer than MaxBlockBytes. firstLine is body's first line in the file.
func checkBlocks(body []byte, firstLine int) error {
	start, startLine, line := 0, firstLine, firstLine
	for off := 0; off < len(body); line++ {
		end := bytes.IndexByte(body[off:], '\n')
		if end < 0 {
			end = len(body)
		} else {
			end += off + 1
		}
		if len(bytes.TrimSpace(body[off:end])) == 0 {
			start, startLine = end, line+1
		} else if end-start > MaxBlockBytes {
			return fmt.Errorf("lines %d–%d: more than %d KiB of text without a blank line; split the paragraph, list or table with blank lines",
				startLine, line, MaxBlockBytes>>10)
		}
		off = end
	}
	return nil
}

// nestingKey holds, in a parser.Context, the body offset of the first line
// at which nestingLimit refused to open a block.
var nestingKey = parser.NewContextKey()

// nestingLimit wraps goldmark's list or block quote parser and refuses to
// open one inside MaxNesting others: goldmark's work per line grows with
// the depth, and a deep enough nest (a line of 100,000 "> ") takes seconds.
// The refused line is then parsed as if the block were not there; the first
// refusal is recorded under nestingKey, and renderBody reports it.
type nestingLimit struct {
	parser.BlockParser
	// quote is set for the block quote parser, whose Open consumes the
	// marker, so it must be refused before it is asked; a ">" it is offered
	// always opens a block quote. The list parser consumes nothing: it is
	// asked first, and refused only when it would open a list.
	quote bool
}

func (n nestingLimit) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	depth := 0
	for a := parent; a != nil; a = a.Parent() {
		switch a.(type) {
		case *ast.List, *ast.Blockquote:
			depth++
		}
	}
	if _, ok := parent.(*ast.List); ok || depth < MaxNesting {
		// Right after opening a list goldmark offers the line to the list
		// parser again, which declines, and then to the item parser.
		return n.BlockParser.Open(parent, reader, pc)
	}
	if !n.quote {
		if node, state := n.BlockParser.Open(parent, reader, pc); node == nil {
			return nil, state
		}
	}
	if pc.Get(nestingKey) == nil {
		_, seg := reader.PeekLine()
		pc.Set(nestingKey, seg.Start)
	}
	return nil, parser.NoChildren
}
