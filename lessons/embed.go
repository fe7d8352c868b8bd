package lessons

import "embed"

// Embedded is the course that ships with ParamShare, in the layout Load
// expects (en/ and zh/ directories).
//
//go:embed en zh code/*.py code/*.go
var Embedded embed.FS
