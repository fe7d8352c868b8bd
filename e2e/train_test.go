package e2e

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/run"
)

// TestBrowserCNNTrain opens "Train a CNN live" in headless Chromium, checks
// the parameter counts on the page against the engine, plays the race and
// compares a test accuracy shown with a lab.Trainer trained directly, waits
// for a shift test, takes desktop and phone screenshots, then drives the
// race into divergence with lr 1 and resets it.
func TestBrowserCNNTrain(t *testing.T) {
	url, ctx := browserSession(t, 120*time.Second)
	const widget = `[data-widget="cnn-train"]`
	poll := pollJS
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
	js := func(expr string) {
		t.Helper()
		evalJS[bool](t, ctx, `(() => {`+expr+`; return true})()`)
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(url+"/en/lessons/train-a-cnn-live"),
		chromedp.WaitVisible(chromedp.CSS(widget+` [data-testid="play"]`)),
		poll(q("params-cnn")+`.dataset.value !== undefined`, 30*time.Second),
	)
	if err != nil {
		t.Fatalf("open the lesson: %v", err)
	}
	// Parameter counts: the page against the engine's Count.
	p := run.DefaultCNNTrainParams()
	for _, m := range run.RaceModels {
		tr, err := lab.NewTrainer(p.Config(m))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := strconv.Atoi(attr("params-"+m, "data-value"))
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(widget+` [data-testid="params-`+m+`"]`)))
		if got != tr.Count().Params {
			t.Errorf("%s: page shows %d (%q) parameters, engine counts %d", m, got, text, tr.Count().Params)
		}
		t.Logf("%s: %s parameters on the page", m, text)
	}

	// Play at the top speed past step 31 (a third of the 93-step budget,
	// where the first shift test starts), pause, and wait for the shift
	// test to finish in the background.
	topSpeed(t, ctx, widget)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(widget+` [data-testid="play"]`)),
		poll(`document.querySelector('`+widget+`').dataset.state === "running"`, 10*time.Second),
		poll(`Number(document.querySelector('`+widget+`').dataset.step || 0) >= 31`, 60*time.Second),
		chromedp.Click(chromedp.CSS(widget+` [data-testid="play"]`)),
		poll(`document.querySelector('`+widget+`').dataset.state === "paused"`, 10*time.Second),
		poll(q("shift-chart")+`.closest("figure").querySelector("figcaption").textContent.includes("step 31")`, 60*time.Second),
	)
	if err != nil {
		t.Fatalf("play the race: %v", err)
	}
	stepAttr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(widget), "data-step"))
	if err != nil {
		t.Fatal(err)
	}
	step, _ := strconv.Atoi(stepAttr.Value)
	// Test accuracy on the page against a CNN trained directly to the
	// latest evaluation (every 10 steps for the 93-step budget).
	evalStep := step / p.EvalEvery() * p.EvalEvery()
	shown, err := strconv.ParseFloat(attr("test-cnn", "data-value"), 64)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := lab.NewTrainer(p.Config("cnn"))
	for range evalStep {
		if _, err := direct.Step(); err != nil {
			t.Fatal(err)
		}
	}
	want := direct.TestAccuracy(run.EvalImages)
	if math.Abs(shown-want) > 1e-12 {
		t.Fatalf("paused at step %d: page shows CNN test accuracy %v (evaluated at step %d); lab gives %v", step, shown, evalStep, want)
	}
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(widget+` [data-testid="test-cnn"]`)))
	t.Logf("paused at step %d: CNN test accuracy on the page %q = lab's %.3f at step %d", step, text, want, evalStep)
	// The gap is a difference of accuracies, in percentage points.
	gap, err := strconv.ParseFloat(attr("gap-cnn", "data-value"), 64)
	if err != nil {
		t.Fatal(err)
	}
	gapText, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(widget+` [data-testid="gap-cnn"]`)))
	if wantGap := fmt.Sprintf("%+.1f pts", 100*gap); gapText != wantGap && !(gapText == "0.0 pts" && math.Abs(100*gap) < 0.05) {
		t.Errorf("CNN gap shown %q, want %q", gapText, wantGap)
	}

	// An epoch count out of range is not sent: the field says the range.
	js(`const s = ` + q("set-epochs") + `; s.value = "999"; s.dispatchEvent(new Event("change", {bubbles: true}))`)
	err = chromedp.Do(ctx, poll(`!`+q("set-epochs-range")+`.hidden`, 5*time.Second), chromedp.Sleep(300*time.Millisecond))
	if err != nil {
		t.Fatalf("no range message for 999 epochs: %v", err)
	}
	rangeMsg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(widget+` [data-testid="set-epochs-range"]`)))
	if !strings.Contains(rangeMsg, "1 to 50") || attr("set-epochs", "aria-invalid") != "true" || evalJS[string](t, ctx, q("set-epochs")+`.value`) != "999" {
		t.Errorf("epochs 999: message %q, the field must keep 999 and be marked invalid", rangeMsg)
	}
	if got := attr("", "data-step"); got != strconv.Itoa(step) {
		t.Errorf("epochs 999 changed the race: step %s, was %d", got, step)
	}
	js(`const s = ` + q("set-epochs") + `; s.value = "3"; s.dispatchEvent(new Event("change", {bubbles: true}))`)
	if err := chromedp.Do(ctx, poll(q("set-epochs-range")+`.hidden`, 5*time.Second)); err != nil {
		t.Fatalf("the range message stayed after a valid value: %v", err)
	}
	t.Logf("CNN gap %q; epochs 999 refused with %q", gapText, rangeMsg)

	shots := map[string][]byte{"paramshare-cnn-train-desktop.png": shoot(t, ctx, widget)}
	desktop := phoneViewport(t, ctx)
	shots["paramshare-cnn-train-phone.png"] = shoot(t, ctx, widget)
	desktop()

	// Divergence: lr 1 restarts the race; playing blows it up within a few
	// steps; the page says so; the Reset in the message recovers.
	js(`const s = ` + q("set-lr") + `; s.value = "1"; s.dispatchEvent(new Event("change", {bubbles: true}))`)
	err = chromedp.Do(ctx,
		poll(`document.querySelector('`+widget+`').dataset.step === "0"`, 20*time.Second),
		chromedp.Click(chromedp.CSS(widget+` [data-testid="play"]`)),
		poll(`document.querySelector('`+widget+`').dataset.state === "diverged"`, 30*time.Second),
		poll(`!`+q("diverged")+`.hidden`, 10*time.Second),
	)
	if err != nil {
		t.Fatalf("diverge with lr 1: %v", err)
	}
	msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(widget+` [data-testid="diverged"] strong`)))
	if msg != "Diverged — lower the learning rate." {
		t.Errorf("diverged message %q", msg)
	}
	detail := evalJS[string](t, ctx, q("diverged")+`.querySelector("p").textContent`)
	if !strings.Contains(detail, "batch loss ") || !strings.Contains(detail, "guessing gives 2.3") {
		t.Errorf("diverged detail %q does not give the diverging batch loss", detail)
	}
	t.Logf("diverged detail: %q", detail)
	shots["paramshare-cnn-train-diverged.png"] = shoot(t, ctx, widget+` [data-testid="diverged"]`)
	saveScreenshots(t, shots)
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(widget+` [data-testid="diverged-reset"]`)),
		poll(`document.querySelector('`+widget+`').dataset.state === "paused"`, 20*time.Second),
		poll(q("diverged")+`.hidden && document.querySelector('`+widget+`').dataset.step === "0"`, 20*time.Second),
	)
	if err != nil {
		t.Fatalf("reset after divergence: %v", err)
	}
	t.Logf("diverged message %q shown; reset brought the race back to step 0", msg)
}
