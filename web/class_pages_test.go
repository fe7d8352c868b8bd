package web

import (
	"html"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paramshare/paramshare/class"
	"github.com/paramshare/paramshare/lessons"
)

// classSite is the whole site with a classroom whose store is a fresh
// SQLite file, and that store (to open rooms and seats directly).
func classSite(t *testing.T) (http.Handler, *class.Store) {
	t.Helper()
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	st, err := class.Open(filepath.Join(t.TempDir(), "class.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return NewServer(nil, set, NewLive(LiveOptions{Class: ClassOptions{Store: st}}, nil)), st
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
	if r.header.Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Error("no Content-Security-Policy")
	}
	if !strings.Contains(r.body, `<link rel="stylesheet" href="/static/class.css">`) {
		t.Error("no class stylesheet")
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

// The class pages' script and stylesheet are served.
func TestClassAssets(t *testing.T) {
	h, _ := classSite(t)
	for path, ctype := range map[string]string{"/static/class.js": "javascript", "/static/class.css": "text/css"} {
		r := get(t, h, path)
		if r.code != http.StatusOK || !strings.Contains(r.header.Get("Content-Type"), ctype) || len(r.body) < 1000 {
			t.Errorf("%s: %d %q, %d bytes", path, r.code, r.header.Get("Content-Type"), len(r.body))
		}
	}
}

func TestClassHomePage(t *testing.T) {
	h, _ := classSite(t)
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
	h, _ := classSite(t)
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
		// The switch to Chinese keeps the cleaned code, and only it.
		next := "/zh/class"
		if tt.want != "" {
			next += "?code=" + tt.want
		}
		if tag, _ := byTestID(t, r.body, "lang-zh-CN"); attr(tag, "href") != html.EscapeString(langSwitchHref("zh", next)) {
			t.Errorf("?code=%q: language switch %s, want next=%s", tt.query, attr(tag, "href"), next)
		}
	}
}

func TestClassTeachPage(t *testing.T) {
	h, _ := classSite(t)
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ lang, title, pick, spotlight, resume string }{
		{"en", "Teacher's dashboard", "Choose a lesson…", "not on students who forked, nor on the projector view", "Resume all plays again"},
		{"zh", "老师控制台", "选择一课……", "已分叉的学生和投影画面上不显示", "全部继续会让暂停前在运行的重新运行"},
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
			// No lesson is preselected before the room says which one it is on.
			if !strings.Contains(r.body, `<option value="" disabled selected>`+html.EscapeString(tt.pick)+`</option>`) {
				t.Errorf("no placeholder %q before the lessons", tt.pick)
			}
			// Where a spotlight shows, and what Resume all does, is said.
			if _, text := byTestID(t, r.body, "class-spotlight-hint"); !strings.Contains(text, html.EscapeString(tt.spotlight)) {
				t.Errorf("spotlight hint %q does not say where it does not show", text)
			}
			if !strings.Contains(r.body, tt.resume) {
				t.Errorf("the pause control does not say %q", tt.resume)
			}
			for _, id := range []string{"class-online", "class-roster-count", "class-cmd-status"} {
				byTestID(t, r.body, id)
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

// The projector view of a room: both languages, the code, the join
// address and the QR code of the room, and nothing that could carry a
// name: the page is rendered after students joined, and none of their
// nicknames (nor a seat id) is in it.
func TestClassShowPage(t *testing.T) {
	h, st := classSite(t)
	room, secret, err := st.CreateRoom(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nicks := []string{"Ada Lovelace", "<b>Bob</b>", "小明"}
	for _, n := range nicks {
		if _, _, err := st.Join(room.Code, n, 10, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct{ lang, join, latest string }{
		{"en", "Join at", "latest test accuracy"},
		{"zh", "加入地址", "最近一次测得的测试准确率"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			r := get(t, h, "/"+tt.lang+"/class/"+room.Code+"/show")
			checkClassPage(t, r, tt.lang, "show")
			if tag, text := byTestID(t, r.body, "class-show"); attr(tag, "data-code") != room.Code || text != "" {
				t.Errorf("page root %s: want data-code=%q", tag, room.Code)
			}
			if _, text := byTestID(t, r.body, "class-code-shown"); text != room.Code {
				t.Errorf("code shown %q, want %q", text, room.Code)
			}
			if !strings.Contains(r.body, `src="/class/`+room.Code+`/qr.svg?lang=`+tt.lang+`"`) {
				t.Error("no QR code of the room in the page's language")
			}
			joinPath := "/" + tt.lang + "/class?code=" + room.Code
			if !strings.Contains(r.body, `data-join-path="`+joinPath+`"`) {
				t.Errorf("no join address %s", joinPath)
			}
			if !strings.Contains(r.body, "<span>"+tt.join+"</span>") {
				t.Errorf("no %q", tt.join)
			}
			// The toggle between the big code and the board waits for class.js.
			if tag, _ := byTestID(t, r.body, "class-show-toggle"); !strings.Contains(tag, " hidden") {
				t.Error("the projector's toggle is shown before class.js runs it")
			}
			// The board says its accuracy is the latest measured, not a final one.
			if !strings.Contains(r.body, tt.latest) {
				t.Errorf("the board's intro does not say %q", tt.latest)
			}
			for _, f := range boardFormats {
				if !strings.Contains(r.body, `href="/class/`+room.Code+`/board.`+f+`?lang=`+tt.lang+`"`) {
					t.Errorf("no %s download of the board", f)
				}
			}
			for _, n := range append(nicks, html.EscapeString(nicks[1]), "Bob", secret) {
				if strings.Contains(r.body, n) {
					t.Errorf("the projector page contains %q", n)
				}
			}
			// No element of the server's could hold a name: no roster, no table.
			for _, s := range []string{"<table", "<tbody", `data-part="roster"`, "hide-names", `data-seat`} {
				if strings.Contains(r.body, s) {
					t.Errorf("the projector page has %s", s)
				}
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
			}
		})
	}
	// A code typed in lower case goes to the room's address.
	r := get(t, h, "/en/class/"+strings.ToLower(room.Code)+"/show")
	if r.code != http.StatusMovedPermanently || r.header.Get("Location") != "/en/class/"+room.Code+"/show" {
		t.Errorf("lower-case code: %d to %q, want 301 to the canonical address", r.code, r.header.Get("Location"))
	}
}

// A page of a deleted room is a 404 like any unknown code.
func TestClassShowDeletedRoom(t *testing.T) {
	h, st := classSite(t)
	room, _, err := st.CreateRoom(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r := get(t, h, "/en/class/"+room.Code+"/show"); r.code != http.StatusOK {
		t.Fatalf("status %d before deletion", r.code)
	}
	if err := st.DeleteRoom(room.ID); err != nil {
		t.Fatal(err)
	}
	if r := get(t, h, "/en/class/"+room.Code+"/show"); r.code != http.StatusNotFound {
		t.Errorf("status %d after deletion, want 404", r.code)
	}
}

func TestClassShowUnknownCode(t *testing.T) {
	h, _ := classSite(t)
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
