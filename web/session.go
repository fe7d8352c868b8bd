package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
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
	// with its parameters, is a few hundred bytes. Larger ones close the
	// connection with 1009 (message too big).
	maxMessageSize = 4096
	// closeGrace is how long the writer waits for the peer's reply to its
	// close frame before dropping the connection.
	closeGrace = time.Second

	// commandRate and commandBurst are the token bucket of client commands
	// per session: a steady 20 per second, bursts of 40.
	commandRate  = 20
	commandBurst = 40
	// maxRuns is how many widgets one page (session) may run at once.
	maxRuns = 8
	// maxFramesPerSecond paces frames per session: updates in between are
	// coalesced, each widget sending only its latest.
	maxFramesPerSecond = 30
	minFrameGap        = time.Second / maxFramesPerSecond
	// sendQueue bounds the replies (errors) waiting for the writer; a
	// client that lets it fill is not reading and is dropped.
	sendQueue = 64
	// protocolVersion is the "v" of every message.
	protocolVersion = 1
)

// Error codes of the protocol's error message (besides run's: bad-params,
// run-done, run-closed, unknown-experiment, step-failed).
const (
	codeBadJSON       = "bad-json"
	codeBadVersion    = "bad-version"
	codeUnknownType   = "unknown-type"
	codeUnknownField  = "unknown-field"
	codeBadFieldType  = "bad-field-type"
	codeMissingField  = "missing-field"
	codeBadWidget     = "bad-widget"
	codeUnknownWidget = "unknown-widget"
	codeTooManyRuns   = "too-many-runs"
	codeRateLimited   = "rate-limited"
	codeInternal      = "internal"
)

// clientMsg is every client message; which fields a type allows is in
// allowedFields.
type clientMsg struct {
	V          *int            `json:"v"`
	Type       string          `json:"type"`
	Widget     string          `json:"widget"`
	Experiment string          `json:"experiment"`
	Params     json.RawMessage `json:"params"`
	// N and To are whole numbers whose bounds only the run knows (to ≤ its
	// total), so they are kept as the JSON number the client sent until
	// then: one that does not fit is refused naming the real bounds.
	// parseClientMsg has checked that they are numbers.
	N     json.RawMessage `json:"n"`
	To    json.RawMessage `json:"to"`
	Speed *float64        `json:"speed"`
}

// allowedFields lists, per client message type, the fields besides v, type
// and widget that it may carry.
var allowedFields = map[string][]string{
	"start":      {"experiment", "params"},
	"play":       nil,
	"pause":      nil,
	"step":       {"n"},
	"seek":       {"to"},
	"reset":      nil,
	"set-params": {"params"},
	"speed":      {"speed"},
}

var widgetID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Server messages.
type helloMsg struct {
	V           int      `json:"v"`
	Type        string   `json:"type"`
	Experiments []string `json:"experiments"`
	Limits      limits   `json:"limits"`
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
	Error  string    `json:"error,omitempty"`
}

type frameMsg struct {
	V      int    `json:"v"`
	Type   string `json:"type"`
	Widget string `json:"widget"`
	Seq    uint64 `json:"seq"`
	Step   int    `json:"step"`
	Total  int    `json:"total"`
	Static any    `json:"static,omitempty"`
	Data   any    `json:"data"`
}

type errorMsg struct {
	V       int    `json:"v"`
	Type    string `json:"type"`
	Widget  string `json:"widget,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// session is one websocket connection: exactly one reader (readPump, which
// runs commands) and one writer (writePump, the only goroutine that writes
// to conn). Runs belong to the session and are closed with it.
type session struct {
	live *Live
	conn *websocket.Conn
	log  *slog.Logger

	send     chan []byte   // replies for the writer, bounded by sendQueue
	notify   chan struct{} // capacity 1, shared by every run's subscription
	shutdown chan struct{} // closed by Live.Shutdown
	readDone chan struct{} // closed when readPump returns

	mu      sync.Mutex
	widgets map[string]*widget

	// Reader-only state.
	bucket        tokenBucket
	lastRateError time.Time

	// Writer-only counters, read after the writer has finished.
	framesSent, bytesSent int
}

// widget is one run of the session. The sent* fields belong to the writer.
type widget struct {
	id  string
	run *run.Run
	sub *run.Subscription

	sentRev   int
	sentState run.State
	sentSpeed float64
	sentErr   string
}

func newSession(l *Live, conn *websocket.Conn, log *slog.Logger) *session {
	return &session{
		live: l, conn: conn, log: log,
		send:     make(chan []byte, sendQueue),
		notify:   make(chan struct{}, 1),
		shutdown: make(chan struct{}),
		readDone: make(chan struct{}),
		widgets:  map[string]*widget{},
		bucket:   tokenBucket{rate: commandRate, burst: commandBurst, tokens: commandBurst},
	}
}

// readPump reads and runs commands until the connection fails or closes.
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
			s.reply(errorMsg{Code: codeBadJSON, Message: "messages must be JSON text, not binary"})
			continue
		}
		if !s.bucket.take(time.Now()) {
			// Tell the client once a second at most, so that a flood of
			// commands does not become a flood of replies.
			if now := time.Now(); now.Sub(s.lastRateError) >= time.Second {
				s.lastRateError = now
				s.reply(errorMsg{Code: codeRateLimited, Message: fmt.Sprintf("too many commands: at most %d per second (bursts of %d); this one was dropped", commandRate, commandBurst)})
			}
			continue
		}
		s.handle(msg)
	}
}

// handle parses one command and runs it; every refusal becomes an error
// message and leaves the session as it was.
func (s *session) handle(msg []byte) {
	m, err := parseClientMsg(msg)
	if err != nil {
		var pe *protoError
		if errors.As(err, &pe) {
			s.reply(errorMsg{Widget: pe.widget, Code: pe.code, Message: pe.message})
		}
		return
	}
	if err := s.run(m); err != nil {
		code, message := codeInternal, "internal error"
		var re *run.Error
		var pe *protoError
		switch {
		case errors.As(err, &re):
			code, message = re.Code, re.Message
		case errors.As(err, &pe):
			code, message = pe.code, pe.message
		default:
			s.log.Error("live: command failed", "type", m.Type, "err", err)
		}
		s.reply(errorMsg{Widget: m.Widget, Code: code, Message: message})
	}
}

// run carries out a parsed command.
func (s *session) run(m *clientMsg) (err error) {
	// A panic in an experiment is a bug, but it must not take the server
	// down: recover at the boundary of the run (see engine's doc).
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("live: panic in command", "type", m.Type, "widget", m.Widget, "panic", p)
			err = fmt.Errorf("live: panic: %v", p)
		}
	}()
	if m.Type == "start" {
		return s.start(m)
	}
	s.mu.Lock()
	w := s.widgets[m.Widget]
	s.mu.Unlock()
	if w == nil {
		return &protoError{code: codeUnknownWidget, message: fmt.Sprintf("widget %q has no run; send start first", m.Widget)}
	}
	switch m.Type {
	case "play":
		return w.run.Play()
	case "pause":
		return w.run.Pause()
	case "step":
		n := 1
		if m.N != nil {
			var err error
			if n, err = wholeField("n", m.N, 1, run.MaxStepN); err != nil {
				return err
			}
		}
		return w.run.Step(n)
	case "seek":
		to, err := wholeField("to", m.To, 0, w.run.Snapshot().Total)
		if err != nil {
			return err
		}
		return w.run.Seek(to)
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
	s.mu.Lock()
	_, exists := s.widgets[m.Widget]
	n := len(s.widgets)
	s.mu.Unlock()
	if !exists && n >= maxRuns {
		return &protoError{code: codeTooManyRuns, message: fmt.Sprintf("a page may run at most %d widgets at once", maxRuns)}
	}
	r, err := run.Start(m.Experiment, m.Params)
	if err != nil {
		return err
	}
	w := &widget{id: m.Widget, run: r}
	w.sub = r.Subscribe(s.notify)
	s.mu.Lock()
	old := s.widgets[m.Widget]
	s.widgets[m.Widget] = w
	s.mu.Unlock()
	if old != nil {
		old.run.Close()
	}
	// Subscribe signalled notify before the widget was in the map, so the
	// writer may have looked and found nothing: signal again now.
	select {
	case s.notify <- struct{}{}:
	default:
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

// writePump is the only writer of the connection: hello, replies, frames
// (paced to maxFramesPerSecond), pings and the final close frame.
func (s *session) writePump() {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	pace := time.NewTimer(0)
	<-pace.C
	paceArmed := false
	var lastFlush time.Time

	defer s.conn.Close()
	hello, _ := json.Marshal(helloMsg{
		V: protocolVersion, Type: "hello", Experiments: run.Experiments(),
		Limits: limits{
			MaxMessageBytes: maxMessageSize, CommandsPerSecond: commandRate, CommandBurst: commandBurst,
			MaxRuns: maxRuns, MinSpeed: run.MinSpeed, MaxSpeed: run.MaxSpeed, MaxStep: run.MaxStepN,
			MaxFramesPerSecond: maxFramesPerSecond,
		},
	})
	if s.write(websocket.TextMessage, hello) != nil {
		return
	}
	for {
		select {
		case b := <-s.send:
			if s.write(websocket.TextMessage, b) != nil {
				return
			}
		case <-s.notify:
			if wait := minFrameGap - time.Since(lastFlush); wait > 0 {
				if !paceArmed {
					pace.Reset(wait)
					paceArmed = true
				}
				continue
			}
			lastFlush = time.Now()
			if s.flush() != nil {
				return
			}
		case <-pace.C:
			paceArmed = false
			lastFlush = time.Now()
			if s.flush() != nil {
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

// flush sends each widget's latest update: a state message when its state
// or speed changed, then its frame (with the static part when that changed).
func (s *session) flush() error {
	s.mu.Lock()
	ws := make([]*widget, 0, len(s.widgets))
	for _, w := range s.widgets {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		u, ok := w.sub.Latest()
		if !ok {
			continue
		}
		if u.State != w.sentState || u.Speed != w.sentSpeed || u.Err != w.sentErr {
			b, err := json.Marshal(stateMsg{V: protocolVersion, Type: "state", Widget: w.id, State: u.State, Speed: u.Speed, Step: u.Step, Total: u.Total, Error: u.Err})
			if err != nil {
				return err
			}
			if err := s.write(websocket.TextMessage, b); err != nil {
				return err
			}
			w.sentState, w.sentSpeed, w.sentErr = u.State, u.Speed, u.Err
		}
		f := frameMsg{V: protocolVersion, Type: "frame", Widget: w.id, Seq: u.Seq, Step: u.Step, Total: u.Total, Data: u.Frame.Data}
		if u.Frame.StaticRev != w.sentRev {
			f.Static = u.Frame.Static
		}
		b, err := json.Marshal(f)
		if err != nil {
			s.log.Error("live: encode frame", "widget", w.id, "err", err)
			return err
		}
		if err := s.write(websocket.TextMessage, b); err != nil {
			return err
		}
		w.sentRev = u.Frame.StaticRev
		s.framesSent++
		s.bytesSent += len(b)
	}
	return nil
}

func (s *session) write(kind int, b []byte) error {
	s.conn.SetWriteDeadline(time.Now().Add(writeWait))
	return s.conn.WriteMessage(kind, b)
}

// closeRuns stops every run of the session.
func (s *session) closeRuns() {
	s.mu.Lock()
	ws := s.widgets
	s.widgets = map[string]*widget{}
	s.mu.Unlock()
	for _, w := range ws {
		w.run.Close()
	}
}

// protoError is a refused message: code and message go to the client.
type protoError struct {
	widget, code, message string
}

func (e *protoError) Error() string { return "live: " + e.message }

// parseClientMsg decodes and validates one client message. Errors are
// *protoError.
func parseClientMsg(b []byte) (*clientMsg, error) {
	var m clientMsg
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te) && te.Field == "":
			return nil, &protoError{code: codeBadJSON, message: fmt.Sprintf("message must be a JSON object, got %s", te.Value)}
		case errors.As(err, &te) && te.Field == "v" && strings.HasPrefix(te.Value, "number "):
			return nil, &protoError{code: codeBadVersion, message: fmt.Sprintf("protocol version %s is not supported; this server speaks v%d", strings.TrimPrefix(te.Value, "number "), protocolVersion)}
		case errors.As(err, &te) && te.Field == "speed" && strings.HasPrefix(te.Value, "number "):
			// A number too large even for a float64 (1e400).
			return nil, &protoError{code: run.CodeBadParams, message: fmt.Sprintf("field \"speed\" must be a number between %g and %g, got %s", float64(run.MinSpeed), float64(run.MaxSpeed), strings.TrimPrefix(te.Value, "number "))}
		case errors.As(err, &te):
			return nil, &protoError{code: codeBadFieldType, message: fmt.Sprintf("field %q must be a %s, got %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, &protoError{code: codeUnknownField, message: fmt.Sprintf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))}
		case errors.As(err, &se):
			return nil, &protoError{code: codeBadJSON, message: fmt.Sprintf("message is not valid JSON: %v", err)}
		default:
			return nil, &protoError{code: codeBadJSON, message: fmt.Sprintf("message must be one JSON object: %v", err)}
		}
	}
	if dec.More() {
		return nil, &protoError{code: codeBadJSON, message: "message must be exactly one JSON object"}
	}
	if m.V == nil {
		return nil, &protoError{widget: m.Widget, code: codeBadVersion, message: fmt.Sprintf("field \"v\" (protocol version) is missing; this server speaks v%d", protocolVersion)}
	}
	if *m.V != protocolVersion {
		return nil, &protoError{widget: m.Widget, code: codeBadVersion, message: fmt.Sprintf("protocol version %d is not supported; this server speaks v%d", *m.V, protocolVersion)}
	}
	if m.Type == "" {
		return nil, &protoError{widget: m.Widget, code: codeMissingField, message: "field \"type\" is missing"}
	}
	allowed, ok := allowedFields[m.Type]
	if !ok {
		return nil, &protoError{widget: m.Widget, code: codeUnknownType, message: fmt.Sprintf("unknown message type %q (want start, play, pause, step, seek, reset, set-params or speed)", m.Type)}
	}
	if !widgetID.MatchString(m.Widget) {
		return nil, &protoError{code: codeBadWidget, message: "field \"widget\" must be 1 to 32 letters, digits, '-' or '_'"}
	}
	// null means absent, as it did when n and to were pointers.
	for _, f := range []*json.RawMessage{&m.N, &m.To} {
		if bytes.Equal(bytes.TrimSpace(*f), []byte("null")) {
			*f = nil
		}
	}
	for name, f := range map[string]json.RawMessage{"n": m.N, "to": m.To} {
		if f != nil && !isJSONNumber(f) {
			return nil, &protoError{widget: m.Widget, code: codeBadFieldType, message: fmt.Sprintf("field %q must be a number, got %s", name, jsonValueKind(f))}
		}
	}
	present := map[string]bool{"experiment": m.Experiment != "", "params": m.Params != nil, "n": m.N != nil, "to": m.To != nil, "speed": m.Speed != nil}
	for _, f := range []string{"experiment", "params", "n", "to", "speed"} {
		if present[f] && !slices.Contains(allowed, f) {
			return nil, &protoError{widget: m.Widget, code: codeUnknownField, message: fmt.Sprintf("field %q does not belong in a %s message", f, m.Type)}
		}
	}
	switch {
	case m.Type == "start" && m.Experiment == "":
		return nil, &protoError{widget: m.Widget, code: codeMissingField, message: "a start message needs \"experiment\""}
	case m.Type == "set-params" && m.Params == nil:
		return nil, &protoError{widget: m.Widget, code: codeMissingField, message: "a set-params message needs \"params\""}
	case m.Type == "seek" && m.To == nil:
		return nil, &protoError{widget: m.Widget, code: codeMissingField, message: "a seek message needs \"to\""}
	case m.Type == "speed" && m.Speed == nil:
		return nil, &protoError{widget: m.Widget, code: codeMissingField, message: "a speed message needs \"speed\" (steps per second)"}
	}
	return &m, nil
}

// isJSONNumber reports whether v is a JSON number literal (of any size).
func isJSONNumber(v json.RawMessage) bool {
	s := bytes.TrimSpace(v)
	return len(s) > 0 && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
}

// jsonValueKind names the JSON type of a value that is not a number, as
// encoding/json's type errors do ("string", "bool", "array", "object").
func jsonValueKind(v json.RawMessage) string {
	switch s := bytes.TrimSpace(v); {
	case len(s) == 0:
		return "nothing"
	case s[0] == '"':
		return "string"
	case s[0] == 't' || s[0] == 'f':
		return "bool"
	case s[0] == '[':
		return "array"
	case s[0] == '{':
		return "object"
	}
	return "number"
}

// wholeField reads the JSON number v of field name as a whole number in
// [lo, hi]. A number that is not whole, or does not fit, is a bad-params
// error naming the bounds; one that fits is returned even if out of range,
// for the run to refuse with its own message.
func wholeField(name string, v json.RawMessage, lo, hi int) (int, error) {
	s := string(bytes.TrimSpace(v))
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	// Whole numbers in exponent form (1e3) are whole numbers too.
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
		return int(f), nil
	}
	return 0, &protoError{code: run.CodeBadParams, message: fmt.Sprintf("field %q must be a whole number between %d and %d, got %s", name, lo, hi, s)}
}

// jsonKind names a Go kind as a JSON type for error messages.
func jsonKind(kind string) string {
	switch kind {
	case "int", "int64", "float64", "uint64", "ptr":
		return "number"
	case "slice":
		return "JSON value"
	}
	return kind
}

// tokenBucket limits commands: it holds up to burst tokens, refilled at rate
// per second; each command takes one. Only the reader uses it.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
