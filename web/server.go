// Package web is ParamShare's HTTP side: the pages (course overview,
// lessons, errors) rendered with templ, the embedded static assets, the
// live websocket sessions and exports (live.go), and the middleware that
// wraps them all. It does no math.
package web

import (
	"log/slog"
	"net/http"

	"github.com/paramshare/paramshare/lessons"
)

// NewServer returns the whole site as one handler: every route of
// routes.go behind security headers, request logging and panic recovery.
// set is the course to serve and live handles /ws and /export; log may be
// nil to discard logs. It panics if set or live is nil (a wiring mistake).
func NewServer(log *slog.Logger, set *lessons.Set, live *Live) http.Handler {
	if set == nil || live == nil {
		panic("web: NewServer needs a lesson set and a Live")
	}
	if log == nil {
		log = discardLogger()
	}
	mux := http.NewServeMux()
	addRoutes(mux, log, set, live)
	var h http.Handler = mux
	h = recoverPanics(log, serverError(log))(h)
	h = logRequests(log)(h)
	h = securityHeaders(h)
	return h
}
