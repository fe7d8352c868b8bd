// Package pytorch finds a Python that can import PyTorch, for the tests
// that check our numbers against it (traces, the lessons' scripts, the
// counter's presets). They skip, saying so, where there is none.
package pytorch

import (
	"os/exec"
	"sync"
)

// Python returns a python3 that can import torch, or "" if there is none.
// Debian's python3-torch installs for /usr/bin/python3, which need not be
// the python3 on PATH. The answer is found once per process.
var Python = sync.OnceValue(func() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import torch").Run() == nil {
			return py
		}
	}
	return ""
})
