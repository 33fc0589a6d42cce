package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/action/unleash"
	"github.com/tendhq/tend/internal/action/webhook"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/sli/dynatrace"
	"github.com/tendhq/tend/internal/sli/prometheus"
	"github.com/tendhq/tend/internal/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// nopStore, nopResources, nopProblems and nopAnswers satisfy the interfaces
// for tests that never reach the store; any call fails the test through a
// nil panic.
type nopStore struct{ Store }
type nopResources struct{ Resources }
type nopProblems struct{ ProblemRecorder }
type nopAnswers struct{ ActionAnswers }

type nopCancel struct{ RemediationCanceller }

func newTestServer(t testing.TB, log *slog.Logger) *Server {
	t.Helper()
	s, err := New(Options{Store: nopStore{}, Resources: nopResources{}, Problems: nopProblems{}, ActionAnswers: nopAnswers{}, Cancel: nopCancel{}, Logger: log, Settings: testSettings(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testSettings is app.Settings() as this package's own tests may build it
// (they cannot import app, which imports api).
func testSettings(t testing.TB) *settings.Registry {
	t.Helper()
	r, err := settings.NewRegistry(
		sli.Monitoring(prometheus.ProviderKind, dynatrace.ProviderKind), settings.PolicySchema,
		kubernetes.Schema, unleash.Schema, webhook.SecretSchema, settings.PauseSchema)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOpenAPIGolden(t *testing.T) {
	got := newTestServer(t, nil).OpenAPIDocument()
	path := filepath.Join("testdata", "openapi.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("OpenAPI document differs from %s; review the change and run go test -update", path)
	}
}

var muxWildcardRE = regexp.MustCompile(`\{([A-Za-z]+)\.\.\.\}`)

// TestOpenAPICoversEveryRoute checks both ways: every pattern registered on
// the mux is documented, and every documented operation reaches a handler
// (not the mux's 404 or 405).
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s := newTestServer(t, nil)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(s.OpenAPIDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	for _, p := range s.Patterns() {
		key := muxWildcardRE.ReplaceAllString(p, "{$1}")
		if !documented[key] {
			t.Errorf("route %s is not in the OpenAPI document", p)
		}
	}
	for key := range documented {
		method, path, _ := strings.Cut(key, " ")
		concrete := regexp.MustCompile(`\{[A-Za-z]+\}`).ReplaceAllString(path, "x")
		r := httptest.NewRequest(method, concrete, nil)
		if _, pattern := s.mux.Handler(r); pattern == "" {
			t.Errorf("documented %s reaches no handler", key)
		}
	}
	if len(documented) != len(s.Patterns()) {
		t.Errorf("%d documented operations, %d registered patterns", len(documented), len(s.Patterns()))
	}
}

func TestPanicAnswers500(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, slog.New(slog.NewTextHandler(&logs, nil)))
	h := s.observe(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d", w.Code)
	}
	var e apitypes.Error
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != 500 || strings.Contains(e.Message, "boom") {
		t.Errorf("answer %s: want the JSON error without the panic value", w.Body)
	}
	if !strings.Contains(logs.String(), "handler_panic") || !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"store not found", store.ErrNotFound, 404},
		{"store exists", store.ErrExists, 409},
		{"store invalid", store.ErrInvalid, 400},
		{"store closed", store.ErrClosed, 503},
		{"resource missing", resource.ErrResourceNotFound, 404},
		{"bad uri", resource.ErrInvalidURI, 400},
		{"upstream not empty", resource.ErrUpstreamNotEmpty, 409},
		{"upstream unreachable", resource.ErrUpstreamUnreachable, 502},
		{"body too large", &http.MaxBytesError{Limit: 5}, 413},
		{"unknown", context.DeadlineExceeded, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := classify(tt.err); got != tt.want {
				t.Errorf("classify(%v) = %d; want %d", tt.err, got, tt.want)
			}
		})
	}
	if _, msg := classify(errorf(500, "x")); msg != "x" {
		t.Error("httpError message lost")
	}
	if _, msg := classify(context.DeadlineExceeded); strings.Contains(msg, "deadline") {
		t.Errorf("internal error leaks its cause: %q", msg)
	}
}

func TestShipyardText(t *testing.T) {
	yaml := "stages:\n  - name: dev\n"
	tests := []struct {
		name, in, want string
	}{
		{"yaml", yaml, yaml},
		{"base64", "c3RhZ2VzOgogIC0gbmFtZTogZGV2Cg==", yaml},
		{"base64 with line breaks", "c3RhZ2VzOgogIC0g\nbmFtZTogZGV2Cg==\n", yaml},
		{"base64 of bytes that are not text", "abcd", "abcd"},
		{"not base64", "abc", "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(shipyardText(tt.in))
			if got != tt.want {
				t.Errorf("shipyardText(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPageOf(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e"}
	var got []string
	after := ""
	for range 10 {
		from, to, next := pageOf(names, 2, after)
		got = append(got, names[from:to]...)
		if next == "" {
			break
		}
		r := httptest.NewRequest("GET", "/?nextPageKey="+next, nil)
		_, a, err := page(r)
		if err != nil {
			t.Fatal(err)
		}
		after = a
	}
	if strings.Join(got, "") != "abcde" {
		t.Errorf("pages gave %v", got)
	}
}

func FuzzUnmarshalStrict(f *testing.F) {
	f.Add([]byte(`{"name":"sockshop","shipyard":"stages: []"}`))
	f.Add([]byte(`{"name": 5}`))
	f.Add([]byte("{\n\"name\" 1}"))
	f.Add([]byte(`{"resources":[{"resourceURI":"a","resourceContent":"YQ=="}]} x`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a apitypes.CreateProjectRequest
		var p apitypes.PutResourcesRequest
		for _, v := range []any{&a, &p} {
			err := unmarshalStrict(b, v)
			if err == nil {
				continue
			}
			he, ok := err.(*httpError)
			if !ok || he.status != http.StatusBadRequest || he.msg == "" {
				t.Fatalf("unmarshalStrict error %#v; want a 400 httpError", err)
			}
		}
	})
}

func FuzzPageKey(f *testing.F) {
	f.Add("")
	f.Add("bmE")
	f.Add("%%%")
	f.Fuzz(func(t *testing.T, key string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.RawQuery = "nextPageKey=" + strings.ReplaceAll(key, "&", "")
		if _, _, err := page(r); err != nil {
			if he, ok := err.(*httpError); !ok || he.status != 400 {
				t.Fatalf("page error %#v; want 400", err)
			}
		}
	})
}

func FuzzShipyardText(f *testing.F) {
	f.Add("stages:\n  - name: dev\n")
	f.Add("c3RhZ2VzOgogIC0gbmFtZTogZGV2Cg==")
	f.Fuzz(func(t *testing.T, in string) {
		out := shipyardText(in)
		if string(out) != in && !isBase64Text(strings.TrimSpace(in)) {
			t.Fatalf("text %q was changed", in)
		}
	})
}

// TestReadAllSized checks that the presized read returns the body whatever
// length was announced, and passes the size limit's error on.
func TestReadAllSized(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 300) // 3,000 bytes
	for _, announced := range []int64{-1, 0, 10, 2999, 3000, 3001, 1 << 40} {
		got, err := readAllSized(bytes.NewReader(body), announced)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("announced %d: %d bytes, %v; want the 3,000 bytes", announced, len(got), err)
		}
		if announced == 3000 && cap(got) != 3001 {
			t.Errorf("announced 3000: buffer of %d bytes, want one of 3,001, never grown", cap(got))
		}
	}
	rec := httptest.NewRecorder()
	limited := http.MaxBytesReader(rec, io.NopCloser(bytes.NewReader(body)), 100)
	if _, err := readAllSized(limited, int64(len(body))); err == nil {
		t.Error("a body over the limit was read without error")
	}
}
