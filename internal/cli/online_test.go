package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// testToken is the credential the online tests configure. No command except
// `create token` (which prints a different, new secret) may ever print it.
const testToken = "tnd_test_0123456789abcdefghijklmnopqrstu"

// exchange is one request the fake server expects and its canned answer.
type exchange struct {
	method string
	path   string // escaped, as on the wire: /api/v1/project/p/resource/prometheus%2Fsli.yaml
	query  string // url.Values.Encode() of the expected query; "" means none
	body   string // the JSON body the request must carry; "" means no body
	token  string // the x-token expected; "" means testToken
	status int    // 0 means 200
	answer string
	// contentType of the answer; "" means application/json.
	contentType string
}

// fakeServer answers the expected exchanges in order and fails the test on
// any other request, or when an expected one never came.
type fakeServer struct {
	t    testing.TB
	mu   sync.Mutex
	exs  []exchange
	next int
	url  string
}

func newFakeServer(t testing.TB, exs ...exchange) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, exs: exs}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	f.url = srv.URL
	t.Cleanup(func() {
		srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.next != len(f.exs) {
			t.Errorf("fake server: %d of %d expected requests came; next missing: %s %s",
				f.next, len(f.exs), f.exs[f.next].method, f.exs[f.next].path)
		}
	})
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.next >= len(f.exs) {
		f.mu.Unlock()
		f.t.Errorf("fake server: unexpected request %s %s", r.Method, r.URL)
		http.Error(w, `{"code":418,"message":"unexpected request"}`, http.StatusTeapot)
		return
	}
	ex := f.exs[f.next]
	f.next++
	f.mu.Unlock()

	body, _ := io.ReadAll(r.Body)
	if r.Method != ex.method || r.URL.EscapedPath() != ex.path {
		f.t.Errorf("fake server: got %s %s, want %s %s", r.Method, r.URL.EscapedPath(), ex.method, ex.path)
	}
	if got := r.URL.Query().Encode(); got != ex.query {
		f.t.Errorf("fake server: %s %s: query %q, want %q", r.Method, ex.path, got, ex.query)
	}
	wantToken := ex.token
	if wantToken == "" {
		wantToken = testToken
	}
	if got := r.Header.Get("x-token"); got != wantToken {
		f.t.Errorf("fake server: %s %s: x-token %q, want %q", r.Method, ex.path, got, wantToken)
	}
	if ex.body == "" {
		if len(body) != 0 {
			f.t.Errorf("fake server: %s %s: unexpected body %s", r.Method, ex.path, body)
		}
	} else if !sameJSON(f.t, body, []byte(ex.body)) {
		f.t.Errorf("fake server: %s %s: body\n%s\nwant\n%s", r.Method, ex.path, body, ex.body)
	}
	ct := ex.contentType
	if ct == "" {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	status := ex.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	io.WriteString(w, ex.answer)
}

// sameJSON compares two JSON documents by value.
func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return false
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("bad JSON in the test itself: %v\n%s", err, b)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// compactJSON is the JSON text without insignificant space, keeping key
// order: two documents are "unchanged" when their compact forms are equal.
func compactJSON(t testing.TB, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return buf.String()
}

// useConfig points TEND_CONFIG at a fresh file in t.TempDir() holding the
// endpoint and testToken, and clears the environment overrides. It returns
// the config path.
func useConfig(t testing.TB, endpoint string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tend", "config.json")
	t.Setenv(envConfig, path)
	t.Setenv(envEndpoint, "")
	t.Setenv(envAPIToken, "")
	if endpoint == "" {
		return path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(cliConfig{Endpoint: endpoint, Token: testToken})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runOnline runs tend in process and checks that the configured token
// appears in none of its output.
func runOnline(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	r := runTend(t, stdin, args...)
	checkNoToken(t, r)
	return r
}

func checkNoToken(t testing.TB, r result) {
	t.Helper()
	if strings.Contains(r.stdout, testToken) || strings.Contains(r.stderr, testToken) {
		t.Errorf("the API token was printed:\nstdout %q\nstderr %q", r.stdout, r.stderr)
	}
}

// wantExit fails the test unless r ended with code.
func wantExit(t testing.TB, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
}

// closedEndpoint is the URL of a loopback port that nothing listens on.
func closedEndpoint(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// writeFile writes content to name in a temporary directory and returns
// its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// cancelAfterLines is a stdout that cancels a context once it has seen
// want lines: it ends a --watch run after the expected events, without
// waiting on a clock.
type cancelAfterLines struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	want   int
	cancel context.CancelFunc
}

func (w *cancelAfterLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Count(w.buf.Bytes(), []byte("\n")) >= w.want {
		w.cancel()
	}
	return len(p), nil
}

func (w *cancelAfterLines) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestOnlineErrorsMapToExitStatuses(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		answer     string
		wantCode   int
		wantStderr []string
	}{
		{"bad request", 400, `{"code":400,"message":"bad name"}`, ExitBadInput, []string{"400 Bad Request: bad name"}},
		{"unauthorized says run tend auth", 401, `{"code":401,"message":"unknown token"}`, ExitBadInput, []string{"401 Unauthorized", "tend auth --endpoint URL --api-token TOKEN"}},
		{"forbidden", 403, `{"code":403,"message":"read token"}`, ExitBadInput, []string{"403 Forbidden", "scope or project does not allow this"}},
		{"not found", 404, `{"code":404,"message":"project nope not found"}`, ExitBadInput, []string{"404 Not Found: project nope not found"}},
		{"conflict", 409, `{"code":409,"message":"exists"}`, ExitBadInput, []string{"409 Conflict"}},
		{"too large", 413, `{"code":413,"message":"body over 1 MiB"}`, ExitBadInput, []string{"413 Request Entity Too Large"}},
		{"server error", 500, `{"code":500,"message":"disk full"}`, ExitServer, []string{"500 Internal Server Error: disk full"}},
		{"proxy answer without JSON", 502, "Bad Gateway\n", ExitServer, []string{"502 Bad Gateway"}},
		{"an echoed token is redacted", 401, `{"code":401,"message":"token ` + testToken + ` unknown"}`, ExitBadInput, []string{"[redacted]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/nope", status: tt.status, answer: tt.answer})
			useConfig(t, srv.url)
			r := runOnline(t, "", "get", "project", "nope")
			wantExit(t, r, tt.wantCode)
			if strings.Count("\n"+r.stderr, "\nError: ") != 1 {
				t.Errorf("stderr should hold exactly one Error: line:\n%s", r.stderr)
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q lacks %q", r.stderr, want)
				}
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		useConfig(t, closedEndpoint(t))
		r := runOnline(t, "", "get", "projects")
		wantExit(t, r, ExitServer)
		if !strings.Contains(r.stderr, "cannot reach the tend server") {
			t.Errorf("stderr %q does not say the server is unreachable", r.stderr)
		}
	})
	t.Run("no config says run tend auth", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, "", "get", "projects")
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, "tend auth") {
			t.Errorf("stderr %q does not point at tend auth", r.stderr)
		}
	})
	t.Run("unreadable config", func(t *testing.T) {
		path := useConfig(t, "")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runOnline(t, "", "get", "projects")
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, path) {
			t.Errorf("stderr %q does not name the config file", r.stderr)
		}
	})
	t.Run("bad endpoint", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, "", "get", "projects", "--endpoint", "ftp://x", "--api-token", testToken)
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, "scheme must be http or https") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

func TestCredentialPrecedence(t *testing.T) {
	const flagToken = "tnd_flag_token_abcdefghijklmnopqrstuvwxyz"
	const envToken = "tnd_env_token_abcdefghijklmnopqrstuvwxyz"
	list := `{"projects":[],"totalCount":0}`
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		stdin     string
		wantToken string
		useFlagEP bool
	}{
		{name: "stored config", wantToken: testToken},
		{name: "environment over config", env: map[string]string{envAPIToken: envToken}, wantToken: envToken},
		{name: "flag over environment", env: map[string]string{envAPIToken: envToken}, args: []string{"--api-token", flagToken}, wantToken: flagToken},
		{name: "flag from stdin", args: []string{"--api-token", "-"}, stdin: flagToken + "\n", wantToken: flagToken},
		{name: "flag from env:NAME", env: map[string]string{"MY_TOKEN": flagToken}, args: []string{"--api-token", "env:MY_TOKEN"}, wantToken: flagToken},
		{name: "endpoint flag over config", args: []string{"--api-token", flagToken}, wantToken: flagToken, useFlagEP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project", token: tt.wantToken, answer: list})
			endpoint := srv.url
			if tt.useFlagEP {
				endpoint = closedEndpoint(t) // the stored one must not be used
			}
			useConfig(t, endpoint)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := append([]string{"get", "projects"}, tt.args...)
			if tt.useFlagEP {
				args = append(args, "--endpoint", srv.url)
			}
			r := runOnline(t, tt.stdin, args...)
			wantExit(t, r, ExitOK)
		})
	}
}

func TestReadSecret(t *testing.T) {
	file := writeFile(t, "token", "  s3cret-from-file \nsecond line\n")
	t.Setenv("TEND_TEST_SECRET", "s3cret-from-env")
	t.Setenv("TEND_TEST_EMPTY", "")
	tests := []struct {
		name, value, stdin, want, wantErr string
	}{
		{name: "literal", value: "abc", want: "abc"},
		{name: "stdin first line", value: "-", stdin: "from-stdin\nmore", want: "from-stdin"},
		{name: "file first line trimmed", value: "file:" + file, want: "s3cret-from-file"},
		{name: "env", value: "env:TEND_TEST_SECRET", want: "s3cret-from-env"},
		{name: "missing file", value: "file:/nonexistent/x", wantErr: "no such file"},
		{name: "unset env", value: "env:TEND_TEST_UNSET_X", wantErr: "is not set"},
		{name: "empty env", value: "env:TEND_TEST_EMPTY", wantErr: "is not set"},
		{name: "empty stdin", value: "-", stdin: "\n", wantErr: "the secret is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &streams{in: strings.NewReader(tt.stdin), out: io.Discard, err: io.Discard}
			var read bool
			got, err := readSecret(s, "api-token", tt.value, &read)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("stdin only once", func(t *testing.T) {
		s := &streams{in: strings.NewReader("x\n"), out: io.Discard, err: io.Discard}
		read := true
		if _, err := readSecret(s, "git-token", "-", &read); err == nil || !strings.Contains(err.Error(), "already read") {
			t.Fatalf("err %v, want standard input already read", err)
		}
	})
}

func TestGroupVerbs(t *testing.T) {
	useConfig(t, "")
	for _, verb := range []string{"create", "get", "delete", "send", "onboard"} {
		t.Run(verb+" alone prints help", func(t *testing.T) {
			r := runOnline(t, "", verb)
			wantExit(t, r, ExitOK)
			if !strings.Contains(r.stdout, "Available Commands:") {
				t.Errorf("stdout %q is not the help", r.stdout)
			}
		})
		t.Run(verb+" with an unknown noun is a usage error", func(t *testing.T) {
			r := runOnline(t, "", verb, "frobnicate")
			wantExit(t, r, ExitBadInput)
			if !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
				t.Errorf("stderr %q", r.stderr)
			}
		})
	}
}

func TestRawAllPagesJoinsPages(t *testing.T) {
	srv := newFakeServer(t,
		exchange{method: "GET", path: "/api/v1/project", answer: `{"projects":[{"projectName":"a"}],"nextPageKey":"k1","totalCount":2}`},
		exchange{method: "GET", path: "/api/v1/project", query: "nextPageKey=k1", answer: `{"projects":[{"projectName":"b"}],"totalCount":2}`},
	)
	useConfig(t, srv.url)
	r := runOnline(t, "", "get", "projects", "-o", "json")
	wantExit(t, r, ExitOK)
	want := `{"projects":[{"projectName":"a"},{"projectName":"b"}],"totalCount":2}`
	if got := compactJSON(t, r.stdout); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestHelpListsOnlineCommands(t *testing.T) {
	r := runTend(t, "", "--help")
	wantExit(t, r, ExitOK)
	for _, cmd := range []string{"auth", "create", "get", "delete", "onboard", "add-resource", "send"} {
		if !strings.Contains(r.stdout, "\n  "+cmd+" ") {
			t.Errorf("--help does not list %q:\n%s", cmd, r.stdout)
		}
	}
}
