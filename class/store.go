package class

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Store is the classroom database. Its methods are safe for concurrent
// use, also by several Stores (or processes) on the same file.
type Store struct {
	db *sql.DB
	// prefix, when set, is the first letter of every code this store makes:
	// replicas behind one load balancer each take their own, and the
	// balancer routes a room's requests by its code's first letter.
	prefix byte
}

// SetCodePrefix makes every new join code start with the letter p (one of
// CodeAlphabet); "" makes codes wholly random again. Codes made before keep
// their letters.
func (s *Store) SetCodePrefix(p string) error {
	switch {
	case p == "":
		s.prefix = 0
	case len(p) == 1 && strings.Contains(CodeAlphabet, p):
		s.prefix = p[0]
	default:
		return fmt.Errorf("class: a code prefix is one letter of %s; got %q", CodeAlphabet, p)
	}
	return nil
}

// DefaultDir is the data directory when -data is not given:
// $XDG_STATE_HOME/paramshare, else ~/.local/state/paramshare, else
// ./paramshare-data.
func DefaultDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "paramshare")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "state", "paramshare")
	}
	return "paramshare-data"
}

// migrations[i] brings the schema from user_version i to i+1.
var migrations = []string{
	`CREATE TABLE rooms (
		id        INTEGER PRIMARY KEY,
		code      TEXT NOT NULL UNIQUE,
		secret    BLOB NOT NULL,  -- sha256 of the teacher secret
		created   INTEGER NOT NULL,
		active    INTEGER NOT NULL,
		locked    INTEGER NOT NULL DEFAULT 0,
		mode      TEXT NOT NULL DEFAULT 'follow',
		lesson    TEXT NOT NULL DEFAULT '',
		paused    INTEGER NOT NULL DEFAULT 0,
		message   TEXT NOT NULL DEFAULT '',
		next_seat INTEGER NOT NULL DEFAULT 1 -- seat numbers are never reused
	);
	CREATE INDEX rooms_active ON rooms(active);
	CREATE TABLE seats (
		room    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
		num     INTEGER NOT NULL,
		token   BLOB NOT NULL UNIQUE, -- sha256 of the seat token
		nick    TEXT NOT NULL,
		removed INTEGER NOT NULL DEFAULT 0,
		joined  INTEGER NOT NULL,
		seen    INTEGER NOT NULL,
		PRIMARY KEY (room, num)
	);
	CREATE TABLE board (
		id         INTEGER PRIMARY KEY, -- order of first save
		room       INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
		seat       TEXT NOT NULL,
		widget     TEXT NOT NULL,
		params     TEXT NOT NULL,
		experiment TEXT NOT NULL,
		points     TEXT NOT NULL,
		accuracy   REAL,
		updated    INTEGER NOT NULL,
		UNIQUE (room, seat, widget, params)
	);`,
}

// Open opens (creating it and its directory if need be) the database file
// at path and brings its schema up to date.
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("class: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("class: %w", err)
	}
	// Immediate transactions take the write lock at BEGIN, so a
	// read-then-write transaction waits for busy_timeout instead of failing
	// when another writer got there first.
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("class: %w", err)
	}
	db.SetMaxOpenConns(8)
	s := &Store{db: db}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("class: %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate() error {
	return s.tx(func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
			return err
		}
		if v > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this program's %d", v, len(migrations))
		}
		for ; v < len(migrations); v++ {
			if _, err := tx.Exec(migrations[v]); err != nil {
				return fmt.Errorf("migration %d: %w", v+1, err)
			}
		}
		_, err := tx.Exec(`PRAGMA user_version = ` + strconv.Itoa(v))
		return err
	})
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// tx runs f in a transaction, committing when it returns nil.
func (s *Store) tx(f func(*sql.Tx) error) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func ms(t time.Time) int64        { return t.UnixMilli() }
func fromMS(v int64) time.Time    { return time.UnixMilli(v).UTC() }
func digest(secret string) []byte { h := sha256.Sum256([]byte(secret)); return h[:] }

// randomSecret is 32 random bytes, base64url without padding (43 chars).
func randomSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// normCode is code as stored: trimmed, upper case; "" when it cannot be a
// code, which spares the database a lookup.
func normCode(code string) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	if len(code) != CodeLen {
		return ""
	}
	for _, c := range code {
		if !strings.ContainsRune(CodeAlphabet, c) {
			return ""
		}
	}
	return code
}

// freshCode draws codes until one is not in use.
func freshCode(tx *sql.Tx, prefix byte) (string, error) {
	n := big.NewInt(int64(len(CodeAlphabet)))
	for range 100 {
		b := make([]byte, CodeLen)
		for i := range b {
			if i == 0 && prefix != 0 {
				b[i] = prefix
				continue
			}
			k, err := rand.Int(rand.Reader, n)
			if err != nil {
				return "", err
			}
			b[i] = CodeAlphabet[k.Int64()]
		}
		var taken bool
		if err := tx.QueryRow(`SELECT EXISTS(SELECT 1 FROM rooms WHERE code = ?)`, string(b)).Scan(&taken); err != nil {
			return "", err
		}
		if !taken {
			return string(b), nil
		}
	}
	return "", errors.New("class: no free join code")
}

// CreateRoom opens a room in follow mode; secret is the teacher's, shown
// once: the store keeps only its hash.
func (s *Store) CreateRoom(now time.Time) (r Room, secret string, err error) {
	secret = randomSecret()
	r = Room{Created: fromMS(ms(now)), Active: fromMS(ms(now)), Mode: "follow"}
	err = s.tx(func(tx *sql.Tx) error {
		code, err := freshCode(tx, s.prefix)
		if err != nil {
			return err
		}
		res, err := tx.Exec(`INSERT INTO rooms (code, secret, created, active, mode) VALUES (?, ?, ?, ?, ?)`,
			code, digest(secret), ms(now), ms(now), r.Mode)
		if err != nil {
			return err
		}
		r.Code = code
		r.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		return Room{}, "", fmt.Errorf("class: create room: %w", err)
	}
	return r, secret, nil
}

const roomCols = `id, code, created, active, locked, mode, lesson, paused, message`

func scanRoom(row *sql.Row) (Room, error) {
	var r Room
	var created, active int64
	err := row.Scan(&r.ID, &r.Code, &created, &active, &r.Locked, &r.Mode, &r.Lesson, &r.Paused, &r.Message)
	if errors.Is(err, sql.ErrNoRows) {
		return Room{}, ErrNoRoom
	}
	r.Created, r.Active = fromMS(created), fromMS(active)
	return r, err
}

// RoomByCode finds a room by its join code, in any case.
func (s *Store) RoomByCode(code string) (Room, error) {
	code = normCode(code)
	if code == "" {
		return Room{}, ErrNoRoom
	}
	return scanRoom(s.db.QueryRow(`SELECT `+roomCols+` FROM rooms WHERE code = ?`, code))
}

// Room finds a room by id.
func (s *Store) Room(id int64) (Room, error) {
	return scanRoom(s.db.QueryRow(`SELECT `+roomCols+` FROM rooms WHERE id = ?`, id))
}

// RoomBySecret is the room whose teacher secret this is (ErrBadSecret for
// none): the key finds its room whatever the room's code is now. Like a
// seat token it is looked up by its digest, never stored itself.
func (s *Store) RoomBySecret(secret string) (Room, error) {
	if secret == "" {
		return Room{}, ErrBadSecret
	}
	r, err := scanRoom(s.db.QueryRow(`SELECT `+roomCols+` FROM rooms WHERE secret = ?`, digest(secret)))
	if errors.Is(err, ErrNoRoom) {
		return Room{}, ErrBadSecret
	}
	return r, err
}

// CheckSecret is nil when secret is room id's teacher secret.
func (s *Store) CheckSecret(id int64, secret string) error {
	var stored []byte
	err := s.db.QueryRow(`SELECT secret FROM rooms WHERE id = ?`, id).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoRoom
	}
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(stored, digest(secret)) != 1 {
		return ErrBadSecret
	}
	return nil
}

// SaveRoom writes the teacher-controlled state of r (not its code or
// creation time). Active only moves forward, so a stale copy of the room
// cannot bring its expiry closer.
func (s *Store) SaveRoom(r Room) error {
	if r.Mode != "follow" && r.Mode != "free" {
		return ErrBadMode
	}
	if !utf8.ValidString(r.Message) || utf8.RuneCountInString(r.Message) > MaxMessage {
		return ErrBadMessage
	}
	res, err := s.db.Exec(`UPDATE rooms SET locked = ?, mode = ?, lesson = ?, paused = ?, message = ?, active = max(active, ?) WHERE id = ?`,
		r.Locked, r.Mode, r.Lesson, r.Paused, r.Message, ms(r.Active), r.ID)
	return affected(res, err, ErrNoRoom)
}

// affected turns "no row changed" into notFound.
func affected(res sql.Result, err, notFound error) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFound
	}
	return nil
}

// NewCode gives room id a fresh join code; the old one stops admitting.
func (s *Store) NewCode(id int64) (string, error) {
	var code string
	err := s.tx(func(tx *sql.Tx) error {
		var err error
		if code, err = freshCode(tx, s.prefix); err != nil {
			return err
		}
		res, err := tx.Exec(`UPDATE rooms SET code = ? WHERE id = ?`, code, id)
		return affected(res, err, ErrNoRoom)
	})
	return code, err
}

// CleanNick is nick trimmed, or ErrBadNick when it is empty, longer than
// MaxNick characters, or holds a control, format or line-separator
// character (newlines, U+2028, bidirectional overrides, zero-width
// joiners) that could break or disguise it.
func CleanNick(nick string) (string, error) {
	nick = strings.TrimSpace(nick)
	if nick == "" || !utf8.ValidString(nick) || utf8.RuneCountInString(nick) > MaxNick {
		return "", ErrBadNick
	}
	for _, c := range nick {
		if unicode.IsControl(c) || unicode.In(c, unicode.Cf, unicode.Zl, unicode.Zp) {
			return "", ErrBadNick
		}
	}
	return nick, nil
}

// Join gives nick a new seat in the room whose join code is code, unless
// the room is locked or already has maxSeats seats that were not removed
// (so maxSeats ≤ 0 admits nobody).
// token is the seat's secret, returned once: the store keeps its hash.
func (s *Store) Join(code, nick string, maxSeats int, now time.Time) (seat Seat, token string, err error) {
	code = normCode(code)
	token = randomSecret()
	err = s.tx(func(tx *sql.Tx) error {
		var room, num int64
		var locked bool
		err := tx.QueryRow(`SELECT id, locked, next_seat FROM rooms WHERE code = ?`, code).Scan(&room, &locked, &num)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNoRoom
		case err != nil:
			return err
		case locked:
			return ErrLocked
		}
		if nick, err = CleanNick(nick); err != nil {
			return err
		}
		var seated int
		if err := tx.QueryRow(`SELECT count(*) FROM seats WHERE room = ? AND NOT removed`, room).Scan(&seated); err != nil {
			return err
		}
		if seated >= maxSeats {
			return ErrRoomFull
		}
		if _, err := tx.Exec(`INSERT INTO seats (room, num, token, nick, joined, seen) VALUES (?, ?, ?, ?, ?, ?)`,
			room, num, digest(token), nick, ms(now), ms(now)); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE rooms SET next_seat = ?, active = ? WHERE id = ?`, num+1, ms(now), room); err != nil {
			return err
		}
		seat = Seat{Room: room, ID: seatID(num), Nick: nick, Joined: fromMS(ms(now)), Seen: fromMS(ms(now))}
		return nil
	})
	if err != nil {
		return Seat{}, "", err
	}
	return seat, token, nil
}

func seatID(num int64) string { return "s" + strconv.FormatInt(num, 10) }

// seatNum is the number of seat id "sN", or 0 when id is not one.
func seatNum(id string) int64 {
	n, err := strconv.ParseInt(strings.TrimPrefix(id, "s"), 10, 64)
	if err != nil || n < 1 || !strings.HasPrefix(id, "s") || seatID(n) != id {
		return 0
	}
	return n
}

const seatCols = `room, num, nick, removed, joined, seen`

func scanSeat(scan func(...any) error) (Seat, error) {
	var st Seat
	var num, joined, seen int64
	if err := scan(&st.Room, &num, &st.Nick, &st.Removed, &joined, &seen); err != nil {
		return Seat{}, err
	}
	st.ID, st.Joined, st.Seen = seatID(num), fromMS(joined), fromMS(seen)
	return st, nil
}

// SeatByToken finds the seat whose token is token. A removed seat comes
// back with ErrRemoved.
func (s *Store) SeatByToken(token string) (Seat, error) {
	if token == "" {
		return Seat{}, ErrNoSeat
	}
	st, err := scanSeat(s.db.QueryRow(`SELECT `+seatCols+` FROM seats WHERE token = ?`, digest(token)).Scan)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Seat{}, ErrNoSeat
	case err != nil:
		return Seat{}, err
	case st.Removed:
		return st, ErrRemoved
	}
	return st, nil
}

// TouchSeat records that seat id of room was seen at now, which is also
// the room's latest activity.
func (s *Store) TouchSeat(room int64, id string, now time.Time) error {
	return s.tx(func(tx *sql.Tx) error {
		res, err := tx.Exec(`UPDATE seats SET seen = ? WHERE room = ? AND num = ?`, ms(now), room, seatNum(id))
		if err := affected(res, err, ErrNoSeat); err != nil {
			return err
		}
		_, err = tx.Exec(`UPDATE rooms SET active = max(active, ?) WHERE id = ?`, ms(now), room)
		return err
	})
}

// RemoveSeat removes seat id from room for good: its token is refused and
// its number is not given again.
func (s *Store) RemoveSeat(room int64, id string) error {
	res, err := s.db.Exec(`UPDATE seats SET removed = 1 WHERE room = ? AND num = ?`, room, seatNum(id))
	return affected(res, err, ErrNoSeat)
}

// Seats lists room's seats in join order, removed ones included.
func (s *Store) Seats(room int64) ([]Seat, error) {
	rows, err := s.db.Query(`SELECT `+seatCols+` FROM seats WHERE room = ? ORDER BY num`, room)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var seats []Seat
	for rows.Next() {
		st, err := scanSeat(rows.Scan)
		if err != nil {
			return nil, err
		}
		seats = append(seats, st)
	}
	return seats, rows.Err()
}

// Thin keeps at most MaxPoints of points, evenly spread, the first and
// the last among them (the board's curves, in the store and on the wire).
func Thin(points [][2]float64) [][2]float64 {
	n := len(points)
	if n <= MaxPoints {
		return points
	}
	kept := make([][2]float64, MaxPoints)
	for i := range kept {
		kept[i] = points[int(math.Round(float64(i)*float64(n-1)/float64(MaxPoints-1)))]
	}
	return kept
}

// encodePoints is points as a JSON array of [step, loss] pairs; a value
// JSON cannot hold (a loss that blew up: NaN, ±Inf) is written as a
// string, so the chart can still show where the curve stopped.
func encodePoints(points [][2]float64) string {
	b := []byte{'['}
	for i, p := range points {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for k, v := range p {
			if k > 0 {
				b = append(b, ',')
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				b = strconv.AppendQuote(b, strconv.FormatFloat(v, 'g', -1, 64))
			} else {
				b = strconv.AppendFloat(b, v, 'g', -1, 64)
			}
		}
		b = append(b, ']')
	}
	return string(append(b, ']'))
}

func decodePoints(text string) ([][2]float64, error) {
	var raw [][2]json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, err
	}
	points := make([][2]float64, len(raw))
	for i, p := range raw {
		for k, v := range p {
			s := string(v)
			if unq, err := strconv.Unquote(s); err == nil {
				s = unq
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("point %d: %w", i, err)
			}
			points[i][k] = f
		}
	}
	return points, nil
}

// SaveBoardRun writes b, replacing the run saved before for the same
// (room, seat, widget, parameters) and keeping that run's place on the
// board. Points beyond MaxPoints are thinned.
func (s *Store) SaveBoardRun(b BoardRun) error {
	params := strings.TrimSpace(string(b.Params))
	if params == "" {
		params = "{}"
	}
	if !json.Valid([]byte(params)) {
		return fmt.Errorf("class: board run parameters are not JSON: %.40q", params)
	}
	var acc any
	if b.Accuracy != nil {
		acc = *b.Accuracy
	}
	return s.tx(func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRow(`SELECT EXISTS(SELECT 1 FROM rooms WHERE id = ?)`, b.Room).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return ErrNoRoom
		}
		_, err := tx.Exec(`INSERT INTO board (room, seat, widget, params, experiment, points, accuracy, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (room, seat, widget, params) DO UPDATE SET
				experiment = excluded.experiment, points = excluded.points,
				accuracy = excluded.accuracy, updated = excluded.updated`,
			b.Room, b.Seat, b.Widget, params, b.Experiment, encodePoints(Thin(b.Points)), acc, ms(b.Updated))
		return err
	})
}

// Board is room's board runs in the order they were first saved.
func (s *Store) Board(room int64) ([]BoardRun, error) {
	rows, err := s.db.Query(`SELECT room, seat, widget, params, experiment, points, accuracy, updated
		FROM board WHERE room = ? ORDER BY id`, room)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var runs []BoardRun
	for rows.Next() {
		var b BoardRun
		var params, points string
		var acc sql.NullFloat64
		var updated int64
		if err := rows.Scan(&b.Room, &b.Seat, &b.Widget, &params, &b.Experiment, &points, &acc, &updated); err != nil {
			return nil, err
		}
		if b.Points, err = decodePoints(points); err != nil {
			return nil, fmt.Errorf("class: board run of %s/%s: %w", b.Seat, b.Widget, err)
		}
		b.Params, b.Updated = json.RawMessage(params), fromMS(updated)
		if acc.Valid {
			b.Accuracy = &acc.Float64
		}
		runs = append(runs, b)
	}
	return runs, rows.Err()
}

// DeleteRoom deletes room id with its seats and board.
func (s *Store) DeleteRoom(id int64) error {
	res, err := s.db.Exec(`DELETE FROM rooms WHERE id = ?`, id)
	return affected(res, err, ErrNoRoom)
}

// DeleteRoomByCode deletes the room whose join code is code.
func (s *Store) DeleteRoomByCode(code string) error {
	res, err := s.db.Exec(`DELETE FROM rooms WHERE code = ?`, normCode(code))
	return affected(res, err, ErrNoRoom)
}

// Expire deletes the rooms not active since before and says how many.
func (s *Store) Expire(before time.Time) (int, error) {
	res, err := s.db.Exec(`DELETE FROM rooms WHERE active < ?`, ms(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
