package cli

import (
	"strings"
	"testing"
)

const budgetAnswer = `{"project":"sockshop","service":"carts","slos":[` +
	`{"id":"carts-availability","slo":"availability","service":"carts","stage":"production","tendService":"carts","objective":0.999,"periodDays":30,"remaining":0.62,` +
	`"burnRates":{"5m":20,"1h":14.4,"6h":0.5,"period":0.38},` +
	`"thresholds":[{"severity":"page","shortWindow":"5m","longWindow":"1h","factor":14.4},{"severity":"page","shortWindow":"30m","longWindow":"6h","factor":6},{"severity":"ticket","shortWindow":"2h","longWindow":"1d","factor":3}]},` +
	`{"id":"orders-latency","slo":"latency","service":"orders","objective":0.99,"periodDays":28,"burnRates":{},"thresholds":[]}]}`

func TestGetSLOs(t *testing.T) {
	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/slos", query: "service=carts&stage=production", answer: budgetAnswer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "slos", "--project", "sockshop", "--stage", "production", "--service", "carts")
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "SLO ") || !strings.Contains(lines[0], "REMAINING") {
			t.Fatalf("table:\n%s", r.stdout)
		}
		if got := strings.Join(strings.Fields(lines[1]), " "); got != "carts-availability production carts 99.9% 30d 62.0% 20.00 14.40 0.50 - 14.4 (5m/1h), 6 (30m/6h)" {
			t.Errorf("first row: %q", got)
		}
		if got := strings.Join(strings.Fields(lines[2]), " "); got != "orders-latency - orders 99% 28d - - - - - -" {
			t.Errorf("row without data: %q", got)
		}
	})
	t.Run("json", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/slos", answer: budgetAnswer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "slos", "--project", "sockshop", "-o", "json")
		wantExit(t, r, ExitOK)
		if !strings.Contains(r.stdout, `"remaining": 0.62`) {
			t.Errorf("json:\n%s", r.stdout)
		}
	})
	t.Run("none", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop/slos", answer: `{"project":"sockshop","slos":[]}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "slos", "--project", "sockshop")
		wantExit(t, r, ExitOK)
		if r.stdout != "" || !strings.Contains(r.stderr, "No budget SLOs in project sockshop:") || !strings.Contains(r.stderr, "tend generate alert-rules") {
			t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
		}
	})
	t.Run("project required", func(t *testing.T) {
		r := runOnline(t, "", "get", "slos")
		wantExit(t, r, ExitBadInput)
	})
}
