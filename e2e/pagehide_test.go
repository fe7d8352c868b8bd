package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paramshare/paramshare/web"
)

// TestBrowserLeftPagesFreeTheirSession browses one tab through several
// lessons on a server that admits two pages per address: the pages left
// behind (which the browser may keep in its back/forward cache, socket
// and all) must give their sessions back, so that the page in front
// still gets one.
func TestBrowserLeftPagesFreeTheirSession(t *testing.T) {
	chrome := requireBrowser(t)
	s := startSite(t, web.LiveOptions{MaxSessionsPerIP: 2})
	ctx := newBrowser(t, chrome, 90*time.Second)
	open := func(slug, widget string) {
		t.Helper()
		do(t, ctx, "open "+slug,
			chromedp.Navigate(s.URL+"/en/lessons/"+slug),
			connected(widget, 15*time.Second),
		)
	}
	open("why-share", `[data-widget="param-calc"]`)
	open("one-kernel-many-places", slideWidget)
	open("how-a-shared-kernel-learns", `[data-widget="conv-grad"]`)
	open("one-cell-many-time-steps", `[data-widget="rnn-unroll"]`)
	open("backprop-through-time", `[data-widget="bptt-ledger"]`)
	open("count-a-real-model", `[data-widget="model-count"]`)
}
