package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

// slothRules is a fake Prometheus holding Sloth's recording rules of two
// SLOs. It answers an instant query by the rule (metric name) and the SLO
// (sloth_id or sloth_slo) the query names, and checks method and path.
type slothRules struct {
	t testing.TB
	// values by SLO id, then by metric name.
	values map[string]map[string]float64
	// labels of each SLO's series.
	labels map[string]map[string]string
}

func newSlothRules(t testing.TB) *slothRules {
	return &slothRules{
		t: t,
		values: map[string]map[string]float64{
			"carts-availability": {
				MetricObjective: 0.999, MetricErrorBudget: 0.001, MetricPeriodDays: 30,
				MetricPeriodBudgetRemain: 0.62, MetricPeriodBurnRate: 0.38,
				MetricSLIError + "5m": 0.02, MetricSLIError + "30m": 0.003, MetricSLIError + "1h": 0.0144,
			},
			"orders-latency": {
				MetricObjective: 0.99, MetricErrorBudget: 0.01, MetricPeriodDays: 28,
				MetricPeriodBudgetRemain: -0.1, MetricSLIError + "5m": 0.001,
			},
			// A period no SLO has: the listing keeps the default.
			"payment-broken": {MetricObjective: 0.9, MetricErrorBudget: 0.1, MetricPeriodDays: 1e300},
		},
		labels: map[string]map[string]string{
			"carts-availability": {"sloth_id": "carts-availability", "sloth_slo": "availability", "sloth_service": "carts", "project": "sockshop", "stage": "production", "service": "carts"},
			"orders-latency":     {"sloth_id": "orders-latency", "sloth_slo": "latency", "sloth_service": "orders"},
			"payment-broken":     {"sloth_id": "payment-broken", "sloth_slo": "broken", "sloth_service": "payment", "project": "sockshop"},
		},
	}
}

// eval finds the SLO and the rule (longest name first) a query reads.
func (f *slothRules) eval(query string) (id string, metric string) {
	for sid, l := range f.labels {
		if strings.Contains(query, "sloth_id='"+sid+"'") || strings.Contains(query, "sloth_slo='"+l["sloth_slo"]+"',sloth_service='"+l["sloth_service"]+"'") {
			id = sid
		}
	}
	best := ""
	for m := range f.values["carts-availability"] {
		if (strings.Contains(query, m+"{") || strings.Contains(query, m+")")) && len(m) > len(best) {
			best = m
		}
	}
	return id, best
}

func (f *slothRules) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || (r.URL.Path != "/api/v1/query" && r.URL.Path != "/api/v1/query_range") {
		f.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query().Get("query")
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/api/v1/query_range" {
		halves := strings.SplitN(q, " / ", 2)
		id, m := f.eval(halves[0])
		v, ok := f.values[id][m]
		if ok && len(halves) == 2 {
			_, m2 := f.eval(halves[1])
			v /= f.values[id][m2]
		}
		res := "[]"
		if ok {
			res = fmt.Sprintf(`[{"metric":{},"values":[[1714564800,"%g"],[1714565100,"NaN"],[1714565400,"%g"]]}]`, v, v)
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":%s}}`, res)
		return
	}
	var parts []string
	listing := strings.HasPrefix(q, MetricObjective)
	if strings.HasPrefix(q, "max by (sloth_id, project, stage, service)") || listing {
		// A listing: one sample per SLO, burn rates divided.
		_, m := f.eval(strings.SplitN(q, " / ", 2)[0])
		if listing {
			m = MetricObjective
		}
		for id, vals := range f.values {
			v, ok := vals[m]
			if !ok {
				continue
			}
			if strings.Contains(q, " / ") {
				v /= vals[MetricErrorBudget]
			}
			// The listing's series carry all labels, the others those
			// of "max by".
			l := map[string]string{}
			for k, v := range f.labels[id] {
				if listing || k == "sloth_id" || k == "project" || k == "stage" || k == "service" {
					l[k] = v
				}
			}
			var lp []string
			for k, lv := range l {
				lp = append(lp, fmt.Sprintf("%q:%q", k, lv))
			}
			parts = append(parts, fmt.Sprintf(`{"metric":{%s},"value":[1714565100,"%g"]}`, strings.Join(lp, ","), v))
		}
	} else {
		halves := strings.SplitN(q, " / ", 2)
		id, m := f.eval(halves[0])
		v, ok := f.values[id][m]
		if ok && len(halves) == 2 {
			_, m2 := f.eval(halves[1])
			v /= f.values[id][m2]
		}
		if ok {
			parts = append(parts, fmt.Sprintf(`{"metric":{},"value":[1714565100,"%g"]}`, v))
		}
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[%s]}}`, strings.Join(parts, ","))
}

func newSlothProvider(t *testing.T) *Provider {
	t.Helper()
	srv := httptest.NewServer(newSlothRules(t))
	t.Cleanup(srv.Close)
	return newProvider(t, Config{URL: srv.URL})
}

func TestBudgetIndicatorQueries(t *testing.T) {
	req := baseReq
	req.Service = "carts"
	req.End = req.Start.Add(30 * time.Minute)
	q, err := QueryBuilder{}.Query(slo.BudgetRemainingSLI("availability"), req)
	if err != nil {
		t.Fatal(err)
	}
	if want := "max(slo:period_error_budget_remaining:ratio{sloth_id='availability',project=~'sockshop|',stage=~'dev|',service=~'carts|'} or " +
		"slo:period_error_budget_remaining:ratio{sloth_slo='availability',sloth_service='carts',project=~'sockshop|',stage=~'dev|',service=~'carts|'})"; q != want {
		t.Errorf("remaining query\n got %s\nwant %s", q, want)
	}
	q, err = QueryBuilder{}.Query(slo.BudgetBurnRateSLI("carts-availability"), req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q, "avg_over_time(slo:sli_error:ratio_rate5m{sloth_id='carts-availability',project=~'sockshop|',stage=~'dev|',service=~'carts|'}[1800s])") || !strings.Contains(q, " / max(slo:error_budget:ratio{") {
		t.Errorf("burn rate query %s", q)
	}
}

func TestBudgetGateValues(t *testing.T) {
	p := newSlothProvider(t)
	req := baseReq
	req.Indicators = []string{slo.BudgetRemainingSLI("availability"), slo.BudgetBurnRateSLI("carts-availability"), slo.BudgetRemainingSLI("unknown")}
	values, err := p.GetSLIs(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !values[0].Success || values[0].Value != 0.62 {
		t.Errorf("remaining by name = %+v", values[0])
	}
	if !values[1].Success || math.Abs(values[1].Value-20) > 1e-9 {
		t.Errorf("burn rate by id = %+v", values[1])
	}
	if values[2].Success || !strings.Contains(values[2].Message, `no series of Sloth's rules for budget SLO "unknown" in project sockshop, stage dev, service carts`) ||
		strings.Contains(values[2].Message, "vector(0)") {
		t.Errorf("unknown SLO = %+v", values[2])
	}
}

func TestShortBurn(t *testing.T) {
	p := newSlothProvider(t)
	tests := []struct {
		name  string
		alert remediation.BurnAlert
		want  remediation.BurnSample
	}{
		{"by id", remediation.BurnAlert{ID: "carts-availability"}, remediation.BurnSample{ErrorRatio5m: 0.02, ErrorRatio30m: 0.003, ErrorBudget: 0.001, PeriodDays: 30}},
		{"by name and service", remediation.BurnAlert{SLO: "latency", Service: "orders"}, remediation.BurnSample{ErrorRatio5m: 0.001, ErrorRatio30m: math.NaN(), ErrorBudget: 0.01, PeriodDays: 28}},
		{"a period no SLO has", remediation.BurnAlert{ID: "payment-broken"}, remediation.BurnSample{ErrorRatio5m: math.NaN(), ErrorRatio30m: math.NaN(), ErrorBudget: 0.1, PeriodDays: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.ShortBurn(context.Background(), tt.alert, BudgetFilter{Project: "sockshop", Stage: "production", Service: "carts"}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ShortBurn = %+v, want %+v", got, tt.want)
			}
		})
	}
	// The decision on these samples: carts still burns (20x over 5m).
	got, _ := p.ShortBurn(context.Background(), remediation.BurnAlert{ID: "carts-availability"}, BudgetFilter{}, t0)
	if ev := remediation.VerifyBurn(remediation.BurnAlert{ID: "carts-availability"}, got); ev.Result != slo.Fail {
		t.Errorf("VerifyBurn = %s %s", ev.Result, ev.Message)
	}
}

func TestShortBurnOutage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(unavailable))
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, Config{URL: srv.URL})
	_, err := p.ShortBurn(context.Background(), remediation.BurnAlert{ID: "x"}, BudgetFilter{}, t0)
	if !errors.Is(err, sli.ErrUnavailable) {
		t.Errorf("err = %v, want sli.ErrUnavailable", err)
	}
	_, err = p.Budgets(context.Background(), BudgetFilter{}, t0)
	if !errors.Is(err, sli.ErrUnavailable) {
		t.Errorf("Budgets err = %v, want sli.ErrUnavailable", err)
	}
}

func TestBudgets(t *testing.T) {
	p := newSlothProvider(t)
	all, err := p.Budgets(context.Background(), BudgetFilter{Project: "sockshop"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].ID != "carts-availability" || all[1].ID != "orders-latency" || all[2].ID != "payment-broken" {
		t.Fatalf("Budgets = %+v", all)
	}
	if b := all[2]; b.PeriodDays != 30 || b.Thresholds[0].Factor != 14.4 {
		t.Errorf("a period of 1e300 days was taken: %+v", b)
	}
	c := all[0]
	if c.Objective != 0.999 || c.PeriodDays != 30 || c.Remaining == nil || *c.Remaining != 0.62 || c.Project != "sockshop" || c.TendService != "carts" {
		t.Errorf("carts = %+v", c)
	}
	if c.BurnRates["5m"] != 20 || c.BurnRates["1h"] != 14.4 || c.BurnRates["period"] != 0.38 {
		t.Errorf("carts burn rates = %v", c.BurnRates)
	}
	if _, ok := c.BurnRates["6h"]; ok {
		t.Errorf("a window without data has a burn rate: %v", c.BurnRates)
	}
	if len(c.Thresholds) != 4 || c.Thresholds[0].Factor != 14.4 || c.Thresholds[1].Factor != 6 {
		t.Errorf("thresholds = %+v", c.Thresholds)
	}
	if o := all[1]; o.Thresholds[0].Factor != 13.44 || *o.Remaining != -0.1 {
		t.Errorf("orders = %+v", o)
	}
	carts, err := p.Budgets(context.Background(), BudgetFilter{Project: "sockshop", Service: "carts"}, t0)
	if err != nil || len(carts) != 1 || carts[0].ID != "carts-availability" {
		t.Errorf("Budgets for carts = %+v, %v", carts, err)
	}
	other, err := p.Budgets(context.Background(), BudgetFilter{Project: "other"}, t0)
	if err != nil || len(other) != 1 || other[0].ID != "orders-latency" {
		t.Errorf("Budgets for another project = %+v, %v (an SLO without tend labels is listed, one of another project is not)", other, err)
	}
}

func TestHistory(t *testing.T) {
	p := newSlothProvider(t)
	h, err := p.History(context.Background(), slo.BudgetStatus{ID: "carts-availability", Project: "sockshop", Stage: "production", TendService: "carts"}, t0.Add(-time.Hour), t0, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Remaining) != 2 || h.Remaining[0].V != 0.62 {
		t.Errorf("remaining = %+v (the NaN point is left out)", h.Remaining)
	}
	if len(h.BurnRate1h) != 2 || math.Abs(h.BurnRate1h[0].V-14.4) > 1e-9 {
		t.Errorf("burn 1h = %+v", h.BurnRate1h)
	}
}

func FuzzDecodeSeries(f *testing.F) {
	for _, body := range []string{oneSample, scalar, emptyVector, twoSeries, nan, matrix, badData, "", "null", "{}",
		`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"NaN"],[1e300,"1"]]}]}}`} {
		f.Add(200, []byte(body))
		f.Add(503, []byte(body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		check := func(err error) {
			var api *APIError
			var malf *MalformedError
			if err != nil && !errors.As(err, &api) && !errors.As(err, &malf) {
				t.Fatalf("undocumented error %T: %v", err, err)
			}
			if err == nil && (status < 200 || status > 299) {
				t.Fatalf("accepted an answer with HTTP status %d", status)
			}
		}
		_, err := DecodeVector(status, body)
		check(err)
		series, err := DecodeMatrix(status, body)
		check(err)
		for _, s := range series {
			for _, p := range s.Points {
				if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
					t.Fatalf("non-finite point %v", p)
				}
			}
		}
	})
}
