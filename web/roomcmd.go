package web

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paramshare/paramshare/class"
	"github.com/paramshare/paramshare/run"
)

// The session's side of the rooms: seating a page, the teacher's
// commands, following the room's runs (docs/classroom.md).

// roomTypes are the message types that name no widget.
var roomTypes = map[string]bool{"seat": true, "teach": true, "watch": true, "room-cmd": true}

var lessonSlug = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func (s *session) memberInfo() *member {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.member
}

func (s *session) setMember(m *member) {
	s.mu.Lock()
	s.member = m
	s.mu.Unlock()
}

// widgetList is the session's widgets in start order.
func (s *session) widgetList() []*widget {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := make([]*widget, 0, len(s.order))
	for _, id := range s.order {
		if w := s.widgets[id]; w != nil {
			ws = append(ws, w)
		}
	}
	return ws
}

// takeWidgets empties the session's widgets and returns them.
func (s *session) takeWidgets() map[string]*widget {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.widgets
	s.widgets, s.order = map[string]*widget{}, nil
	return ws
}

// putWidget installs w, returning the widget it replaced (or nil).
func (s *session) putWidget(w *widget) *widget {
	s.mu.Lock()
	old := s.widgets[w.id]
	s.widgets[w.id] = w
	if old == nil {
		s.order = append(s.order, w.id)
	}
	s.mu.Unlock()
	// Subscribe signalled notify before the widget was in the map, so the
	// writer may have looked and found nothing: signal again now.
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return old
}

// dropWidget removes a widget: it stops watching what it showed, and its
// own run, if any, is closed.
func (s *session) dropWidget(id string) {
	s.mu.Lock()
	w := s.widgets[id]
	if w != nil {
		delete(s.widgets, id)
		s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	}
	s.mu.Unlock()
	if w != nil {
		w.sub.Unsubscribe()
		if w.own != nil {
			w.own.Close()
		}
	}
}

// follow shows r (a run the page does not own) in widget id. The teacher's
// widget keeps its own run to go back to.
func (s *session) follow(id string, r *run.Run) {
	s.mu.Lock()
	w := s.widgets[id]
	var own *run.Run
	if w != nil {
		if w.run == r {
			s.mu.Unlock()
			return
		}
		w.sub.Unsubscribe()
		own = w.own
	}
	s.mu.Unlock()
	m := s.memberInfo()
	if own != nil && (m == nil || m.role != "teacher") {
		// A student's own run replaced by the teacher's: back to following.
		s.dropWidget(id)
		own = nil
	}
	s.putWidget(&widget{id: id, run: r, own: own, sub: r.Subscribe(s.notify)})
}

// unspot puts the teacher's own run back on the teacher's widget.
func (s *session) unspot(id string) {
	s.mu.Lock()
	w := s.widgets[id]
	s.mu.Unlock()
	if w == nil || w.own == nil || w.run == w.own {
		return
	}
	w.sub.Unsubscribe()
	s.putWidget(&widget{id: id, run: w.own, own: w.own, sub: w.own.Subscribe(s.notify)})
}

// roomCommand runs seat, teach, watch and room-cmd.
func (s *session) roomCommand(m *clientMsg) error {
	c := s.live.class
	if c == nil || c.store == nil {
		return &protoError{code: codeNoSeat, text: run.Text{En: "This server has no classroom.", Zh: "这个服务器没有开启课堂功能。"}}
	}
	if m.Type == "room-cmd" {
		return s.teacherCommand(m)
	}
	err := s.sitDown(m)
	if err != nil && s.memberInfo() == nil {
		// One try per connection: a page with a wrong key or seat is told
		// why and closed, not left to guess on.
		go s.closeSoon()
	}
	return err
}

// sitDown seats the page as seat, teach or watch asks.
func (s *session) sitDown(m *clientMsg) error {
	c := s.live.class
	if s.memberInfo() != nil {
		return &protoError{code: codeRoomAuth, text: run.Text{En: "This page already sits in a class.", Zh: "这个页面已经在一个班级里了。"}}
	}
	if m.Lesson != "" && !lessonSlug.MatchString(m.Lesson) {
		return &protoError{code: run.CodeBadParams, text: run.Text{En: "field \"lesson\" must be a lesson's slug", Zh: "字段 \"lesson\" 必须是课程的短名"}}
	}
	// A seat token and a teacher key find their room themselves (they are
	// secrets: no code is guessed through them); a projector has the code.
	var rec class.Room
	var seat class.Seat
	var err error
	switch m.Type {
	case "seat":
		if seat, err = c.store.SeatByToken(m.Seat); err == nil {
			rec, err = c.store.Room(seat.Room)
		}
	case "teach":
		rec, err = c.store.RoomBySecret(m.Secret)
	default:
		rec, err = c.lookup(s.owner.Addr, m.Room)
	}
	if errors.Is(err, errGuessing) {
		return &protoError{code: codeRoomAuth, text: c.guessingText()}
	}
	if err != nil {
		return classError(err)
	}
	if m.Type != "watch" && rec.Code != strings.ToUpper(strings.TrimSpace(m.Room)) {
		// The teacher made a new code while this page was away: it comes
		// back under the new one.
		s.sendRaw(mustJSON(map[string]any{"v": protocolVersion, "type": "room-moved", "code": rec.Code}))
		return &protoError{code: codeRoomMoved, text: run.Text{
			En: "This class has a new code: the page reconnects with it.",
			Zh: "这个班级换了新代码：页面会用新代码重新连接。",
		}}
	}
	rm := s.roomSlot
	if rm == nil || rm.id != rec.ID {
		return &protoError{code: codeRoomAuth, text: run.Text{
			En: "Open this page's socket with ?room=CODE of the class it sits in.",
			Zh: "请用 ?room=班级代码 打开这个页面的连接。",
		}}
	}
	mem := &member{room: rm, lesson: m.Lesson}
	switch m.Type {
	case "seat":
		mem.role, mem.seat = "student", seat
		s.owner = run.Owner{Addr: roomAddr(rec.ID), Session: seat.ID}
	case "teach":
		if err := c.store.CheckSecret(rec.ID, m.Secret); err != nil {
			return classError(err) // found by its digest: cannot fail but for a race with delete
		}
		mem.role = "teacher"
		// The teacher's runs have an account of their own, beside the
		// students': the run a whole class watches keeps half the CPU
		// however many forks train.
		s.owner = run.Owner{Addr: roomAddr(rec.ID) + "/teacher", Session: "teacher"}
	case "watch":
		mem.role, mem.lesson = "watch", ""
	}
	rm.sit(s, mem)
	return nil
}

// roomAddr is the scheduler's and the memory caps' account of a room:
// its students share the room's part of the server, not their address's.
func roomAddr(id int64) string { return fmt.Sprintf("room:%d", id) }

// teacherCommand carries out a room-cmd from the teacher's page.
func (s *session) teacherCommand(m *clientMsg) error {
	mem := s.memberInfo()
	if mem == nil || mem.role != "teacher" {
		return errNotTeacher
	}
	rm := mem.room
	c := rm.c
	rm.mu.Lock()
	defer rm.mu.Unlock()
	rec := rm.rec
	bad := func(en, zh string) error {
		return &protoError{code: run.CodeBadParams, text: run.Text{En: en, Zh: zh}}
	}
	switch m.Cmd {
	case "lock", "unlock":
		rec.Locked = m.Cmd == "lock"
	case "follow", "free":
		rec.Mode = m.Cmd
	case "lesson":
		if !lessonSlug.MatchString(m.Lesson) {
			return bad("field \"lesson\" must be a lesson's slug", "字段 \"lesson\" 必须是课程的短名")
		}
		rec.Lesson, rec.Mode = m.Lesson, "follow"
	case "pause-all":
		msg := strings.TrimSpace(m.Message)
		if utf8.RuneCountInString(msg) > class.MaxMessage {
			return classError(class.ErrBadMessage)
		}
		rec.Paused, rec.Message = true, msg
	case "resume-all":
		rec.Paused, rec.Message = false, ""
		// What played before the pause plays again.
		for _, r := range rm.resume {
			_ = r.Play()
		}
		rm.resume = nil
	case "new-code":
		code, err := c.store.NewCode(rm.id)
		if err != nil {
			return classError(err)
		}
		rec.Code = code
	case "remove":
		if err := c.store.RemoveSeat(rm.id, m.Seat); err != nil {
			return classError(err)
		}
		removed := classError(class.ErrRemoved)
		for f := range rm.sessions {
			if fm := f.memberInfo(); fm != nil && fm.role == "student" && fm.seat.ID == m.Seat {
				f.sendRaw(mustJSON(map[string]any{"v": protocolVersion, "type": "removed", "message": removed.text.In(f.lang)}))
				go f.closeSoon()
			}
		}
		rm.lastRoster = nil
	case "spotlight":
		var spot *spotlight
		for f := range rm.sessions {
			if fm := f.memberInfo(); fm != nil && fm.role == "student" && fm.seat.ID == m.Seat {
				for _, w := range f.widgetList() {
					if w.id == m.Widget && w.own != nil {
						spot = &spotlight{seat: m.Seat, widget: m.Widget, lesson: fm.lesson, run: w.own}
					}
				}
			}
		}
		if spot == nil {
			return bad("that student has no run of their own in that widget", "这个学生在这个组件里没有自己的运行")
		}
		rm.unspotLocked() // one spotlight at a time: the last one's widget goes back to the teacher's run
		rm.spot = spot
		rm.showLocked(bindKey{spot.lesson, spot.widget}, spot.run)
		go rm.unspotWhenDone(spot.run)
	case "unspotlight":
		rm.unspotLocked()
	case "delete":
		if err := c.store.DeleteRoom(rm.id); err != nil {
			return classError(err)
		}
		rm.ended = true
		for f := range rm.sessions {
			f.sendRaw(mustJSON(map[string]any{"v": protocolVersion, "type": "room-ended", "message": run.Text{
				En: "The teacher ended this class and deleted its data.", Zh: "老师结束了这个班级并删除了它的数据。",
			}.In(f.lang)}))
			go f.closeSoon()
		}
		return nil
	default:
		return bad(fmt.Sprintf("unknown room command %q", shortText(m.Cmd)), fmt.Sprintf("未知的班级命令 %q", shortText(m.Cmd)))
	}
	rec.Active = c.now()
	if err := c.store.SaveRoom(rec); err != nil {
		return classError(err)
	}
	rm.rec = rec
	if rec.Paused {
		// Every screen stops, the room's runs and the students' own; those
		// that were playing play again on resume-all.
		pause := func(r *run.Run) {
			if r.Snapshot().State == run.Running && !slices.Contains(rm.resume, r) {
				rm.resume = append(rm.resume, r)
			}
			_ = r.Pause()
		}
		for _, b := range rm.bindings {
			pause(b.run)
		}
		for f := range rm.sessions {
			for _, w := range f.widgetList() {
				if w.own != nil {
					pause(w.own)
				}
			}
		}
		for _, q := range rm.queue {
			rm.resume = append(rm.resume, q.run) // waiting to play: it plays after the pause
		}
		rm.queue = nil
	}
	rm.broadcastLocked()
	return nil
}

// showLocked binds every follower of k (and the teacher's own widget) to r.
func (rm *room) showLocked(k bindKey, r *run.Run) {
	for f := range rm.followers[k] {
		f.follow(k.widget, r)
	}
	if b := rm.bindings[k]; b != nil && b.teacher != nil {
		if r == b.run {
			b.teacher.unspot(k.widget)
		} else {
			b.teacher.follow(k.widget, r)
		}
	}
}

// unspotLocked ends the spotlight, if any: its widget shows the teacher's
// run again.
func (rm *room) unspotLocked() {
	sp := rm.spot
	if sp == nil {
		return
	}
	rm.spot = nil
	k := bindKey{sp.lesson, sp.widget}
	if b := rm.bindings[k]; b != nil {
		rm.showLocked(k, b.run)
	}
}

// paused reports whether the teacher has paused every screen.
func (rm *room) paused() bool {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return rm.rec.Paused
}

// unspotWhenDone ends the spotlight when its run ends.
func (rm *room) unspotWhenDone(r *run.Run) {
	<-r.Done()
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if sp := rm.spot; sp != nil && sp.run == r {
		rm.spot = nil
		k := bindKey{sp.lesson, sp.widget}
		if b := rm.bindings[k]; b != nil {
			rm.showLocked(k, b.run)
		}
		rm.broadcastLocked()
	}
}

// closeSoon closes the connection once the message before it had time to
// be written.
func (s *session) closeSoon() {
	time.Sleep(200 * time.Millisecond)
	s.conn.Close()
}
