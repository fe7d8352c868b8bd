// Package class keeps a classroom's lasting state: rooms, seats and the
// class board, in an embedded SQLite file (docs/classroom.md). It knows no
// HTTP and no runs: web's hub decides, the store remembers.
package class

import (
	"encoding/json"
	"errors"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// Room is one class.
type Room struct {
	ID      int64  // stable: the code may change
	Code    string // the join code, 6 letters of CodeAlphabet
	Created time.Time
	Active  time.Time // the last activity: retention counts from it
	Locked  bool      // no new seats
	Mode    string    // "follow" or "free"
	Lesson  string    // the lesson slug the teacher pushed ("" none)
	Paused  bool      // every screen paused
	Message string    // the pause message
}

// Seat is one student's place in a room.
type Seat struct {
	Room    int64
	ID      string // public within the room: "s1", "s2", …
	Nick    string
	Removed bool
	Joined  time.Time
	Seen    time.Time
}

// BoardRun is one curve of the class board: one (seat, widget, parameters).
type BoardRun struct {
	Room       int64
	Seat       string // seat id
	Widget     string
	Experiment string
	Params     json.RawMessage // canonical JSON of the run's parameters
	Points     [][2]float64    // (step, loss), step increasing, ≤ MaxPoints
	Accuracy   *float64        // the last measured accuracy, nil when none
	Updated    time.Time
}

// Limits of the store's inputs.
const (
	CodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
	CodeLen      = 6
	MaxNick      = 24 // characters (runes) after trimming
	MaxMessage   = 200
	MaxPoints    = 500
)

// Errors the store returns; web maps them to localized refusals.
var (
	ErrNoRoom     = errors.New("class: no such room")
	ErrLocked     = errors.New("class: room locked")
	ErrBadNick    = errors.New("class: bad nickname")
	ErrNoSeat     = errors.New("class: no such seat")
	ErrRemoved    = errors.New("class: seat removed")
	ErrRoomFull   = errors.New("class: room full")
	ErrBadSecret  = errors.New("class: wrong teacher secret")
	ErrBadMessage = errors.New("class: message too long")
	ErrBadMode    = errors.New(`class: mode is neither "follow" nor "free"`)
)
