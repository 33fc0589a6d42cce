package prometheus

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/testenv"
)

// placedSLO is one SLO's recording rules as tend generates them for one
// project, stage and service: Sloth's labels and tend's (under the names
// given), constant values.
type placedSLO struct {
	labels map[string]string
	values map[string]float64
}

// placedRules loads the SLOs' rules into the test Prometheus as one file.
func placedRules(t *testing.T, name string, slos []placedSLO) {
	t.Helper()
	dir := testenv.RequireAlso(t, testenv.Prometheus, testenv.PrometheusRulesDirEnv)
	var b strings.Builder
	fmt.Fprintf(&b, "groups:\n  - name: %s\n    rules:\n", name)
	for _, s := range slos {
		var l []string
		for k, v := range s.labels {
			l = append(l, fmt.Sprintf("%s: %q", k, v))
		}
		slices.Sort(l)
		for metric, v := range s.values {
			fmt.Fprintf(&b, "      - record: %s\n        expr: vector(%g)\n        labels: {%s}\n", metric, v, strings.Join(l, ", "))
		}
	}
	file := filepath.Join(dir, name+".yml")
	testenv.WriteFileAtomic(t, file, b.String())
	t.Cleanup(func() {
		_ = os.Remove(file)
		testenv.PrometheusReload(t)
	})
	testenv.PrometheusReload(t)
}

// burning are a budget SLO's rule values: objective 99.9% over 30 days,
// remain left of the budget, the 5m and 30m windows at the error ratios.
func burning(remain, ratio5m, ratio30m float64) map[string]float64 {
	return map[string]float64{
		MetricObjective: 0.999, MetricErrorBudget: 0.001, MetricPeriodDays: 30, MetricPeriodBudgetRemain: remain,
		MetricSLIError + "5m": ratio5m, MetricSLIError + "30m": ratio30m, MetricSLIError + "1h": ratio5m,
	}
}

// TestBudgetsPlacedOnRealPrometheus: one Prometheus holds the same SLO
// (one sloth_id) in two stages of a project and in another project, as
// the rules tend generates record them. Every read keeps to its own
// project, stage and service: the listing shows the stages apart and never
// the other project's, and the gate, the burn verification and the charts
// read their own stage's series, not the largest of all.
func TestBudgetsPlacedOnRealPrometheus(t *testing.T) {
	base := testenv.PrometheusURL(t)
	svc := "svc" + testenv.RandomHex(t, 4)
	id := svc + "-availability"
	place := func(names Labels, project, stage string) map[string]string {
		n := names.WithDefaults()
		return map[string]string{"sloth_id": id, "sloth_slo": "availability", "sloth_service": svc, n.Project: project, n.Stage: stage, n.Service: svc}
	}
	std := Labels{}
	placedRules(t, "tend-test-placed-"+svc, []placedSLO{
		{place(std, "sockshop", "production"), burning(0.62, 0.02, 0.003)},
		{place(std, "sockshop", "staging"), burning(0.3, 0.0001, 0.0002)},
		{place(std, "other", "production"), burning(0.1, 0.05, 0.04)},
	})
	p := newProvider(t, Config{URL: base})
	ctx := context.Background()
	list := waitBudgets(t, p, BudgetFilter{Project: "sockshop", Service: svc}, 2)
	if list[0].Stage != "production" || *list[0].Remaining != 0.62 || list[0].BurnRates["5m"] != 20 ||
		list[1].Stage != "staging" || *list[1].Remaining != 0.3 || list[1].BurnRates["5m"] != 0.1 {
		t.Errorf("the stages' budgets are mixed up: %+v", list)
	}
	for _, b := range list {
		if b.Project != "sockshop" {
			t.Errorf("another project's SLO listed: %+v", b)
		}
	}
	staging, err := p.Budgets(ctx, BudgetFilter{Project: "sockshop", Stage: "staging", Service: svc}, time.Now())
	if err != nil || len(staging) != 1 || staging[0].Stage != "staging" {
		t.Errorf("staging's listing = %+v, %v", staging, err)
	}

	t.Run("gate", func(t *testing.T) {
		now := time.Now()
		req := sli.Request{Project: "sockshop", Stage: "staging", Service: svc, Start: now.Add(-3 * time.Second), End: now,
			Indicators: []string{slo.BudgetRemainingSLI("availability"), slo.BudgetBurnRateSLI(id)}}
		values, err := p.GetSLIs(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !values[0].Success || values[0].Value != 0.3 || !values[1].Success || math.Abs(values[1].Value-0.1) > 1e-9 {
			t.Errorf("staging's gate read %+v; want staging's remaining 0.3 and burn rate 0.1", values)
		}
	})
	t.Run("burn verification", func(t *testing.T) {
		s, err := p.ShortBurn(ctx, remediation.BurnAlert{ID: id}, BudgetFilter{Project: "sockshop", Stage: "staging", Service: svc}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ev := remediation.VerifyBurn(remediation.BurnAlert{ID: id}, s); ev.Result != slo.Pass {
			t.Errorf("staging's burn stopped, but the verification read %+v: %s", s, ev.Message)
		}
	})
	t.Run("history", func(t *testing.T) {
		now := time.Now()
		h, err := p.History(ctx, list[1], now.Add(-10*time.Second), now, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Remaining) == 0 || h.Remaining[len(h.Remaining)-1].V != 0.3 {
			t.Errorf("staging's chart = %+v; want staging's remaining 0.3", h.Remaining)
		}
	})
	t.Run("configured label names", func(t *testing.T) {
		names := Labels{Project: "namespace", Stage: "env", Service: "app"}
		svc2 := svc + "b"
		other := place(names, "other", "production")
		other["sloth_id"], other["sloth_service"], other["app"] = svc2+"-availability", svc2, svc2
		own := place(names, "sockshop", "production")
		own["sloth_id"], own["sloth_service"], own["app"] = svc2+"-availability", svc2, svc2
		placedRules(t, "tend-test-placed-"+svc2, []placedSLO{{own, burning(0.5, 0.001, 0.001)}, {other, burning(0.2, 0.04, 0.04)}})
		p := newProvider(t, Config{URL: base, Labels: names})
		list := waitBudgets(t, p, BudgetFilter{Project: "sockshop", Service: svc2}, 1)
		if b := list[0]; b.Project != "sockshop" || b.Stage != "production" || b.TendService != svc2 || *b.Remaining != 0.5 {
			t.Errorf("listing by intake.labels = %+v", b)
		}
	})
}

// waitBudgets lists until n SLOs with their remaining budget show (the
// rules' first evaluations, every second).
func waitBudgets(t *testing.T, p *Provider, f BudgetFilter, n int) []slo.BudgetStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := p.Budgets(context.Background(), f, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ready := len(list) >= n
		for _, b := range list {
			ready = ready && b.Remaining != nil && len(b.BurnRates) >= 2
		}
		if ready {
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d budget SLOs did not show within 30s: %+v", n, list)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
