package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	// MaxSessions caps the open sessions (websockets) of the whole server;
	// 0 means DefaultMaxSessions. Each session may run maxRuns widgets, so
	// this bounds the CPU that connections can claim.
	MaxSessions int
	// MaxSessionsPerIP caps the open sessions from one remote address, so
	// that one client cannot get around the per-session command rate by
	// opening many connections; 0 means DefaultMaxSessionsPerIP. A class
	// behind NAT (or a reverse proxy) shares one address: raise it there.
	MaxSessionsPerIP int
}

// Default session caps. 16 per address leaves room for a student's many
// tabs, or a small group behind one NAT router.
const (
	DefaultMaxSessions      = 256
	DefaultMaxSessionsPerIP = 16
)

// sessionRetryAfter is the Retry-After (seconds) of a refusal at the cap.
const sessionRetryAfter = "10"

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
	// Sessions counted against the caps, from the check before the upgrade
	// until the session has ended.
	open   int
	perIP  map[string]int
	export chan struct{} // the shared export semaphore (export.go)
}

// NewLive returns a Live ready to serve. A nil log discards log output.
func NewLive(opts LiveOptions, log *slog.Logger) *Live {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.MaxSessionsPerIP <= 0 {
		opts.MaxSessionsPerIP = DefaultMaxSessionsPerIP
	}
	l := &Live{
		opts: opts, log: log, sessions: map[*session]struct{}{},
		perIP: map[string]int{}, export: make(chan struct{}, exportSlots),
	}
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
// A missing Origin is accepted on purpose: only a non-browser client can
// omit it, and such a client can as easily send a matching Origin, so
// refusing it would protect nothing and only break tools (websocat, tests);
// the session caps and rate limits apply to it all the same.
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

// remoteIP is the address a session is counted against: the host part of
// RemoteAddr (the proxy's, behind a reverse proxy: forwarded headers are
// not trusted, since any client can write them).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// admit counts a new session from ip against the caps, or returns why it
// is refused. Every nil return must be paired with a release(ip).
func (l *Live) admit(ip string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closing:
		return errors.New("live: server is shutting down")
	case l.open >= l.opts.MaxSessions:
		return fmt.Errorf("live: too many open sessions (the server allows %d at once); try again later", l.opts.MaxSessions)
	case l.perIP[ip] >= l.opts.MaxSessionsPerIP:
		return fmt.Errorf("live: too many open sessions from your address (at most %d); close other tabs of the course and reload", l.opts.MaxSessionsPerIP)
	}
	l.open++
	l.perIP[ip]++
	l.wg.Add(1)
	return nil
}

// release frees the slot admit took for ip.
func (l *Live) release(ip string) {
	l.mu.Lock()
	l.open--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
	l.mu.Unlock()
	l.wg.Done()
}

// ServeWS handles GET /ws: it checks the origin (403 if foreign) and the
// session caps (503 with a reason and Retry-After at the cap, or while
// shutting down), upgrades and runs a session until the connection ends.
func (l *Live) ServeWS(w http.ResponseWriter, r *http.Request) {
	if !l.originAllowed(r) {
		l.log.Info("live: websocket from a foreign origin refused", "origin", r.Header.Get("Origin"), "host", r.Host)
		http.Error(w, "live: websocket origin not allowed", http.StatusForbidden)
		return
	}
	ip := remoteIP(r)
	if err := l.admit(ip); err != nil {
		l.log.Info("live: websocket refused", "remote", r.RemoteAddr, "reason", err)
		w.Header().Set("Retry-After", sessionRetryAfter)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer l.release(ip)
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
