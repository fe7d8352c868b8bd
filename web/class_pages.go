package web

import (
	"log/slog"
	"net/http"

	"github.com/paramshare/paramshare/lessons"
)

// The class pages (docs/classroom.md). Stubs until the pages land.

// handleClassHome serves /{lang}/class: join a class, or open a room.
func handleClassHome(log *slog.Logger, lang string) http.Handler {
	return http.NotFoundHandler()
}

// handleClassTeach serves /{lang}/class/teach: the teacher's dashboard.
func handleClassTeach(log *slog.Logger, set *lessons.Set, lang string) http.Handler {
	return http.NotFoundHandler()
}

// handleClassShow serves /{lang}/class/{code}/show: the projector view of a
// room (c.Exists(code) tells whether the room is there).
func handleClassShow(log *slog.Logger, c *Classroom, lang string) http.Handler {
	return http.NotFoundHandler()
}
