package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCarts runs RunCarts with the flags' defaults overridden by cfg's
// non-zero fields, on a free port, without sleeping; it returns the base
// URL and stops the service when the test ends.
func startCarts(t testing.TB, cfg CartsConfig) string {
	t.Helper()
	var def CartsConfig
	def.AddFlags(pflag.NewFlagSet("carts", pflag.ContinueOnError))
	def.Listen = "127.0.0.1:0"
	def.TimeScale = 0
	def.Kubeconfig, def.Namespace, def.Service, def.Deployment = cfg.Kubeconfig, cfg.Namespace, cfg.Service, cfg.Deployment
	def.UnleashURL, def.UnleashToken = cfg.UnleashURL, cfg.UnleashToken
	if cfg.UnleashInterval != 0 {
		def.UnleashInterval = cfg.UnleashInterval
	}
	addr := make(chan string, 1)
	def.OnListen = func(u string) { addr <- u }

	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- RunCarts(ctx, def, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunCarts: %v", err)
		}
	})
	select {
	case u := <-addr:
		if !strings.Contains(out.String(), "carts is serving on "+u) {
			t.Errorf("stdout %q does not announce %s", out.String(), u)
		}
		return u
	case err := <-done:
		done <- err
		t.Fatalf("RunCarts ended before listening: %v\nstderr: %s", err, errOut.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("RunCarts did not listen within 30s; stderr: %s", errOut.String())
	}
	return ""
}

func TestRunCartsServesAndStops(t *testing.T) {
	fake := &fakeUnleash{t: t, token: "client-secret"}
	fake.on.Store(true)
	srv := newFakeUnleashServer(t, fake)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("client-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startCarts(t, CartsConfig{UnleashURL: srv, UnleashToken: "file:" + tokenFile})
	if status, body := call(t, "POST", base+"/carts/c/items", `{"itemId":"a"}`); status != 201 {
		t.Errorf("add to cart: %d %s", status, body)
	}
	if status, body := call(t, "GET", base+"/metrics", ""); status != 200 || !strings.Contains(body, "carts_promotion_enabled 1") {
		t.Errorf("/metrics = %d, want the promotion on as the fake Unleash says:\n%s", status, body)
	}
	if status, body := call(t, "PUT", base+"/scale", `{"replicas":2}`); status != 200 {
		t.Errorf("PUT /scale without a Deployment: %d %s", status, body)
	}
}

func TestRunCartsUsageErrors(t *testing.T) {
	fake := &fakeUnleash{t: t, token: "right"}
	srv := newFakeUnleashServer(t, fake)
	t.Setenv(EnvUnleashURL, "")
	t.Setenv(EnvUnleashToken, "")
	tests := []struct {
		name  string
		cfg   func(*CartsConfig)
		want  string
		usage bool
	}{
		{"unleash URL without token", func(c *CartsConfig) { c.UnleashURL = srv }, "--unleash-url needs --unleash-token", true},
		{"token file missing", func(c *CartsConfig) { c.UnleashURL, c.UnleashToken = srv, "file:/nonexistent/token" }, "--unleash-token file:/nonexistent/token", true},
		{"deployment without namespace", func(c *CartsConfig) { c.Deployment = "carts-primary" }, "need --namespace", true},
		{"service without namespace", func(c *CartsConfig) { c.Service = "carts" }, "need --namespace", true},
		{"service and deployment", func(c *CartsConfig) { c.Namespace, c.Service, c.Deployment = "x", "carts", "carts-primary" }, "give one", true},
		{"kubeconfig unreadable", func(c *CartsConfig) { c.Namespace, c.Kubeconfig = "x", "/nonexistent/kubeconfig" }, "/nonexistent/kubeconfig", false},
		{"negative capacity", func(c *CartsConfig) { c.Model.CapacityPerReplica = -1 }, "capacity per replica", true},
		{"wrong token fails at start", func(c *CartsConfig) { c.UnleashURL, c.UnleashToken = srv, "wrong" }, "401", false},
		{"listen address taken or bad", func(c *CartsConfig) { c.Listen = "256.0.0.1:0" }, "listen on 256.0.0.1:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c CartsConfig
			c.AddFlags(pflag.NewFlagSet("carts", pflag.ContinueOnError))
			c.Listen = "127.0.0.1:0"
			tt.cfg(&c)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := RunCarts(ctx, c, &bytes.Buffer{}, &bytes.Buffer{})
			_, isUsage := errors.AsType[*UsageError](err)
			if err == nil || !strings.Contains(err.Error(), tt.want) || isUsage != tt.usage {
				t.Errorf("err %v (usage %v), want one containing %q (usage %v)", err, isUsage, tt.want, tt.usage)
			}
		})
	}
}

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte("  s3cret \nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CARTS_TEST_TOKEN", "from-env")
	tests := []struct {
		name, value, want, wantErr string
	}{
		{"plain", "abc", "abc", ""},
		{"empty stays empty", "", "", ""},
		{"file, first line trimmed", "file:" + file, "s3cret", ""},
		{"env", "env:CARTS_TEST_TOKEN", "from-env", ""},
		{"env unset", "env:CARTS_TEST_NOPE", "", "is not set"},
		{"empty file", "file:" + empty, "", "the token is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveSecret("unleash-token", tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("resolveSecret = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
