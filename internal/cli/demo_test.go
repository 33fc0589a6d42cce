package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDemoUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"load with a zero rate", []string{"demo", "load", "--rate", "0"}, "--rate 0 is out of range"},
		{"load with a bad target", []string{"demo", "load", "--target", "localhost"}, "--target"},
		{"carts with a deployment but no namespace", []string{"demo", "carts", "--deployment", "carts-primary"}, "need --namespace"},
		{"carts with an argument", []string{"demo", "carts", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTend(t, "", tt.args...)
			if r.code != ExitBadInput || !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, ExitBadInput, tt.wantStderr)
			}
		})
	}
}

// lockedBuffer lets the test read what a running command writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemoCartsAndLoad runs `tend demo carts` on a free port and `tend
// demo load` against it, then stops both through their context.
func TestDemoCartsAndLoad(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"demo", "carts", "--listen", "127.0.0.1:0", "--time-scale", "0"}, strings.NewReader(""), &out, &errOut)
	}()
	addr := regexp.MustCompile(`carts is serving on (http://\S+)`)
	var base string
	for end := time.Now().Add(30 * time.Second); base == ""; time.Sleep(10 * time.Millisecond) {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(end) {
			cancel()
			t.Fatalf("tend demo carts did not announce its address; stdout %q stderr %q", out.String(), errOut.String())
		}
	}

	r := runTend(t, "", "demo", "load", "--target", base, "--rate", "100", "--duration", "300ms", "--progress", "100ms")
	if r.code != ExitOK || !strings.Contains(r.stderr, "load: stopped after") || !strings.Contains(r.stderr, "errors 0") {
		t.Errorf("tend demo load: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `http_requests_total{handler="ItemsController.addToCart",status="201"}`) {
		t.Errorf("/metrics after the load lacks add-to-cart requests:\n%s", body)
	}

	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("tend demo carts exited %d after its context ended; stderr %q", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tend demo carts did not stop within 30s of its context ending")
	}
}
