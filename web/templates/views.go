// Package templates holds the site's templ components and the view models
// they take. Components only lay out what the view model says; every
// decision (which language, which link, which text) is made in package web.
package templates

// Page is what every page's frame needs.
type Page struct {
	HTMLLang    string // value of <html lang>: "en" or "zh-CN"
	Title       string // the <title>
	Description string // <meta name="description">
	SiteName    string
	HomeHref    string
	SkipLink    string // text of the skip-to-content link
	Switch      LangSwitch
	Footer      string
}

// LangSwitch is the English / 中文 switch in the header.
type LangSwitch struct {
	Label   string // accessible name of the switch, e.g. "Language"
	Options []LangOption
}

// LangOption is one language in the switch. Href points at the handler that
// remembers the choice in a cookie and then goes to the same page in that
// language.
type LangOption struct {
	Label    string // "English", "中文"
	HrefLang string // "en", "zh-CN"
	Href     string
	Current  bool
}

// IndexPage is the course overview.
type IndexPage struct {
	Page
	Heading        string
	Intro          string
	OutlineHeading string
	Rows           []OutlineRow
}

// OutlineRow is one lesson of the course: a link when it exists, a plainly
// marked "coming soon" row when it is only planned.
type OutlineRow struct {
	Number    string // "Lesson 2", "第 2 课"
	Title     string
	Summary   string
	Href      string // empty for a planned lesson
	Badge     string // "Coming soon", or a note that the lesson is in English only
	Available bool
	TestID    string
}

// LessonPage is one lesson.
type LessonPage struct {
	Page
	Number       string // "Lesson 2"
	Title        string
	Summary      string
	ContentLang  string // language of the body, may differ from the page when falling back
	FallbackNote string // shown when the lesson is not translated; empty otherwise
	BodyHTML     string // rendered by package lessons at load time; trusted
	NavLabel     string // accessible name of the previous/next navigation
	Prev         NavLink
	Next         NavLink
}

// NavLink is a previous/next link: Kicker is the small line above the title.
type NavLink struct {
	Href   string
	Kicker string
	Title  string
	Rel    string // "prev" or "next" when the link leads to a neighbouring lesson; empty for the overview
}

// ErrorPage is the friendly page for 404 and 500.
type ErrorPage struct {
	Page
	Code      string // "404"
	Heading   string
	Message   string
	BackHref  string
	BackLabel string
}
