package monitoring

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/store"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		c       Config
		wantErr string
	}{
		{name: "prometheus without auth", c: Config{Provider: Prometheus, URL: "http://prometheus:9090"}},
		{name: "prometheus basic auth", c: Config{Provider: Prometheus, URL: "https://p/prom", User: "u", Password: "pw"}},
		{name: "prometheus bearer", c: Config{Provider: Prometheus, URL: "https://p", BearerToken: "t"}},
		{name: "dynatrace", c: Config{Provider: Dynatrace, URL: "https://abc.live.dynatrace.com", Token: "dt0c01.x"}},
		{name: "no provider", c: Config{URL: "http://p"}, wantErr: "provider is missing"},
		{name: "unknown provider", c: Config{Provider: "datadog", URL: "http://p"}, wantErr: `provider "datadog" is unknown`},
		{name: "no url", c: Config{Provider: Prometheus}, wantErr: "url is missing"},
		{name: "url without scheme", c: Config{Provider: Prometheus, URL: "prometheus:9090"}, wantErr: "not an http(s) URL"},
		{name: "url with credentials", c: Config{Provider: Prometheus, URL: "http://u:pw@p"}, wantErr: "carries credentials"},
		{name: "url with query", c: Config{Provider: Prometheus, URL: "http://p?x=1"}, wantErr: "query or fragment"},
		{name: "bearer and basic", c: Config{Provider: Prometheus, URL: "http://p", User: "u", Password: "pw-SECRET-1", BearerToken: "bt-SECRET-2"}, wantErr: "not both"},
		{name: "password without user", c: Config{Provider: Prometheus, URL: "http://p", Password: "pw-SECRET-3"}, wantErr: "a password needs a user"},
		{name: "user without password", c: Config{Provider: Prometheus, URL: "http://p", User: "u"}, wantErr: "a user needs a password"},
		{name: "prometheus with dynatrace token", c: Config{Provider: Prometheus, URL: "http://p", Token: "tok-SECRET-4"}, wantErr: "Dynatrace's API token"},
		{name: "dynatrace without token", c: Config{Provider: Dynatrace, URL: "https://t"}, wantErr: "needs an API token"},
		{name: "dynatrace with password", c: Config{Provider: Dynatrace, URL: "https://t", Token: "tok-SECRET-5", User: "u", Password: "pw-SECRET-6"}, wantErr: "takes only url and token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v; want ErrInvalid with %q", err, tt.wantErr)
			}
			for _, s := range tt.c.Secrets() {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains the secret %q", err, s)
				}
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantSet        []string
	}{
		{"monitoring", `{"provider":"prometheus","url":"http://p","user":"u","password":"hunter2"}`, `{"password":"****","provider":"prometheus","url":"http://p","user":"u"}`, []string{"password"}},
		{"bearer", `{"bearerToken":"abc","url":"http://p"}`, `{"bearerToken":"****","url":"http://p"}`, []string{"bearerToken"}},
		{"empty secret is not set", `{"token":""}`, `{"token":""}`, nil},
		{"nested and other components", `{"unleash":{"apiToken":"t1"},"hooks":[{"Secret":"s"}],"count":2}`, `{"count":2,"hooks":[{"Secret":"****"}],"unleash":{"apiToken":"****"}}`, []string{"hooks[0].Secret", "unleash.apiToken"}},
		{"not JSON", `secret`, `"****"`, []string{"(value)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, set := Mask([]byte(tt.in))
			if string(got) != tt.want {
				t.Errorf("Mask = %s; want %s", got, tt.want)
			}
			if strings.Join(set, ",") != strings.Join(tt.wantSet, ",") {
				t.Errorf("set = %v; want %v", set, tt.wantSet)
			}
		})
	}
}

type fakeSettings map[store.Scope]Config

func (f fakeSettings) GetSetting(_ context.Context, sc store.Scope, key string) (store.Setting, error) {
	c, ok := f[sc]
	if !ok || key != SettingKey {
		return store.Setting{}, store.ErrNotFound
	}
	b, _ := json.Marshal(c)
	return store.Setting{Scope: sc, Key: key, Value: b}, nil
}

func TestResolveMostSpecificWins(t *testing.T) {
	all := fakeSettings{
		{Project: "p"}:                                  {Provider: Prometheus, URL: "http://project"},
		{Project: "p", Stage: "prod"}:                   {Provider: Prometheus, URL: "http://stage"},
		{Project: "p", Service: "carts"}:                {Provider: Prometheus, URL: "http://service"},
		{Project: "p", Stage: "prod", Service: "carts"}: {Provider: Dynatrace, URL: "https://stage-service", Token: "t"},
	}
	tests := []struct {
		name, stage, service, want string
	}{
		{"service in stage", "prod", "carts", "https://stage-service"},
		{"service in every stage", "dev", "carts", "http://service"},
		{"stage", "prod", "orders", "http://stage"},
		{"project", "dev", "orders", "http://project"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Resolve(context.Background(), all, "p", tt.stage, tt.service)
			if err != nil || c.URL != tt.want {
				t.Errorf("Resolve = %+v, %v; want %s", c, err, tt.want)
			}
		})
	}
	if _, _, err := Resolve(context.Background(), all, "other", "prod", "carts"); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("unconfigured project: err = %v; want ErrNotConfigured", err)
	}
}
