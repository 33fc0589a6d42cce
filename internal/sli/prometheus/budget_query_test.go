package prometheus

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/slo"
)

// queryRecorder is a Prometheus that records every query and answers the
// listing's first query with one SLO (whose labels are given), so
// Budgets goes on to its other queries, and everything else with no data.
type queryRecorder struct {
	mu      sync.Mutex
	queries []string
	listed  map[string]string
}

func (q *queryRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query().Get("query")
	q.mu.Lock()
	q.queries = append(q.queries, query)
	listed := q.listed
	q.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/api/v1/query_range":
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[]}}`)
	case strings.HasPrefix(query, MetricObjective):
		var lp []string
		for k, v := range listed {
			lp = append(lp, fmt.Sprintf("%q:%q", k, v))
		}
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{%s},"value":[1,"0.999"]}]}}`, strings.Join(lp, ","))
	default:
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}
}

func (q *queryRecorder) take() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.queries
	q.queries = nil
	return out
}

// budgetInputs are the stored values and label names one fuzz case puts
// into the budget queries.
type budgetInputs struct {
	sloName, id, slothSLO, service, project, stage string
	names                                          Labels
}

// checkBudgetQuery parses a query tend built with Prometheus's own parser
// and fails unless every selector reads one of Sloth's metrics with
// matchers on the expected labels only, each matching exactly the stored
// value it was built from (a crafted value cannot add a matcher, change an
// operator or widen a match), and "max by" groups by the expected labels
// only.
func checkBudgetQuery(t *testing.T, in budgetInputs, query string) {
	t.Helper()
	expr, err := parser.ParseExpr(query)
	if err != nil {
		t.Fatalf("query does not parse: %v\n%s", err, query)
	}
	exact := map[string][]string{
		"sloth_id":      {in.sloName, in.id},
		"sloth_slo":     {in.sloName, in.slothSLO},
		"sloth_service": {in.service},
	}
	place := map[string]string{in.names.Project: in.project, in.names.Stage: in.stage, in.names.Service: in.service}
	metrics := []string{MetricObjective, MetricErrorBudget, MetricPeriodDays, MetricPeriodBurnRate, MetricPeriodBudgetRemain}
	for _, w := range append(budgetWindows, "1h") {
		metrics = append(metrics, MetricSLIError+w)
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.AggregateExpr:
			for _, g := range n.Grouping {
				if g != "sloth_id" && g != in.names.Project && g != in.names.Stage && g != in.names.Service {
					t.Errorf("groups by %q\n%s", g, query)
				}
			}
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				switch want, isPlace := place[m.Name]; {
				case m.Name == labels.MetricName:
					if m.Type != labels.MatchEqual || !contains(metrics, m.Value) {
						t.Errorf("reads metric %s\n%s", m, query)
					}
				case exact[m.Name] != nil:
					if m.Type != labels.MatchEqual || !contains(exact[m.Name], m.Value) {
						t.Errorf("matcher %s is not one of %q\n%s", m, exact[m.Name], query)
					}
				case isPlace && m.Type == labels.MatchEqual:
					// History: exactly the listed SLO's labels.
				case isPlace && m.Type == labels.MatchRegexp:
					if !m.Matches(want) || !m.Matches("") || m.Matches(want+"x") || (want != "" && m.Matches("x"+want)) {
						t.Errorf("matcher %s does not match exactly %q or the absent label\n%s", m, want, query)
					}
				default:
					t.Errorf("unexpected matcher %s\n%s", m, query)
				}
			}
		}
		return nil
	})
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// FuzzBudgetQueries: SLO names from slo.yaml, a page alert's sloth labels,
// tend's project, stage and service, and the label names of tend.yaml
// intake.labels all end up in PromQL; whatever they hold, Prometheus's
// parser reads the queries tend sends as matchers of exactly those values.
func FuzzBudgetQueries(f *testing.F) {
	f.Add("availability", "carts-availability", "availability", "carts", "sockshop", "production", "", "", "")
	f.Add(`x'} or vector(1) or x{a='`, `id"}`, `a\'b`, "svc\\", ".*", "prod|staging", "k8s.namespace", `env"x`, "app-name")
	f.Add("a\nb", "\x00", "é", "}", "{", "'", "tend_project", "tend_stage", "tend_service")
	rec := &queryRecorder{}
	srv := httptest.NewServer(rec)
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, sloName, id, slothSLO, service, project, stage, projectLabel, stageLabel, serviceLabel string) {
		in := budgetInputs{sloName: sloName, id: id, slothSLO: slothSLO, service: service, project: project, stage: stage,
			names: Labels{Project: projectLabel, Stage: stageLabel, Service: serviceLabel}}
		p, err := New(Config{URL: srv.URL, Labels: in.names})
		if err != nil {
			if !strings.Contains(err.Error(), "label name") {
				t.Fatalf("New refused the label names with %v", err)
			}
			return
		}
		in.names = p.labels
		valid := true
		for _, s := range []string{sloName, id, slothSLO, service, project, stage} {
			valid = valid && utf8.ValidString(s)
		}
		var queries []string
		for _, ind := range []string{slo.BudgetRemainingSLI(sloName), slo.BudgetBurnRateSLI(sloName)} {
			req := baseReq
			req.Project, req.Stage, req.Service = project, stage, service
			q, err := p.Query(ind, req)
			if err != nil {
				t.Fatalf("Query(%q): %v", ind, err)
			}
			queries = append(queries, q)
		}
		rec.mu.Lock()
		rec.listed = map[string]string{"sloth_id": id, "sloth_slo": slothSLO, "sloth_service": service, in.names.Project: project, in.names.Stage: stage, in.names.Service: service}
		rec.mu.Unlock()
		ctx := context.Background()
		where := BudgetFilter{Project: project, Stage: stage, Service: service}
		_, _ = p.ShortBurn(ctx, remediation.BurnAlert{ID: id}, where, t0)
		_, _ = p.ShortBurn(ctx, remediation.BurnAlert{SLO: slothSLO, Service: service}, where, t0)
		_, _ = p.Budgets(ctx, where, t0)
		_, _ = p.History(ctx, slo.BudgetStatus{ID: id, Project: project, Stage: stage, TendService: service}, t0.Add(-5*time.Minute), t0, time.Minute)
		queries = append(queries, rec.take()...)
		if len(queries) < 2+8+1+3 {
			t.Fatalf("only %d queries reached Prometheus: %q", len(queries), queries)
		}
		for _, q := range queries {
			if !valid {
				// Prometheus's strings are UTF-8: a query of other bytes
				// may be refused, but must not mean something else.
				if _, err := parser.ParseExpr(q); err != nil {
					continue
				}
			}
			checkBudgetQuery(t, in, q)
		}
	})
}

func TestBudgetLabelNamesChecked(t *testing.T) {
	for _, tt := range []struct {
		names Labels
		want  string
	}{
		{Labels{Project: "my project"}, `project label name "my project"`},
		{Labels{Stage: "st\x7fage"}, "space or control character"},
		{Labels{Service: "\xff"}, "not UTF-8"},
		{Labels{Project: "env", Stage: "env"}, `project and stage label names are both "env"`},
		{Labels{Service: "project"}, `project and service label names are both "project"`},
		{Labels{Stage: "sloth_id"}, `stage label name "sloth_id" is a label of Sloth's or Prometheus's own`},
		{Labels{Project: "__name__"}, "own"},
	} {
		_, err := New(Config{URL: "http://prometheus:9090", Labels: tt.names})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v; want an error with %q", tt.names, err, tt.want)
		}
	}
	p := newProvider(t, Config{URL: "http://prometheus:9090", Labels: Labels{Project: "k8s.namespace", Stage: "env"}})
	req := baseReq
	q, err := p.Query(slo.BudgetRemainingSLI("availability"), req)
	if err != nil {
		t.Fatal(err)
	}
	// A UTF-8 label name is quoted (Prometheus 3), a classic one is not.
	if !strings.Contains(q, `"k8s.namespace"=~'sockshop|',env=~'dev|',service=~'carts|'`) {
		t.Errorf("query %s", q)
	}
}

// TestAnswerTooLarge: an answer beyond what tend reads is refused as too
// large, not as JSON cut off in the middle.
func TestAnswerTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		_, _ = w.Write([]byte(strings.Repeat(" ", maxBody)))
		fmt.Fprint(w, `]}}`)
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, Config{URL: srv.URL, BearerToken: "s3cret-token"})
	_, err := p.Budgets(context.Background(), BudgetFilter{Project: "sockshop"}, t0)
	if err == nil || !strings.Contains(err.Error(), "more than 8 MiB") || !strings.Contains(err.Error(), MetricObjective) {
		t.Errorf("Budgets = %v; want the query named and the answer refused as larger than 8 MiB", err)
	}
}

// TestBudgetErrorsKeepSecrets: a proxy that echoes the request's
// credentials in its error page gets them quoted in no error of the budget
// reads (which reach the remediation's events, the API and the UI) and no
// gate result.
func TestBudgetErrorsKeepSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "<html>bad request with Authorization: %s</html>", r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	for _, cfg := range []Config{
		{URL: srv.URL, BearerToken: "b3arer-s3cret"},
		{URL: srv.URL, User: "tend", Password: "pa55-s3cret"},
	} {
		p := newProvider(t, cfg)
		ctx := context.Background()
		where := BudgetFilter{Project: "sockshop", Stage: "production", Service: "carts"}
		var errs []string
		_, err := p.ShortBurn(ctx, remediation.BurnAlert{ID: "carts-availability"}, where, t0)
		errs = append(errs, fmt.Sprint(err))
		_, err = p.Budgets(ctx, where, t0)
		errs = append(errs, fmt.Sprint(err))
		_, err = p.History(ctx, slo.BudgetStatus{ID: "carts-availability"}, t0.Add(-time.Hour), t0, time.Minute)
		errs = append(errs, fmt.Sprint(err))
		req := baseReq
		req.Indicators = []string{slo.BudgetRemainingSLI("availability")}
		// A refused query fails the SLI (not the whole fetch: no outage).
		values, _ := p.GetSLIs(ctx, req)
		for _, v := range values {
			errs = append(errs, v.Message)
		}
		for _, e := range errs {
			if e == "<nil>" || e == "" {
				t.Errorf("a read of the refusing Prometheus succeeded: %q", errs)
			}
			for _, secret := range []string{cfg.BearerToken, cfg.Password, "dGVuZDpwYTU1LXMzY3JldA=="} {
				if secret != "" && strings.Contains(e, secret) {
					t.Errorf("message carries a secret: %s", e)
				}
			}
			if !strings.Contains(e, "<redacted>") {
				t.Errorf("message does not quote the answer: %s", e)
			}
		}
	}
}
