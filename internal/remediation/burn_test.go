package remediation

import (
	"math"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/slo"
)

func TestBurnAlertOf(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   BurnAlert
		ok     bool
	}{
		{"page alert", map[string]string{"sloth_severity": "page", "sloth_id": "carts-availability", "sloth_slo": "availability", "sloth_service": "carts"}, BurnAlert{ID: "carts-availability", SLO: "availability", Service: "carts"}, true},
		{"page alert without id", map[string]string{"sloth_severity": "page", "sloth_slo": "availability"}, BurnAlert{SLO: "availability"}, true},
		{"ticket alert", map[string]string{"sloth_severity": "ticket", "sloth_id": "x"}, BurnAlert{}, false},
		{"threshold alert", map[string]string{"alertname": "response_time_p90"}, BurnAlert{}, false},
		{"page without slo", map[string]string{"sloth_severity": "page"}, BurnAlert{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := BurnAlertOf(tt.labels)
			if got != tt.want || ok != tt.ok {
				t.Errorf("BurnAlertOf = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPageFactors(t *testing.T) {
	for _, tt := range []struct{ days, quick, slow float64 }{{30, 14.4, 6}, {0, 14.4, 6}, {28, 13.44, 5.6}} {
		q, s := PageFactors(tt.days)
		if math.Abs(q-tt.quick) > 1e-9 || math.Abs(s-tt.slow) > 1e-9 {
			t.Errorf("PageFactors(%v) = %v, %v; want %v, %v", tt.days, q, s, tt.quick, tt.slow)
		}
	}
}

func TestVerifyBurn(t *testing.T) {
	b := BurnAlert{ID: "carts-availability"}
	// A 99.9% objective: budget ratio 0.001; 14.4x is an error ratio of 0.0144.
	tests := []struct {
		name    string
		sample  BurnSample
		result  slo.Result
		message string
	}{
		{"burn stopped", BurnSample{ErrorRatio5m: 0.0001, ErrorRatio30m: 0.004, ErrorBudget: 0.001, PeriodDays: 30}, slo.Pass, "stopped: 0.1 over 5m (page at 14.4), 4 over 30m (page at 6)"},
		{"short window still fast", BurnSample{ErrorRatio5m: 0.05, ErrorRatio30m: 0.001, ErrorBudget: 0.001, PeriodDays: 30}, slo.Fail, "still burns: 50 over 5m"},
		{"slow pair still above", BurnSample{ErrorRatio5m: 0.001, ErrorRatio30m: 0.007, ErrorBudget: 0.001, PeriodDays: 30}, slo.Fail, "7 over 30m (page at 6)"},
		{"exactly at the factor still burns", BurnSample{ErrorRatio5m: 0.0144, ErrorRatio30m: 0, ErrorBudget: 0.001}, slo.Fail, "still burns"},
		{"no data fails", BurnSample{ErrorRatio5m: math.NaN(), ErrorRatio30m: 0, ErrorBudget: 0.001}, slo.Fail, "not measured"},
		{"no budget fails", BurnSample{}, slo.Fail, "not measured"},
		{"28-day period", BurnSample{ErrorRatio5m: 0.014, ErrorRatio30m: 0, ErrorBudget: 0.001, PeriodDays: 28}, slo.Fail, "page at 13.44"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := VerifyBurn(b, tt.sample)
			if ev.Result != tt.result || !strings.Contains(ev.Message, tt.message) {
				t.Fatalf("VerifyBurn = %s %q; want %s containing %q", ev.Result, ev.Message, tt.result, tt.message)
			}
			if len(ev.Budget) != 2 || ev.Budget[0].BurnRate == nil {
				t.Fatalf("budget = %+v", ev.Budget)
			}
			for _, r := range ev.Budget {
				if math.IsNaN(r.BurnRate.Value) {
					t.Errorf("NaN in %+v", r)
				}
			}
		})
	}
}

func TestNewRecognisesBurnAlert(t *testing.T) {
	p := Problem{ID: "p1", Project: "sockshop", Stage: "production", Service: "carts", Labels: map[string]string{"sloth_severity": "page", "sloth_id": "carts-availability"}}
	r := New("r1", p, nil, Settings{}, t0)
	if r.Burn == nil || r.Burn.ID != "carts-availability" {
		t.Fatalf("Burn = %+v", r.Burn)
	}
	back, err := Decode(r.ID, r.Encode())
	if err != nil || back.Burn == nil || *back.Burn != *r.Burn {
		t.Fatalf("stored Burn = %+v, %v", back.Burn, err)
	}
	p.Labels = map[string]string{"alertname": "x"}
	if New("r2", p, nil, Settings{}, t0).Burn != nil {
		t.Error("a threshold alert got a Burn")
	}
}
