package web

import (
	"net/http"
	"strings"
	"testing"
)

func TestLangFromAcceptLanguage(t *testing.T) {
	tests := []struct{ header, want string }{
		{"", "en"},
		{"zh-CN,zh;q=0.9,en;q=0.8", "zh"},
		{"zh-TW", "zh"},
		{"ZH-hans", "zh"},
		{"en-GB,en;q=0.9", "en"},
		{"fr-CH, fr;q=0.9, zh;q=0.8, en;q=0.5", "zh"},
		{"fr-CH, fr;q=0.9, en;q=0.8, zh;q=0.5", "en"},
		{"de", "en"},
		{"zh;q=0", "en"},
		{"zh;q=bogus, en;q=0.3", "en"},
		{"zhx", "en"},
	}
	for _, tt := range tests {
		if got := langFromAcceptLanguage(tt.header); got != tt.want {
			t.Errorf("langFromAcceptLanguage(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestRootRedirectsToChosenLanguage(t *testing.T) {
	h := newTestServer(t)
	tests := []struct {
		name    string
		headers []string
		want    string
	}{
		{"default", nil, "/en/"},
		{"accept-language zh", []string{"Accept-Language", "zh-CN,zh;q=0.9"}, "/zh/"},
		{"cookie beats accept-language", []string{"Cookie", "lang=en", "Accept-Language", "zh-CN"}, "/en/"},
		{"cookie zh", []string{"Cookie", "lang=zh", "Accept-Language", "en-US"}, "/zh/"},
		{"bad cookie ignored", []string{"Cookie", "lang=xx", "Accept-Language", "zh"}, "/zh/"},
	}
	for _, tt := range tests {
		r := get(t, h, "/", tt.headers...)
		if r.code != http.StatusFound || r.header.Get("Location") != tt.want {
			t.Errorf("%s: %d → %q, want 302 → %q", tt.name, r.code, r.header.Get("Location"), tt.want)
		}
		if !strings.Contains(r.header.Get("Vary"), "Cookie") || !strings.Contains(r.header.Get("Vary"), "Accept-Language") {
			t.Errorf("%s: Vary = %q", tt.name, r.header.Get("Vary"))
		}
	}
}

func TestLanguageSwitchSetsCookie(t *testing.T) {
	h := newTestServer(t)
	page := get(t, h, "/en/lessons/one-kernel-many-places").body
	tag, text := byTestID(t, page, "lang-switch")
	_ = text
	if !strings.HasPrefix(tag, "<nav") {
		t.Fatalf("lang-switch is %s, want a nav", tag)
	}
	if !strings.Contains(page, `<span class="lang-current" aria-current="true" lang="en">English</span>`) {
		t.Error("current language is not marked")
	}
	link, label := byTestID(t, page, "lang-zh-CN")
	if label != "中文" {
		t.Errorf("switch label %q, want 中文", label)
	}
	href := attr(link, "href")

	r := get(t, h, href, "Accept-Language", "en")
	if r.code != http.StatusSeeOther || r.header.Get("Location") != "/zh/lessons/one-kernel-many-places" {
		t.Fatalf("switch %s → %d %q, want 303 to the same lesson in Chinese", href, r.code, r.header.Get("Location"))
	}
	resp := http.Response{Header: r.header}
	var lang *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "lang" {
			lang = c
		}
	}
	if lang == nil || lang.Value != "zh" || lang.Path != "/" || lang.MaxAge <= 0 || !lang.HttpOnly {
		t.Fatalf("lang cookie = %+v, want a lasting lang=zh for the whole site", lang)
	}
	// The remembered choice now beats an English browser.
	if r := get(t, h, "/", "Cookie", lang.Name+"="+lang.Value, "Accept-Language", "en-US"); r.header.Get("Location") != "/zh/" {
		t.Errorf("after switching, / goes to %q", r.header.Get("Location"))
	}
}

func TestLanguageSwitchIsNotAnOpenRedirect(t *testing.T) {
	h := newTestServer(t)
	for _, next := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`, "", "relative"} {
		r := get(t, h, "/lang/zh?next="+next)
		if got := r.header.Get("Location"); got != "/zh/" {
			t.Errorf("next=%q redirected to %q, want /zh/", next, got)
		}
	}
	if r := get(t, h, "/lang/fr?next=/"); r.code != http.StatusNotFound {
		t.Errorf("unknown language: status %d, want 404", r.code)
	}
}
