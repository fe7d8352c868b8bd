package class

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "class.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func mustRoom(t *testing.T, s *Store) (Room, string) {
	t.Helper()
	r, secret, err := s.CreateRoom(t0)
	if err != nil {
		t.Fatal(err)
	}
	return r, secret
}

func mustJoin(t *testing.T, s *Store, code, nick string) (Seat, string) {
	t.Helper()
	seat, token, err := s.Join(code, nick, 300, t0)
	if err != nil {
		t.Fatalf("join %q as %q: %v", code, nick, err)
	}
	return seat, token
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/state")
	if d := DefaultDir(); d != "/state/paramshare" {
		t.Errorf("with XDG_STATE_HOME: %q", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/x")
	if d := DefaultDir(); d != "/home/x/.local/state/paramshare" {
		t.Errorf("with HOME: %q", d)
	}
}

func TestCreateAndLookUp(t *testing.T) {
	s, _ := openTest(t)
	r, secret := mustRoom(t, s)
	if len(r.Code) != CodeLen || strings.Trim(r.Code, CodeAlphabet) != "" {
		t.Errorf("code %q is not %d letters of the alphabet", r.Code, CodeLen)
	}
	if len(secret) != 43 {
		t.Errorf("secret %q: %d chars, want 43", secret, len(secret))
	}
	if r.Mode != "follow" || !r.Created.Equal(t0) || !r.Active.Equal(t0) {
		t.Errorf("new room %+v", r)
	}
	for _, code := range []string{r.Code, strings.ToLower(r.Code), "  " + r.Code + "\n"} {
		got, err := s.RoomByCode(code)
		if err != nil || got != r {
			t.Errorf("RoomByCode(%q) = %+v, %v; want %+v", code, got, err, r)
		}
	}
	if got, err := s.Room(r.ID); err != nil || got != r {
		t.Errorf("Room(%d) = %+v, %v", r.ID, got, err)
	}
	for _, code := range []string{"", "ZZZZZ", "ZZZZZZZ", "0OIL10", "ÄÄÄÄÄÄ"} {
		if _, err := s.RoomByCode(code); !errors.Is(err, ErrNoRoom) {
			t.Errorf("RoomByCode(%q): %v, want ErrNoRoom", code, err)
		}
	}
	if _, err := s.Room(r.ID + 100); !errors.Is(err, ErrNoRoom) {
		t.Errorf("Room(unknown): %v", err)
	}
}

func TestCheckSecret(t *testing.T) {
	s, _ := openTest(t)
	a, secretA := mustRoom(t, s)
	b, secretB := mustRoom(t, s)
	if err := s.CheckSecret(a.ID, secretA); err != nil {
		t.Errorf("right secret: %v", err)
	}
	for name, secret := range map[string]string{"wrong": secretA[:42] + "x", "empty": "", "other room's": secretB} {
		if err := s.CheckSecret(a.ID, secret); !errors.Is(err, ErrBadSecret) {
			t.Errorf("%s secret: %v, want ErrBadSecret", name, err)
		}
	}
	if err := s.CheckSecret(b.ID+1, secretB); !errors.Is(err, ErrNoRoom) {
		t.Errorf("no room: %v", err)
	}
}

func TestSaveRoom(t *testing.T) {
	s, _ := openTest(t)
	r, _ := mustRoom(t, s)
	r.Locked, r.Mode, r.Lesson, r.Paused = true, "free", "gradient-descent", true
	r.Message = strings.Repeat("停", MaxMessage)
	r.Active = t0.Add(time.Hour)
	if err := s.SaveRoom(r); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Room(r.ID); got != r {
		t.Errorf("saved %+v, read %+v", r, got)
	}
	bad := r
	bad.Message += "!"
	if err := s.SaveRoom(bad); !errors.Is(err, ErrBadMessage) {
		t.Errorf("%d-rune message: %v", MaxMessage+1, err)
	}
	bad = r
	bad.Mode = "chaos"
	if err := s.SaveRoom(bad); !errors.Is(err, ErrBadMode) {
		t.Errorf("bad mode: %v", err)
	}
	if got, _ := s.Room(r.ID); got != r {
		t.Errorf("a refused save changed the room: %+v", got)
	}
	bad = r
	bad.ID += 10
	if err := s.SaveRoom(bad); !errors.Is(err, ErrNoRoom) {
		t.Errorf("unknown room: %v", err)
	}
}

func TestJoin(t *testing.T) {
	s, _ := openTest(t)
	r, _ := mustRoom(t, s)
	seat, token := mustJoin(t, s, strings.ToLower(r.Code), "  Ada ")
	if seat.ID != "s1" || seat.Nick != "Ada" || seat.Room != r.ID || len(token) != 43 {
		t.Errorf("seat %+v, token %q", seat, token)
	}
	got, err := s.SeatByToken(token)
	if err != nil || got != seat {
		t.Errorf("SeatByToken = %+v, %v; want %+v", got, err, seat)
	}
	for _, tok := range []string{"", "nope", token[:42]} {
		if _, err := s.SeatByToken(tok); !errors.Is(err, ErrNoSeat) {
			t.Errorf("SeatByToken(%q): %v", tok, err)
		}
	}
	if _, _, err := s.Join("ZZZZZZ", "Bo", 300, t0); !errors.Is(err, ErrNoRoom) {
		t.Errorf("unknown code: %v", err)
	}

	r.Locked = true
	if err := s.SaveRoom(r); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Join(r.Code, "Bo", 300, t0); !errors.Is(err, ErrLocked) {
		t.Errorf("locked: %v", err)
	}
	r.Locked = false
	s.SaveRoom(r)

	// Full counts seats not removed: removing one makes room again.
	mustJoin(t, s, r.Code, "Bo")
	if _, _, err := s.Join(r.Code, "Cy", 2, t0); !errors.Is(err, ErrRoomFull) {
		t.Errorf("full: %v", err)
	}
	if err := s.RemoveSeat(r.ID, "s2"); err != nil {
		t.Fatal(err)
	}
	cy, _, err := s.Join(r.Code, "Cy", 2, t0)
	if err != nil || cy.ID != "s3" {
		t.Errorf("after a removal: %+v, %v (seat ids are never reused)", cy, err)
	}
	seats, err := s.Seats(r.ID)
	if err != nil || len(seats) != 3 {
		t.Fatalf("Seats: %v, %v", seats, err)
	}
	for i, want := range []struct {
		id, nick string
		removed  bool
	}{{"s1", "Ada", false}, {"s2", "Bo", true}, {"s3", "Cy", false}} {
		if st := seats[i]; st.ID != want.id || st.Nick != want.nick || st.Removed != want.removed {
			t.Errorf("seat %d: %+v, want %+v", i, st, want)
		}
	}
}

func TestCleanNick(t *testing.T) {
	good := map[string]string{
		"Ada":                         "Ada",
		"  李雷 ":                       "李雷",
		strings.Repeat("学", 24):       strings.Repeat("学", 24),
		"x" + strings.Repeat("é", 23): "x" + strings.Repeat("é", 23),
	}
	for in, want := range good {
		if got, err := CleanNick(in); err != nil || got != want {
			t.Errorf("CleanNick(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"empty":          "",
		"spaces":         "   ",
		"25 runes":       strings.Repeat("a", 25),
		"25 hanzi":       strings.Repeat("学", 25),
		"control char":   "Ada\x07",
		"newline":        "Ada\nBob",
		"RTL override":   "Ada\u202Egnp.exe",
		"zero-width":     "A\u200Bda",
		"invalid UTF-8":  "Ada\xff",
		"NUL":            "Ada\x00",
		"tab inside":     "Ada\tB",
		"line separator": "Ada\u2028B",
	}
	for name, in := range bad {
		if got, err := CleanNick(in); !errors.Is(err, ErrBadNick) {
			t.Errorf("%s: CleanNick(%q) = %q, %v; want ErrBadNick", name, in, got, err)
		}
	}
	s, _ := openTest(t)
	r, _ := mustRoom(t, s)
	for name, in := range bad {
		if _, _, err := s.Join(r.Code, in, 300, t0); !errors.Is(err, ErrBadNick) {
			t.Errorf("join with %s nick: %v", name, err)
		}
	}
	if seats, _ := s.Seats(r.ID); len(seats) != 0 {
		t.Errorf("refused joins made seats: %+v", seats)
	}
}

func TestRemoveSeat(t *testing.T) {
	s, _ := openTest(t)
	r, _ := mustRoom(t, s)
	seat, token := mustJoin(t, s, r.Code, "Ada")
	if err := s.RemoveSeat(r.ID, seat.ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.SeatByToken(token)
	if !errors.Is(err, ErrRemoved) || got.ID != seat.ID || !got.Removed {
		t.Errorf("removed seat: %+v, %v; want the seat with ErrRemoved", got, err)
	}
	for _, id := range []string{"s9", "", "x1", "s01", "s0"} {
		if err := s.RemoveSeat(r.ID, id); !errors.Is(err, ErrNoSeat) {
			t.Errorf("RemoveSeat(%q): %v", id, err)
		}
	}
}

func TestTouchSeat(t *testing.T) {
	s, _ := openTest(t)
	r, _ := mustRoom(t, s)
	seat, token := mustJoin(t, s, r.Code, "Ada")
	later := t0.Add(3 * time.Hour)
	if err := s.TouchSeat(r.ID, seat.ID, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SeatByToken(token); !got.Seen.Equal(later) || !got.Joined.Equal(t0) {
		t.Errorf("touched seat %+v", got)
	}
	if got, _ := s.Room(r.ID); !got.Active.Equal(later) {
		t.Errorf("room active %v, want %v", got.Active, later)
	}
	if err := s.TouchSeat(r.ID, "s2", later); !errors.Is(err, ErrNoSeat) {
		t.Errorf("unknown seat: %v", err)
	}
}

func TestNewCode(t *testing.T) {
	s, _ := openTest(t)
	r, _ := mustRoom(t, s)
	seat, token := mustJoin(t, s, r.Code, "Ada")
	code, err := s.NewCode(r.ID)
	if err != nil || code == r.Code || len(code) != CodeLen {
		t.Fatalf("NewCode = %q, %v (old %q)", code, err, r.Code)
	}
	if _, err := s.RoomByCode(r.Code); !errors.Is(err, ErrNoRoom) {
		t.Errorf("old code still finds the room: %v", err)
	}
	if _, _, err := s.Join(r.Code, "Bo", 300, t0); !errors.Is(err, ErrNoRoom) {
		t.Errorf("old code still admits: %v", err)
	}
	if got, err := s.RoomByCode(code); err != nil || got.ID != r.ID {
		t.Errorf("new code: %+v, %v", got, err)
	}
	if got, err := s.SeatByToken(token); err != nil || got != seat {
		t.Errorf("seat after new code: %+v, %v", got, err)
	}
	if bo, _ := mustJoin(t, s, code, "Bo"); bo.ID != "s2" {
		t.Errorf("join with the new code: %+v", bo)
	}
	if _, err := s.NewCode(r.ID + 5); !errors.Is(err, ErrNoRoom) {
		t.Errorf("NewCode(unknown): %v", err)
	}
}

func ptr(f float64) *float64 { return &f }

func TestBoard(t *testing.T) {
	s, _ := openTest(t)
	r, _ := mustRoom(t, s)
	run := BoardRun{Room: r.ID, Seat: "s1", Widget: "gd", Experiment: "regression",
		Params: json.RawMessage(`{"lr":0.1}`), Points: [][2]float64{{0, 2}, {1, 1.5}}, Updated: t0}
	if err := s.SaveBoardRun(run); err != nil {
		t.Fatal(err)
	}
	other := run
	other.Params = json.RawMessage(`{"lr":0.01}`)
	other.Accuracy = ptr(0.75)
	if err := s.SaveBoardRun(other); err != nil {
		t.Fatal(err)
	}
	// Same key: replaces, keeps its place.
	run.Points = append(run.Points, [2]float64{2, 1.25}, [2]float64{3, math.Inf(1)}, [2]float64{4, math.NaN()})
	run.Accuracy = ptr(0.5)
	run.Updated = t0.Add(time.Minute)
	if err := s.SaveBoardRun(run); err != nil {
		t.Fatal(err)
	}
	board, err := s.Board(r.ID)
	if err != nil || len(board) != 2 {
		t.Fatalf("Board: %+v, %v", board, err)
	}
	got := board[0]
	if string(got.Params) != `{"lr":0.1}` || len(got.Points) != 5 || *got.Accuracy != 0.5 || !got.Updated.Equal(run.Updated) ||
		got.Experiment != "regression" || got.Seat != "s1" || got.Widget != "gd" {
		t.Errorf("replaced run: %+v", got)
	}
	if p := got.Points; p[2] != [2]float64{2, 1.25} || !math.IsInf(p[3][1], 1) || !math.IsNaN(p[4][1]) {
		t.Errorf("points %v", p)
	}
	if string(board[1].Params) != `{"lr":0.01}` || *board[1].Accuracy != 0.75 {
		t.Errorf("second run: %+v", board[1])
	}

	// Accuracy nil round trip.
	run.Accuracy = nil
	if err := s.SaveBoardRun(run); err != nil {
		t.Fatal(err)
	}
	if board, _ := s.Board(r.ID); board[0].Accuracy != nil {
		t.Errorf("accuracy %v, want nil", *board[0].Accuracy)
	}

	bad := run
	bad.Params = json.RawMessage(`{"lr":`)
	if err := s.SaveBoardRun(bad); err == nil {
		t.Error("params that are not JSON were saved")
	}
	bad = run
	bad.Room = r.ID + 7
	if err := s.SaveBoardRun(bad); !errors.Is(err, ErrNoRoom) {
		t.Errorf("run of an unknown room: %v", err)
	}
	if board, _ := s.Board(r.ID); len(board) != 2 {
		t.Errorf("refused runs changed the board: %d runs", len(board))
	}
}

func TestBoardThinning(t *testing.T) {
	s, _ := openTest(t)
	r, _ := mustRoom(t, s)
	for _, n := range []int{MaxPoints, MaxPoints + 1, 1234, 10000} {
		points := make([][2]float64, n)
		for i := range points {
			points[i] = [2]float64{float64(i), 1 / float64(i+1)}
		}
		run := BoardRun{Room: r.ID, Seat: "s1", Widget: fmt.Sprint("w", n), Params: json.RawMessage(`{}`), Points: points, Updated: t0}
		if err := s.SaveBoardRun(run); err != nil {
			t.Fatal(err)
		}
		board, _ := s.Board(r.ID)
		got := board[len(board)-1].Points
		if len(got) != MaxPoints || got[0] != points[0] || got[len(got)-1] != points[n-1] {
			t.Errorf("%d points: kept %d, first %v, last %v", n, len(got), got[0], got[len(got)-1])
		}
		for i := 1; i < len(got); i++ {
			if got[i][0] <= got[i-1][0] {
				t.Fatalf("%d points: steps not increasing at %d: %v, %v", n, i, got[i-1], got[i])
			}
		}
	}
}

func TestDeleteAndExpire(t *testing.T) {
	s, _ := openTest(t)
	a, _ := mustRoom(t, s)
	b, _ := mustRoom(t, s)
	_, tokenA := mustJoin(t, s, a.Code, "Ada")
	_, tokenB := mustJoin(t, s, b.Code, "Bo")
	for _, r := range []Room{a, b} {
		s.SaveBoardRun(BoardRun{Room: r.ID, Seat: "s1", Widget: "w", Params: json.RawMessage(`{}`), Points: [][2]float64{{0, 1}}, Updated: t0})
	}
	if err := s.DeleteRoom(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Room(a.ID); !errors.Is(err, ErrNoRoom) {
		t.Errorf("deleted room: %v", err)
	}
	if _, err := s.SeatByToken(tokenA); !errors.Is(err, ErrNoSeat) {
		t.Errorf("seat of a deleted room: %v", err)
	}
	var left int
	s.db.QueryRow(`SELECT count(*) FROM board WHERE room = ?`, a.ID).Scan(&left)
	if seats, _ := s.Seats(a.ID); len(seats) != 0 || left != 0 {
		t.Errorf("deleted room left %d seats, %d board runs", len(seats), left)
	}
	if err := s.DeleteRoom(a.ID); !errors.Is(err, ErrNoRoom) {
		t.Errorf("second delete: %v", err)
	}
	if board, _ := s.Board(b.ID); len(board) != 1 {
		t.Errorf("the other room lost its board: %v", board)
	}

	if err := s.DeleteRoomByCode("zzzzzz"); !errors.Is(err, ErrNoRoom) {
		t.Errorf("DeleteRoomByCode(unknown): %v", err)
	}
	c, _ := mustRoom(t, s)
	if err := s.DeleteRoomByCode(" " + strings.ToLower(c.Code)); err != nil {
		t.Errorf("DeleteRoomByCode: %v", err)
	}

	// b was active at t0; a room touched later survives.
	d, _ := mustRoom(t, s)
	seatD, _ := mustJoin(t, s, d.Code, "Cy")
	s.TouchSeat(d.ID, seatD.ID, t0.Add(48*time.Hour))
	n, err := s.Expire(t0.Add(24 * time.Hour))
	if err != nil || n != 1 {
		t.Errorf("Expire = %d, %v; want 1", n, err)
	}
	if _, err := s.SeatByToken(tokenB); !errors.Is(err, ErrNoSeat) {
		t.Errorf("seat of an expired room: %v", err)
	}
	if _, err := s.Room(d.ID); err != nil {
		t.Errorf("active room expired: %v", err)
	}
	if n, _ := s.Expire(t0); n != 0 {
		t.Errorf("Expire again: %d", n)
	}
}

func TestPersistence(t *testing.T) {
	s, path := openTest(t)
	r, secret := mustRoom(t, s)
	seat, token := mustJoin(t, s, r.Code, "李雷")
	s.SaveBoardRun(BoardRun{Room: r.ID, Seat: seat.ID, Widget: "w", Params: json.RawMessage(`{"lr":1}`), Points: [][2]float64{{0, 1}}, Updated: t0})

	// A second Store on the same file sees everything at once.
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.SeatByToken(token); err != nil || got != seat {
		t.Errorf("second store: %+v, %v", got, err)
	}
	s2.Close()
	s.Close()

	s3, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if got, err := s3.RoomByCode(r.Code); err != nil || got != r {
		t.Errorf("room after reopening: %+v, %v", got, err)
	}
	if err := s3.CheckSecret(r.ID, secret); err != nil {
		t.Errorf("secret after reopening: %v", err)
	}
	if board, _ := s3.Board(r.ID); len(board) != 1 || string(board[0].Params) != `{"lr":1}` {
		t.Errorf("board after reopening: %+v", board)
	}
	var v int
	s3.db.QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != len(migrations) {
		t.Errorf("user_version %d, want %d", v, len(migrations))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	s, path := openTest(t)
	s.db.Exec(`PRAGMA user_version = 99`)
	s.Close()
	if s2, err := Open(path); err == nil {
		s2.Close()
		t.Error("a database from a newer version was opened")
	}
}

func TestConcurrentJoins(t *testing.T) {
	s, path := openTest(t)
	r, _ := mustRoom(t, s)
	s2, err := Open(path) // a second Store contends for the same file
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	const n = 20
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			st := s
			if i%2 == 1 {
				st = s2
			}
			seat, _, err := st.Join(r.Code, fmt.Sprint("kid ", i), 300, t0)
			ids[i], errs[i] = seat.ID, err
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Errorf("join %d: %v", i, errs[i])
		}
		if seen[ids[i]] {
			t.Errorf("seat id %q given twice", ids[i])
		}
		seen[ids[i]] = true
	}
	if seats, _ := s.Seats(r.ID); len(seats) != n || seats[n-1].ID != fmt.Sprint("s", n) {
		t.Errorf("%d seats, last %+v", len(seats), seats[len(seats)-1])
	}
}

// TestCodePrefix: with a prefix every new code (and every new code of a
// room) starts with it; a prefix that is not one letter of the alphabet is
// refused.
func TestCodePrefix(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "class.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, bad := range []string{"0", "AB", "a", "I", "é"} {
		if err := st.SetCodePrefix(bad); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
	if err := st.SetCodePrefix("K"); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		r, _, err := st.CreateRoom(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		code, err := st.NewCode(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code[0] != 'K' || code[0] != 'K' || len(code) != CodeLen {
			t.Fatalf("codes %s, %s: want both to start with K", r.Code, code)
		}
	}
}
