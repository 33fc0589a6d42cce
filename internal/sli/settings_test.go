package sli_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/sli/dynatrace"
	"github.com/tendhq/tend/internal/sli/prometheus"
)

// TestMonitoringValidation checks the monitoring setting over the real
// providers' schemas: each refusal names the field and no error shows a
// secret.
func TestMonitoringValidation(t *testing.T) {
	m := sli.Monitoring(prometheus.ProviderKind, dynatrace.ProviderKind)
	tests := []struct {
		name, value, wantErr string
	}{
		{name: "prometheus without auth", value: `{"provider":"prometheus","url":"http://prometheus:9090"}`},
		{name: "prometheus basic auth", value: `{"provider":"prometheus","url":"https://p/prom","user":"u","password":"pw"}`},
		{name: "prometheus bearer", value: `{"provider":"prometheus","url":"https://p","bearerToken":"t"}`},
		{name: "dynatrace", value: `{"provider":"dynatrace","url":"https://abc.live.dynatrace.com","token":"dt0c01.x"}`},
		{name: "no provider", value: `{"url":"http://p"}`, wantErr: "provider is missing"},
		{name: "unknown provider", value: `{"provider":"datadog","url":"http://p"}`, wantErr: `provider "datadog" is unknown; want one of prometheus, dynatrace`},
		{name: "no url", value: `{"provider":"prometheus"}`, wantErr: "url is missing"},
		{name: "url without scheme", value: `{"provider":"prometheus","url":"prometheus:9090"}`, wantErr: "not an http(s) URL"},
		{name: "url with credentials", value: `{"provider":"prometheus","url":"http://u:pw-SECRET-0@p"}`, wantErr: "carries credentials"},
		{name: "url with query", value: `{"provider":"dynatrace","url":"https://p?x=1","token":"t"}`, wantErr: "query or fragment"},
		{name: "bearer and basic", value: `{"provider":"prometheus","url":"http://p","user":"u","password":"pw-SECRET-1","bearerToken":"bt-SECRET-2"}`, wantErr: "not both"},
		{name: "password without user", value: `{"provider":"prometheus","url":"http://p","password":"pw-SECRET-3"}`, wantErr: "a password needs a user"},
		{name: "user without password", value: `{"provider":"prometheus","url":"http://p","user":"u"}`, wantErr: "a user needs a password"},
		{name: "prometheus with dynatrace token", value: `{"provider":"prometheus","url":"http://p","token":"tok-SECRET-4"}`, wantErr: `unknown field "token"`},
		{name: "dynatrace without token", value: `{"provider":"dynatrace","url":"https://t"}`, wantErr: "token is missing; a Dynatrace API token with the metrics.read scope"},
		{name: "dynatrace with password", value: `{"provider":"dynatrace","url":"https://t","token":"tok-SECRET-5","password":"pw-SECRET-6"}`, wantErr: `unknown field "password"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := m.Normalize([]byte(tt.value))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(string(out), `{"provider":`) {
					t.Errorf("stored %s; want provider first", out)
				}
				return
			}
			if !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v; want ErrInvalid with %q", err, tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "invalid monitoring configuration: ") {
				t.Errorf("err = %q; want it to name the monitoring configuration", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
}

// TestMonitoringReadsStoredValues keeps the values stored before the
// settings layer readable: flat objects with provider and url always set.
func TestMonitoringReadsStoredValues(t *testing.T) {
	m := sli.Monitoring(prometheus.ProviderKind, dynatrace.ProviderKind)
	for _, stored := range []string{
		`{"provider":"prometheus","url":"http://p:9090","user":"tend","password":"pw"}`,
		`{"provider":"dynatrace","url":"https://abc.live.dynatrace.com","token":"dt0c01.x"}`,
	} {
		out, err := m.Normalize([]byte(stored))
		if err != nil || string(out) != stored {
			t.Errorf("Normalize(%s) = %s, %v; want it unchanged", stored, out, err)
		}
		masked, set := m.Mask([]byte(stored))
		if strings.Contains(string(masked), `"pw"`) || strings.Contains(string(masked), "dt0c01") || len(set) != 1 {
			t.Errorf("Mask(%s) = %s %v", stored, masked, set)
		}
	}
}
