package code_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/paramshare/paramshare/experiments/all"
	"github.com/paramshare/paramshare/internal/pytorch"
	"github.com/paramshare/paramshare/run"
)

// scriptTest is one "# test: EXPERIMENT EXPORT[+EXPORT…] STEP [PARAMS]"
// line of a script: the exports of the experiment's run (the lesson's
// defaults, or PARAMS over them) at STEP, given to the script in that
// order (e.g. trace.json+json: the step trace, then the frame whose
// per-use numbers the page shows), which it must accept.
type scriptTest struct {
	experiment string
	exports    []string
	step       int
	params     json.RawMessage
}

// scriptTests reads a script's test lines.
func scriptTests(t *testing.T, file string) []scriptTest {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []scriptTest
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "# test: ")
		if !ok {
			continue
		}
		fields := strings.SplitN(rest, " ", 4)
		if len(fields) < 3 {
			t.Fatalf("%s: test line %q: want EXPERIMENT EXPORT[+EXPORT…] STEP [PARAMS]", file, rest)
		}
		step, err := strconv.Atoi(fields[2])
		if err != nil {
			t.Fatalf("%s: test line %q: %v", file, rest, err)
		}
		st := scriptTest{experiment: fields[0], exports: strings.Split(fields[1], "+"), step: step}
		if len(fields) == 4 {
			st.params = json.RawMessage(fields[3])
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		t.Fatalf("%s has no \"# test: EXPERIMENT EXPORT STEP\" line: every script must be run by this test", file)
	}
	return out
}

// TestScripts runs every lesson script on the file the page offers for
// download (the export its test lines name, made by the experiment exactly
// as /export makes it) and requires it to exit 0: the script's own check
// of the page's numbers against PyTorch passed.
func TestScripts(t *testing.T) {
	scripts, err := filepath.Glob("*.py")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts (%v)", err)
	}
	py := pytorch.Python()
	for _, script := range scripts {
		tests := scriptTests(t, script) // read even without torch: a script without a test line fails
		t.Run(strings.TrimSuffix(script, ".py"), func(t *testing.T) {
			if py == "" {
				t.Skip("no python3 with torch: install python3-torch (Debian) to run the lessons' PyTorch scripts")
			}
			if testing.Short() {
				t.Skip("skipped with -short: starting PyTorch takes seconds")
			}
			for _, st := range tests {
				files := exportFiles(t, st)
				out, err := exec.Command(py, append([]string{script}, files...)...).CombinedOutput()
				if err != nil {
					t.Fatalf("python3 %s on %s's %s at step %d: %v\n%s", script, st.experiment, strings.Join(st.exports, " and "), st.step, err, out)
				}
				t.Logf("%s at step %d: %s", st.experiment, st.step, strings.TrimSpace(string(out)))
			}
		})
	}
}

// exportFiles writes st's exports to temporary files and returns their
// paths, in st's order.
func exportFiles(t *testing.T, st scriptTest) []string {
	t.Helper()
	s, ok := run.Lookup(st.experiment)
	if !ok {
		t.Fatalf("no experiment %q", st.experiment)
	}
	v := run.Defaults(s.Fields)
	if st.params != nil {
		var err error
		if v, err = s.Decode(v, st.params); err != nil {
			t.Fatalf("%s params %s: %v", st.experiment, st.params, err)
		}
	}
	exp, err := run.Replay(context.Background(), s, v, st.step, run.NewScheduler(1), run.Owner{})
	if err != nil {
		t.Fatalf("%s: replay to step %d: %v", st.experiment, st.step, err)
	}
	var paths []string
	for _, format := range st.exports {
		e, ok := s.Export(format)
		if !ok {
			t.Fatalf("%s has no %s export", st.experiment, format)
		}
		path := filepath.Join(t.TempDir(), st.experiment+"."+format)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Write(f, exp, "en"); err != nil {
			t.Fatalf("%s %s: %v", st.experiment, format, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}
