package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/paramshare/paramshare/run"
)

// Connection limits and timing, as in gorilla's chat example. docs/protocol.md
// lists them for client authors.
const (
	// writeWait is how long one write may take before the peer is
	// considered gone.
	writeWait = 10 * time.Second
	// pongWait is how long the peer may be silent (no pong, no message).
	pongWait = 60 * time.Second
	// pingPeriod must be shorter than pongWait so a healthy peer's pong
	// arrives before the read deadline.
	pingPeriod = pongWait * 9 / 10
	// maxMessageSize is the read limit: the largest client message, a start
	// with its parameters (a drawing of 784 pixels included), is about
	// 2 kB. Larger ones close the connection with 1009 (message too big).
	maxMessageSize = 4096
	// closeGrace is how long the writer waits for the peer's reply to its
	// close frame before dropping the connection.
	closeGrace = time.Second

	// commandRate and commandBurst are the token bucket of client commands
	// per session: a steady 20 per second, bursts of 60. A start, which
	// builds an experiment on the reader (a model's buffers: a few
	// milliseconds and megabytes), costs startCost of them; a page of
	// maxRuns widgets reconnecting (start, speed, seek each) fits one burst.
	commandRate  = 20
	commandBurst = 60
	startCost    = 5
	// maxRuns is how many widgets one page (session) may run at once.
	maxRuns = 8
	// maxFramesPerSecond is how many frame messages a session sends per
	// second, over all its widgets: each widget sends only its latest
	// update, the widgets taking turns when updates come faster.
	maxFramesPerSecond = 30
	// sendQueue bounds the replies (errors) waiting for the writer; a
	// client that lets it fill is not reading and is dropped.
	sendQueue = 64
	// protocolVersion is the "v" of every message.
	protocolVersion = 1
)

// Error codes of the protocol's error message (besides run's: bad-params,
// run-done, run-closed, unknown-experiment, step-failed).
const (
	codeBadJSON         = "bad-json"
	codeBadVersion      = "bad-version"
	codeUnknownType     = "unknown-type"
	codeUnknownField    = "unknown-field"
	codeBadFieldType    = "bad-field-type"
	codeMissingField    = "missing-field"
	codeBadWidget       = "bad-widget"
	codeUnknownWidget   = "unknown-widget"
	codeTooManyRuns     = "too-many-runs"
	codeRateLimited     = "rate-limited"
	codeBusy            = "server-busy"
	codeTooManySessions = "too-many-sessions"
	codeShuttingDown    = "shutting-down"
	codeInternal        = "internal"
)

// clientMsg is a decoded client message.
type clientMsg struct {
	Type       string
	Widget     string
	Experiment string
	Params     json.RawMessage
	N, To      *int
	Speed      *float64
	Follow     bool
	Fork       bool
	// Room messages (docs/classroom.md).
	Room, Seat, Secret, Lesson, Cmd, Message string
	present                                  map[string]bool
}

// allowedFields lists, per client message type, the fields besides v, type
// and widget that it may carry.
var allowedFields = map[string][]string{
	"start":      {"experiment", "params", "follow", "fork"},
	"play":       nil,
	"pause":      nil,
	"step":       {"n"},
	"seek":       {"to"},
	"reset":      nil,
	"set-params": {"params"},
	"speed":      {"speed"},
	"seat":       {"room", "seat", "lesson"},
	"teach":      {"room", "secret", "lesson"},
	"watch":      {"room"},
	"room-cmd":   {"cmd", "seat", "lesson", "message", "widget"},
}

var widgetID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Server messages.
type helloMsg struct {
	V           int                 `json:"v"`
	Type        string              `json:"type"`
	Lang        string              `json:"lang"`
	Experiments []string            `json:"experiments"`
	Specs       map[string]specInfo `json:"specs"`
	Limits      limits              `json:"limits"`
}

// specInfo is an experiment's spec as a page sees it.
type specInfo struct {
	Title   string          `json:"title"`
	Fields  []run.FieldInfo `json:"fields"`
	Exports []exportInfo    `json:"exports"`
	// Trains: a training experiment (its own settings restart it; a
	// class's board draws it).
	Trains bool `json:"trains"`
}

type exportInfo struct {
	Format string `json:"format"`
	Heavy  bool   `json:"heavy,omitempty"`
}

type limits struct {
	MaxMessageBytes    int     `json:"maxMessageBytes"`
	CommandsPerSecond  int     `json:"commandsPerSecond"`
	CommandBurst       int     `json:"commandBurst"`
	MaxRuns            int     `json:"maxRuns"`
	MinSpeed           float64 `json:"minSpeed"`
	MaxSpeed           float64 `json:"maxSpeed"`
	MaxStep            int     `json:"maxStep"`
	MaxFramesPerSecond int     `json:"maxFramesPerSecond"`
}

type stateMsg struct {
	V      int       `json:"v"`
	Type   string    `json:"type"`
	Widget string    `json:"widget"`
	State  run.State `json:"state"`
	Speed  float64   `json:"speed"`
	Step   int       `json:"step"`
	Total  int       `json:"total"`
	Target *int      `json:"target,omitempty"`
	Error  string    `json:"error,omitempty"`
	// Follow: the widget shows a run it does not drive (a class's); Params
	// are that run's, for the page to fork it.
	Follow bool            `json:"follow,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
}

type errorMsg struct {
	V       int    `json:"v"`
	Type    string `json:"type"`
	Widget  string `json:"widget,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// helloFor builds the hello message of a session in lang.
func helloFor(lang string) []byte {
	h := helloMsg{
		V: protocolVersion, Type: "hello", Lang: lang, Experiments: run.Experiments(), Specs: map[string]specInfo{},
		Limits: limits{
			MaxMessageBytes: maxMessageSize, CommandsPerSecond: commandRate, CommandBurst: commandBurst,
			MaxRuns: maxRuns, MinSpeed: run.MinSpeed, MaxSpeed: run.MaxSpeed, MaxStep: run.MaxStepN,
			MaxFramesPerSecond: maxFramesPerSecond,
		},
	}
	for _, s := range run.Specs() {
		si := specInfo{Title: s.Title.In(lang), Fields: []run.FieldInfo{}, Exports: []exportInfo{}, Trains: s.Trains}
		for _, f := range s.Fields {
			si.Fields = append(si.Fields, f.Info(lang))
		}
		for _, e := range s.Exports {
			si.Exports = append(si.Exports, exportInfo{Format: e.Format, Heavy: e.Heavy})
		}
		h.Specs[s.Name] = si
	}
	b, err := json.Marshal(h)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// session is one websocket connection: exactly one reader (readPump, which
// runs commands) and one writer (writePump, the only goroutine that writes
// to conn). Runs belong to the session and are closed with it.
type session struct {
	live  *Live
	conn  *websocket.Conn
	log   *slog.Logger
	lang  string
	owner run.Owner

	send     chan []byte   // replies for the writer, bounded by sendQueue
	notify   chan struct{} // capacity 1, shared by every run's subscription
	shutdown chan struct{} // closed by Live.Shutdown
	readDone chan struct{} // closed when readPump returns

	mu      sync.Mutex
	widgets map[string]*widget
	order   []string // widget ids in start order: the writer's turns
	member  *member  // the page's place in a room, once seated

	// roomSlot is the room the page was admitted into (?room=): set
	// before the pumps start, released when the session ends.
	roomSlot *room

	// Reader-only state.
	bucket        tokenBucket
	lastRateError time.Time

	// Writer-only state; the counters are read after the writer finished.
	frames                tokenBucket
	turn                  int
	framesSent, bytesSent int
}

// widget is one run of the session. The sent* fields belong to the writer.
type widget struct {
	id  string
	run *run.Run // the run shown
	// own is the run the page drives: run itself, or nil when the widget
	// follows a room's run (or, for the teacher's, when a student's run is
	// in the spotlight, run is that one and own the teacher's).
	own *run.Run
	sub *run.Subscription

	sentRev    int
	sentStatic bool
	sentState  string // the last state message sent, to send only changes
}

func newSession(l *Live, conn *websocket.Conn, log *slog.Logger, lang string, owner run.Owner) *session {
	return &session{
		live: l, conn: conn, log: log, lang: lang, owner: owner,
		send:     make(chan []byte, sendQueue),
		notify:   make(chan struct{}, 1),
		shutdown: make(chan struct{}),
		readDone: make(chan struct{}),
		widgets:  map[string]*widget{},
		bucket:   tokenBucket{rate: commandRate, burst: commandBurst, tokens: commandBurst},
		frames:   tokenBucket{rate: maxFramesPerSecond, burst: maxRuns, tokens: maxRuns},
	}
}

// readPump reads and runs commands until the connection fails or closes.
// Commands only change runs' control state: the work they start happens on
// the runs' own workers, so the reader is always ready for the next one.
func (s *session) readPump() {
	defer close(s.readDone)
	s.conn.SetReadLimit(maxMessageSize)
	s.conn.SetReadDeadline(time.Now().Add(pongWait))
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		kind, msg, err := s.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.log.Info("live: message too big, connection closed with 1009", "limit", maxMessageSize)
			} else if websocket.IsUnexpectedCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure, websocket.CloseNoStatusReceived) {
				s.log.Debug("live: read", "err", err)
			}
			return
		}
		// Any message shows the peer is alive.
		s.conn.SetReadDeadline(time.Now().Add(pongWait))
		if kind != websocket.TextMessage {
			s.replyErr(&protoError{code: codeBadJSON, text: run.Text{En: "messages must be JSON text, not binary", Zh: "消息必须是 JSON 文本，不能是二进制"}})
			continue
		}
		if !s.bucket.take(time.Now()) {
			s.rateLimited()
			continue
		}
		s.handle(msg)
	}
}

// rateLimited tells the client a command was dropped, once a second at
// most, so that a flood of commands does not become a flood of replies.
func (s *session) rateLimited() {
	if now := time.Now(); now.Sub(s.lastRateError) >= time.Second {
		s.lastRateError = now
		s.replyErr(&protoError{code: codeRateLimited, text: run.Text{
			En: fmt.Sprintf("too many commands: at most %d per second (bursts of %d; a start counts %d); this one was dropped", commandRate, commandBurst, startCost),
			Zh: fmt.Sprintf("命令太多：每秒最多 %d 条（突发 %d 条；一条 start 算 %d 条）；这一条已被丢弃", commandRate, commandBurst, startCost),
		}})
	}
}

// handle parses one command and runs it; every refusal becomes an error
// message in the session's language and leaves the session as it was.
func (s *session) handle(msg []byte) {
	m, err := parseClientMsg(msg)
	if err == nil && m.Type == "start" && !s.bucket.takeN(time.Now(), startCost-1) {
		s.rateLimited()
		return
	}
	if err == nil {
		err = s.run(m)
	}
	if err != nil {
		var pe *protoError
		if errors.As(err, &pe) {
			s.replyErr(pe)
			return
		}
		code, message := run.Message(err, s.lang)
		if code == run.CodeStepFailed && !errors.As(err, new(*run.Error)) {
			s.log.Error("live: command failed", "type", m.Type, "err", err)
			code, message = codeInternal, run.Text{En: "internal error (logged)", Zh: "服务器内部错误（已记录）"}.In(s.lang)
		}
		s.reply(errorMsg{Widget: m.Widget, Code: code, Message: message})
	}
}

// run carries out a parsed command.
func (s *session) run(m *clientMsg) error {
	if roomTypes[m.Type] {
		return s.roomCommand(m)
	}
	if s.roomSlot != nil && s.memberInfo() == nil {
		return &protoError{widget: m.Widget, code: codeRoomAuth, text: run.Text{
			En: "a page of a class must send seat or teach first",
			Zh: "班级中的页面必须先发送 seat 或 teach",
		}}
	}
	if m.Type == "start" {
		return s.start(m)
	}
	s.mu.Lock()
	w := s.widgets[m.Widget]
	s.mu.Unlock()
	if w == nil {
		return &protoError{widget: m.Widget, code: codeUnknownWidget, text: run.Text{
			En: fmt.Sprintf("widget %q has no run; send start first", m.Widget),
			Zh: fmt.Sprintf("组件 %q 还没有运行；请先发送 start", m.Widget),
		}}
	}
	if w.own == nil || w.run != w.own {
		return &protoError{widget: m.Widget, code: codeFollowing, text: run.Text{
			En: "You are following the teacher's run: fork it to change it.",
			Zh: "你正在跟随老师的运行：复制为自己的运行后才能改动。",
		}}
	}
	mem := s.memberInfo()
	if mem != nil && mem.role == "student" && m.Type != "speed" && mem.room.paused() {
		return &protoError{widget: m.Widget, code: codePaused, text: run.Text{
			En: "The teacher has paused the class: your run waits until the teacher resumes.",
			Zh: "老师暂停了全班：你的运行要等老师继续后才能操作。",
		}}
	}
	if mem != nil && mem.role == "student" && w.run.Scored() {
		// A class's training runs take turns beyond the room's cap.
		switch m.Type {
		case "play":
			return mem.room.play(s, m.Widget, w.run)
		case "pause", "step", "seek", "reset":
			mem.room.unqueue(w.run)
		}
	}
	switch m.Type {
	case "play":
		return w.run.Play()
	case "pause":
		return w.run.Pause()
	case "step":
		n := 1
		if m.N != nil {
			n = *m.N
		}
		return w.run.Step(n)
	case "seek":
		return w.run.Seek(*m.To)
	case "reset":
		return w.run.Reset()
	case "set-params":
		return w.run.SetParams(m.Params)
	case "speed":
		return w.run.SetSpeed(*m.Speed)
	}
	return fmt.Errorf("live: command %q not dispatched", m.Type)
}

// start builds a run for a widget, replacing the widget's old run only when
// the new one was built.
func (s *session) start(m *clientMsg) error {
	spec, ok := run.Lookup(m.Experiment)
	if !ok {
		_, err := run.Start(m.Experiment, nil, run.Options{}) // the registry's refusal, in both languages
		return err
	}
	s.mu.Lock()
	old := s.widgets[m.Widget]
	n := len(s.widgets)
	s.mu.Unlock()
	if old == nil && n >= maxRuns {
		return &protoError{widget: m.Widget, code: codeTooManyRuns, text: run.Text{
			En: fmt.Sprintf("a page may run at most %d widgets at once", maxRuns),
			Zh: fmt.Sprintf("一个页面最多同时运行 %d 个组件", maxRuns),
		}}
	}
	mem := s.memberInfo()
	if m.Follow {
		if mem == nil || mem.role == "watch" {
			return &protoError{widget: m.Widget, code: codeNoSeat, text: run.Text{
				En: "only a page seated in a class can follow the teacher's run",
				Zh: "只有加入班级的页面才能跟随老师的运行",
			}}
		}
		return mem.room.followStart(s, mem.lesson, m.Widget)
	}
	var r *run.Run
	if m.Fork {
		var err error
		if r, err = s.fork(mem, m.Widget, spec); err != nil {
			return err
		}
	} else if err := run.Validate(m.Experiment, m.Params); err != nil {
		return err // bad parameters are refused as such, before anything is reserved
	} else {
		r = s.takeBack(mem, m.Widget, spec, m.Params)
	}
	if r == nil {
		release, err := s.live.reserve(s.owner.Addr, spec.Budget.Memory)
		if err != nil {
			return err
		}
		if r, err = run.Start(m.Experiment, m.Params, run.Options{Sched: s.live.sched, Owner: s.owner}); err != nil {
			release()
			return err
		}
		go func() { <-r.Done(); release() }()
	}
	if mem != nil {
		mem.room.unfollow(s, mem.lesson, m.Widget)
	}
	old = s.putWidget(&widget{id: m.Widget, run: r, own: r, sub: r.Subscribe(s.notify)})
	if old != nil {
		old.sub.Unsubscribe()
		if old.own != nil && old.own != r {
			if mem != nil {
				mem.room.unqueue(old.own)
			}
			old.own.Close()
		}
	}
	switch {
	case mem != nil && mem.role == "teacher":
		mem.room.bindTeacher(s, mem.lesson, m.Widget, r)
	case mem != nil && mem.role == "student":
		mem.room.record(mem.seat.ID, m.Widget, r)
	}
	return nil
}

// forkWait is how long a fork waits for the followed run's worker to copy
// its experiment between two steps before replaying it instead.
const forkWait = 5 * time.Second

// fork makes the run widget follows the page's own: a copy of its
// experiment at its step when the experiment can be copied (no step is
// computed again), else a run of its parameters sought to its step (a
// replay, deterministic). The copy's memory is the seat's.
func (s *session) fork(mem *member, widget string, spec *run.Spec) (*run.Run, error) {
	s.mu.Lock()
	w := s.widgets[widget]
	s.mu.Unlock()
	if mem == nil || mem.role != "student" || w == nil || w.own != nil {
		return nil, &protoError{widget: widget, code: codeNoSeat, text: run.Text{
			En: "only a widget following the teacher's run can fork it",
			Zh: "只有正在跟随老师运行的组件才能复制它",
		}}
	}
	if w.run.Spec() != spec {
		return nil, &protoError{widget: widget, code: run.CodeBadParams, text: run.Text{
			En: fmt.Sprintf("the followed run is %s, not %s", w.run.Spec().Name, spec.Name),
			Zh: fmt.Sprintf("跟随的运行是 %s，不是 %s", w.run.Spec().Name, spec.Name),
		}}
	}
	release, err := s.live.reserve(s.owner.Addr, spec.Budget.Memory)
	if err != nil {
		return nil, err
	}
	opts := run.Options{Sched: s.live.sched, Owner: s.owner}
	ctx, cancel := context.WithTimeout(context.Background(), forkWait)
	defer cancel()
	r, err := w.run.Fork(ctx, opts)
	if err != nil {
		u := w.run.Snapshot()
		if r, err = run.Start(spec.Name, mustJSON(u.Params), opts); err == nil {
			if err = r.Seek(u.Step); err != nil {
				r.Close()
			}
		}
	}
	if err != nil {
		release()
		return nil, err
	}
	go func() { <-r.Done(); release() }()
	return r, nil
}

// takeBack returns the run a seated page left behind for this widget (a
// student's parked run, the teacher's room run) when the page starts it
// again with the same experiment and parameters: a refresh or a dropped
// connection comes back to the same run, at its step.
func (s *session) takeBack(mem *member, widget string, spec *run.Spec, raw json.RawMessage) *run.Run {
	switch {
	case mem == nil:
		return nil
	case mem.role == "student":
		return mem.room.unpark(parkKey{mem.seat.ID, mem.lesson, widget}, spec, raw)
	case mem.role == "teacher":
		return mem.room.takeTeacher(s, bindKey{mem.lesson, widget}, spec, raw)
	}
	return nil
}

// reply queues a message for the writer. A client whose queue is full is
// not reading; it is disconnected rather than buffered without bound.
func (s *session) reply(m errorMsg) {
	m.V, m.Type = protocolVersion, "error"
	b, err := json.Marshal(m)
	if err != nil {
		s.log.Error("live: encode error message", "err", err)
		return
	}
	select {
	case s.send <- b:
	default:
		s.log.Info("live: client not reading replies; closing")
		s.conn.Close()
	}
}

func (s *session) replyErr(pe *protoError) {
	s.reply(errorMsg{Widget: pe.widget, Code: pe.code, Message: pe.text.In(s.lang)})
}

// writePump is the only writer of the connection: hello, replies, frames
// (paced to maxFramesPerSecond), pings and the final close frame.
func (s *session) writePump() {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	pace := time.NewTimer(time.Hour)
	pace.Stop()
	paceArmed := false

	defer s.conn.Close()
	if s.write(websocket.TextMessage, helloFor(s.lang)) != nil {
		return
	}
	flush := func() error {
		more, err := s.flush()
		if more && !paceArmed {
			pace.Reset(time.Second / maxFramesPerSecond)
			paceArmed = true
		}
		return err
	}
	for {
		select {
		case b := <-s.send:
			if s.write(websocket.TextMessage, b) != nil {
				return
			}
		case <-s.notify:
			if !paceArmed && flush() != nil {
				return
			}
		case <-pace.C:
			paceArmed = false
			if flush() != nil {
				return
			}
		case <-ping.C:
			if s.write(websocket.PingMessage, nil) != nil {
				return
			}
		case <-s.shutdown:
			s.write(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"))
			// Give the peer a moment to answer the close frame so the
			// close handshake completes cleanly.
			select {
			case <-s.readDone:
			case <-time.After(closeGrace):
			}
			return
		case <-s.readDone:
			return
		}
	}
}

// flush sends each widget's latest update, taking turns from where the
// last flush stopped, while the frame budget lasts: a state message when
// the state changed, then the frame (with the static part when it
// changed). It reports whether updates were left waiting for budget.
func (s *session) flush() (more bool, err error) {
	s.mu.Lock()
	ws := make([]*widget, 0, len(s.order))
	for _, id := range s.order {
		if w := s.widgets[id]; w != nil {
			ws = append(ws, w)
		}
	}
	s.mu.Unlock()
	for i := range ws {
		w := ws[(s.turn+i)%len(ws)]
		if !w.sub.Pending() {
			continue
		}
		if !s.frames.take(time.Now()) {
			s.turn = (s.turn + i) % len(ws)
			return true, nil
		}
		u, ok := w.sub.Latest()
		if !ok {
			continue
		}
		if err := s.sendUpdate(w, u); err != nil {
			return false, err
		}
	}
	if len(ws) > 0 {
		s.turn = (s.turn + 1) % len(ws)
	}
	return false, nil
}

// sendUpdate writes one widget's update: its state message when that
// changed, and its frame, whose parts are the bytes the run encoded once
// for every viewer.
func (s *session) sendUpdate(w *widget, u run.Update) error {
	st := stateMsg{V: protocolVersion, Type: "state", Widget: w.id, State: u.State, Speed: u.Speed, Step: u.Step, Total: u.Total, Error: u.Err.In(s.lang)}
	if u.State == run.Working {
		st.Target = &u.Target
	}
	if w.own == nil || w.run != w.own {
		st.Follow, st.Params = true, u.ParamsJSON
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// Step and total change with every frame, which carries them.
	key := fmt.Sprintf("%s %g %d %s", u.State, u.Speed, u.Target, st.Error)
	if st.Follow {
		key += " " + string(u.ParamsJSON) // a fork needs the parameters shown
	}
	if key != w.sentState {
		if err := s.write(websocket.TextMessage, b); err != nil {
			return err
		}
		w.sentState = key
	}
	if u.Data == nil {
		return nil
	}
	f := make([]byte, 0, 96+len(u.Data)+len(u.Static))
	f = append(f, `{"v":1,"type":"frame","widget":"`...)
	f = append(f, w.id...) // widgetID allows no character JSON would escape
	f = append(f, `","seq":`...)
	f = strconv.AppendUint(f, u.Seq, 10)
	f = append(f, `,"step":`...)
	f = strconv.AppendInt(f, int64(u.Step), 10)
	f = append(f, `,"total":`...)
	f = strconv.AppendInt(f, int64(u.Total), 10)
	if !w.sentStatic || u.StaticRev != w.sentRev {
		f = append(f, `,"static":`...)
		f = append(f, u.Static...)
	}
	f = append(f, `,"data":`...)
	f = append(f, u.Data...)
	f = append(f, '}')
	if err := s.write(websocket.TextMessage, f); err != nil {
		return err
	}
	w.sentRev, w.sentStatic = u.StaticRev, true
	s.framesSent++
	s.bytesSent += len(f)
	return nil
}

func (s *session) write(kind int, b []byte) error {
	s.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return s.conn.WriteMessage(kind, b)
}

// closeRuns stops every run of the session. It does not wait for them:
// each stops after the step it is taking.
func (s *session) closeRuns() {
	if mem := s.memberInfo(); mem != nil {
		mem.room.depart(s)
		return
	}
	for _, w := range s.takeWidgets() {
		w.sub.Unsubscribe()
		if w.own != nil {
			w.own.Close()
		}
	}
}

// protoError is a refused message: code and text go to the client.
type protoError struct {
	widget, code string
	text         run.Text
}

func (e *protoError) Error() string { return "live: " + e.text.En }

// parseClientMsg decodes and validates one client message strictly: one
// JSON object whose keys are exactly the protocol's (case included), each
// at most once, with values of the right kinds. Errors are *protoError.
func parseClientMsg(b []byte) (*clientMsg, error) {
	fields, perr := objectFields(b)
	if perr != nil {
		return nil, perr
	}
	m := &clientMsg{present: map[string]bool{}}
	str := func(name string, dst *string) *protoError {
		raw, ok := fields[name]
		if !ok {
			return nil
		}
		if json.Unmarshal(raw, dst) != nil {
			return badType(name, "a string", "字符串", raw)
		}
		return nil
	}
	whole := func(name string) (*int, *protoError) {
		raw, ok := fields[name]
		if !ok || string(raw) == "null" {
			return nil, nil
		}
		f, ok := jsonNumber(raw)
		if !ok {
			return nil, badType(name, "a number", "数", raw)
		}
		if f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return nil, &protoError{code: run.CodeBadParams, text: run.Text{
				En: fmt.Sprintf("field %q must be a whole number; got %s", name, shortJSON(raw)),
				Zh: fmt.Sprintf("字段 %q 必须是整数；收到的是 %s", name, shortJSON(raw)),
			}}
		}
		n := int(f)
		return &n, nil
	}
	for _, p := range []*protoError{
		str("type", &m.Type), str("widget", &m.Widget), str("experiment", &m.Experiment),
		str("room", &m.Room), str("seat", &m.Seat), str("secret", &m.Secret), str("lesson", &m.Lesson),
		str("cmd", &m.Cmd), str("message", &m.Message),
	} {
		if p != nil {
			p.widget = m.Widget
			return nil, p
		}
	}
	rawV, hasV := fields["v"]
	if !hasV {
		return nil, &protoError{widget: m.Widget, code: codeBadVersion, text: run.Text{
			En: fmt.Sprintf("field \"v\" (protocol version) is missing; this server speaks v%d", protocolVersion),
			Zh: fmt.Sprintf("缺少字段 \"v\"（协议版本）；本服务器使用 v%d", protocolVersion),
		}}
	}
	if v, ok := jsonNumber(rawV); !ok || v != protocolVersion {
		return nil, &protoError{widget: m.Widget, code: codeBadVersion, text: run.Text{
			En: fmt.Sprintf("protocol version %s is not supported; this server speaks v%d", shortJSON(rawV), protocolVersion),
			Zh: fmt.Sprintf("不支持协议版本 %s；本服务器使用 v%d", shortJSON(rawV), protocolVersion),
		}}
	}
	if m.Type == "" {
		return nil, &protoError{widget: m.Widget, code: codeMissingField, text: run.Text{En: "field \"type\" is missing", Zh: "缺少字段 \"type\""}}
	}
	allowed, ok := allowedFields[m.Type]
	if !ok {
		return nil, &protoError{widget: m.Widget, code: codeUnknownType, text: run.Text{
			En: fmt.Sprintf("unknown message type %q (want start, play, pause, step, seek, reset, set-params, speed, seat, teach, watch or room-cmd)", shortText(m.Type)),
			Zh: fmt.Sprintf("未知的消息类型 %q（应为 start、play、pause、step、seek、reset、set-params、speed、seat、teach、watch 或 room-cmd）", shortText(m.Type)),
		}}
	}
	if !widgetID.MatchString(m.Widget) && !(roomTypes[m.Type] && m.Widget == "") {
		return nil, &protoError{code: codeBadWidget, text: run.Text{
			En: "field \"widget\" must be 1 to 32 letters, digits, '-' or '_'",
			Zh: "字段 \"widget\" 必须是 1 到 32 个字母、数字、“-”或“_”",
		}}
	}
	for name := range fields {
		switch name {
		case "v", "type", "widget":
			continue
		}
		if string(fields[name]) != "null" {
			m.present[name] = true
		}
		if !slices.Contains(allowed, name) {
			return nil, &protoError{widget: m.Widget, code: codeUnknownField, text: run.Text{
				En: fmt.Sprintf("field %q does not belong in a %s message", name, m.Type),
				Zh: fmt.Sprintf("%s 消息不能带字段 %q", m.Type, name),
			}}
		}
	}
	var p *protoError
	if m.N, p = whole("n"); p != nil {
		p.widget = m.Widget
		return nil, p
	}
	if m.To, p = whole("to"); p != nil {
		p.widget = m.Widget
		return nil, p
	}
	if raw, ok := fields["speed"]; ok && string(raw) != "null" {
		f, ok := jsonNumber(raw)
		if !ok {
			return nil, badType("speed", "a number", "数", raw)
		}
		m.Speed = &f
	}
	if raw, ok := fields["params"]; ok {
		m.Params = raw
	}
	for name, dst := range map[string]*bool{"follow": &m.Follow, "fork": &m.Fork} {
		if raw, ok := fields[name]; ok && string(raw) != "null" {
			if json.Unmarshal(raw, dst) != nil {
				return nil, badType(name, "true or false", "true 或 false", raw)
			}
		}
	}
	missing := func(en, zh string) error {
		return &protoError{widget: m.Widget, code: codeMissingField, text: run.Text{En: en, Zh: zh}}
	}
	switch {
	case m.Type == "start" && m.Experiment == "":
		return nil, missing("a start message needs \"experiment\"", "start 消息需要 \"experiment\"")
	case m.Type == "set-params" && !m.present["params"]:
		return nil, missing("a set-params message needs \"params\"", "set-params 消息需要 \"params\"")
	case m.Type == "seek" && m.To == nil:
		return nil, missing("a seek message needs \"to\"", "seek 消息需要 \"to\"")
	case m.Type == "speed" && m.Speed == nil:
		return nil, missing("a speed message needs \"speed\" (steps per second)", "speed 消息需要 \"speed\"（每秒步数）")
	}
	return m, nil
}

// objectFields splits one JSON object into its fields, refusing anything
// else, repeated keys and trailing data.
func objectFields(b []byte) (map[string]json.RawMessage, *protoError) {
	notObject := &protoError{code: codeBadJSON, text: run.Text{En: "a message must be exactly one JSON object", Zh: "一条消息必须正好是一个 JSON 对象"}}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, notObject
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, notObject
		}
		name := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, notObject
		}
		if _, dup := fields[name]; dup {
			return nil, &protoError{code: codeBadJSON, text: run.Text{
				En: fmt.Sprintf("field %q appears twice", shortText(name)),
				Zh: fmt.Sprintf("字段 %q 出现了两次", shortText(name)),
			}}
		}
		if _, known := knownFields[name]; !known {
			return nil, &protoError{code: codeUnknownField, text: run.Text{
				En: fmt.Sprintf("unknown field %q (field names are case-sensitive)", shortText(name)),
				Zh: fmt.Sprintf("未知字段 %q（字段名区分大小写）", shortText(name)),
			}}
		}
		fields[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, notObject
	}
	if _, err := dec.Token(); err != io.EOF { // nothing after it
		return nil, notObject
	}
	return fields, nil
}

var knownFields = map[string]struct{}{
	"v": {}, "type": {}, "widget": {}, "experiment": {}, "params": {}, "n": {}, "to": {}, "speed": {},
	"follow": {}, "fork": {}, "room": {}, "seat": {}, "secret": {}, "lesson": {}, "cmd": {}, "message": {},
}

// jsonNumber parses a JSON number literal; ok is false for anything else
// (strings, booleans, numbers too large for a float64).
func jsonNumber(raw json.RawMessage) (float64, bool) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(s), 64)
	return f, err == nil && !math.IsInf(f, 0)
}

func badType(name, en, zh string, raw json.RawMessage) *protoError {
	return &protoError{code: codeBadFieldType, text: run.Text{
		En: fmt.Sprintf("field %q must be %s; got %s", name, en, shortJSON(raw)),
		Zh: fmt.Sprintf("字段 %q 必须是%s；收到的是 %s", name, zh, shortJSON(raw)),
	}}
}

// shortJSON and shortText keep echoed client input short.
func shortJSON(raw json.RawMessage) string { return shortText(string(bytes.TrimSpace(raw))) }

func shortText(s string) string {
	r := []rune(s)
	if len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// tokenBucket holds up to burst tokens, refilled at rate per second; each
// take uses one. It is used by one goroutine.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (b *tokenBucket) take(now time.Time) bool { return b.takeN(now, 1) }

// takeN takes n tokens at once, or none.
func (b *tokenBucket) takeN(now time.Time, n float64) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}
