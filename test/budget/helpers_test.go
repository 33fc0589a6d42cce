package budget

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/cli"
	"github.com/tendhq/tend/internal/testenv"
)

// waitFor polls cond until it holds, failing with its last word after
// waitLimit.
func waitFor(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.WaitFor(t, waitLimit, 500*time.Millisecond, what, cond)
}

// count runs an instant query and returns how many series it answers.
func count(base, query string) (int, error) {
	body, err := fetch(base + "/api/v1/query?query=" + queryEscape(query))
	if err != nil {
		return 0, err
	}
	var answer struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return 0, fmt.Errorf("read query answer: %w", err)
	}
	return len(answer.Data.Result), nil
}

func queryEscape(q string) string { return url.QueryEscape(q) }

// fetch GETs u and returns the body of a 200 answer.
func fetch(u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %s", u, resp.StatusCode, body)
	}
	return body, nil
}

// get is fetch for diagnostics.
func get(u string) string {
	b, err := fetch(u)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// tend runs the tend command line in process and returns its stdout.
func tend(t testing.TB, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errOut); code != cli.ExitOK {
		t.Fatalf("tend %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

// writeFile replaces path through a rename, so a watcher never reads half.
func writeFile(t testing.TB, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// randomHex keeps this run's project, job, rules and route apart from
// other tests' on the shared Prometheus and Alertmanager.
func randomHex(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
