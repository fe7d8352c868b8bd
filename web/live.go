package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/run"
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
	// ComputeSlots is how many experiment steps run at once (the CPU the
	// widgets and exports may take); 0 means run.DefaultSlots(): one per
	// core but one, left for serving pages.
	ComputeSlots int
	// MaxMemory and MaxMemoryPerIP cap the memory that open runs may hold
	// (the sum of their experiments' declared budgets), in the whole server
	// and from one address; 0 means the defaults below.
	MaxMemory, MaxMemoryPerIP int64
	// Class configures the classroom (rooms, seats, the board).
	Class ClassOptions
	// Declared, if not nil, is told the memory the open runs declare
	// whenever it changes (under a lock: it must return at once). cmd/web
	// sets the Go runtime's memory limit from it, so that the process
	// holds what its runs need, not twice that in collectable garbage.
	Declared func(total int64)
}

// Default session caps. 16 per address leaves room for a student's many
// tabs, or a small group behind one NAT router.
const (
	// 1,000 pages: two or three classes of 200 (their pages count here
	// too, beside their rooms' caps) and the visitors around them.
	DefaultMaxSessions      = 1000
	DefaultMaxSessionsPerIP = 16
	// A page of eight training races declares 8 × 15 MB: an address may
	// hold about two such pages, the server about thirty.
	DefaultMaxMemory      = 4 << 30
	DefaultMaxMemoryPerIP = 256 << 20
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
	nextID uint64 // session ids, for the scheduler's accounts
	// Memory declared by open runs, in all and per address.
	mem      int64
	memPerIP map[string]int64

	sched   *run.Scheduler
	exports *exporter
	class   *Classroom
	// closeClass closes the rooms once, at the first Shutdown.
	closeClass sync.Once
	// stop is cancelled by Shutdown: exports in flight give up.
	stop       context.Context
	cancelStop context.CancelFunc
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
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	if opts.MaxMemoryPerIP <= 0 {
		opts.MaxMemoryPerIP = DefaultMaxMemoryPerIP
	}
	if opts.Class.RoomMemory <= 0 {
		opts.Class.RoomMemory = DefaultRoomMemory
	}
	l := &Live{
		opts: opts, log: log, sessions: map[*session]struct{}{},
		perIP: map[string]int{}, memPerIP: map[string]int64{},
		sched: run.NewScheduler(opts.ComputeSlots),
	}
	l.stop, l.cancelStop = context.WithCancel(context.Background())
	l.exports = newExporter(l)
	l.class = newClassroom(l, opts.Class, log)
	if opts.Class.Store != nil {
		go l.class.expireLoop(l.stop.Done())
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
func (l *Live) admit(ip string) (id uint64, pe *protoError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closing:
		return 0, &protoError{code: codeShuttingDown, text: run.Text{
			En: "The server is shutting down; the page reconnects when it is back.",
			Zh: "服务器正在关闭；它恢复后页面会自动重新连接。",
		}}
	case l.open >= l.opts.MaxSessions:
		return 0, l.fullError()
	case l.perIP[ip] >= l.opts.MaxSessionsPerIP:
		return 0, &protoError{code: codeTooManySessions, text: run.Text{
			En: fmt.Sprintf("Too many lesson pages are open from your address (at most %d): close other tabs of the course. A class behind one router: join the teacher's room (rooms count seats, not addresses), or the server's -max-sessions-per-ip flag raises it.", l.opts.MaxSessionsPerIP),
			Zh: fmt.Sprintf("从你的地址打开的课程页面太多（最多 %d 个）：请关闭其他课程标签页。同一路由器后的整个班级：请加入老师的班级（班级按座位计数，不按地址），或用服务器的 -max-sessions-per-ip 参数调高上限。", l.opts.MaxSessionsPerIP),
		}}
	}
	l.open++
	l.perIP[ip]++
	l.nextID++
	l.wg.Add(1)
	return l.nextID, nil
}

// reserve counts mem bytes of a new run from ip against the memory caps,
// or refuses it; release gives them back.
func (l *Live) reserve(ip string, mem int64) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.mem+mem > l.opts.MaxMemory:
		return nil, &protoError{code: codeBusy, text: run.Text{
			En: "the server is busy with other widgets; try again in a minute",
			Zh: "服务器正忙于其他组件；请过一分钟再试",
		}}
	case strings.HasPrefix(ip, "room:") && l.memPerIP[ip]+mem > l.opts.Class.RoomMemory:
		return nil, &protoError{code: codeTooManyRuns, text: run.Text{
			En: fmt.Sprintf("this class's runs hold all the memory the server gives a class (%d MB; the server's -room-memory flag sets it): go back to the teacher's run, or try later", l.opts.Class.RoomMemory>>20),
			Zh: fmt.Sprintf("这个班级的运行已用完服务器分给一个班级的内存（%d MB；由服务器的 -room-memory 参数设定）：请回到老师的运行，或稍后再试", l.opts.Class.RoomMemory>>20),
		}}
	case !strings.HasPrefix(ip, "room:") && l.memPerIP[ip]+mem > l.opts.MaxMemoryPerIP:
		return nil, &protoError{code: codeTooManyRuns, text: run.Text{
			En: "too many widgets are running from your address: close other tabs of the course, then press Reset",
			Zh: "从你的地址运行的组件太多：请关闭其他课程标签页，然后按“重置”",
		}}
	}
	l.mem += mem
	if l.opts.Declared != nil {
		l.opts.Declared(l.mem)
	}
	l.memPerIP[ip] += mem
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.mem -= mem
			if l.opts.Declared != nil {
				l.opts.Declared(l.mem)
			}
			if l.memPerIP[ip] -= mem; l.memPerIP[ip] <= 0 {
				delete(l.memPerIP, ip)
			}
		})
	}, nil
}

// admitRoomPage counts a page of a class, which its room has admitted:
// the room caps its pages instead of the address, and the server's cap
// still bounds them all.
func (l *Live) admitRoomPage() (uint64, *protoError) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closing:
		return 0, &protoError{code: codeShuttingDown, text: run.Text{
			En: "The server is shutting down; the page reconnects when it is back.",
			Zh: "服务器正在关闭；它恢复后页面会自动重新连接。",
		}}
	case l.open >= l.opts.MaxSessions:
		return 0, l.fullError()
	}
	l.open++
	l.nextID++
	l.wg.Add(1)
	return l.nextID, nil
}

func (l *Live) releaseRoomPage() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
	l.wg.Done()
}

// fullError is the refusal at MaxSessions.
func (l *Live) fullError() *protoError {
	return &protoError{code: codeBusy, text: run.Text{
		En: fmt.Sprintf("The server is full: %d lesson pages are open at once (the server's -max-sessions flag sets it).", l.opts.MaxSessions),
		Zh: fmt.Sprintf("服务器已满：同时打开了 %d 个课程页面（由服务器的 -max-sessions 参数设定）。", l.opts.MaxSessions),
	}}
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

// socketLang is the language a page asked its session to speak (?lang=zh),
// English otherwise.
func socketLang(r *http.Request) string {
	if r.URL.Query().Get("lang") == "zh" {
		return "zh"
	}
	return "en"
}

// ServeWS handles GET /ws?lang=en|zh: it checks the origin (403 if
// foreign), refuses new sessions while shutting down (503 with
// Retry-After), upgrades and runs a session until the connection ends. A
// session over the caps is upgraded only to be told why, in the page's
// language (an error message, then close code 1013, try again later): a
// browser cannot read the body of a refused upgrade.
func (l *Live) ServeWS(w http.ResponseWriter, r *http.Request) {
	if !l.originAllowed(r) {
		l.log.Info("live: websocket from a foreign origin refused", "origin", r.Header.Get("Origin"), "host", r.Host)
		http.Error(w, "live: websocket origin not allowed", http.StatusForbidden)
		return
	}
	ip, lang := remoteIP(r), socketLang(r)
	// A page of a class counts against its room's pages, not its
	// address's: a class shares one address behind a school's NAT.
	rm, inRoom, pe := l.class.admit(r.URL.Query().Get("room"))
	var id uint64
	if pe == nil && inRoom {
		defer rm.leave()
		id, pe = l.admitRoomPage()
	} else if pe == nil {
		id, pe = l.admit(ip)
	}
	if pe != nil {
		l.log.Info("live: websocket refused", "remote", r.RemoteAddr, "reason", pe.text.En)
		w.Header().Set("Retry-After", sessionRetryAfter)
		if pe.code == codeShuttingDown || !websocket.IsWebSocketUpgrade(r) {
			http.Error(w, pe.text.In(lang), http.StatusServiceUnavailable)
			return
		}
		l.refuse(w, r, pe, lang)
		return
	}
	if rm != nil {
		defer l.releaseRoomPage()
	} else {
		defer l.release(ip)
	}
	conn, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has already answered the request with an error status.
		l.log.Debug("live: upgrade", "err", err)
		return
	}
	log := l.log.With("remote", r.RemoteAddr)
	s := newSession(l, conn, log, lang, run.Owner{Addr: ip, Session: strconv.FormatUint(id, 10)})
	s.roomSlot = rm
	if rm != nil {
		// A page of a class that does not say who it is in time is closed.
		t := time.AfterFunc(authWait, func() {
			if s.memberInfo() == nil {
				log.Info("live: class page did not sit down in time; closed")
				s.conn.Close()
			}
		})
		defer t.Stop()
	}
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

// refuse upgrades r only to send the refusal pe and close with 1013.
func (l *Live) refuse(w http.ResponseWriter, r *http.Request, pe *protoError, lang string) {
	conn, err := l.upgrader.Upgrade(w, r, http.Header{"Retry-After": {sessionRetryAfter}})
	if err != nil {
		return
	}
	defer conn.Close()
	b, _ := json.Marshal(errorMsg{V: protocolVersion, Type: "error", Code: pe.code, Message: pe.text.In(lang)})
	conn.SetWriteDeadline(time.Now().Add(writeWait))
	if conn.WriteMessage(websocket.TextMessage, b) != nil {
		return
	}
	// A close reason is at most 123 bytes: the code says it, the message
	// above explains it.
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, pe.code))
	conn.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return // the peer's close frame, or the grace ran out
		}
	}
}

// Shutdown sends a close frame (1001 going away) to every open socket,
// refuses new ones, and waits until every session has ended or ctx is done
// (then it returns ctx's error; the connections are closed by their writers
// within closeGrace of the close frame anyway).
func (l *Live) Shutdown(ctx context.Context) error {
	l.mu.Lock()
	if !l.closing {
		l.closing = true
		l.cancelStop() // exports in flight give up: their clients get 503
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
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// The pages are gone: each room records and saves its board a last
	// time, so that a restart mid-class loses no curve.
	l.closeClass.Do(l.class.close)
	return err
}
