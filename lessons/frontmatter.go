package lessons

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// frontMatter holds the few keys a lesson file declares before its body.
type frontMatter struct {
	Title   string
	Slug    string
	Order   int
	Summary string
}

// slugPattern is what a slug (and a widget name) may look like: it appears
// in URLs and file names, so it is kept to lower-case words and hyphens.
var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// parseFrontMatter splits a lesson file into its front matter and body. The
// front matter is a block between two lines of "---" at the very start of
// the file, holding exactly the keys title, slug, order and summary as
// "key: value" lines (a value may be double-quoted, Go syntax). It is parsed
// by hand and strictly: an unknown, repeated or missing key is an error,
// because a typo would otherwise silently drop a lesson from the course.
// bodyLine is the 1-based line number at which the body starts.
func parseFrontMatter(src string) (fm frontMatter, body string, bodyLine int, err error) {
	src = strings.TrimPrefix(src, "\ufeff") // editors on Windows add a BOM
	src = strings.ReplaceAll(src, "\r\n", "\n")
	lines := strings.SplitAfter(src, "\n")
	if len(lines) == 0 || strings.TrimRight(lines[0], "\n") != "---" {
		return fm, "", 0, fmt.Errorf("line 1: the file must start with a front matter block (a line \"---\")")
	}
	seen := map[string]bool{}
	end := -1
	for i := 1; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\n")
		lineNo := i + 1
		if line == "---" {
			end = i
			break
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return fm, "", 0, fmt.Errorf("line %d: front matter line %q is not \"key: value\"", lineNo, line)
		}
		key = strings.TrimSpace(key)
		value = strings.TrimSpace(value)
		if strings.HasPrefix(value, `"`) {
			uq, uerr := strconv.Unquote(value)
			if uerr != nil {
				return fm, "", 0, fmt.Errorf("line %d: bad quoted value for %q: %v", lineNo, key, uerr)
			}
			value = uq
			if !utf8.ValidString(value) { // "\xff" unquotes to a bare byte
				return fm, "", 0, fmt.Errorf("line %d: quoted value for %q is not valid UTF-8", lineNo, key)
			}
		}
		if seen[key] {
			return fm, "", 0, fmt.Errorf("line %d: front matter key %q repeated", lineNo, key)
		}
		seen[key] = true
		if value == "" {
			return fm, "", 0, fmt.Errorf("line %d: front matter key %q has an empty value", lineNo, key)
		}
		switch key {
		case "title":
			fm.Title = value
		case "summary":
			fm.Summary = value
		case "slug":
			if !slugPattern.MatchString(value) {
				return fm, "", 0, fmt.Errorf("line %d: slug %q must be lower-case letters, digits and single hyphens", lineNo, value)
			}
			fm.Slug = value
		case "order":
			n, cerr := strconv.Atoi(value)
			if cerr != nil || n < 1 {
				return fm, "", 0, fmt.Errorf("line %d: order %q must be a positive whole number", lineNo, value)
			}
			fm.Order = n
		default:
			return fm, "", 0, fmt.Errorf("line %d: unknown front matter key %q (allowed: title, slug, order, summary)", lineNo, key)
		}
	}
	if end < 0 {
		return fm, "", 0, fmt.Errorf("front matter is not closed by a line \"---\"")
	}
	for _, k := range []string{"title", "slug", "order", "summary"} {
		if !seen[k] {
			return fm, "", 0, fmt.Errorf("front matter is missing %q", k)
		}
	}
	return fm, strings.Join(lines[end+1:], ""), end + 2, nil
}
