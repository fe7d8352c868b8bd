package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// LiveOptions configures the live road (websocket sessions and exports).
type LiveOptions struct {
	// AllowedOrigins lists extra allowed Origin values (scheme://host[:port])
	// besides the request's own host.
	AllowedOrigins []string
}

// Live serves the websocket sessions that drive the lesson widgets
// (GET /ws, protocol in docs/protocol.md) and the exports of a widget's
// state (GET /export/{file}). Each connection is a session owning its runs.
type Live struct {
	opts     LiveOptions
	log      *slog.Logger
	upgrader websocket.Upgrader

	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup // one per open session
}

// NewLive returns a Live ready to serve. A nil log discards log output.
func NewLive(opts LiveOptions, log *slog.Logger) *Live {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Live{opts: opts, log: log, sessions: map[*session]struct{}{}}
	l.upgrader = websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 8192,
		// ServeWS checks the origin itself before upgrading, to answer a
		// refusal with a clear 403.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return l
}

// originAllowed reports whether a websocket request may be upgraded: no
// Origin header (not a browser), an Origin naming the request's own host, or
// one listed in LiveOptions.AllowedOrigins. Browsers always send Origin on
// websocket requests, so a page of another site cannot drive a session.
func (l *Live) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range l.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	return false
}

// ServeWS handles GET /ws: it checks the origin (403 if foreign), upgrades
// and runs a session until the connection ends. While shutting down it
// answers 503.
func (l *Live) ServeWS(w http.ResponseWriter, r *http.Request) {
	if !l.originAllowed(r) {
		l.log.Info("live: websocket from a foreign origin refused", "origin", r.Header.Get("Origin"), "host", r.Host)
		http.Error(w, "live: websocket origin not allowed", http.StatusForbidden)
		return
	}
	l.mu.Lock()
	closing := l.closing
	if !closing {
		l.wg.Add(1)
	}
	l.mu.Unlock()
	if closing {
		http.Error(w, "live: server is shutting down", http.StatusServiceUnavailable)
		return
	}
	defer l.wg.Done()
	conn, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already answered the request with an error status.
		l.log.Debug("live: upgrade", "err", err)
		return
	}
	log := l.log.With("remote", r.RemoteAddr)
	s := newSession(l, conn, log)
	l.mu.Lock()
	if l.closing { // Shutdown began between the check above and now
		close(s.shutdown)
	}
	l.sessions[s] = struct{}{}
	l.mu.Unlock()
	log.Debug("live: session open")

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		s.writePump()
	}()
	s.readPump()
	<-writerDone
	s.closeRuns()

	l.mu.Lock()
	delete(l.sessions, s)
	l.mu.Unlock()
	log.Debug("live: session closed", "frames", s.framesSent, "bytes", s.bytesSent)
}

// Shutdown sends a close frame (1001 going away) to every open socket,
// refuses new ones, and waits until every session has ended or ctx is done
// (then it returns ctx's error; the connections are closed by their writers
// within closeGrace of the close frame anyway).
func (l *Live) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	if !l.closing {
		l.closing = true
		for s := range l.sessions {
			close(s.shutdown)
		}
	}
	l.mu.Unlock()
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
