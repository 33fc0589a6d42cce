package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkAuthRequest is the call tend auth checks a token with.
func checkAuthRequest(token string, status int, answer string) exchange {
	return exchange{method: "GET", path: "/api/v1/project", query: "pageSize=1", token: token, status: status, answer: answer}
}

func TestAuthStoresCredentials(t *testing.T) {
	tokenFile := writeFile(t, "admin-token", testToken+"\n")
	tests := []struct {
		name  string
		args  func(endpoint string) []string
		env   map[string]string
		stdin string
	}{
		{name: "flags", args: func(ep string) []string { return []string{"--endpoint", ep, "--api-token", testToken} }},
		{name: "token from stdin", args: func(ep string) []string { return []string{"--endpoint", ep, "--api-token", "-"} }, stdin: testToken + "\n"},
		{name: "token from file", args: func(ep string) []string { return []string{"--endpoint", ep, "--api-token", "file:" + tokenFile} }},
		{name: "environment", args: func(string) []string { return nil }, env: map[string]string{envAPIToken: testToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, checkAuthRequest("", 200, `{"projects":[],"totalCount":0}`))
			path := useConfig(t, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if tt.env != nil {
				t.Setenv(envEndpoint, srv.url)
			}
			r := runOnline(t, tt.stdin, append([]string{"auth"}, tt.args(srv.url)...)...)
			wantExit(t, r, ExitOK)
			if want := "Authenticated to " + srv.url + "\n"; r.stdout != want {
				t.Errorf("stdout %q, want %q", r.stdout, want)
			}

			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := info.Mode().Perm(); mode != 0o600 {
				t.Errorf("config file mode %o, want 600", mode)
			}
			dirInfo, err := os.Stat(filepath.Dir(path))
			if err != nil {
				t.Fatal(err)
			}
			if mode := dirInfo.Mode().Perm(); mode != 0o700 {
				t.Errorf("config directory mode %o, want 700", mode)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var cfg cliConfig
			if err := json.Unmarshal(data, &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg != (cliConfig{Endpoint: srv.url, Token: testToken}) {
				t.Errorf("stored %+v", cfg)
			}
		})
	}
}

func TestAuthReplacesAWiderConfigFile(t *testing.T) {
	srv := newFakeServer(t, checkAuthRequest("", 200, `{"projects":[]}`))
	path := useConfig(t, "http://old.example:8080")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runOnline(t, "", "auth", "--endpoint", srv.url+"/api/", "--api-token", testToken)
	wantExit(t, r, ExitOK)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("config file mode %o, want 600", mode)
	}
	cfg, _, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint != srv.url {
		t.Errorf("stored endpoint %q, want the normalised %q", cfg.Endpoint, srv.url)
	}
}

func TestAuthFailuresStoreNothing(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		answer     string
		wantCode   int
		wantStderr string
	}{
		{"refused token", 401, `{"code":401,"message":"unknown token"}`, ExitBadInput, "did not accept the API token"},
		{"server failure", 503, `{"code":503,"message":"store not ready"}`, ExitServer, "503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, checkAuthRequest("", tt.status, tt.answer))
			path := useConfig(t, "")
			r := runOnline(t, "", "auth", "--endpoint", srv.url, "--api-token", testToken)
			wantExit(t, r, tt.wantCode)
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("config written after a failed auth: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		path := useConfig(t, "")
		r := runOnline(t, "", "auth", "--endpoint", closedEndpoint(t), "--api-token", testToken)
		wantExit(t, r, ExitServer)
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("config written after a failed auth: %v", err)
		}
	})
}

func TestAuthUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStderr string
	}{
		{"no endpoint", []string{"auth", "--api-token", "x"}, "no endpoint"},
		{"no token", []string{"auth", "--endpoint", "http://127.0.0.1:1"}, "no API token"},
		{"show with flags", []string{"auth", "--show", "--endpoint", "http://127.0.0.1:1"}, "--show takes no"},
		{"an argument", []string{"auth", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useConfig(t, "")
			r := runOnline(t, "", tt.args...)
			wantExit(t, r, ExitBadInput)
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantStderr)
			}
		})
	}
}

func TestAuthShow(t *testing.T) {
	t.Run("stored", func(t *testing.T) {
		path := useConfig(t, "http://127.0.0.1:8080")
		r := runOnline(t, "", "auth", "--show")
		wantExit(t, r, ExitOK)
		for _, want := range []string{"Endpoint: http://127.0.0.1:8080", "Token:    stored", path} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout %q lacks %q", r.stdout, want)
			}
		}
		if strings.Contains(r.stdout, "overrides") {
			t.Errorf("stdout %q mentions an override that is not there", r.stdout)
		}
	})
	t.Run("environment override noted", func(t *testing.T) {
		useConfig(t, "http://127.0.0.1:8080")
		t.Setenv(envAPIToken, "other")
		r := runOnline(t, "", "auth", "--show")
		wantExit(t, r, ExitOK)
		if !strings.Contains(r.stdout, "$TEND_API_TOKEN is set") {
			t.Errorf("stdout %q does not note the override", r.stdout)
		}
	})
	t.Run("nothing stored", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, "", "auth", "--show")
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, "tend auth --endpoint") {
			t.Errorf("stderr %q does not say to run tend auth", r.stderr)
		}
	})
}
