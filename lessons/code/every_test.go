package code_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/paramshare/paramshare/lessons"
)

// TestEveryLessonShowsCodeAndSources holds every lesson, in both
// languages, to the course's promise: an "In code" section that shows
// real code (the directive fails the load otherwise), and a References
// list at the end that cites with links.
func TestEveryLessonShowsCodeAndSources(t *testing.T) {
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	heading := map[string]string{"en": "References", "zh": "参考文献"}
	refs := regexp.MustCompile(`(?s)<h2[^>]*>(References|参考文献)</h2>\s*<ul>(.*?)</ul>\s*$`)
	for _, lang := range lessons.Languages {
		for _, l := range set.Lessons(lang) {
			if l.Lang != lang {
				continue // a fallback to the other language
			}
			if !strings.Contains(l.HTML, `class="in-code"`) {
				t.Errorf("%s: no In code section", l.File)
			}
			m := refs.FindStringSubmatch(l.HTML)
			if m == nil || m[1] != heading[lang] {
				t.Errorf("%s: does not end with a %q list", l.File, heading[lang])
				continue
			}
			if n := strings.Count(m[2], "<li>"); n == 0 || strings.Count(m[2], `<a href="http`) < n {
				t.Errorf("%s: %d references, %d with a link: cite each source with a link", l.File, n, strings.Count(m[2], `<a href="http`))
			}
		}
	}
}
