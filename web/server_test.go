package web

import (
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/paramshare/paramshare/lessons"
)

func newTestServer(t *testing.T) http.Handler {
	t.Helper()
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	return NewServer(nil, set, NewLive(LiveOptions{}, nil))
}

type response struct {
	code   int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, path string, headers ...string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return response{rec.Code, rec.Result().Header, string(body)}
}

// byTestID returns the opening tag and the text right after it of the
// element carrying data-testid=id, or fails the test.
func byTestID(t *testing.T, page, id string) (tag, text string) {
	t.Helper()
	re := regexp.MustCompile(`<[a-z]+[^>]*\sdata-testid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no element with data-testid=%q", id)
	}
	return m[0][:len(m[0])-len(m[1])], m[1]
}

func attr(tag, name string) string {
	m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

func TestRoutes(t *testing.T) {
	h := newTestServer(t)
	tests := []struct {
		path, wantType, wantBody string
		wantCode                 int
	}{
		{"/en/", "text/html; charset=utf-8", `href="/en/lessons/one-kernel-many-places"`, 200},
		{"/zh/", "text/html; charset=utf-8", `<html lang="zh-CN">`, 200},
		{"/en/lessons/one-kernel-many-places", "text/html; charset=utf-8", `<html lang="en">`, 200},
		{"/zh/lessons/one-kernel-many-places", "text/html; charset=utf-8", "一个卷积核，用在许多位置", 200},
		{"/en/lessons/no-such-lesson", "text/html; charset=utf-8", "Page not found", 404},
		{"/zh/lessons/no-such-lesson", "text/html; charset=utf-8", "找不到页面", 404},
		{"/no/such/page", "text/html; charset=utf-8", `data-testid="error-title"`, 404},
		{"/fr/", "text/html; charset=utf-8", "Page not found", 404},
		{"/healthz", "text/plain; charset=utf-8", "ok", 200},
		{"/static/app.js", "text/javascript; charset=utf-8", "data-widget", 200},
		{"/static/site.css", "text/css; charset=utf-8", "prefers-color-scheme", 200},
		{"/static/favicon.svg", "image/svg+xml", "<svg", 200},
		{"/static/", "text/html; charset=utf-8", "Page not found", 404},
		{"/code/how-a-shared-kernel-learns.py", "text/plain; charset=utf-8", "import torch", 200},
		{"/code/convgrad_test.go", "text/plain; charset=utf-8", "in-code:begin ledger", 200},
		{"/code/.env.py", "text/html; charset=utf-8", "Page not found", 404},
		{"/code/nope.py", "text/html; charset=utf-8", "Page not found", 404},
		{"/en/lessons/how-a-shared-kernel-learns", "text/html; charset=utf-8", `<a href="/code/how-a-shared-kernel-learns.py" download=`, 200},
		{"/static/nope.js", "text/html; charset=utf-8", "Page not found", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := get(t, h, tt.path)
			if r.code != tt.wantCode {
				t.Errorf("status %d, want %d", r.code, tt.wantCode)
			}
			if got := r.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			if !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("body does not contain %q", tt.wantBody)
			}
		})
	}
	if r := get(t, h, "/healthz"); r.body != "ok" {
		t.Errorf("healthz body %q, want exactly ok", r.body)
	}
	if r := get(t, h, "/zh"); r.code != http.StatusMovedPermanently || r.header.Get("Location") != "/zh/" {
		t.Errorf("/zh → %d %q, want 301 to /zh/", r.code, r.header.Get("Location"))
	}
}

func TestStaticCaching(t *testing.T) {
	h := newTestServer(t)
	r := get(t, h, "/static/site.css")
	etag := r.header.Get("ETag")
	if etag == "" || r.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, r.header.Get("Cache-Control"))
	}
	if r2 := get(t, h, "/static/site.css", "If-None-Match", etag); r2.code != http.StatusNotModified || r2.body != "" {
		t.Errorf("revalidation: status %d with %d bytes, want 304 and none", r2.code, len(r2.body))
	}
	if other := get(t, h, "/static/app.js").header.Get("ETag"); other == etag {
		t.Error("two different files share an ETag")
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h := newTestServer(t)
	want := map[string]string{
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for _, path := range []string{"/", "/en/", "/zh/lessons/one-kernel-many-places", "/nope", "/en/lessons/nope",
		"/healthz", "/static/app.js", "/static/missing.css", "/lang/zh?next=/zh/", "/en"} {
		r := get(t, h, path)
		for k, v := range want {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
			"base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'", "connect-src 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows unsafe sources: %q", path, csp)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	boom := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	h := securityHeaders(logRequests(log)(recoverPanics(log, serverError(log))(boom)))
	r := get(t, h, "/zh/lessons/x")
	if r.code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", r.code)
	}
	if _, text := byTestID(t, r.body, "error-title"); text != "出错了" {
		t.Errorf("error title %q, want the Chinese one for a /zh/ path", text)
	}
	if r.header.Get("Content-Security-Policy") == "" {
		t.Error("500 page has no CSP")
	}
	if !strings.Contains(logs.String(), "panic=boom") || !strings.Contains(logs.String(), "status=500") {
		t.Errorf("panic or its status not logged:\n%s", logs.String())
	}
}

// TestPagesNeedNoInlineCode checks what the CSP forbids never appears:
// inline scripts, event handler attributes and style attributes.
func TestPagesNeedNoInlineCode(t *testing.T) {
	h := newTestServer(t)
	forbidden := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<script(?:\s(?:[^s>]|s[^r])*)?>|\sstyle="|\son[a-z]+="`)
	for _, path := range []string{"/en/", "/zh/", "/en/lessons/one-kernel-many-places", "/zh/lessons/one-kernel-many-places", "/nope"} {
		r := get(t, h, path)
		if m := forbidden.FindString(r.body); m != "" {
			t.Errorf("%s contains %q, which the CSP would block", path, m)
		}
		if !strings.Contains(r.body, `<script type="module" src="/static/app.js"></script>`) {
			t.Errorf("%s does not load app.js", path)
		}
	}
}

// withPlanned returns the shipped course with one more row in each
// language's outline, a lesson not written yet: every planned lesson of
// the course is written now, but a teacher's course may plan more.
func withPlanned(t *testing.T) (*lessons.Set, http.Handler) {
	t.Helper()
	course := fstest.MapFS{}
	err := fs.WalkDir(lessons.Embedded, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(lessons.Embedded, path)
		if path == "en/outline.txt" || path == "zh/outline.txt" {
			b = append(b, "99 | a-planned-lesson | A planned lesson | Not written yet.\n"...)
		}
		course[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	set, err := lessons.Load(course)
	if err != nil {
		t.Fatal(err)
	}
	return set, NewServer(nil, set, NewLive(LiveOptions{}, nil))
}

func TestIndexPage(t *testing.T) {
	set, h := withPlanned(t)
	for _, tt := range []struct{ lang, title, soon string }{
		{"en", "One kernel, many places", "Coming soon"},
		{"zh", "一个卷积核，用在许多位置", "即将推出"},
	} {
		r := get(t, h, "/"+tt.lang+"/")
		tag, _ := byTestID(t, r.body, "lesson-row-one-kernel-many-places")
		if !strings.Contains(tag, "available") {
			t.Errorf("%s: lesson 2 row is not marked available: %s", tt.lang, tag)
		}
		if !strings.Contains(r.body, `href="/`+tt.lang+`/lessons/one-kernel-many-places"`) || !strings.Contains(r.body, tt.title) {
			t.Errorf("%s: lesson 2 is not linked with its title", tt.lang)
		}
		// Every planned lesson's row says so and links nowhere (the course
		// grows: the counts come from the outline, not from this test).
		planned := 0
		for _, e := range set.Outline(tt.lang) {
			if e.Lesson != nil {
				continue
			}
			planned++
			tag, _ = byTestID(t, r.body, "lesson-row-"+e.Slug)
			if !strings.Contains(tag, "planned") {
				t.Errorf("%s: %s row should be planned: %s", tt.lang, e.Slug, tag)
			}
			if strings.Contains(r.body, `href="/`+tt.lang+`/lessons/`+e.Slug+`"`) {
				t.Errorf("%s: %s does not exist, yet is linked", tt.lang, e.Slug)
			}
		}
		if planned == 0 {
			t.Fatal("no planned lesson to check")
		}
		if n := strings.Count(r.body, `<span class="badge badge-soon">`+tt.soon+`</span>`); n != planned {
			t.Errorf("%s: %d coming-soon rows, want %d", tt.lang, n, planned)
		}
		if n, want := strings.Count(r.body, `class="outline-row`), len(set.Outline(tt.lang)); n != want {
			t.Errorf("%s: %d outline rows, want the outline's %d", tt.lang, n, want)
		}
	}
}

func TestLessonPage(t *testing.T) {
	set, h := withPlanned(t)
	for _, tt := range []struct{ lang, htmlLang, title, soon string }{
		{"en", "en", "One kernel, many places", "coming soon"},
		{"zh", "zh-CN", "一个卷积核，用在许多位置", "即将推出"},
	} {
		r := get(t, h, "/"+tt.lang+"/lessons/one-kernel-many-places")
		if !strings.Contains(r.body, `<html lang="`+tt.htmlLang+`">`) {
			t.Errorf("%s: html lang is not %q", tt.lang, tt.htmlLang)
		}
		if _, text := byTestID(t, r.body, "lesson-title"); text != tt.title {
			t.Errorf("%s: lesson-title %q, want %q", tt.lang, text, tt.title)
		}
		body := r.body[strings.Index(r.body, `data-testid="lesson-body"`):]
		body = body[:strings.Index(body, `data-testid="prev-link"`)]
		// The page carries the lesson file's widget directive as written.
		l, _, _ := set.Lesson(tt.lang, "one-kernel-many-places")
		if len(l.Widgets) == 0 {
			t.Fatalf("%s: the lesson has no widget", tt.lang)
		}
		w := l.Widgets[0]
		for _, want := range []string{`data-widget="` + w.Name + `"`, `id="` + w.ID + `"`, `data-testid="widget-` + w.Name + `"`,
			`<math display="block">`, "⌊", "<noscript>"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: lesson-body lacks %q", tt.lang, want)
			}
		}
		tag, _ := byTestID(t, r.body, "widget-"+w.Name)
		if got := html.UnescapeString(attr(tag, "data-params")); got != w.Params {
			t.Errorf("%s: data-params = %s, want %s", tt.lang, got, w.Params)
		}
		// The neighbours are lessons 1 and 3, linked as prev and next.
		for _, n := range []struct{ id, href, rel string }{
			{"prev-link", "/" + tt.lang + "/lessons/why-share", "prev"},
			{"next-link", "/" + tt.lang + "/lessons/how-a-shared-kernel-learns", "next"},
		} {
			tag, _ := byTestID(t, r.body, n.id)
			if attr(tag, "href") != n.href || attr(tag, "rel") != n.rel {
				t.Errorf("%s: %s href %q rel %q, want %q and %q", tt.lang, n.id, attr(tag, "href"), attr(tag, "rel"), n.href, n.rel)
			}
		}
		// After the last written lesson the next one is only planned: the
		// link leads to the overview, says so, and is not rel="next".
		// The last written lesson, and the planned one after it.
		var lastSlug, nextTitle string
		for _, e := range set.Outline(tt.lang) {
			if e.Lesson != nil {
				lastSlug, nextTitle = e.Slug, ""
			} else if nextTitle == "" {
				nextTitle = e.Title
			}
		}
		last := get(t, h, "/"+tt.lang+"/lessons/"+lastSlug)
		tag, _ = byTestID(t, last.body, "next-link")
		if attr(tag, "href") != "/"+tt.lang+"/" || strings.Contains(tag, "rel=") {
			t.Errorf("%s: next-link after the last lesson: %s", tt.lang, tag)
		}
		next := last.body[strings.Index(last.body, `data-testid="next-link"`):]
		next = next[:strings.Index(next, "</a>")]
		if !strings.Contains(next, nextTitle) || !strings.Contains(next, tt.soon) {
			t.Errorf("%s: next-link %q does not say %s is coming soon", tt.lang, next, nextTitle)
		}
		if strings.Contains(r.body, `data-testid="fallback-note"`) {
			t.Errorf("%s: translated lesson shows the fallback note", tt.lang)
		}
	}
}

func TestLessonFallbackAndNeighbours(t *testing.T) {
	front := func(slug, title string, order int) string {
		return "---\ntitle: " + title + "\nslug: " + slug + "\norder: " + string(rune('0'+order)) + "\nsummary: S\n---\nBody of " + title + ".\n"
	}
	set, err := lessons.Load(fstest.MapFS{
		"en/a.md": {Data: []byte(front("a", "Alpha", 1))},
		"en/b.md": {Data: []byte(front("b", "Beta", 2))},
		"en/c.md": {Data: []byte(front("c", "Gamma", 3))},
		"zh/b.md": {Data: []byte(front("b", "乙", 2))},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := NewServer(nil, set, NewLive(LiveOptions{}, nil))

	r := get(t, h, "/zh/lessons/a")
	if r.code != 200 {
		t.Fatalf("untranslated lesson: status %d", r.code)
	}
	if _, text := byTestID(t, r.body, "fallback-note"); !strings.Contains(text, "尚未翻译") {
		t.Errorf("fallback note %q", text)
	}
	if !strings.Contains(r.body, `<article class="page lesson" lang="en">`) {
		t.Error("English content in a Chinese page is not marked lang=en")
	}
	if tag, _ := byTestID(t, r.body, "next-link"); attr(tag, "href") != "/zh/lessons/b" {
		t.Errorf("next-link %s, want /zh/lessons/b", tag)
	}

	r = get(t, h, "/zh/lessons/b")
	if _, text := byTestID(t, r.body, "lesson-title"); text != "乙" {
		t.Errorf("translated title %q", text)
	}
	if tag, _ := byTestID(t, r.body, "prev-link"); attr(tag, "href") != "/zh/lessons/a" {
		t.Errorf("prev-link %s, want /zh/lessons/a", tag)
	}
	if tag, _ := byTestID(t, r.body, "next-link"); attr(tag, "href") != "/zh/lessons/c" {
		t.Errorf("next-link %s, want /zh/lessons/c", tag)
	}

	r = get(t, h, "/zh/")
	if tag, _ := byTestID(t, r.body, "lesson-row-a"); !strings.Contains(tag, "available") || !strings.Contains(r.body, "暂无中文版") {
		t.Errorf("index row for an untranslated lesson should be a link marked English only: %s", tag)
	}
}

func TestCheckWidgets(t *testing.T) {
	set, err := lessons.Load(fstest.MapFS{
		"en/a.md": {Data: []byte("---\ntitle: A\nslug: a\norder: 1\nsummary: S\n---\n```widget no-such-widget\n{}\n```\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = CheckWidgets(set)
	if err == nil || !strings.Contains(err.Error(), `en/a.md uses widget "no-such-widget"`) {
		t.Errorf("CheckWidgets = %v, want it to name the lesson and the widget", err)
	}
}

// TestWidgetFilesFromTheRegistry: /static/widgets/NAME.js is the widget an
// experiment's spec carries, beside web's own shared modules.
func TestWidgetFilesFromTheRegistry(t *testing.T) {
	h := newTestServer(t)
	r := get(t, h, "/static/widgets/stepper.js")
	if r.code != 200 || !strings.Contains(r.body, "export default") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") || r.header.Get("ETag") == "" {
		t.Fatalf("stepper.js: %d %q %v", r.code, r.body, r.header)
	}
	for _, shared := range []string{"ui.js", "palette.js", "quant.js", "charts.js"} {
		if r := get(t, h, "/static/widgets/"+shared); r.code != 200 || !strings.Contains(r.body, "export function") {
			t.Fatalf("%s: %d", shared, r.code)
		}
	}
	if r := get(t, h, "/static/widgets/nope.js"); r.code != 404 {
		t.Fatalf("nope.js: %d", r.code)
	}
}
