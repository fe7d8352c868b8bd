package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lessons"
)

// classPagesMux serves the three class pages as routes.go does.
func classPagesMux(t *testing.T, c *Classroom) http.Handler {
	t.Helper()
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	log := discardLogger()
	mux := http.NewServeMux()
	for _, lang := range siteLangs {
		mux.Handle("GET /"+lang+"/class", handleClassHome(log, lang))
		mux.Handle("GET /"+lang+"/class/teach", handleClassTeach(log, set, lang))
		mux.Handle("GET /"+lang+"/class/{code}/show", handleClassShow(log, c, lang))
	}
	mux.Handle("/", notFound(log))
	return mux
}

const classScript = `<script type="module" src="/static/class.js"></script>`

// checkClassPage checks what every class page must have: status 200, the
// page's language, the class script as an external module, the page part
// class.js runs, and no inline script or style.
func checkClassPage(t *testing.T, r response, lang, part string) {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("status %d, want 200", r.code)
	}
	if !strings.Contains(r.body, `<html lang="`+htmlLang[lang]+`">`) {
		t.Errorf("page is not marked as %s", htmlLang[lang])
	}
	if strings.Count(r.body, classScript) != 1 {
		t.Errorf("want the class script once as an external module: %s", classScript)
	}
	if !strings.Contains(r.body, `data-class-page="`+part+`"`) {
		t.Errorf("no data-class-page=%q", part)
	}
	if !strings.Contains(r.body, `data-lang="`+lang+`"`) {
		t.Errorf("no data-lang=%q for class.js", lang)
	}
	// CSP: script-src 'self' and style-src 'self' allow no inline code.
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(r.body, -1) {
		if !strings.Contains(m, ` src="/static/`) {
			t.Errorf("inline script: %s", m)
		}
	}
	if regexp.MustCompile(`(?i)\sstyle=|<style|\son[a-z]+=`).MatchString(r.body) {
		t.Error("inline style or event handler attribute")
	}
}

func TestClassHomePage(t *testing.T) {
	h := classPagesMux(t, &Classroom{})
	for _, tt := range []struct{ lang, title, join string }{
		{"en", "Join a class", "Join"},
		{"zh", "加入课堂", "加入"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			r := get(t, h, "/"+tt.lang+"/class")
			checkClassPage(t, r, tt.lang, "home")
			if _, text := byTestID(t, r.body, "class-title"); text != tt.title {
				t.Errorf("title %q, want %q", text, tt.title)
			}
			if _, text := byTestID(t, r.body, "class-join"); text != tt.join {
				t.Errorf("join button %q, want %q", text, tt.join)
			}
			tag, _ := byTestID(t, r.body, "class-code")
			for name, want := range map[string]string{"maxlength": "6", "autocapitalize": "characters", "value": "", "autocomplete": "off"} {
				if got := attr(tag, name); got != want {
					t.Errorf("code field %s=%q, want %q", name, got, want)
				}
			}
			if _, text := byTestID(t, r.body, "class-privacy"); !strings.Contains(text, "30") {
				t.Errorf("the privacy line does not say how long data is kept: %q", text)
			}
		})
	}
}

// A link's ?code= prefills the field, cleaned to what a code can be: upper
// case, the code alphabet only, at most six characters; anything else in it
// is dropped, never echoed.
func TestClassHomePrefill(t *testing.T) {
	h := classPagesMux(t, &Classroom{})
	for _, tt := range []struct{ query, want string }{
		{"abc234", "ABC234"},
		{"ABC234", "ABC234"},
		{"ab c-2", "ABC2"},
		{"ABC2345678", "ABC234"},
		{"O0I1L", ""}, // letters no code has
		{`"><script>x</script>`, "SCRPTX"},
		{"", ""},
	} {
		r := get(t, h, "/en/class?code="+url.QueryEscape(tt.query))
		tag, _ := byTestID(t, r.body, "class-code")
		if got := attr(tag, "value"); got != tt.want {
			t.Errorf("?code=%q: field value %q, want %q", tt.query, got, tt.want)
		}
	}
}

func TestClassTeachPage(t *testing.T) {
	h := classPagesMux(t, &Classroom{})
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ lang, title string }{
		{"en", "Teacher's dashboard"},
		{"zh", "老师控制台"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			r := get(t, h, "/"+tt.lang+"/class/teach")
			checkClassPage(t, r, tt.lang, "teach")
			if _, text := byTestID(t, r.body, "class-title"); text != html.EscapeString(tt.title) {
				t.Errorf("title %q, want %q", text, tt.title)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
			}
			// Every written lesson can be pushed, in course order.
			opts := regexp.MustCompile(`<option value="([^"]+)">`).FindAllStringSubmatch(r.body, -1)
			ls := set.Lessons(tt.lang)
			if len(opts) != len(ls) || len(ls) == 0 {
				t.Fatalf("%d lessons to push, want %d", len(opts), len(ls))
			}
			for i, l := range ls {
				if opts[i][1] != l.Slug {
					t.Errorf("option %d is %q, want %q", i, opts[i][1], l.Slug)
				}
			}
			// The empty state and the dashboard wait for class.js.
			if tag, _ := byTestID(t, r.body, "class-no-room"); !strings.Contains(tag, " hidden") {
				t.Error("the empty state is not hidden before class.js reads the room")
			}
			for _, cmd := range []string{"follow", "free", "lesson", "pause-all", "resume-all", "lock", "unlock", "new-code", "delete"} {
				if !strings.Contains(r.body, `data-cmd="`+cmd+`"`) {
					t.Errorf("no control for room-cmd %q", cmd)
				}
			}
			// The dashboard never puts the secret or a code in the page.
			if strings.Contains(r.body, "/class/teach?") || strings.Contains(r.body, "secret") {
				t.Error("the dashboard's page mentions a secret")
			}
		})
	}
}

func TestClassShowUnknownCode(t *testing.T) {
	h := classPagesMux(t, &Classroom{})
	for _, path := range []string{
		"/en/class/ABC234/show", // well formed, no such room
		"/zh/class/ABC234/show",
		"/en/class/ABCDEF0/show", // malformed
		"/en/class/O0O0O0/show",
		"/en/class/%3Cb%3E/show",
	} {
		r := get(t, h, path)
		if r.code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, r.code)
		}
		if strings.Contains(r.body, `data-class-page`) {
			t.Errorf("%s: the 404 is a class page", path)
		}
	}
	if r := get(t, h, "/zh/class/ABC234/show"); !strings.Contains(r.body, `<html lang="zh-CN">`) {
		t.Error("the 404 of a Chinese class page is not in Chinese")
	}
}

func TestCleanCode(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"xyz789":       "XYZ789",
		"AAAAAAAAAAAA": "AAAAAA",
		"ß∂ƒ":          "",
		"abcdefg":      "ABCDEF",
	} {
		if got := cleanCode(in); got != want {
			t.Errorf("cleanCode(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]bool{"ABC234": true, "ABC23": false, "ABC2345": false, "abc234": false, "ABC23O": false} {
		if got := isCode(in); got != want {
			t.Errorf("isCode(%q) = %v, want %v", in, got, want)
		}
	}
}
