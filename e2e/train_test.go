package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/paramshare/paramshare/experiments/cnntrain"
	"github.com/paramshare/paramshare/lab"
)

// lessonRace is the race of "Train a CNN live" as its widget directive
// sets it.
const lessonRace = `{"lr": 0.003, "batch": 32, "optimizer": "adam", "trainSize": 1000, "seed": 1, "epochs": 3, "digit": 0}`

// TestBrowserCNNTrain opens "Train a CNN live" in headless Chromium, checks
// the parameter counts on the page against the engine, plays the race and
// compares a test accuracy shown with a lab.Trainer trained directly, waits
// for a shift test, downloads the race data (a heavy export: fetched with
// progress, then saved) and checks it names the step on screen and the
// same accuracy, takes desktop and phone screenshots, then drives the race
// into divergence with lr 1 and resets it.
func TestBrowserCNNTrain(t *testing.T) {
	url, ctx := browserSession(t, 240*time.Second)
	const widget = `[data-widget="cnn-train"]`
	q := func(testid string) string {
		return fmt.Sprintf(`document.querySelector('%s [data-testid="%s"]')`, widget, testid)
	}
	// attr reads an attribute of the element with that test id, or of the
	// widget itself when testid is "".
	attr := func(testid, name string) string {
		t.Helper()
		if testid == "" {
			return attrOf(t, ctx, widget, name)
		}
		return attrOf(t, ctx, widget+` [data-testid="`+testid+`"]`, name)
	}
	text := func(testid string) string {
		t.Helper()
		return textOf(t, ctx, widget+` [data-testid="`+testid+`"]`)
	}
	js := func(expr string) {
		t.Helper()
		evalJS[bool](t, ctx, `(() => {`+expr+`; return true})()`)
	}
	downloads := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
	}); err != nil {
		t.Fatalf("download folder: %v", err)
	}

	do(t, ctx, "open train-a-cnn-live",
		chromedp.Navigate(url+"/en/lessons/train-a-cnn-live"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="play"]`)),
		pollJS(q("params-cnn")+`.dataset.value !== undefined`, 30*time.Second),
	)
	// Parameter counts: the page against the engine's Count.
	v := specValues(t, cnntrain.Name, lessonRace)
	for _, m := range cnntrain.Models() {
		tr, err := lab.NewTrainer(cnntrain.Config(v, m))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := strconv.Atoi(attr("params-"+m, "data-value"))
		if got != tr.Count().Params {
			t.Errorf("%s: page shows %d (%q) parameters, engine counts %d", m, got, text("params-"+m), tr.Count().Params)
		}
		t.Logf("%s: %s parameters on the page", m, text("params-"+m))
	}

	// Play at the top speed past step 31 (a third of the 93-step budget,
	// where the first shift test starts), pause, and wait for the shift
	// test to finish in the background.
	topSpeed(t, ctx, widget)
	do(t, ctx, "play the race",
		chromedp.Click(chromedp.CSS(widget+` [data-testid="play"]`)),
		stateIs(widget, "running", 10*time.Second),
		pollJS(`Number(document.querySelector('`+widget+`').dataset.step || 0) >= 31`, 60*time.Second),
		chromedp.Click(chromedp.CSS(widget+` [data-testid="play"]`)),
		stateIs(widget, "paused", 10*time.Second),
		pollJS(q("shift-chart")+`.closest("figure").querySelector("figcaption").textContent.includes("step 31")`, 60*time.Second),
	)
	step, _ := strconv.Atoi(attr("", "data-step"))
	// Test accuracy on the page against a CNN trained directly to the
	// latest evaluation (every EvalEvery steps).
	every := cnntrain.EvalEvery(v)
	evalStep := step / every * every
	shown, err := strconv.ParseFloat(attr("test-cnn", "data-value"), 64)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := lab.NewTrainer(cnntrain.Config(v, "cnn"))
	if err != nil {
		t.Fatal(err)
	}
	for range evalStep {
		if _, err := direct.Step(); err != nil {
			t.Fatal(err)
		}
	}
	want := direct.TestAccuracy(cnntrain.EvalImages)
	if math.Abs(shown-want) > 1e-12 {
		t.Fatalf("paused at step %d: page shows CNN test accuracy %v (evaluated at step %d); lab gives %v", step, shown, evalStep, want)
	}
	t.Logf("paused at step %d: CNN test accuracy on the page %q = lab's %.3f at step %d", step, text("test-cnn"), want, evalStep)
	// The gap is a difference of accuracies, in percentage points.
	gap, err := strconv.ParseFloat(attr("gap-cnn", "data-value"), 64)
	if err != nil {
		t.Fatal(err)
	}
	gapText := text("gap-cnn")
	if wantGap := fmt.Sprintf("%+.1f pts", 100*gap); gapText != wantGap && !(gapText == "0.0 pts" && math.Abs(100*gap) < 0.05) {
		t.Errorf("CNN gap shown %q, want %q", gapText, wantGap)
	}

	// The race data of the step on screen: a heavy export, fetched with
	// progress shown, then saved as a file; the server re-trains to the
	// step, so the file must carry the same step and accuracy.
	href := attr("export-json", "href")
	if !strings.Contains(href, "/export/cnn-train.json?") || !strings.Contains(href, "step="+strconv.Itoa(step)) {
		t.Errorf("race data link %q does not name step %d", href, step)
	}
	do(t, ctx, "download the race data",
		chromedp.Click(chromedp.CSS(widget+` [data-testid="export-json"]`)),
		pollJS(`!`+q("download-status")+`.hidden`, 5*time.Second),
	)
	t.Logf("while the export is made the page says %q", text("download-status"))
	do(t, ctx, "the race data arrives", pollJS(q("download-status")+`.textContent.startsWith("Downloaded")`, 90*time.Second))
	file := waitDownload(t, downloads, ".json", 20*time.Second)
	var race struct {
		Experiment string `json:"experiment"`
		Step       int    `json:"step"`
		Data       struct {
			Models []struct {
				Name string   `json:"name"`
				Test *float64 `json:"test"`
			} `json:"models"`
		} `json:"data"`
	}
	if b, err := os.ReadFile(file); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &race); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if race.Experiment != cnntrain.Name || race.Step != step || len(race.Data.Models) == 0 || race.Data.Models[0].Name != "cnn" ||
		race.Data.Models[0].Test == nil || math.Abs(*race.Data.Models[0].Test-want) > 1e-12 {
		t.Errorf("downloaded race data %s: %+v; want cnn-train at step %d, cnn test accuracy %v", filepath.Base(file), race, step, want)
	}
	t.Logf("downloaded %s: step %d, cnn test accuracy %v (%q)", filepath.Base(file), race.Step, want, text("download-status"))

	// An epoch count out of range is not sent: the field says the range.
	js(`const s = ` + q("set-epochs") + `; s.value = "999"; s.dispatchEvent(new Event("change", {bubbles: true}))`)
	do(t, ctx, "range message for 999 epochs", pollJS(`!`+q("set-epochs-range")+`.hidden`, 5*time.Second), chromedp.Sleep(300*time.Millisecond))
	rangeMsg := text("set-epochs-range")
	if !strings.Contains(rangeMsg, "1 to 50") || attr("set-epochs", "aria-invalid") != "true" || evalJS[string](t, ctx, q("set-epochs")+`.value`) != "999" {
		t.Errorf("epochs 999: message %q, the field must keep 999 and be marked invalid", rangeMsg)
	}
	if got := attr("", "data-step"); got != strconv.Itoa(step) {
		t.Errorf("epochs 999 changed the race: step %s, was %d", got, step)
	}
	js(`const s = ` + q("set-epochs") + `; s.value = "3"; s.dispatchEvent(new Event("change", {bubbles: true}))`)
	do(t, ctx, "the range message goes after a valid value", pollJS(q("set-epochs-range")+`.hidden`, 5*time.Second))
	t.Logf("CNN gap %q; epochs 999 refused with %q", gapText, rangeMsg)

	screenshots(t, ctx, "cnn-train", widget)

	// Divergence: lr 1 restarts the race; playing blows it up within a few
	// steps; the page says so; the Reset in the message recovers.
	js(`const s = ` + q("set-lr") + `; s.value = "1"; s.dispatchEvent(new Event("change", {bubbles: true}))`)
	do(t, ctx, "diverge with lr 1",
		stepIs(widget, 0, 20*time.Second),
		chromedp.Click(chromedp.CSS(widget+` [data-testid="play"]`)),
		stateIs(widget, "diverged", 30*time.Second),
		pollJS(`!`+q("diverged")+`.hidden`, 10*time.Second),
	)
	if msg := textOf(t, ctx, widget+` [data-testid="diverged"] strong`); msg != "Diverged — lower the learning rate." {
		t.Errorf("diverged message %q", msg)
	}
	// The diverged state can reach the page a moment before the frame that
	// carries the models' losses: the detail is filled in when it arrives.
	detailJS := q("diverged") + `.querySelector("p").textContent`
	do(t, ctx, "the diverged detail gives the diverging batch loss", pollJS(detailJS+`.includes("batch loss ")`, 10*time.Second))
	detail := evalJS[string](t, ctx, detailJS)
	if !strings.Contains(detail, "guessing gives 2.3") {
		t.Errorf("diverged detail %q does not give the loss of guessing", detail)
	}
	t.Logf("diverged detail: %q", detail)
	saveScreenshots(t, map[string][]byte{"paramshare-cnn-train-diverged.png": shoot(t, ctx, widget+` [data-testid="diverged"]`)})
	do(t, ctx, "reset after divergence",
		chromedp.Click(chromedp.CSS(widget+` [data-testid="diverged-reset"]`)),
		stateIs(widget, "paused", 20*time.Second),
		pollJS(q("diverged")+`.hidden && document.querySelector('`+widget+`').dataset.step === "0"`, 20*time.Second),
	)
	t.Log("reset brought the race back to step 0")
}

// waitDownload waits for one finished file ending in suffix in dir (a
// download in progress has another name until it is complete).
func waitDownload(t *testing.T, dir, suffix string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), suffix) {
				return filepath.Join(dir, e.Name())
			}
		}
		if time.Now().After(deadline) {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Fatalf("no %s file downloaded into %s within %v (found %v)", suffix, dir, timeout, names)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
