package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paramshare/paramshare/web"
)

// TestBrowserInCode opens every lesson that has an "In code" section, in
// both languages: the section shows PyTorch and Go code that is not empty,
// each file's download link serves that file (the shown lines are in it),
// the phone layout keeps the section within the page (the code scrolls
// inside its box), and screenshots of the section are saved.
func TestBrowserInCode(t *testing.T) {
	chrome := requireBrowser(t)
	s := startSite(t, web.LiveOptions{})
	ctx := newBrowser(t, chrome, 150*time.Second)
	seen := 0
	for _, lang := range []string{"en", "zh"} {
		for _, l := range s.set.Lessons(lang) {
			if !strings.Contains(l.HTML, `class="in-code"`) {
				continue
			}
			seen++
			do(t, ctx, "open "+lang+"/"+l.Slug,
				chromedp.Navigate(s.URL+"/"+lang+"/lessons/"+l.Slug),
				chromedp.WaitVisible(chromedp.CSS(".in-code")),
			)
			figs := evalJS[[]string](t, ctx, `[...document.querySelectorAll(".in-code figure")].map((f) => f.dataset.code + " " + f.querySelector("pre").textContent.length)`)
			if len(figs) == 0 {
				t.Fatalf("%s/%s: the In code section shows no code", lang, l.Slug)
			}
			for _, f := range figs {
				if strings.HasSuffix(f, " 0") {
					t.Errorf("%s/%s: an empty code box: %s", lang, l.Slug, f)
				}
			}
			// Each download serves the file the box shows lines of.
			bad := evalJSAsync[[]string](t, ctx, `(async () => {
				const out = [];
				for (const f of document.querySelectorAll(".in-code figure")) {
					const a = f.querySelector("figcaption a");
					const r = await fetch(a.href);
					const body = await r.text();
					const first = f.querySelector("pre").textContent.split("\n").find((l) => l.trim() !== "");
					if (!r.ok || !body.includes(first)) out.push(a.getAttribute("href") + " " + r.status);
				}
				return out;
			})()`)
			if len(bad) > 0 {
				t.Errorf("%s/%s: downloads that do not serve the code shown: %v", lang, l.Slug, bad)
			}
			if l.Slug == "how-a-shared-kernel-learns" {
				name := fmt.Sprintf("incode-%s-%s", l.Slug, lang)
				shots := map[string][]byte{"paramshare-" + name + "-desktop.png": shoot(t, ctx, ".in-code")}
				desktop := phoneViewport(t, ctx)
				pageFits(t, ctx, ".in-code")
				shots["paramshare-"+name+"-phone.png"] = shoot(t, ctx, ".in-code")
				desktop()
				saveScreenshots(t, shots)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no lesson has an In code section")
	}
	t.Logf("%d lesson pages with an In code section", seen)
}
