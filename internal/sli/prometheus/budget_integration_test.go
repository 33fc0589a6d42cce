package prometheus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/testenv"
)

// slothRecordingRules writes recording rules of the names and labels
// Sloth's generate, with constant values, into the test Prometheus: its
// queries then run against the real PromQL engine and the real series
// shapes, without Sloth's library (which the rule generation owns).
func slothRecordingRules(t *testing.T, service string, values map[string]float64) {
	t.Helper()
	dir := testenv.RequireAlso(t, testenv.Prometheus, testenv.PrometheusRulesDirEnv)
	var b strings.Builder
	fmt.Fprintf(&b, "groups:\n  - name: tend-test-budget-%s\n    rules:\n", service)
	for metric, v := range values {
		fmt.Fprintf(&b, "      - record: %s\n        expr: vector(%g)\n        labels: {sloth_id: %s-availability, sloth_slo: availability, sloth_service: %s, project: sockshop, stage: production, service: %s}\n",
			metric, v, service, service, service)
	}
	file := filepath.Join(dir, "tend-test-budget-"+service+".yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.Remove(file)
		testenv.PrometheusReload(t)
	})
	testenv.PrometheusReload(t)
}

func TestBudgetsOnRealPrometheus(t *testing.T) {
	base := testenv.PrometheusURL(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	service := "svc" + hex.EncodeToString(b)
	slothRecordingRules(t, service, map[string]float64{
		MetricObjective: 0.999, MetricErrorBudget: 0.001, MetricPeriodDays: 30,
		MetricPeriodBudgetRemain: 0.62, MetricPeriodBurnRate: 0.38,
		MetricSLIError + "5m": 0.02, MetricSLIError + "30m": 0.003, MetricSLIError + "1h": 0.0144,
	})
	p := newProvider(t, Config{URL: base})
	ctx := context.Background()

	// Wait for the rules' first evaluations (every second): the listing
	// needs one sample of each rule.
	var list []slo.BudgetStatus
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		list, err = p.Budgets(ctx, BudgetFilter{Project: "sockshop", Service: service}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && list[0].Remaining != nil && len(list[0].BurnRates) >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the recording rules did not show within 30s: %+v", list)
		}
		time.Sleep(200 * time.Millisecond)
	}
	got := list[0]
	if got.ID != service+"-availability" || got.Objective != 0.999 || got.PeriodDays != 30 || *got.Remaining != 0.62 || got.TendService != service {
		t.Errorf("budget = %+v", got)
	}
	if got.BurnRates["5m"] != 20 || got.BurnRates["1h"] != 14.4 || got.BurnRates["30m"] != 3 || got.BurnRates["period"] != 0.38 {
		t.Errorf("burn rates = %v", got.BurnRates)
	}

	t.Run("short burn decides still burning", func(t *testing.T) {
		s, err := p.ShortBurn(ctx, remediation.BurnAlert{ID: service + "-availability"}, BudgetFilter{Project: "sockshop", Stage: "production", Service: service}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if s.ErrorRatio5m != 0.02 || s.ErrorRatio30m != 0.003 || s.ErrorBudget != 0.001 || s.PeriodDays != 30 {
			t.Errorf("sample = %+v", s)
		}
		if ev := remediation.VerifyBurn(remediation.BurnAlert{ID: service + "-availability"}, s); ev.Result != slo.Fail {
			t.Errorf("VerifyBurn = %s %s", ev.Result, ev.Message)
		}
		s, err = p.ShortBurn(ctx, remediation.BurnAlert{SLO: "availability", Service: service}, BudgetFilter{Project: "sockshop", Stage: "production", Service: service}, time.Now())
		if err != nil || s.ErrorRatio5m != 0.02 {
			t.Errorf("by name: %+v, %v", s, err)
		}
	})

	t.Run("gate values", func(t *testing.T) {
		now := time.Now()
		req := sli.Request{Project: "sockshop", Stage: "production", Service: service, Start: now.Add(-3 * time.Second), End: now,
			Indicators: []string{slo.BudgetRemainingSLI("availability"), slo.BudgetBurnRateSLI(service + "-availability")}}
		values, err := p.GetSLIs(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !values[0].Success || values[0].Value != 0.62 {
			t.Errorf("remaining = %+v", values[0])
		}
		if !values[1].Success || math.Abs(values[1].Value-20) > 1e-9 {
			t.Errorf("burn rate over the window = %+v", values[1])
		}
	})

	t.Run("history", func(t *testing.T) {
		now := time.Now()
		h, err := p.History(ctx, got, now.Add(-10*time.Second), now, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.Remaining) == 0 || h.Remaining[len(h.Remaining)-1].V != 0.62 || len(h.BurnRate5m) == 0 || math.Abs(h.BurnRate1h[len(h.BurnRate1h)-1].V-14.4) > 1e-9 {
			t.Errorf("history = %+v", h)
		}
	})
}
