package ui_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// TestStreamStartsAtTheNewestEvent connects to a timeline's stream without
// saying what the page has seen: the stream must not replay the context's
// history, and the first change it reports is the event sent afterwards.
func TestStreamStartsAtTheNewestEvent(t *testing.T) {
	f := newFixture(t, 0)
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	kctx := f.evals[0] // it has an evaluation.finished event already

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.app.URL()+"/contexts/"+kctx+"/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream answered %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// The headers arrive after the stream fixed where it starts.
	const typ = "sh.keptn.event.evaluation.started"
	f.send(t, cloudEvent(event.NewUUID(), typ, "test", kctx, "", time.Now(), common(nil)))

	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data != typ {
			t.Fatalf("the stream's first change is %q, want %q: it replayed history", data, typ)
		}
		return
	}
	t.Fatalf("the stream ended without a change: %v", sc.Err())
}
