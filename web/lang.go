package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The site speaks English and Simplified Chinese. The URL carries the
// language (/en/…, /zh/…); the cookie only decides where / sends you.
const (
	langCookie  = "lang"
	defaultLang = "en"
)

var siteLangs = []string{"en", "zh"}

// htmlLang is the BCP 47 tag for <html lang>: Chinese content is written in
// simplified characters, which screen readers and fonts need to know.
var htmlLang = map[string]string{"en": "en", "zh": "zh-CN"}

// langNames are shown in the switch, each in its own language.
var langNames = map[string]string{"en": "English", "zh": "中文"}

func isSiteLang(lang string) bool { return slices.Contains(siteLangs, lang) }

// chooseLang picks the language for a request that does not name one: a
// valid lang cookie wins, then Accept-Language, then English.
func chooseLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && isSiteLang(c.Value) {
		return c.Value
	}
	return langFromAcceptLanguage(r.Header.Get("Accept-Language"))
}

// langFromAcceptLanguage returns "zh" or "en" for an Accept-Language header
// such as "fr-CH, zh-CN;q=0.8, en;q=0.5": the supported language with the
// highest quality wins (the earlier one on a tie); any zh-* counts as zh.
// Without a supported language it returns English.
func langFromAcceptLanguage(header string) string {
	best, bestQ := defaultLang, 0.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			parsed, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue // a malformed entry says nothing reliable
			}
			q = parsed
		}
		var lang string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			lang = "zh"
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			lang = "en"
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = lang, q
		}
	}
	return best
}

// langSwitchHref is the link that switches to lang and comes back to the
// page at path (in lang).
func langSwitchHref(lang, path string) string {
	return "/lang/" + lang + "?" + url.Values{"next": {path}}.Encode()
}

// handleSetLang remembers lang in a cookie and redirects to the page given
// in ?next=, which must be a path on this site (anything else would make the
// switch an open redirect); without one it goes to lang's course overview.
// lang must be one of siteLangs.
func handleSetLang(lang string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := r.URL.Query().Get("next")
		if !isLocalPath(next) {
			next = "/" + lang + "/"
		}
		http.SetCookie(w, &http.Cookie{
			Name:     langCookie,
			Value:    lang,
			Path:     "/",
			MaxAge:   int((365 * 24 * time.Hour).Seconds()),
			HttpOnly: true,
			Secure:   r.TLS != nil,
			SameSite: http.SameSiteLaxMode,
		})
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
}

// isLocalPath reports whether p is an absolute path on this site, not a
// scheme-relative (//host) or backslash trick (/\host) address.
func isLocalPath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, `/\`) {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == ""
}

// uiText holds the site's own words in one language.
type uiText struct {
	SiteName, Tagline, SkipLink, LangLabel, Footer string
	IndexHeading, IndexIntro, OutlineHeading       string
	LessonNumber                                   func(n int) string
	ComingSoon, EnglishOnly, FallbackNote          string
	NavLabel, Previous, Next, Overview             string
	AllLessons, NextComingSoon                     string
	NotFoundHeading, NotFoundMessage, BackToCourse string
	ErrorHeading, ErrorMessage                     string
}

var ui = map[string]uiText{
	"en": {
		SiteName:        "ParamShare",
		Tagline:         "Parameter sharing in deep learning, taught with small real models running live.",
		SkipLink:        "Skip to content",
		LangLabel:       "Language",
		Footer:          "ParamShare — every number on these pages is computed live by a real model on this server.",
		IndexHeading:    "Parameter sharing, one lesson at a time",
		IndexIntro:      "One set of weights, used in many places: a kernel at every pixel, a cell at every time step, a projection at every token. Each lesson runs a small real model on the server and shows, with real numbers, that the parameter count stays put while the uses multiply — and that a shared weight's gradient is the sum of all its uses.",
		OutlineHeading:  "The course",
		LessonNumber:    func(n int) string { return "Lesson " + strconv.Itoa(n) },
		ComingSoon:      "Coming soon",
		EnglishOnly:     "",
		FallbackNote:    "",
		NavLabel:        "Lessons",
		Previous:        "Previous",
		Next:            "Next",
		Overview:        "Course overview",
		AllLessons:      "All lessons",
		NextComingSoon:  "Next (coming soon)",
		NotFoundHeading: "Page not found",
		NotFoundMessage: "There is no page at this address. It may have moved, or the lesson may not be written yet.",
		BackToCourse:    "Back to the course",
		ErrorHeading:    "Something went wrong",
		ErrorMessage:    "The server hit an unexpected problem while making this page. It has been logged; please try again.",
	},
	"zh": {
		SiteName:        "ParamShare",
		Tagline:         "用实时运行的小型真实模型，讲解深度学习中的参数共享。",
		SkipLink:        "跳到正文",
		LangLabel:       "语言",
		Footer:          "ParamShare —— 本站页面上的每个数字都由本服务器上的真实模型实时计算得出。",
		IndexHeading:    "参数共享，一课一课来",
		IndexIntro:      "同一组权重，用在许多地方：每个像素上的卷积核、每个时间步上的循环单元、每个词元上的投影。每一课都在服务器上运行一个小型真实模型，用真实的数字说明：参数的数量保持不变，而使用的次数成倍增加；共享权重的梯度，是它每一次使用所贡献梯度的总和。",
		OutlineHeading:  "课程目录",
		LessonNumber:    func(n int) string { return "第 " + strconv.Itoa(n) + " 课" },
		ComingSoon:      "即将推出",
		EnglishOnly:     "暂无中文版，显示英文",
		FallbackNote:    "本课尚未翻译成中文，以下显示英文原文。",
		NavLabel:        "课程导航",
		Previous:        "上一课",
		Next:            "下一课",
		Overview:        "课程目录",
		AllLessons:      "全部课程",
		NextComingSoon:  "下一课（即将推出）",
		NotFoundHeading: "找不到页面",
		NotFoundMessage: "这个地址没有页面。它可能已经移动，或者这一课还没有写好。",
		BackToCourse:    "返回课程目录",
		ErrorHeading:    "出错了",
		ErrorMessage:    "服务器在生成此页面时遇到了意外问题，已记录在日志中，请稍后重试。",
	},
}
