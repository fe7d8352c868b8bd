package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserChinese opens each widget's lesson in Chinese and checks that
// the widget speaks Chinese (words of its zh table and of the shared step
// controls are on screen), that none of a few distinctive English words of
// its en table is, and that its stream works: a step, a frame or a
// prediction arrives.
func TestBrowserChinese(t *testing.T) {
	url, ctx := browserSession(t, 60*time.Second)
	for _, c := range []struct {
		slug, widget string
		// firstFrame is true in the page once the widget has drawn its
		// first frame from the server.
		firstFrame string
		zh, en     []string
		// stream makes the widget use its stream; it returns what arrived.
		stream func(t *testing.T, ctx context.Context, sel string) string
	}{{
		slug: "one-kernel-many-places", widget: "conv-slide",
		firstFrame: `document.querySelector('[data-testid="sharing-line"]').textContent.length > 0`,
		zh:         []string{"播放", "单步", "重置", "输出特征图", "个参数，在"},
		en:         []string{"Play", "Step", "Reset", "Output feature map", "parameters, used at", "Kernel"},
		stream:     stepOnce,
	}, {
		slug: "why-share", widget: "param-calc",
		firstFrame: `document.querySelector('[data-testid="params-conv"]').dataset.value === "10"`,
		zh:         []string{"图像尺寸", "独立参数个数", "全连接", "局部连接", "卷积"},
		en:         []string{"Image size", "Unique parameters", "Dense", "Locally connected", "Convolution", "Download PNG"},
		stream: func(t *testing.T, ctx context.Context, sel string) string {
			setSlider(t, ctx, `[data-testid="slider-size"]`, 20)
			if err := chromedp.Do(ctx, pollJS(`document.querySelector('.pc').dataset.size === "20"`, 10*time.Second)); err != nil {
				t.Fatalf("the counts for size 20 never came: %v", err)
			}
			return "the counts for size 20"
		},
	}, {
		slug: "how-a-shared-kernel-learns", widget: "conv-grad",
		firstFrame: `document.querySelector('[data-testid="header"]').textContent.length > 0`,
		zh:         []string{"播放", "单步", "后退", "快捷键", "上游梯度", "共享卷积核的梯度"},
		// Not "Back": the zh table names the engine's Backward on purpose.
		en:     []string{"Play", "Step", "Keys:", "Upstream gradient", "Shared kernel gradient", "Input patch", "positions added"},
		stream: stepOnce,
	}, {
		slug: "train-a-cnn-live", widget: "cnn-train",
		firstFrame: `document.querySelector('[data-widget="cnn-train"] [data-testid="params-cnn"]').dataset.value !== undefined`,
		zh:         []string{"播放", "单步", "训练准确率", "测试准确率", "轮数", "学习率"},
		en:         []string{"Play", "Step", "Train accuracy", "Test accuracy", "Epochs", "Learning rate", "Download charts"},
		stream:     stepOnce,
	}, {
		slug: "draw-a-digit", widget: "draw-digit",
		// Before the models are trained the page shows the training's
		// progress; after, it is ready.
		firstFrame: `document.querySelector('[data-widget="draw-digit"]').dataset.ready === "true" || document.querySelector('[data-testid="training"]').textContent.length > 0`,
		zh:         []string{"清除", "载入一个测试数字", "左右平移"},
		en:         []string{"Clear", "Load a test digit", "Move sideways", "Draw a digit", "Probability"},
		stream: func(t *testing.T, ctx context.Context, sel string) string {
			// The models train once per test binary (TestBrowserDrawDigit
			// usually has done it); a prediction needs them, the training's
			// progress frames do not.
			ready := chromedp.Do(ctx, pollJS(`document.querySelector('`+sel+`').dataset.ready === "true"`, 15*time.Second)) == nil
			if !ready {
				text := evalJS[string](t, ctx, `document.querySelector('[data-testid="training"]').textContent`)
				if !strings.Contains(text, "训练") {
					t.Fatalf("the training progress is not in Chinese: %q", text)
				}
				return fmt.Sprintf("training progress %q (the models were not trained yet, so no prediction)", text)
			}
			err := chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS(`[data-testid="load-digit"]`)),
				pollJS(`(document.querySelector('[data-testid="prediction-cnn"]').dataset.class || "") !== ""`, 15*time.Second),
			)
			if err != nil {
				t.Fatalf("no prediction for a test digit: %v", err)
			}
			return "a prediction: the CNN says " + evalJS[string](t, ctx, `document.querySelector('[data-testid="prediction-cnn"]').dataset.class`)
		},
	}} {
		t.Run(c.widget, func(t *testing.T) {
			sel := fmt.Sprintf(`[data-widget=%q]`, c.widget)
			err := chromedp.Do(ctx,
				chromedp.Navigate(url+"/zh/lessons/"+c.slug),
				chromedp.WaitVisible(chromedp.CSS(sel)),
				// The widget builds its parts after its module loads: until
				// then the expression may meet null.
				pollJS(`(() => { try { return !!(`+c.firstFrame+`); } catch { return false; } })()`, 20*time.Second),
			)
			if err != nil {
				t.Fatalf("open /zh/lessons/%s: %v", c.slug, err)
			}
			// innerText is what is rendered: hidden parts are left out.
			text := evalJS[string](t, ctx, `document.querySelector('`+sel+`').innerText`)
			for _, s := range c.zh {
				if !strings.Contains(text, s) {
					t.Errorf("%q is not shown in the Chinese widget", s)
				}
			}
			for _, s := range c.en {
				if strings.Contains(text, s) {
					t.Errorf("the Chinese widget shows the English %q", s)
				}
			}
			if t.Failed() {
				t.Logf("the widget's text:\n%s", text)
			}
			t.Logf("%s streams: %s", c.widget, c.stream(t, ctx, sel))
			if c.widget == "param-calc" {
				saveScreenshots(t, map[string][]byte{"paramshare-zh-why-share-page.png": shoot(t, ctx, "")})
			}
			saveScreenshots(t, map[string][]byte{"paramshare-zh-" + c.widget + ".png": shoot(t, ctx, sel)})
		})
	}
}

// stepOnce presses the widget's Step button and waits for step 1 to arrive.
func stepOnce(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(sel+` [data-testid="step"]`)),
		pollJS(`document.querySelector('`+sel+`').dataset.step === "1"`, 15*time.Second),
	)
	if err != nil {
		t.Fatalf("Step: step 1 never arrived: %v", err)
	}
	return "step 1"
}
