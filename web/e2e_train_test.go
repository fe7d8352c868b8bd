package web

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paramshare/paramshare/lab"
	"github.com/paramshare/paramshare/lessons"
	"github.com/paramshare/paramshare/run"
)

// TestBrowserCNNTrain opens "Train a CNN live" in headless Chromium, checks
// the parameter counts on the page against the engine, plays the race and
// compares a test accuracy shown with a lab.Trainer trained directly, waits
// for a shift test, takes desktop and phone screenshots, then drives the
// race into divergence with lr 1 and resets it.
func TestBrowserCNNTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := findChromium()
	if chrome == "" {
		if os.Getenv("PARAMSHARE_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found and PARAMSHARE_REQUIRE_BROWSER=1")
		}
		t.Skip("no Chromium found; set PARAMSHARE_REQUIRE_BROWSER=1 to make this a failure")
	}
	set, err := lessons.Load(lessons.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	live := NewLive(LiveOptions{}, nil)
	srv := httptest.NewServer(NewServer(nil, set, live))
	defer srv.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		live.Shutdown(ctx)
	}()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 120*time.Second)
	defer cancel()

	const widget = `[data-widget="cnn-train"]`
	poll := func(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout))(ctx, t)
			return err
		})
	}
	q := func(testid string) string {
		return fmt.Sprintf(`document.querySelector('%s [data-testid="%s"]')`, widget, testid)
	}
	attr := func(testid, name string) string {
		t.Helper()
		r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(widget+` [data-testid="`+testid+`"]`), name))
		if err != nil || !r.Exists {
			t.Fatalf("%s %s: %v (exists %v)", testid, name, err, r.Exists)
		}
		return r.Value
	}
	js := func(expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {`+expr+`; return true})()`)); err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/en/lessons/train-a-cnn-live"),
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
	js(`const s = document.querySelector('` + widget + ` .live-speed input'); s.value = s.max; s.dispatchEvent(new Event("input", {bubbles: true}))`)
	err = chromedp.Do(ctx,
		chromedp.Sleep(300*time.Millisecond),
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

	dir := screenshotDir(t)
	save := func(name string, b []byte) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	desktop, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(widget)))
	if err != nil {
		t.Fatal(err)
	}
	save("paramshare-cnn-train-desktop.png", desktop)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Sleep(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	phone, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(widget)))
	if err != nil {
		t.Fatal(err)
	}
	save("paramshare-cnn-train-phone.png", phone)
	if err := chromedp.Do(ctx, chromedp.EmulateReset(), chromedp.EmulateViewport(1280, 1000)); err != nil {
		t.Fatal(err)
	}

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
	diverged, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(widget+` [data-testid="diverged"]`)))
	if err != nil {
		t.Fatal(err)
	}
	save("paramshare-cnn-train-diverged.png", diverged)
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
