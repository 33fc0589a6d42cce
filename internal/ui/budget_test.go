package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
)

// slothPrometheus is a fake Prometheus holding Sloth's recording rules of
// the carts availability SLO in production: the listing's instant queries
// and the range queries of the charts (remaining 80% falling to 60%, a 1h
// burn rate rising from 1 to 20). The listing also finds a staging SLO,
// which production's page must leave out. It counts the queries.
func slothPrometheus(t testing.TB) (string, *atomic.Int32) {
	t.Helper()
	var queries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
		queries.Add(1)
		q := r.URL.Query().Get("query")
		labels := `{"sloth_id":"carts-availability","sloth_slo":"availability","sloth_service":"carts","project":"sockshop","stage":"production","service":"carts"}`
		vector := func(v string) {
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":%s,"value":[1714564800,%q]}]}}`, labels, v)
		}
		switch r.URL.Path {
		case "/api/v1/query":
			switch {
			case strings.HasPrefix(q, "slo:objective:ratio"):
				staging := `{"sloth_id":"carts-staging-latency","sloth_slo":"latency","sloth_service":"carts","project":"sockshop","stage":"staging","service":"carts"}`
				fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":%s,"value":[1714564800,"0.999"]},{"metric":%s,"value":[1714564800,"0.99"]}]}}`, labels, staging)
			case strings.Contains(q, "slo:period_error_budget_remaining:ratio"):
				vector("0.6")
			case strings.Contains(q, "slo:time_period:days"):
				vector("30")
			case strings.Contains(q, "slo:sli_error:ratio_rate5m"):
				vector("20")
			case strings.Contains(q, "slo:sli_error:ratio_rate1h"):
				vector("15")
			default:
				fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			}
		case "/api/v1/query_range":
			start, _ := strconv.ParseFloat(r.URL.Query().Get("start"), 64)
			end, _ := strconv.ParseFloat(r.URL.Query().Get("end"), 64)
			from, to := 1.0, 20.0
			if strings.HasPrefix(q, "max(slo:period_error_budget_remaining:ratio") {
				from, to = 0.8, 0.6
			}
			var pts []string
			for i := 0; i <= 10; i++ {
				pts = append(pts, fmt.Sprintf(`[%d,"%g"]`, int64(start+(end-start)*float64(i)/10), from+(to-from)*float64(i)/10))
			}
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(pts, ","))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &queries
}

func TestServicePageShowsTheBudget(t *testing.T) {
	f := newFixture(t, -1)
	svcURL := "/projects/" + project + "/stages/" + stage + "/services/" + service
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	t.Run("no monitoring, no budget section", func(t *testing.T) {
		p := b.get(svcURL)
		if p.status != http.StatusOK || strings.Contains(p.body, "Error budgets") {
			t.Fatalf("status %d; budget section shown without Prometheus", p.status)
		}
	})
	promURL, queries := slothPrometheus(t)
	if _, err := f.client.PutMonitoring(context.Background(), project, apitypes.MonitoringConfig{Provider: "prometheus", URL: promURL}); err != nil {
		t.Fatal(err)
	}
	t.Run("another project's token sees nothing and reads no Prometheus", func(t *testing.T) {
		if _, err := f.client.CreateProject(context.Background(), apitypes.CreateProjectRequest{Name: "other", Shipyard: shipyard}); err != nil {
			t.Fatal(err)
		}
		other := newBrowser(t, f)
		other.mustLogin(f.newToken(t, "other-reader", apitypes.ScopeRead, "other"))
		before := queries.Load()
		p := other.get(svcURL)
		if p.status == http.StatusOK || strings.Contains(p.body, "Error budgets") || strings.Contains(p.body, "carts-availability") {
			t.Errorf("status %d; another project's token is shown sockshop's budget:\n%s", p.status, p.body)
		}
		if n := queries.Load() - before; n != 0 {
			t.Errorf("another project's page view sent %d queries to sockshop's Prometheus", n)
		}
	})
	p := b.get(svcURL)
	if p.status != http.StatusOK {
		t.Fatalf("status %d:\n%s", p.status, p.body)
	}
	for _, want := range []string{
		"Error budgets", `data-slo="carts-availability"`, "objective 99.9% over 30 days", "Remaining budget: <strong class=\"\">60.0%</strong>",
		`<span class="burn above" title="burn rate over 5m">5m 20.00×</span>`,
		`class="timechart"`, "Error budget remaining (%) over the 30 days period", "Burn rate over the last day",
		"page 14.4× (5m/1h)", "page 6× (30m/6h)", "ticket 3× (2h/1d)", "ticket 1× (6h/3d)",
		`<polyline class="series"`, `<polyline class="series series-short"`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("service page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "no data in this range") {
		t.Error("a chart shows no data")
	}
	if strings.Contains(p.body, "carts-staging-latency") {
		t.Error("production's page shows a staging SLO")
	}
	// The fake's 11 evenly spaced points make one line per series.
	section := p.body[strings.Index(p.body, `class="budget"`):]
	section = section[:strings.Index(section, "</section>")]
	if n := strings.Count(section, "<polyline "); n != 3 {
		t.Errorf("%d polylines, want 3 (remaining, 1h and 5m burn rates)", n)
	}
}
