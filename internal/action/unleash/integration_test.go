package unleash

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/testenv"
)

// TestRealUnleash switches a flag of a real Unleash 8 (scripts/unleash.sh)
// off and on with both action forms, and reads every result back through
// Unleash's admin API.
func TestRealUnleash(t *testing.T) {
	base, token := testenv.UnleashURL(t), testenv.UnleashAdminToken(t)
	flag := testenv.UnleashFeature(t, "production")
	e := New(Static(Config{URL: base, Token: token}), nil)
	ctx := context.Background()

	if !realState(t, base, token, flag, "production") {
		t.Fatalf("setup: %s is not on in production", flag)
	}

	// toggle-feature {Flag: off}
	req := action.Request{Key: "it/0", Project: "sockshop", Stage: "production", Service: "carts", Action: ActionToggleFeature, Value: map[string]any{flag: "off"}}
	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].From != "on" || plan.Changes[0].To != "off" {
		t.Fatalf("plan changes = %+v, want one on -> off", plan.Changes)
	}
	if !realState(t, base, token, flag, "production") {
		t.Fatal("Prepare switched the flag off")
	}
	if _, err := e.Apply(ctx, req, plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if realState(t, base, token, flag, "production") {
		t.Fatal("after Apply the flag is still on in production")
	}
	if realState(t, base, token, flag, "development") {
		t.Error("Apply switched development on")
	}

	// The same plan again: still off, no error.
	res, err := e.Apply(ctx, req, plan)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if !strings.Contains(res.Message, "already "+flag+" off") {
		t.Errorf("second Apply message %q does not say the flag was already off", res.Message)
	}
	if realState(t, base, token, flag, "production") {
		t.Fatal("after the second Apply the flag is on")
	}

	// featuretoggle "Flag:on"
	req = action.Request{Key: "it/1", Project: "sockshop", Stage: "production", Service: "carts", Action: ActionFeatureToggle, Value: flag + ":on"}
	plan, err = e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare featuretoggle: %v", err)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].From != "off" || plan.Changes[0].To != "on" {
		t.Fatalf("featuretoggle plan changes = %+v, want one off -> on", plan.Changes)
	}
	if _, err := e.Apply(ctx, req, plan); err != nil {
		t.Fatalf("Apply featuretoggle: %v", err)
	}
	if !realState(t, base, token, flag, "production") {
		t.Fatal("after featuretoggle on the flag is off in production")
	}
}

// TestRealUnleashErrors checks the final errors against a real Unleash: an
// unknown feature and a wrong token.
func TestRealUnleashErrors(t *testing.T) {
	base, token := testenv.UnleashURL(t), testenv.UnleashAdminToken(t)
	flag := testenv.UnleashFeature(t)
	req := action.Request{Project: "sockshop", Stage: "production", Action: ActionToggleFeature}
	tests := []struct {
		name    string
		cfg     Config
		value   any
		wantMsg string
	}{
		{name: "unknown feature", cfg: Config{URL: base, Token: token}, value: map[string]any{flag + "-missing": "off"}, wantMsg: "does not exist in Unleash project default"},
		{name: "wrong token", cfg: Config{URL: base, Token: "*:*.not-a-token"}, value: map[string]any{flag: "off"}, wantMsg: "refused the admin API token"},
		{name: "unknown environment", cfg: Config{URL: base, Token: token, Environment: "nowhere"}, value: map[string]any{flag: "off"}, wantMsg: "has no environment nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req
			r.Value = tt.value
			_, err := New(Static(tt.cfg), nil).Prepare(context.Background(), r)
			if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %v, want an ErrInvalid containing %q", err, tt.wantMsg)
			}
		})
	}
}

// realState reads a flag's state in env through the admin API, as a person
// checking Unleash would, independently of the executor's code.
func realState(t testing.TB, base, token, flag, env string) bool {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/admin/projects/default/features/"+flag, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("read flag %s: %v", flag, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read flag %s: %s", flag, resp.Status)
	}
	var f struct {
		Environments []struct {
			Name    string `json:"name"`
			Enabled bool   `json:"enabled"`
		} `json:"environments"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		t.Fatalf("read flag %s: %v", flag, err)
	}
	for _, e := range f.Environments {
		if e.Name == env {
			return e.Enabled
		}
	}
	t.Fatalf("flag %s has no environment %s", flag, env)
	return false
}
