package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paramshare/paramshare/web"
)

// TestBrowserLessonsFitAPhone opens every lesson, in both languages, on a
// 390-px phone and requires that nothing but a scroll box (a code block, a
// wide formula, a table) is wider than the screen: the page itself never
// scrolls sideways.
func TestBrowserLessonsFitAPhone(t *testing.T) {
	chrome := requireBrowser(t)
	s := startSite(t, web.LiveOptions{})
	ctx := newBrowser(t, chrome, 150*time.Second)
	do(t, ctx, "open the course", chromedp.Navigate(s.URL+"/en/"))
	desktop := phoneViewport(t, ctx)
	defer desktop()
	for _, lang := range []string{"en", "zh"} {
		for _, l := range s.set.Lessons(lang) {
			do(t, ctx, "open "+lang+"/"+l.Slug,
				chromedp.Navigate(s.URL+"/"+lang+"/lessons/"+l.Slug),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="lesson-body"]`)),
				chromedp.Sleep(300*time.Millisecond),
			)
			// The widest element that pokes out of the viewport, if any.
			over := evalJS[string](t, ctx, `(() => {
				const vw = document.documentElement.clientWidth;
				if (document.documentElement.scrollWidth <= vw + 1) return "";
				let worst = null, right = vw;
				// Inside a box that scrolls sideways, being wide is allowed.
				const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
				const inScrollBox = (el) => { for (let p = el.parentElement; p; p = p.parentElement) if (scrolls(p)) return true; return false; };
				for (const el of document.querySelectorAll("body *")) {
					const r = el.getBoundingClientRect().right;
					if (r <= right + 1 || inScrollBox(el)) continue;
					right = r;
					worst = el;
				}
				const name = worst ? worst.tagName.toLowerCase() + (worst.className ? "." + String(worst.className).split(" ")[0] : "") + " " + (worst.textContent || "").trim().slice(0, 40) : "?";
				return name + " reaches " + Math.round(right) + " px of " + vw + " (page " + document.documentElement.scrollWidth + ")";
			})()`)
			if over != "" {
				t.Errorf("%s/%s on a 390-px phone: the page scrolls sideways: %s", lang, l.Slug, over)
			}
		}
	}
}
