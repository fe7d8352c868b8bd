// Package e2e holds the real-browser tests of the site: each lesson page
// opened in a headless Chromium (chromedp), its widget driven as a learner
// drives it — play, step, seek, draw, keys with focus in the widget — and
// the numbers on screen checked against the engine and lab computed here
// directly. They also cover what only a browser shows: a page that
// reconnects comes back to the step it showed, a page turned away at the
// session cap shows the server's reason, and the Chinese pages speak
// Chinese. Screenshots (desktop, a 390-px phone, Chinese) go to
// $PARAMSHARE_SCREENSHOT_DIR, or else to the test's temporary directory.
//
// The tests skip under -short and when no Chromium is found, unless
// PARAMSHARE_REQUIRE_BROWSER=1 makes a missing browser a failure:
//
//	PARAMSHARE_REQUIRE_BROWSER=1 go test -count=1 ./e2e/ -v
//
// The package has only tests; this file is its documentation.
package e2e
