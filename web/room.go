package web

// Classroom is the live side of the rooms (docs/classroom.md).
type Classroom struct{}

// Exists reports whether a room with this join code is open.
func (c *Classroom) Exists(code string) bool { return false }
