// Package all registers every experiment the server serves: importing it
// is how cmd/web (and tests that need the whole course) get them. Adding a
// lesson's experiment is one line here.
package all

import (
	_ "github.com/paramshare/paramshare/experiments/albertshare"
	_ "github.com/paramshare/paramshare/experiments/attnlearn"
	_ "github.com/paramshare/paramshare/experiments/attnshare"
	_ "github.com/paramshare/paramshare/experiments/bpttledger"
	_ "github.com/paramshare/paramshare/experiments/charmodel"
	_ "github.com/paramshare/paramshare/experiments/cliff"
	_ "github.com/paramshare/paramshare/experiments/cnntrain"
	_ "github.com/paramshare/paramshare/experiments/convgrad"
	_ "github.com/paramshare/paramshare/experiments/convslide"
	_ "github.com/paramshare/paramshare/experiments/drawdigit"
	_ "github.com/paramshare/paramshare/experiments/gaterace"
	_ "github.com/paramshare/paramshare/experiments/gradflow"
	_ "github.com/paramshare/paramshare/experiments/modelcount"
	_ "github.com/paramshare/paramshare/experiments/paramcalc"
	_ "github.com/paramshare/paramshare/experiments/rnnunroll"
	_ "github.com/paramshare/paramshare/experiments/sharingeval"
	_ "github.com/paramshare/paramshare/experiments/tiedembed"
	_ "github.com/paramshare/paramshare/experiments/twinstasks"
)
