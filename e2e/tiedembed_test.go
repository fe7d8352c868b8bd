package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paramshare/paramshare/engine"
	"github.com/paramshare/paramshare/lab"
)

// tiedWidget is the tied-embed widget of "Tied embeddings".
const tiedWidget = `[data-widget="tied-embed"]`

func openTied(t *testing.T, ctx context.Context, url, lang string) {
	t.Helper()
	do(t, ctx, "open tied-embeddings ("+lang+")",
		chromedp.Navigate(url+"/"+lang+"/lessons/tied-embeddings"),
		chromedp.WaitVisible(chromedp.CSS(tiedWidget+` [data-testid="play"]`)),
		connected(tiedWidget, 20*time.Second),
		pollJS(`document.querySelector('`+tiedWidget+` [data-testid="params-tied"]').dataset.value !== undefined`, 20*time.Second),
	)
}

// tiedValue reads a cell's full-precision value.
func tiedValue(t *testing.T, ctx context.Context, testid string) float64 {
	t.Helper()
	s := attrOf(t, ctx, tiedWidget+` [data-testid="`+testid+`"]`, "data-value")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: data-value %q: %v", testid, s, err)
	}
	return v
}

// tiedLossIs waits until the tied model's batch loss cell holds want.
func tiedLossIs(want float64) chromedp.Action[chromedp.Void] {
	return pollJS(fmt.Sprintf(`Math.abs(Number(document.querySelector('%s [data-testid="loss-tied"]').dataset.value) - %v) < 1e-12`, tiedWidget, want), 10*time.Second)
}

// TestBrowserTiedEmbed drives the race in headless Chromium: the
// parameter counts against the engine's, three steps with the tied
// model's loss against a lab.TiedRace run on its own, the ledger closing,
// ← back a step, a new d, play, a seek back, the exports, then the
// Chinese page; screenshots at desktop and phone width in both languages.
func TestBrowserTiedEmbed(t *testing.T) {
	url, ctx := browserSession(t, 150*time.Second)
	w := tiedWidget
	openTied(t, ctx, url, "en")

	race, err := lab.NewTiedRace(lab.DefaultTiedConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range lab.TiedModels() {
		if got, want := tiedValue(t, ctx, "params-"+m), float64(race.Model(m).Model.Count().Params); got != want {
			t.Errorf("%s: %d shows %v, engine %v", m, i, got, want)
		}
	}
	if s := textOf(t, ctx, w+` [data-testid="saved"]`); !strings.Contains(s, "35,488") {
		t.Errorf("saved line %q", s)
	}
	var losses []float64
	for range 3 {
		l, err := race.Step()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l[0])
	}
	for k := 1; k <= 3; k++ {
		do(t, ctx, fmt.Sprintf("step %d", k), chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, k, 10*time.Second))
	}
	do(t, ctx, fmt.Sprintf("tied loss after 3 steps = lab.TiedRace's %v", losses[2]), tiedLossIs(losses[2]))
	if got := tiedValue(t, ctx, "ledger-maxErr"); got > 1e-12 {
		t.Errorf("ledger: max |input + output − dW| = %g", got)
	}
	if got, want := tiedValue(t, ctx, "ledger-dw"), race.Ledger().DWNorm; math.Abs(got-want) > 1e-5*want {
		t.Errorf("ledger ‖dW‖ shows %v, engine %v", got, want)
	}
	focusWidget(t, ctx, w)
	do(t, ctx, "← steps back", chromedp.KeyEvent(kb.ArrowLeft), stepIs(w, 2, 20*time.Second), tiedLossIs(losses[1]))
	blurAll(t, ctx)

	// A new d restarts the race.
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q);
		s.value = "16";
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, w+` [data-testid="set-d"]`))
	do(t, ctx, "d = 16", stepIs(w, 0, 10*time.Second),
		pollJS(`document.querySelector('`+w+` [data-testid="saved"]').textContent.includes("17,744")`, 10*time.Second))
	topSpeed(t, ctx, w)
	do(t, ctx, "play to step 40",
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)),
		pollJS(`Number(document.querySelector('`+w+`').dataset.step) >= 40`, 40*time.Second),
		chromedp.Click(chromedp.CSS(w+` [data-testid="play"]`)), stateIs(w, "paused", 10*time.Second))

	// The JSON export against an independent race at d 16. The step on
	// screen is read with the link, in one tick: a frame of the step taken
	// as the pause arrived may still come after the paused state.
	var export struct {
		Shown, Status, Step, Trace int
		Loss                       []float64
		Format                     string
	}
	raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
		const shown = Number(document.querySelector(%q).dataset.step);
		const r = await fetch(document.querySelector(%q).href);
		if (!r.ok) return JSON.stringify({Shown: shown, Status: r.status});
		const j = await r.json();
		const tr = await fetch(document.querySelector(%q).href);
		const tj = tr.ok ? await tr.json() : {};
		return JSON.stringify({Shown: shown, Status: r.status, Step: j.step, Loss: j.data.loss[0], Trace: tr.status, Format: tj.format});
	})()`, w, w+` [data-testid="export-json"]`, w+` [data-testid="export-trace"]`))
	if err := json.Unmarshal([]byte(raw), &export); err != nil {
		t.Fatalf("export: %.200s: %v", raw, err)
	}
	step := export.Shown
	if step < 40 {
		t.Fatalf("paused at step %d, want ≥ 40", step)
	}
	if export.Status != 200 || export.Step != step || len(export.Loss) != step || export.Trace != 200 || export.Format != engine.TraceFormat {
		t.Fatalf("exports: status %d step %d (want %d) %d losses, trace %d %q", export.Status, export.Step, step, len(export.Loss), export.Trace, export.Format)
	}
	c := lab.DefaultTiedConfig()
	c.D = 16
	r16, err := lab.NewTiedRace(c)
	if err != nil {
		t.Fatal(err)
	}
	losses16 := make([]float64, step)
	for k := range step {
		l, err := r16.Step()
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(l[0]-export.Loss[k]) > 1e-12 {
			t.Fatalf("tied-embed.json: tied loss at step %d %v, lab.TiedRace %v", k+1, export.Loss[k], l[0])
		}
		losses16[k] = l[0]
	}
	const back = 15
	setSlider(t, ctx, w+` [data-testid="seek"]`, back)
	do(t, ctx, fmt.Sprintf("seek to %d", back), stepIs(w, back, 20*time.Second), stateIs(w, "paused", 10*time.Second), tiedLossIs(losses16[back-1]))

	for _, e := range []struct{ testid, magic string }{{"download-png", "PNG"}, {"download-svg", "<svg"}} {
		var got struct {
			Status int
			Magic  bool
		}
		raw := evalJSAsync[string](t, ctx, fmt.Sprintf(`(async () => {
			const r = await fetch(document.querySelector(%q).href);
			const b = new Uint8Array(await r.arrayBuffer());
			const head = new TextDecoder("latin1").decode(b.slice(0, 400));
			return JSON.stringify({Status: r.status, Magic: head.includes(%q)});
		})()`, w+` [data-testid="`+e.testid+`"]`, e.magic))
		if err := json.Unmarshal([]byte(raw), &got); err != nil || got.Status != 200 || !got.Magic {
			t.Fatalf("%s: %.200s %v", e.testid, raw, err)
		}
	}
	pageFits(t, ctx, w)
	screenshots(t, ctx, "tied-embed-en", w)

	openTied(t, ctx, url, "zh")
	if s := textOf(t, ctx, w+` [data-testid="saved"]`); !strings.Contains(s, "绑定省下") {
		t.Errorf("zh saved line %q", s)
	}
	do(t, ctx, "zh step", chromedp.Click(chromedp.CSS(w+` [data-testid="step"]`)), stepIs(w, 1, 10*time.Second), tiedLossIs(losses[0]))
	screenshots(t, ctx, "tied-embed-zh", w)
}
