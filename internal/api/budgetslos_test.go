package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

// fakeBudgets answers the budget listing and records what it was asked.
type fakeBudgets struct {
	mu    sync.Mutex
	calls []string
	err   error
	// block waits for the request's deadline, as a Prometheus that
	// never answers.
	block bool
}

func (f *fakeBudgets) Budgets(ctx context.Context, project, stage, service string) ([]slo.BudgetStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, project+"/"+stage+"/"+service)
	if f.block {
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return nil, fmt.Errorf("query %q: canceled before prometheus answered: %w", "slo:objective:ratio", context.Cause(ctx))
	}
	if f.err != nil {
		return nil, f.err
	}
	rem := 0.62
	return []slo.BudgetStatus{{ID: "carts-availability", SLO: "availability", Service: "carts", Objective: 0.999, PeriodDays: 30, Remaining: &rem,
		BurnRates: map[string]float64{"5m": 2, "1h": 1.5}, Thresholds: slo.BurnThresholds(30)}}, nil
}

func TestBudgetSLOsRoute(t *testing.T) {
	fake := &fakeBudgets{}
	ts := startServer(t, sqliteBackend, func(o *api.Options) { o.Budgets = fake; o.BudgetTimeout = 100 * time.Millisecond })
	ts.createProject(t, "sockshop", "carts")
	ts.createProject(t, "other", "carts")
	own := ts.mint(t, "own-reader", "read", "sockshop")
	other := ts.mint(t, "other-reader", "read", "other")
	const path = "/api/v1/project/sockshop/slos"
	for _, tt := range []struct {
		name, path, token string
		status            int
		want              string
	}{
		{"no credential", path, "", http.StatusUnauthorized, ""},
		{"the project's own read token", path, own, http.StatusOK, ""},
		{"another project's token", path, other, http.StatusForbidden, "restricted"},
		{"another project's token, its stage and service", path + "?stage=production&service=carts", other, http.StatusForbidden, "restricted"},
		// A restricted token learns nothing of which projects exist.
		{"another project's token on an unknown project", "/api/v1/project/nope/slos", other, http.StatusForbidden, "restricted"},
		{"unknown stage", path + "?stage=prod", ts.Admin, http.StatusNotFound, `stage "prod"`},
		{"unknown project", "/api/v1/project/nope/slos", ts.Admin, http.StatusNotFound, `project "nope"`},
		{"unknown service", path + "?service=orders", ts.Admin, http.StatusNotFound, `service "orders"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := ts.do(t, http.MethodGet, tt.path, tt.token, nil)
			if code != tt.status {
				t.Fatalf("status %d %s; want %d", code, body, tt.status)
			}
			if tt.status != http.StatusOK {
				if msg := wantError(t, tt.status, body); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q; want it to contain %q", msg, tt.want)
				}
			}
		})
	}
	t.Run("listing", func(t *testing.T) {
		got := decode[apitypes.BudgetSLOs](t, ts.wantStatus(t, http.StatusOK, http.MethodGet, path+"?stage=production&service=carts", ts.Admin, nil))
		if got.Project != "sockshop" || got.Stage != "production" || got.Service != "carts" || len(got.SLOs) != 1 || *got.SLOs[0].Remaining != 0.62 || got.SLOs[0].Thresholds[0].Factor != 14.4 {
			t.Errorf("answer = %+v", got)
		}
		fake.mu.Lock()
		last := fake.calls[len(fake.calls)-1]
		fake.mu.Unlock()
		if last != "sockshop/production/carts" {
			t.Errorf("reader asked for %q", last)
		}
	})
	for _, tt := range []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"no monitoring", fmt.Errorf("%w: none", settings.ErrNotSet), http.StatusConflict, "project sockshop has no monitoring configured"},
		{"not prometheus", fmt.Errorf("%w (it is dynatrace)", api.ErrNoPrometheus), http.StatusConflict, "dynatrace"},
		{"prometheus down", sli.Unavailable(fmt.Errorf("prometheus at http://127.0.0.1:1 unreachable")), http.StatusBadGateway, "unreachable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.err = tt.err
			fake.mu.Unlock()
			_, _, body := ts.do(t, http.MethodGet, path, ts.Admin, nil)
			if msg := wantError(t, tt.status, body); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q; want it to contain %q", msg, tt.want)
			}
		})
	}
	t.Run("prometheus too slow", func(t *testing.T) {
		fake.mu.Lock()
		fake.err, fake.block = nil, true
		fake.mu.Unlock()
		_, _, body := ts.do(t, http.MethodGet, path, ts.Admin, nil)
		if msg := wantError(t, http.StatusGatewayTimeout, body); !strings.Contains(msg, "project sockshop: Prometheus did not answer within 100ms") {
			t.Errorf("message %q", msg)
		}
	})
}
