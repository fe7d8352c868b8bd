package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/paramshare/paramshare/class"
	"github.com/paramshare/paramshare/run"
)

// The classroom's HTTP routes (docs/classroom.md): open a room, join one,
// its QR code and its board's exports.

// maxJoinBody bounds a join request: a code and a 24-character nickname.
const maxJoinBody = 1024

// httpLang is the language of an API answer: ?lang=zh, else English.
func httpLang(r *http.Request) string {
	if r.URL.Query().Get("lang") == "zh" {
		return "zh"
	}
	return "en"
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// refuseJSON answers a refusal in lang.
func refuseJSON(w http.ResponseWriter, status int, t run.Text, lang string) {
	writeJSON(w, status, map[string]string{"error": t.In(lang)})
}

// sameOrigin refuses a cross-site POST: a form of another site must not
// open rooms or seats in a visitor's name.
func (c *Classroom) sameOrigin(r *http.Request) bool {
	return c.live.originAllowed(r)
}

// within counts the times of key's list newer than window, dropping the
// rest; it returns the list kept. c.mu must be held.
func within(m map[string][]time.Time, key string, now time.Time, window time.Duration) []time.Time {
	ts := m[key]
	kept := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < window {
			kept = append(kept, t)
		}
	}
	if len(kept) == 0 {
		delete(m, key)
		return nil
	}
	m[key] = kept
	return kept
}

// errGuessing is a lookup refused: the address has tried too many unknown
// codes within joinWindow.
var errGuessing = errors.New("class: too many unknown codes from this address")

// maxLookupsInFlight bounds the lookups one address may have running at
// once beyond what its unknown codes left it: a class of 200 joining at
// the same instant behind one NAT address passes, while parallel guesses
// overshoot JoinFailures by at most this many a window.
const maxLookupsInFlight = 256

// lookup finds the room of code for a request from ip. An unknown code
// counts against ip (whatever asked: a join, a projector view, a QR code,
// a board, a socket); past JoinFailures within joinWindow every lookup
// from ip is refused, known codes too, so that no route tells codes apart.
// Only unknown codes count; lookups in flight are bounded apart.
func (c *Classroom) lookup(ip, code string) (class.Room, error) {
	now := c.now()
	c.mu.Lock()
	failed := len(within(c.fails, ip, now, joinWindow))
	if failed >= c.opts.JoinFailures || failed+c.inFlight[ip] >= c.opts.JoinFailures+maxLookupsInFlight {
		c.mu.Unlock()
		return class.Room{}, errGuessing
	}
	c.inFlight[ip]++
	c.mu.Unlock()
	rec, err := c.store.RoomByCode(code)
	c.mu.Lock()
	if c.inFlight[ip]--; c.inFlight[ip] <= 0 {
		delete(c.inFlight, ip)
	}
	if errors.Is(err, class.ErrNoRoom) {
		c.fails[ip] = append(c.fails[ip], now)
	}
	c.mu.Unlock()
	return rec, err
}

// Known reports whether a room with this code exists, as lookup counts it.
func (c *Classroom) Known(r *http.Request, code string) bool {
	if c == nil || c.store == nil {
		return false
	}
	_, err := c.lookup(remoteIP(r), code)
	return err == nil
}

// guessingText is the refusal past JoinFailures.
func (c *Classroom) guessingText() run.Text {
	return run.Text{
		En: fmt.Sprintf("Too many wrong codes from this address: try again in %d minutes, or ask the teacher for the code (a school behind one address: the server's -join-failures flag raises the limit of %d).", int(joinWindow.Minutes()), c.opts.JoinFailures),
		Zh: fmt.Sprintf("这个地址输错代码的次数太多：请 %d 分钟后再试，或向老师确认代码（整个学校共用一个地址时：服务器的 -join-failures 参数可调高 %d 次的上限）。", int(joinWindow.Minutes()), c.opts.JoinFailures),
	}
}

var classOff = run.Text{En: "This server has no classroom (it was started without a data directory).", Zh: "这个服务器没有开启课堂功能（启动时没有数据目录）。"}

// ServeNewRoom handles POST /class/rooms: a new room, its code and the
// teacher's secret (shown this once).
func (c *Classroom) ServeNewRoom(w http.ResponseWriter, r *http.Request) {
	lang := httpLang(r)
	if c == nil || c.store == nil {
		refuseJSON(w, http.StatusNotFound, classOff, lang)
		return
	}
	if !c.sameOrigin(r) {
		refuseJSON(w, http.StatusForbidden, run.Text{En: "Rooms are opened from this site's pages only.", Zh: "只能从本站页面开设班级。"}, lang)
		return
	}
	ip, now := remoteIP(r), c.now()
	c.mu.Lock()
	if len(within(c.opened, ip, now, time.Hour)) >= c.opts.RoomsPerHour {
		c.mu.Unlock()
		w.Header().Set("Retry-After", "3600")
		refuseJSON(w, http.StatusTooManyRequests, run.Text{
			En: fmt.Sprintf("At most %d rooms an hour can be opened from one address; use one of the rooms you opened (the server's -rooms-per-hour flag sets the limit).", c.opts.RoomsPerHour),
			Zh: fmt.Sprintf("同一地址每小时最多开设 %d 个班级；请使用你已经开设的班级（由服务器的 -rooms-per-hour 参数设定）。", c.opts.RoomsPerHour),
		}, lang)
		return
	}
	c.opened[ip] = append(c.opened[ip], now)
	c.mu.Unlock()
	rec, secret, err := c.store.CreateRoom(now)
	if err != nil {
		c.log.Error("class: opening a room", "err", err)
		refuseJSON(w, http.StatusInternalServerError, classError(err).text, lang)
		return
	}
	c.log.Info("class: room opened", "room", rec.ID, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, map[string]string{"code": rec.Code, "secret": secret})
}

// ServeJoin handles POST /class/join {"code","nick"}: a seat and its token.
// Failed codes count against the address, so that codes cannot be guessed.
func (c *Classroom) ServeJoin(w http.ResponseWriter, r *http.Request) {
	lang := httpLang(r)
	if c == nil || c.store == nil {
		refuseJSON(w, http.StatusNotFound, classOff, lang)
		return
	}
	if !c.sameOrigin(r) {
		refuseJSON(w, http.StatusForbidden, run.Text{En: "Classes are joined from this site's pages only.", Zh: "只能从本站页面加入班级。"}, lang)
		return
	}
	ip, now := remoteIP(r), c.now()
	var body struct {
		Code string `json:"code"`
		Nick string `json:"nick"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxJoinBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		refuseJSON(w, http.StatusBadRequest, run.Text{En: "The join request could not be read.", Zh: "无法读取加入请求。"}, lang)
		return
	}
	if _, err := c.lookup(ip, body.Code); errors.Is(err, errGuessing) {
		w.Header().Set("Retry-After", fmt.Sprint(int(joinWindow.Seconds())))
		refuseJSON(w, http.StatusTooManyRequests, c.guessingText(), lang)
		return
	}
	seat, token, err := c.store.Join(body.Code, body.Nick, c.opts.RoomSeats, now)
	if err != nil {
		status, t := joinRefusal(err, c.opts.RoomSeats)
		if status == http.StatusInternalServerError {
			c.log.Error("class: join", "err", err)
		}
		refuseJSON(w, status, t, lang)
		return
	}
	rec, err := c.store.Room(seat.Room)
	if err != nil {
		refuseJSON(w, http.StatusInternalServerError, classError(err).text, lang)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"room": rec.Code, "seat": token, "nick": seat.Nick, "id": seat.ID, "lesson": rec.Lesson, "mode": rec.Mode})
}

// joinRefusal is a failed join's status and words.
func joinRefusal(err error, seats int) (int, run.Text) {
	switch {
	case errors.Is(err, class.ErrNoRoom):
		return http.StatusNotFound, run.Text{En: "No class has this code. Check it on the teacher's screen.", Zh: "没有使用这个代码的班级。请对照老师屏幕上的代码。"}
	case errors.Is(err, class.ErrLocked):
		return http.StatusLocked, run.Text{En: "The teacher has locked this class: no new students can join.", Zh: "老师已锁定这个班级：新学生无法加入。"}
	case errors.Is(err, class.ErrBadNick):
		return http.StatusBadRequest, run.Text{
			En: fmt.Sprintf("A nickname is 1 to %d characters, without line breaks or control characters.", class.MaxNick),
			Zh: fmt.Sprintf("昵称为 1 到 %d 个字符，不能包含换行或控制字符。", class.MaxNick),
		}
	case errors.Is(err, class.ErrRoomFull):
		return http.StatusConflict, run.Text{
			En: fmt.Sprintf("This class is full (%d seats; the server's -room-seats flag sets it).", seats),
			Zh: fmt.Sprintf("这个班级已满（%d 个座位；由服务器的 -room-seats 参数设定）。", seats),
		}
	}
	return http.StatusInternalServerError, run.Text{En: "The class could not be read (the server logged it).", Zh: "无法读取班级数据（服务器已记录）。"}
}

// ServeQR handles GET /class/{code}/qr.svg?lang=: the join link as a QR
// code, for the projector.
func (c *Classroom) ServeQR(w http.ResponseWriter, r *http.Request) {
	lang := httpLang(r)
	code := r.PathValue("code")
	if !c.Known(r, code) {
		http.NotFound(w, r)
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	link := scheme + "://" + r.Host + "/" + lang + "/class?code=" + strings.ToUpper(code)
	svg, err := qrSVG(link, run.Text{En: "Join link: ", Zh: "加入链接："}.In(lang)+link)
	if err != nil {
		http.Error(w, "class: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(svg)
}

// ServeBoard handles GET /class/{code}/board.{png,svg,csv,json}: the class
// board, runs numbered, no names.
func (c *Classroom) ServeBoard(w http.ResponseWriter, r *http.Request) {
	lang := httpLang(r)
	if c == nil || c.store == nil {
		http.NotFound(w, r)
		return
	}
	format := strings.TrimPrefix(r.PathValue("file"), "board.")
	if !strings.HasPrefix(r.PathValue("file"), "board.") || !(format == "png" || format == "svg" || format == "csv" || format == "json") {
		http.NotFound(w, r)
		return
	}
	rec, err := c.lookup(remoteIP(r), r.PathValue("code"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	// Drawing the board is a download like any other: through the same
	// gate (one at a time per address, a few at once in the server) and on
	// a CPU slot of the scheduler.
	ip := remoteIP(r)
	done, busy := c.live.exports.gate(ip, c.live.exports.light)
	if busy != nil {
		w.Header().Set("Retry-After", exportRetryAfter)
		http.Error(w, busy.text.In(lang), busy.status)
		return
	}
	defer done()
	runs := c.boardOf(rec.ID)
	var buf bytes.Buffer
	err = nil
	if serr := c.live.sched.Do(r.Context(), run.Owner{Addr: ip, Session: "export"}, func() { err = class.WriteBoard(&buf, format, lang, runs) }); serr != nil {
		return // the client left
	}
	if err != nil {
		if errors.Is(err, class.ErrEmptyBoard) {
			http.Error(w, run.Text{En: "The board is empty: no student has trained a forked run yet.", Zh: "看板还是空的：还没有学生训练过自己复制的运行。"}.In(lang), http.StatusConflict)
			return
		}
		c.log.Error("class: board export", "err", err)
		http.Error(w, "class: the board could not be drawn (logged)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", run.ContentType(format))
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="class-%s-board.%s"`, rec.Code, format))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// boardOf is a room's board: the live room's when it is open (newer than
// the store by up to boardSave), else the store's.
func (c *Classroom) boardOf(id int64) []class.BoardRun {
	c.mu.Lock()
	rm := c.rooms[id]
	c.mu.Unlock()
	if rm != nil {
		rm.mu.Lock()
		defer rm.mu.Unlock()
		runs := make([]class.BoardRun, 0, len(rm.boardOrder))
		for _, k := range rm.boardOrder {
			if onBoard(rm.board[k].rec) {
				runs = append(runs, rm.board[k].rec)
			}
		}
		return runs
	}
	stored, err := c.store.Board(id)
	if err != nil {
		c.log.Error("class: reading the board", "room", id, "err", err)
	}
	var runs []class.BoardRun
	for _, b := range stored {
		if onBoard(b) {
			runs = append(runs, b)
		}
	}
	return runs
}

// expireLoop deletes rooms past their retention, hourly, until stop.
func (c *Classroom) expireLoop(stop <-chan struct{}) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		// Addresses that stopped trying are forgotten.
		c.mu.Lock()
		now := c.now()
		for ip := range c.fails {
			within(c.fails, ip, now, joinWindow)
		}
		for ip := range c.opened {
			within(c.opened, ip, now, time.Hour)
		}
		c.mu.Unlock()
		if n, err := c.store.Expire(c.now().Add(-c.opts.Retention)); err != nil {
			c.log.Error("class: expiring rooms", "err", err)
		} else if n > 0 {
			c.log.Info("class: rooms past retention deleted", "rooms", n)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
