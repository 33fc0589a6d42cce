package ui_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/testenv"
)

// The browser tests drive Debian's Chromium (headless, through chromedp)
// through what a person does: sign in, look at the project board, click an
// evaluation in the heatmap, and watch a remediation's timeline update
// while it runs. Each step writes a screenshot into TEND_SCREENSHOT_DIR
// when it is set (`make screenshots` sets it to docs/screenshots), else
// into the test's temporary directory.

// browserTimeout bounds a whole browser test; it is a guard against a hang,
// not a measure of speed.
const browserTimeout = 2 * time.Minute

func newChrome(t *testing.T) context.Context {
	t.Helper()
	exec := testenv.ChromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exec),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		// A laptop screen.
		chromedp.WindowSize(1366, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, browserTimeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", exec, err)
	}
	return ctx
}

// screenshotDir is where the screenshots go.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("TEND_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// screenshot saves the whole page as name.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

// waitFor polls a JavaScript condition until it is true.
func waitFor(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond))
}

// text returns the text of the element sel finds.
func text(t *testing.T, ctx context.Context, sel chromedp.CSS) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// location returns the page's address.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return s
}

func TestBrowser(t *testing.T) {
	// Seed the remediation up to its first action's end; the rest arrives
	// while the timeline is open.
	f := newFixture(t, 5)
	// What production runs, as a delivery executor reported it.
	f.send(t, cloudEvent(event.NewUUID(), "sh.keptn.event.release.finished", "helm-service", event.NewUUID(), "", f.t0.Add(-time.Hour),
		map[string]any{"project": project, "stage": stage, "service": service, "result": "pass", "status": "succeeded",
			"deployment": map[string]any{"image": "docker.io/keptnexamples/carts:0.13.1"}}))
	ctx := newChrome(t)
	dir := screenshotDir(t)
	base := f.app.URL()
	do := func(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("login", func(t *testing.T) {
		do(t, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("token")))
		if loc := location(t, ctx); !strings.HasSuffix(loc, "/login") {
			t.Errorf("signed out, / went to %s; want /login", loc)
		}
		screenshot(t, ctx, dir, "login")
		do(t,
			chromedp.SendKeys(chromedp.ID("token"), f.admin),
			chromedp.Submit(chromedp.ID("token")),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/projects/sockshop"]`)),
		)
		if loc := location(t, ctx); strings.Contains(loc, f.admin) || strings.HasSuffix(loc, "/login") {
			t.Errorf("after signing in the address is %s", loc)
		}
	})

	t.Run("project board", func(t *testing.T) {
		do(t,
			chromedp.Click(chromedp.CSS(`a[href="/projects/sockshop"]`)),
			chromedp.WaitVisible(chromedp.CSS(`table.board`)),
		)
		board := text(t, ctx, `table.board`)
		for _, want := range []string{"carts", "fail · 25", "1 open problem", "docker.io/keptnexamples/carts:0.13.1"} {
			if !strings.Contains(board, want) {
				t.Errorf("board lacks %q:\n%s", want, board)
			}
		}
		screenshot(t, ctx, dir, "board")
	})

	t.Run("heatmap click shows the breakdown", func(t *testing.T) {
		do(t,
			chromedp.Click(chromedp.CSS(`a[href="/projects/sockshop/stages/production/services/carts"]`)),
			chromedp.WaitVisible(chromedp.CSS(`svg.heatmap`)),
			// The newest evaluation is shown first; the third is a warning.
			chromedp.Click(chromedp.CSS(`svg.heatmap a.col-link[data-col="3"]`)),
			waitFor(`document.querySelector('#breakdown') !== null && document.querySelector('#breakdown').textContent.includes('702.5')`),
		)
		bd := text(t, ctx, `#breakdown`)
		for _, want := range []string{"warning", "Response time P95", "<=+10%", "Ignore for comparison"} {
			if !strings.Contains(bd, want) {
				t.Errorf("breakdown lacks %q:\n%s", want, bd)
			}
		}
		if loc := location(t, ctx); !strings.Contains(loc, "evaluation="+f.evalIDs[2]) {
			t.Errorf("after the click the address is %s; want it to name evaluation %s", loc, f.evalIDs[2])
		}
		screenshot(t, ctx, dir, "service")
	})

	t.Run("resources", func(t *testing.T) {
		do(t,
			chromedp.Navigate(base+"/projects/sockshop/stages/production/services/carts/resources"),
			chromedp.WaitVisible(chromedp.ID("file-slo_yaml")),
		)
		screenshot(t, ctx, dir, "resources")
	})

	t.Run("remediation timeline updates live", func(t *testing.T) {
		do(t,
			chromedp.Navigate(base+"/contexts/"+remCtx+"/remediation"),
			chromedp.WaitVisible(chromedp.ID("timeline")),
		)
		before := text(t, ctx, `#timeline`)
		if !strings.Contains(before, "running") || strings.Contains(before, "Remediation resolved") {
			t.Fatalf("before the rest of the events, the timeline says:\n%s", before)
		}
		// The page is open; the remediation goes on.
		f.sendRest(t)
		// The live update swaps #timeline in place, so the ended state and
		// its text are read in one step: a node found in one call may be
		// gone by the next.
		after, err := chromedp.Run(ctx, chromedp.Poll[string](
			`(() => { const e = document.querySelector('#timeline[data-ended]'); return e ? e.innerText : null; })()`,
			chromedp.WithPollingInterval(100*time.Millisecond)))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Action 2: Turn off promotions", "feature EnablePromotion (production): on → off",
			"Verification evaluation: pass", "Remediation resolved"} {
			if !strings.Contains(after, want) {
				t.Errorf("the live timeline lacks %q:\n%s", want, after)
			}
		}
		screenshot(t, ctx, dir, "timeline")
	})

	t.Run("events of the context", func(t *testing.T) {
		do(t,
			chromedp.Navigate(base+"/contexts/"+remCtx),
			chromedp.WaitVisible(chromedp.CSS(`table.events`)),
			chromedp.Click(chromedp.CSS(`table.events tbody tr:nth-child(3) summary`)),
			chromedp.WaitVisible(chromedp.CSS(`table.events tbody tr:nth-child(3) pre.json`)),
		)
		screenshot(t, ctx, dir, "events")
	})
}

// TestBrowserSequence watches a delivery wait for a manual approval, clicks
// Approve and sees the sequence go on and finish while the page is open.
func TestBrowserSequence(t *testing.T) {
	f := newFixture(t, 0)
	x := newExecutor(t, f)
	kctx := startDelivery(t, f)
	x.answer(t, "deployment", "staging")
	waitOpen(t, f, "approval", "staging")
	ctx := newChrome(t)
	dir := screenshotDir(t)
	seqURL := f.app.URL() + "/projects/" + project + "/sequences/" + kctx
	if err := chromedp.Do(ctx,
		chromedp.Navigate(seqURL),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), f.admin),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(`#sequence button.approve`)),
	); err != nil {
		t.Fatal(err)
	}
	before, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(() => { const e = document.querySelector('#sequence'); return e && e.querySelector('button.approve') ? e.innerText : null; })()`,
		chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"approval waiting", "helm-service", "staging", "deployed " + deliveredImage} {
		if !strings.Contains(before, want) {
			t.Errorf("the waiting sequence lacks %q:\n%s", want, before)
		}
	}
	screenshot(t, ctx, dir, "sequence-approval")
	// The form's POST answers with the page again, so wait for the
	// notice in a step of its own, after the navigation.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#sequence button.approve`))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`p.notice`))); err != nil {
		t.Fatal(err)
	}
	// The page is open; the executor carries out the remaining tasks.
	x.answer(t, "release", "staging")
	x.answer(t, "deployment", "production")
	x.answer(t, "release", "production")
	// The live update swaps #sequence in place, so the finished state and
	// its text are read in one step: a node found in one call may be gone
	// by the next.
	after, err := chromedp.Run(ctx, chromedp.Poll[string](
		`(() => { const e = document.querySelector('#sequence[data-ended][data-state="finished"]'); return e ? e.innerText : null; })()`,
		chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(after, "Approve") || !strings.Contains(after, "production") || strings.Count(after, "released "+deliveredImage) != 2 {
		t.Errorf("the finished sequence:\n%s", after)
	}
	screenshot(t, ctx, dir, "sequence")
}
