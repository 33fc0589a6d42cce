package budget

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
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
	body, err := testenv.Fetch(base + "/api/v1/query?query=" + queryEscape(query))
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

// tend runs the tend command line in process and returns its stdout.
func tend(t testing.TB, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), args, strings.NewReader(""), &out, &errOut); code != cli.ExitOK {
		t.Fatalf("tend %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}
