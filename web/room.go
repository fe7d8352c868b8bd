package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/paramshare/paramshare/class"
	"github.com/paramshare/paramshare/run"
)

// ClassOptions configures the classroom (docs/classroom.md).
type ClassOptions struct {
	// Store keeps rooms, seats and the board; nil turns the classroom off
	// (its routes answer 404 and /ws ignores ?room=).
	Store *class.Store
	// MaxRooms caps the rooms live in memory at once (rooms with a page
	// open); RoomSeats the seats of one room; RoomSessions the pages open
	// in one room (a student may have two tabs); RoomMemory the memory
	// a room's runs may declare. 0 means the defaults below.
	MaxRooms, RoomSeats, RoomSessions int
	RoomMemory                        int64
	// RoomTraining caps the students' training runs of one room that play
	// at once; a play beyond it waits in line, its place shown.
	RoomTraining int
	// JoinFailures is how many unknown codes one address may try per
	// joinWindow (a join, a projector view, a QR code, a board); RoomsPerHour
	// how many rooms one address may open an hour. A school behind one NAT
	// address shares both: raise them there.
	JoinFailures, RoomsPerHour int
	// Retention is how long a room's data is kept after its last activity.
	Retention time.Duration
}

// Defaults of the classroom's caps, sized for 200 students on one 2-core
// laptop: followers cost little (one run, frames encoded once); forks cost
// a run each, up to the room's memory.
const (
	DefaultMaxRooms     = 50
	DefaultRoomSeats    = 300
	DefaultRoomSessions = 400
	DefaultRoomMemory   = 1 << 30
	// 40 forks of the cnn-train race at their fair share of one slot
	// still take half a step a second each (docs/perf.md, "Classroom").
	DefaultRoomTraining = 40
	// 30 wrong codes in 10 minutes: a class behind one NAT address mistyping
	// now and then, while guessing one of 887,503,681 codes stays hopeless.
	DefaultJoinFailures = 30
	DefaultRoomsPerHour = 10
	DefaultRetention    = 30 * 24 * time.Hour
)

// Timing of the rooms.
const (
	roomTick    = 200 * time.Millisecond
	rosterEvery = 500 * time.Millisecond
	boardEvery  = time.Second
	boardSave   = 5 * time.Second
	joinWindow  = 10 * time.Minute
)

// authWait is how long a page of a class may take to say who it is (a
// variable for the test of it).
var (
	authWait = 10 * time.Second
	parkFor  = 60 * time.Second // a seat's runs outlive its page this long
	roomIdle = 60 * time.Second // a room without pages leaves memory after this
)

// Error codes of the room messages.
const (
	codeRoomAuth   = "room-auth"
	codeNoSeat     = "no-seat"
	codeRemoved    = "removed"
	codeFollowing  = "following"
	codeNotStarted = "not-started"
	codeNotTeacher = "not-teacher"
	codeRoomFull   = "room-full"
	codePaused     = "class-paused"
	codeRoomMoved  = "room-moved"
)

// Classroom is the live side of the rooms: which pages sit in which room,
// the runs a room owns and who watches them, the board being recorded.
// What must outlast a restart is in the store.
type Classroom struct {
	opts  ClassOptions
	live  *Live
	store *class.Store
	log   *slog.Logger
	now   func() time.Time

	mu     sync.Mutex
	rooms  map[int64]*room
	opened map[string][]time.Time // per address: rooms opened within the hour
	fails  map[string][]time.Time // per address: unknown codes within joinWindow
	// inFlight counts the lookups of a code running per address.
	inFlight map[string]int
}

func newClassroom(l *Live, opts ClassOptions, log *slog.Logger) *Classroom {
	if opts.MaxRooms <= 0 {
		opts.MaxRooms = DefaultMaxRooms
	}
	if opts.RoomSeats <= 0 {
		opts.RoomSeats = DefaultRoomSeats
	}
	if opts.RoomSessions <= 0 {
		opts.RoomSessions = DefaultRoomSessions
	}
	if opts.RoomMemory <= 0 {
		opts.RoomMemory = DefaultRoomMemory
	}
	if opts.JoinFailures <= 0 {
		opts.JoinFailures = DefaultJoinFailures
	}
	if opts.RoomsPerHour <= 0 {
		opts.RoomsPerHour = DefaultRoomsPerHour
	}
	if opts.RoomTraining <= 0 {
		opts.RoomTraining = DefaultRoomTraining
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	return &Classroom{
		opts: opts, live: l, store: opts.Store, log: log, now: time.Now,
		rooms: map[int64]*room{}, opened: map[string][]time.Time{}, fails: map[string][]time.Time{},
		inFlight: map[string]int{},
	}
}

// close stops every room's loop after a last record and save of its
// board (the server is shutting down: a restart loses no curve).
func (c *Classroom) close() {
	c.mu.Lock()
	rooms := c.rooms
	c.rooms = map[int64]*room{}
	c.mu.Unlock()
	for _, rm := range rooms {
		close(rm.stop)
		<-rm.stopped
		rm.closeRuns()
	}
}

// room returns the live room of rec, loading it into memory. With admit,
// it counts a page into the room under c.mu, so that the room cannot be
// unloaded between the two (unloadIfIdle decides under c.mu).
func (c *Classroom) room(rec class.Room, admit bool) (*room, *protoError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rm := c.rooms[rec.ID]; rm != nil {
		if admit {
			return rm, rm.admitLocked()
		}
		return rm, nil
	}
	if len(c.rooms) >= c.opts.MaxRooms {
		return nil, &protoError{code: codeBusy, text: run.Text{
			En: fmt.Sprintf("The server already holds %d classes at once (the -rooms flag of the server sets how many).", c.opts.MaxRooms),
			Zh: fmt.Sprintf("服务器已同时容纳 %d 个班级（服务器的 -rooms 参数决定上限）。", c.opts.MaxRooms),
		}}
	}
	rm := &room{
		c: c, id: rec.ID, rec: rec, idleSince: c.now(),
		sessions: map[*session]struct{}{}, bindings: map[bindKey]*binding{},
		followers: map[bindKey]map[*session]struct{}{}, parked: map[parkKey]*parkedRun{},
		board: map[string]*boardEntry{}, recorders: map[*run.Subscription]*recorder{},
		playing: map[*run.Run]bool{},
		stop:    make(chan struct{}), stopped: make(chan struct{}),
	}
	if runs, err := c.store.Board(rec.ID); err == nil {
		for _, b := range runs {
			rm.board[boardKeyOf(b.Seat, b.Widget, b.Params)] = &boardEntry{rec: b}
			rm.boardOrder = append(rm.boardOrder, boardKeyOf(b.Seat, b.Widget, b.Params))
		}
	}
	c.rooms[rec.ID] = rm
	go rm.loop()
	if admit {
		return rm, rm.admitLocked()
	}
	return rm, nil
}

// admitLocked counts a page into rm, or refuses it at RoomSessions.
func (rm *room) admitLocked() *protoError {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.admitted >= rm.c.opts.RoomSessions {
		return &protoError{code: codeRoomFull, text: run.Text{
			En: fmt.Sprintf("This class has %d pages open already (the teacher can raise it with the server's -room-sessions flag).", rm.c.opts.RoomSessions),
			Zh: fmt.Sprintf("这个班级已经打开了 %d 个页面（老师可以用服务器的 -room-sessions 参数调高上限）。", rm.c.opts.RoomSessions),
		}}
	}
	rm.admitted++
	return nil
}

// admit counts a page that names room code in its address against that
// room's sessions instead of the address's. ok is false when there is no
// such room: the page is then admitted as any other.
func (c *Classroom) admit(code string) (rm *room, ok bool, pe *protoError) {
	if c == nil || c.store == nil || code == "" {
		return nil, false, nil
	}
	rec, err := c.store.RoomByCode(code)
	if err != nil {
		return nil, false, nil
	}
	rm, pe = c.room(rec, true)
	if pe != nil {
		return nil, true, pe
	}
	return rm, true, nil
}

// leave gives back a slot admit took.
func (rm *room) leave() {
	rm.mu.Lock()
	rm.admitted--
	rm.mu.Unlock()
}

// bindKey names a widget of a lesson: the room's run of it is what
// followers see.
type bindKey struct{ lesson, widget string }

// binding is the room's run of one widget: the teacher's.
type binding struct {
	run     *run.Run
	teacher *session // the page whose widget drives it; nil while parked
}

// parkKey names a seat's own run of a widget.
type parkKey struct{ seat, lesson, widget string }

// parkedRun is a seat's run whose page went away: kept paused for
// parkFor, for the seat's next page to take back.
type parkedRun struct {
	run   *run.Run
	timer *time.Timer
}

// recorder follows a seat's own run for the board.
type recorder struct {
	seat, widget, experiment string
	run                      *run.Run
}

// boardEntry is one curve of the board, as recorded and as last saved.
type boardEntry struct {
	rec   class.BoardRun
	dirty bool
}

func boardKeyOf(seat, widget string, params json.RawMessage) string {
	return seat + "\x00" + widget + "\x00" + string(params)
}

// spotlight is a student's run the room shows in place of the teacher's.
type spotlight struct {
	seat, widget, lesson string
	run                  *run.Run
}

// queuedPlay is a student's play waiting for its turn.
type queuedPlay struct {
	s      *session
	widget string
	run    *run.Run
	told   int // the place last sent
}

// queueMsg tells a page where its play waits (place 0: it plays now).
type queueMsg struct {
	V      int    `json:"v"`
	Type   string `json:"type"`
	Widget string `json:"widget"`
	Place  int    `json:"place"`
	Of     int    `json:"of"`
}

// play plays a student's training run now, or queues it while the room's
// RoomTraining runs play.
func (rm *room) play(s *session, widget string, r *run.Run) error {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.playing[r] || len(rm.playing) < rm.c.opts.RoomTraining {
		rm.playing[r] = true
		return r.Play()
	}
	for _, q := range rm.queue {
		if q.run == r {
			return nil
		}
	}
	rm.queue = append(rm.queue, queuedPlay{s: s, widget: widget, run: r})
	rm.tellQueueLocked()
	return nil
}

// unqueue drops r's waiting play (its page paused, stepped or left).
func (rm *room) unqueue(r *run.Run) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for i, q := range rm.queue {
		if q.run == r {
			rm.queue = append(rm.queue[:i], rm.queue[i+1:]...)
			q.s.sendRaw(mustJSON(queueMsg{V: protocolVersion, Type: "queue", Widget: q.widget}))
			rm.tellQueueLocked()
			return
		}
	}
}

// admitQueued frees the places of runs that stopped playing and lets the
// first waiting plays take them.
func (rm *room) admitQueued() {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for r := range rm.playing {
		if st := r.Snapshot().State; st != run.Running && st != run.Working {
			delete(rm.playing, r)
		}
	}
	changed := false
	for len(rm.queue) > 0 && len(rm.playing) < rm.c.opts.RoomTraining {
		q := rm.queue[0]
		rm.queue = rm.queue[1:]
		changed = true
		if q.run.Play() == nil {
			rm.playing[q.run] = true
		}
		q.s.sendRaw(mustJSON(queueMsg{V: protocolVersion, Type: "queue", Widget: q.widget}))
	}
	if changed {
		rm.tellQueueLocked()
	}
}

// tellQueueLocked sends each waiting page its place when it changed.
func (rm *room) tellQueueLocked() {
	for i := range rm.queue {
		q := &rm.queue[i]
		if q.told != i+1 {
			q.told = i + 1
			q.s.sendRaw(mustJSON(queueMsg{V: protocolVersion, Type: "queue", Widget: q.widget, Place: i + 1, Of: len(rm.queue)}))
		}
	}
}

// member is what a seated page is in its room.
type member struct {
	room   *room
	role   string // "student", "teacher" or "watch"
	seat   class.Seat
	lesson string
}

// room is one live class.
type room struct {
	c  *Classroom
	id int64

	mu        sync.Mutex
	rec       class.Room
	admitted  int                   // pages counted against RoomSessions
	sessions  map[*session]struct{} // seated pages
	idleSince time.Time             // when the last page left
	bindings  map[bindKey]*binding
	followers map[bindKey]map[*session]struct{} // pages showing (or waiting for) the room's run of a widget
	parked    map[parkKey]*parkedRun
	spot      *spotlight
	board     map[string]*boardEntry
	// boardOrder is the board's keys in order of first record.
	boardOrder []string
	recorders  map[*run.Subscription]*recorder
	boardDirty bool
	// joinedDirty: pages came or went; the loop tells everyone the count.
	joinedDirty bool
	lastRoster  []byte
	// playing are the students' training runs let play; queue the plays
	// waiting for one of them to stop (RoomTraining).
	playing map[*run.Run]bool
	queue   []queuedPlay
	// resume are the runs pause-all stopped while they played.
	resume  []*run.Run
	ended   bool
	stop    chan struct{} // closed by close: the loop saves and ends
	stopped chan struct{} // closed when the loop has ended
}

// roomMsg is the room's state as every page in it sees it.
type roomMsg struct {
	V         int      `json:"v"`
	Type      string   `json:"type"`
	Code      string   `json:"code"`
	Mode      string   `json:"mode"`
	Lesson    string   `json:"lesson"`
	Paused    bool     `json:"paused"`
	Message   string   `json:"message"`
	Locked    bool     `json:"locked"`
	Spotlight *spotMsg `json:"spotlight"`
	Joined    int      `json:"joined"`
	You       *youMsg  `json:"you,omitempty"`
}

type spotMsg struct {
	Seat   string `json:"seat,omitempty"` // only the teacher is told whose
	Lesson string `json:"lesson"`
	Widget string `json:"widget"`
}

type youMsg struct {
	Role string `json:"role"`
	ID   string `json:"id,omitempty"`
	Nick string `json:"nick,omitempty"`
}

// send queues b for s without blocking: a page that does not read is
// dropped, as for any reply.
func (s *session) sendRaw(b []byte) {
	select {
	case s.send <- b:
	default:
		s.log.Info("live: client not reading room messages; closing")
		s.conn.Close()
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return b
}

// stateFor is the room message for one page. rm.mu must be held.
func (rm *room) stateForLocked(m *member, joined int) []byte {
	msg := roomMsg{
		V: protocolVersion, Type: "room", Code: rm.rec.Code, Mode: rm.rec.Mode, Lesson: rm.rec.Lesson,
		Paused: rm.rec.Paused, Message: rm.rec.Message, Locked: rm.rec.Locked, Joined: joined,
	}
	if rm.spot != nil {
		msg.Spotlight = &spotMsg{Lesson: rm.spot.lesson, Widget: rm.spot.widget}
		if m.role == "teacher" {
			msg.Spotlight.Seat = rm.spot.seat
		}
	}
	switch m.role {
	case "student":
		msg.You = &youMsg{Role: "student", ID: m.seat.ID, Nick: m.seat.Nick}
	case "teacher":
		msg.You = &youMsg{Role: "teacher"}
	}
	return mustJSON(msg)
}

// joinedLocked counts the distinct seats with a page open.
func (rm *room) joinedLocked() int {
	seen := map[string]bool{}
	for s := range rm.sessions {
		if m := s.memberInfo(); m != nil && m.role == "student" {
			seen[m.seat.ID] = true
		}
	}
	return len(seen)
}

// broadcastLocked sends every page its room message; the count of
// joined seats, the same for all, is taken once.
func (rm *room) broadcastLocked() {
	rm.joinedDirty = false
	if rm.ended {
		return // every page was told the room ended: nothing more to say
	}
	joined := rm.joinedLocked()
	for s := range rm.sessions {
		if m := s.memberInfo(); m != nil {
			s.sendRaw(rm.stateForLocked(m, joined))
		}
	}
}

// sit seats s in rm as m and answers with the room's state.
func (rm *room) sit(s *session, m *member) {
	if m.role == "student" {
		if err := rm.c.store.TouchSeat(rm.id, m.seat.ID, rm.c.now()); err != nil {
			rm.c.log.Error("class: seat seen", "room", rm.id, "err", err)
		}
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	s.setMember(m)
	rm.sessions[s] = struct{}{}
	s.sendRaw(rm.stateForLocked(m, rm.joinedLocked()))
	// The others learn the new count on the loop's next tick: a class
	// joining at once costs a message per page per tick, not per join.
	rm.joinedDirty = true
	if m.role != "student" {
		s.sendRaw(rm.boardLocked())
		rm.lastRoster = nil
	}
}

// depart takes s out of rm: its own runs are parked, its followed
// runs dropped, the teacher's runs kept by the room (paused).
func (rm *room) depart(s *session) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	m := s.memberInfo()
	delete(rm.sessions, s)
	kept := rm.queue[:0]
	for _, q := range rm.queue {
		if q.s != s {
			kept = append(kept, q)
		}
	}
	rm.queue = kept
	rm.tellQueueLocked()
	for k, fs := range rm.followers {
		delete(fs, s)
		if len(fs) == 0 {
			delete(rm.followers, k)
		}
	}
	for _, w := range s.takeWidgets() {
		w.sub.Unsubscribe()
		if w.own == nil {
			continue
		}
		switch {
		case m != nil && m.role == "teacher" && !rm.ended:
			k := bindKey{m.lesson, w.id}
			if b := rm.bindings[k]; b != nil && b.run == w.own {
				b.teacher = nil
				_ = w.own.Pause()
				rm.expireBindingLocked(k, b)
				continue
			}
			w.own.Close()
		case m != nil && m.role == "student" && !rm.ended:
			rm.parkLocked(parkKey{m.seat.ID, m.lesson, w.id}, w.own)
		default:
			w.own.Close()
		}
	}
	if len(rm.sessions) == 0 {
		rm.idleSince = rm.c.now()
	}
	rm.joinedDirty = true
}

// expireBindingLocked closes the teacher's run of k parkFor after the
// teacher's page left, unless a page of the teacher took it back or
// students still watch it (they see it paused until the teacher returns).
func (rm *room) expireBindingLocked(k bindKey, b *binding) {
	time.AfterFunc(parkFor, func() {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		if rm.bindings[k] == b && b.teacher == nil && len(rm.followers[k]) == 0 {
			delete(rm.bindings, k)
			b.run.Close()
		}
	})
}

// parkLocked keeps a seat's run paused for parkFor.
func (rm *room) parkLocked(k parkKey, r *run.Run) {
	if old := rm.parked[k]; old != nil && old.run != r {
		old.timer.Stop()
		old.run.Close()
	}
	_ = r.Pause()
	p := &parkedRun{run: r}
	p.timer = time.AfterFunc(parkFor, func() {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		if rm.parked[k] == p {
			delete(rm.parked, k)
			r.Close()
		}
	})
	rm.parked[k] = p
}

// unpark returns the parked run of k when it runs experiment with the
// parameters raw decodes to; nil otherwise.
func (rm *room) unpark(k parkKey, spec *run.Spec, raw json.RawMessage) *run.Run {
	v, err := spec.Decode(nil, raw)
	if err != nil {
		return nil
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	p := rm.parked[k]
	if p == nil {
		return nil
	}
	if !startsAgain(p.run, spec, v) {
		return nil
	}
	p.timer.Stop()
	delete(rm.parked, k)
	return p.run
}

// startsAgain reports whether a start of spec with v asks for r: the same
// experiment with the same parameters.
func startsAgain(r *run.Run, spec *run.Spec, v run.Values) bool {
	return r.Spec() == spec && r.Snapshot().Params.Equal(v)
}

// record follows a seat's own run for the board.
func (rm *room) record(seat, widget string, r *run.Run) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for _, rc := range rm.recorders {
		if rc.run == r {
			return
		}
	}
	rm.recorders[r.Subscribe(nil)] = &recorder{seat: seat, widget: widget, experiment: r.Spec().Name, run: r}
}

// bindTeacher makes r, the teacher's new run of lesson's widget, the
// room's run of it: every follower is re-bound to it at once.
func (rm *room) bindTeacher(s *session, lesson, widget string, r *run.Run) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	k := bindKey{lesson, widget}
	if old := rm.bindings[k]; old != nil && old.run != r && old.teacher == nil {
		old.run.Close() // a parked run the new page did not take back
	}
	rm.bindings[k] = &binding{run: r, teacher: s}
	if rm.spot != nil && rm.spot.lesson == lesson && rm.spot.widget == widget {
		return // the spotlight stays on screen
	}
	for f := range rm.followers[k] {
		f.follow(widget, r)
	}
}

// takeTeacher returns the parked room run of k when the teacher's page
// starts it again with the same experiment and parameters.
func (rm *room) takeTeacher(s *session, k bindKey, spec *run.Spec, raw json.RawMessage) *run.Run {
	v, err := spec.Decode(nil, raw)
	if err != nil {
		return nil
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	b := rm.bindings[k]
	if b == nil || b.teacher != nil || !startsAgain(b.run, spec, v) {
		return nil
	}
	b.teacher = s
	return b.run
}

// followStart binds s's widget to the room's run of it, or registers it
// to be bound once the teacher starts it.
func (rm *room) followStart(s *session, lesson, widget string) error {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	k := bindKey{lesson, widget}
	if rm.followers[k] == nil {
		rm.followers[k] = map[*session]struct{}{}
	}
	rm.followers[k][s] = struct{}{}
	shown := rm.shownLocked(k)
	if shown == nil {
		s.dropWidget(widget)
		return &protoError{widget: widget, code: codeNotStarted, text: run.Text{
			En: "Waiting for the teacher to start this widget.",
			Zh: "正在等待老师启动这个组件。",
		}}
	}
	s.follow(widget, shown)
	return nil
}

// unfollow forgets that s's widget follows the room's run.
func (rm *room) unfollow(s *session, lesson, widget string) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	k := bindKey{lesson, widget}
	delete(rm.followers[k], s)
}

// shownLocked is the run followers of k see: the spotlight's or the
// teacher's.
func (rm *room) shownLocked(k bindKey) *run.Run {
	if rm.spot != nil && rm.spot.lesson == k.lesson && rm.spot.widget == k.widget {
		return rm.spot.run
	}
	if b := rm.bindings[k]; b != nil {
		return b.run
	}
	return nil
}

// loop pushes the roster and the board to the teacher's pages, records
// the board, saves it, and unloads the room once it has been idle.
func (rm *room) loop() {
	defer close(rm.stopped)
	t := time.NewTicker(roomTick)
	defer t.Stop()
	var lastRoster, lastBoard, lastSave, lastJoined time.Time
	for {
		select {
		case <-rm.stop:
			rm.recordBoard()
			rm.saveBoard()
			return
		case <-t.C:
		}
		now := rm.c.now()
		rm.recordBoard()
		rm.admitQueued()
		rm.mu.Lock()
		if rm.joinedDirty && now.Sub(lastJoined) >= rosterEvery {
			lastJoined = now
			rm.broadcastLocked()
		}
		rm.mu.Unlock()
		if now.Sub(lastRoster) >= rosterEvery {
			lastRoster = now
			rm.pushRoster()
		}
		if now.Sub(lastBoard) >= boardEvery {
			lastBoard = now
			rm.pushBoard()
		}
		if now.Sub(lastSave) >= boardSave {
			lastSave = now
			rm.saveBoard()
		}
		if rm.unloadIfIdle(now) {
			return
		}
	}
}

// recordBoard takes the newest score of every recorded run.
func (rm *room) recordBoard() {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for sub, rc := range rm.recorders {
		select {
		case <-rc.run.Done():
			delete(rm.recorders, sub)
			continue
		default:
		}
		u, ok := sub.Latest()
		// A run moving to a step (a fork's replay to the teacher's step, a
		// seek) draws nothing: the board shows what students trained.
		if !ok || u.State == run.Working || u.Score == nil || math.IsNaN(u.Score.Loss) || math.IsInf(u.Score.Loss, 0) {
			continue
		}
		params := u.ParamsJSON
		key := boardKeyOf(rc.seat, rc.widget, params)
		e := rm.board[key]
		if e == nil {
			e = &boardEntry{rec: class.BoardRun{Room: rm.id, Seat: rc.seat, Widget: rc.widget, Experiment: rc.experiment, Params: params}}
			rm.board[key] = e
			rm.boardOrder = append(rm.boardOrder, key)
		}
		pts := e.rec.Points
		// A run sought back or reset draws its curve again from there.
		for len(pts) > 0 && pts[len(pts)-1][0] >= float64(u.Step) {
			pts = pts[:len(pts)-1]
		}
		e.rec.Points = append(pts, [2]float64{float64(u.Step), u.Score.Loss})
		if len(e.rec.Points) > 2*class.MaxPoints {
			e.rec.Points = class.Thin(e.rec.Points)
		}
		if !math.IsNaN(u.Score.Accuracy) {
			a := u.Score.Accuracy
			e.rec.Accuracy = &a
		}
		e.rec.Updated = rm.c.now()
		e.dirty, rm.boardDirty = true, true
	}
}

// onBoard: a curve of one point (a fork whose parameters changed before
// its next step) draws nothing; it is left off the board.
func onBoard(b class.BoardRun) bool { return len(b.Points) >= 2 }

// boardMsg is the class board as the teacher and the projector see it.
type boardMsg struct {
	V    int           `json:"v"`
	Type string        `json:"type"`
	Runs []boardRunMsg `json:"runs"`
}

type boardRunMsg struct {
	ID         string          `json:"id"`
	Label      int             `json:"label"`
	Experiment string          `json:"experiment"`
	Params     json.RawMessage `json:"params"`
	Points     [][2]float64    `json:"points"`
	Accuracy   *float64        `json:"accuracy"`
}

// boardLocked is the board message: runs labelled in order, no names.
func (rm *room) boardLocked() []byte {
	msg := boardMsg{V: protocolVersion, Type: "board", Runs: []boardRunMsg{}}
	for _, k := range rm.boardOrder {
		e := rm.board[k]
		if !onBoard(e.rec) {
			continue
		}
		i := len(msg.Runs)
		pts := e.rec.Points
		if len(pts) > class.MaxPoints {
			pts = class.Thin(pts)
		}
		msg.Runs = append(msg.Runs, boardRunMsg{
			ID: "r" + strconv.Itoa(i+1), Label: i + 1, Experiment: e.rec.Experiment,
			Params: e.rec.Params, Points: pts, Accuracy: e.rec.Accuracy,
		})
	}
	return mustJSON(msg)
}

// pushBoard sends the board to the teacher's and the projector's pages
// when it changed.
func (rm *room) pushBoard() {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if !rm.boardDirty {
		return
	}
	rm.boardDirty = false
	b := rm.boardLocked()
	for s := range rm.sessions {
		if m := s.memberInfo(); m != nil && m.role != "student" {
			s.sendRaw(b)
		}
	}
}

// saveBoard writes the curves that changed to the store.
func (rm *room) saveBoard() {
	rm.mu.Lock()
	var dirty []class.BoardRun
	for _, k := range rm.boardOrder {
		if e := rm.board[k]; e.dirty {
			b := e.rec
			b.Points = slices.Clone(b.Points)
			dirty = append(dirty, b)
			e.dirty = false
		}
	}
	rm.mu.Unlock()
	for _, b := range dirty {
		if err := rm.c.store.SaveBoardRun(b); err != nil {
			rm.c.log.Error("class: saving the board", "room", rm.id, "err", err)
		}
	}
}

// rosterMsg is the teacher's view of the class.
type rosterMsg struct {
	V     int         `json:"v"`
	Type  string      `json:"type"`
	Seats []seatEntry `json:"seats"`
}

type seatEntry struct {
	ID     string     `json:"id"`
	Nick   string     `json:"nick"`
	Online bool       `json:"online"`
	Lesson string     `json:"lesson"`
	Runs   []runEntry `json:"runs"`
}

type runEntry struct {
	Widget     string   `json:"widget"`
	Experiment string   `json:"experiment"`
	State      string   `json:"state"`
	Step       int      `json:"step"`
	Total      int      `json:"total"`
	Loss       *float64 `json:"loss"`
	Accuracy   *float64 `json:"accuracy"`
	Forked     bool     `json:"forked"`
}

// pushRoster sends the roster to the teacher's pages when it changed.
func (rm *room) pushRoster() {
	rm.mu.Lock()
	teacher := false
	for s := range rm.sessions {
		if m := s.memberInfo(); m != nil && m.role == "teacher" {
			teacher = true
		}
	}
	rm.mu.Unlock()
	if !teacher {
		return
	}
	seats, err := rm.c.store.Seats(rm.id)
	if err != nil {
		rm.c.log.Error("class: reading seats", "room", rm.id, "err", err)
		return
	}
	rm.mu.Lock()
	defer rm.mu.Unlock()
	var teachers []*session
	bySeat := map[string]*seatEntry{}
	msg := rosterMsg{V: protocolVersion, Type: "roster", Seats: []seatEntry{}}
	for _, st := range seats {
		if !st.Removed {
			msg.Seats = append(msg.Seats, seatEntry{ID: st.ID, Nick: st.Nick, Runs: []runEntry{}})
		}
	}
	for i := range msg.Seats {
		bySeat[msg.Seats[i].ID] = &msg.Seats[i]
	}
	for s := range rm.sessions {
		m := s.memberInfo()
		if m == nil {
			continue
		}
		if m.role == "teacher" {
			teachers = append(teachers, s)
			continue
		}
		e := bySeat[m.seat.ID]
		if m.role != "student" || e == nil {
			continue
		}
		e.Online, e.Lesson = true, m.lesson
		for _, w := range s.widgetList() {
			u := w.run.Snapshot()
			re := runEntry{Widget: w.id, Experiment: w.run.Spec().Name, State: string(u.State), Step: u.Step, Total: u.Total, Forked: w.own != nil}
			if u.Score != nil {
				re.Loss, re.Accuracy = finite(u.Score.Loss), finite(u.Score.Accuracy)
			}
			e.Runs = append(e.Runs, re)
		}
	}
	if len(teachers) == 0 {
		return
	}
	b := mustJSON(msg)
	if string(b) == string(rm.lastRoster) {
		return
	}
	rm.lastRoster = b
	for _, s := range teachers {
		s.sendRaw(b)
	}
}

func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// unloadIfIdle closes a room nobody has had open for roomIdle: its runs
// end and its board is saved; the store keeps the rest.
func (rm *room) unloadIfIdle(now time.Time) bool {
	rm.c.mu.Lock()
	defer rm.c.mu.Unlock()
	rm.mu.Lock()
	idle := rm.ended || rm.admitted == 0 && len(rm.sessions) == 0 && now.Sub(rm.idleSince) >= roomIdle
	rm.mu.Unlock()
	if !idle {
		return false
	}
	if rm.c.rooms[rm.id] == rm {
		delete(rm.c.rooms, rm.id)
	}
	// Out of the map, nothing new reaches the room: its runs end and its
	// board is saved without holding up the other rooms.
	go func() {
		rm.closeRuns()
		if !rm.ended {
			rm.saveBoard()
		}
	}()
	return true
}

// closeRuns ends every run the room holds.
func (rm *room) closeRuns() {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	for _, b := range rm.bindings {
		if b.teacher == nil || rm.ended {
			b.run.Close()
		}
	}
	for k, p := range rm.parked {
		p.timer.Stop()
		p.run.Close()
		delete(rm.parked, k)
	}
	for sub := range rm.recorders {
		sub.Unsubscribe()
	}
	clear(rm.recorders)
}

// errNotTeacher is a room command from a page that is not the teacher's.
var errNotTeacher = &protoError{code: codeNotTeacher, text: run.Text{
	En: "Only the teacher's pages can do that.",
	Zh: "只有老师的页面可以这样做。",
}}

// classError maps the store's errors to refusals in both languages.
func classError(err error) *protoError {
	t := run.Text{En: "The class could not be read (the server logged it).", Zh: "无法读取班级数据（服务器已记录）。"}
	code := codeInternal
	switch {
	case errors.Is(err, class.ErrNoRoom):
		code, t = codeNoSeat, run.Text{En: "This class has ended or its code changed.", Zh: "这个班级已经结束，或者它的代码已更换。"}
	case errors.Is(err, class.ErrNoSeat):
		code, t = codeNoSeat, run.Text{En: "This seat is not known here: join the class again.", Zh: "找不到这个座位：请重新加入班级。"}
	case errors.Is(err, class.ErrRemoved):
		code, t = codeRemoved, run.Text{En: "The teacher removed you from this class.", Zh: "老师已将你移出这个班级。"}
	case errors.Is(err, class.ErrBadSecret):
		code, t = codeRoomAuth, run.Text{En: "This browser's teacher key does not open this class.", Zh: "这个浏览器保存的老师密钥无法打开这个班级。"}
	case errors.Is(err, class.ErrBadMessage):
		code, t = run.CodeBadParams, run.Text{
			En: fmt.Sprintf("The message is too long: at most %d characters.", class.MaxMessage),
			Zh: fmt.Sprintf("消息太长：最多 %d 个字符。", class.MaxMessage),
		}
	}
	return &protoError{code: code, text: t}
}
