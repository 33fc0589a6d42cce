package unleash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
)

const fakeToken = "*:*.fake-admin-secret-0123456789"

// fakeUnleash answers the admin API paths the executor uses the way
// Unleash 8 does (payloads taken from a real 8.2 server): a feature with
// its environments, NotFoundError JSON for unknown features and
// environments, 401 for a wrong token. It records every call.
type fakeUnleash struct {
	t      testing.TB
	prefix string

	mu    sync.Mutex
	flags map[string]map[string]bool // project/feature -> environment -> enabled
	calls []string                   // "METHOD PATH"
	// status, when set for "METHOD PATH", is answered instead.
	status map[string]int
	// hang makes every call wait until the client gives up.
	hang bool
}

func newFakeUnleash(t testing.TB) (*fakeUnleash, *httptest.Server) {
	t.Helper()
	f := &fakeUnleash{t: t, flags: map[string]map[string]bool{}, status: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// add creates feature in project with the given environments' states.
func (f *fakeUnleash) add(project, feature string, envs map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flags[project+"/"+feature] = envs
}

func (f *fakeUnleash) state(project, feature, env string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.flags[project+"/"+feature][env]
}

func (f *fakeUnleash) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"name": "NotFoundError", "message": msg, "details": []any{map[string]string{"message": msg}}})
}

func (f *fakeUnleash) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), f.prefix)
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+path)
	status := f.status[r.Method+" "+path]
	hang := f.hang
	f.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if got := r.Header.Get("Authorization"); got != fakeToken {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"name": "UnauthorizedError", "message": "You must log in to use Unleash.", "details": []any{map[string]string{"message": "You must log in to use Unleash."}}})
		return
	}
	if status != 0 {
		writeJSON(w, status, map[string]any{"name": "InternalError", "message": fmt.Sprintf("injected %d", status)})
		return
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	// api admin projects P features F [environments E on|off]
	if len(parts) < 6 || parts[0] != "api" || parts[1] != "admin" || parts[2] != "projects" || parts[4] != "features" {
		notFound(w, fmt.Sprintf("The path you were looking for (%s) is not available.", path))
		return
	}
	project, feature := parts[3], parts[5]
	f.mu.Lock()
	defer f.mu.Unlock()
	envs, ok := f.flags[project+"/"+feature]
	switch {
	case len(parts) == 6 && r.Method == http.MethodGet:
		if !ok {
			notFound(w, fmt.Sprintf("There's no feature named %q in project %q.", feature, project))
			return
		}
		var list []map[string]any
		for _, name := range []string{"development", "production", "staging"} {
			if on, ok := envs[name]; ok {
				list = append(list, map[string]any{"name": name, "lastSeenAt": nil, "enabled": on, "type": name, "strategies": []any{}})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": feature, "project": project, "type": "release", "stale": false, "environments": list})
	case len(parts) == 9 && parts[6] == "environments" && r.Method == http.MethodPost && (parts[8] == "on" || parts[8] == "off"):
		if !ok {
			notFound(w, fmt.Sprintf("There's no feature named %q in project %q.", feature, project))
			return
		}
		if _, ok := envs[parts[7]]; !ok {
			notFound(w, fmt.Sprintf("Could not find environment %s for feature: %s", parts[7], feature))
			return
		}
		envs[parts[7]] = parts[8] == "on"
		w.WriteHeader(http.StatusOK)
	default:
		notFound(w, fmt.Sprintf("The path you were looking for (%s) is not available.", path))
	}
}

func request(value any) action.Request {
	return action.Request{Key: "r1/0", Project: "sockshop", Stage: "production", Service: "carts", Action: ActionToggleFeature, Value: value}
}

func TestPrepareAndApply(t *testing.T) {
	f, srv := newFakeUnleash(t)
	f.add("default", "EnablePromotion", map[string]bool{"development": false, "production": true})
	e := New(Static(Config{URL: srv.URL, Token: fakeToken}), srv.Client())
	ctx := context.Background()
	req := request(map[string]any{"EnablePromotion": "off"})

	plan, err := e.Prepare(ctx, req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	wantChanges := []action.Change{{Target: "feature EnablePromotion (production)", From: "on", To: "off"}}
	if !reflect.DeepEqual(plan.Changes, wantChanges) {
		t.Errorf("plan changes = %+v, want %+v", plan.Changes, wantChanges)
	}
	if plan.Action != ActionToggleFeature {
		t.Errorf("plan action = %q, want %q", plan.Action, ActionToggleFeature)
	}
	if want := "switch EnablePromotion off in Unleash project default, environment production"; plan.Summary != want {
		t.Errorf("plan summary = %q, want %q", plan.Summary, want)
	}
	if strings.Contains(string(plan.Data), fakeToken) {
		t.Errorf("plan data holds the token: %s", plan.Data)
	}
	if got, want := f.recorded(), []string{"GET /api/admin/projects/default/features/EnablePromotion"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Prepare calls = %q, want only the read %q", got, want)
	}
	if !f.state("default", "EnablePromotion", "production") {
		t.Fatal("Prepare changed the flag")
	}

	res, err := e.Apply(ctx, req, plan)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if f.state("default", "EnablePromotion", "production") {
		t.Error("after Apply the flag is still on in production")
	}
	if f.state("default", "EnablePromotion", "development") {
		t.Error("Apply switched development, which it was not asked to")
	}
	if !reflect.DeepEqual(res.Changes, wantChanges) {
		t.Errorf("result changes = %+v, want %+v", res.Changes, wantChanges)
	}
	if want := "switched EnablePromotion off"; !strings.Contains(res.Message, want) {
		t.Errorf("result message %q does not say %q", res.Message, want)
	}
	wantCalls := []string{
		"GET /api/admin/projects/default/features/EnablePromotion",
		"GET /api/admin/projects/default/features/EnablePromotion",
		"POST /api/admin/projects/default/features/EnablePromotion/environments/production/off",
	}
	if got := f.recorded(); !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("calls = %q, want %q", got, wantCalls)
	}

	// A replay of the same plan reads the state and changes nothing.
	res, err = e.Apply(ctx, req, plan)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	if want := "already EnablePromotion off"; !strings.Contains(res.Message, want) {
		t.Errorf("second result message %q does not say %q", res.Message, want)
	}
	for _, c := range f.recorded()[len(wantCalls):] {
		if strings.HasPrefix(c, "POST") {
			t.Errorf("second Apply switched again: %s", c)
		}
	}
	if f.state("default", "EnablePromotion", "production") {
		t.Error("after the second Apply the flag is on")
	}
}

func TestPrepareAlreadyInState(t *testing.T) {
	f, srv := newFakeUnleash(t)
	f.add("default", "F", map[string]bool{"production": false})
	e := New(Static(Config{URL: srv.URL, Token: fakeToken}), srv.Client())
	plan, err := e.Prepare(context.Background(), request("F:off"))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if want := [](action.Change){{Target: "feature F (production)", From: "off", To: "off"}}; !reflect.DeepEqual(plan.Changes, want) {
		t.Errorf("changes = %+v, want %+v", plan.Changes, want)
	}
	if !strings.HasPrefix(plan.Summary, "nothing to switch") {
		t.Errorf("summary = %q, want it to say there is nothing to switch", plan.Summary)
	}
	if _, err := e.Apply(context.Background(), request("F:off"), plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for _, c := range f.recorded() {
		if strings.HasPrefix(c, "POST") {
			t.Errorf("a flag already off was switched: %s", c)
		}
	}
}

func TestSeveralFeaturesAndSettings(t *testing.T) {
	f, srv := newFakeUnleash(t)
	// Unleash behind a path prefix, in a project and environment of its own.
	f.prefix = "/unleash"
	f.add("shop", "B", map[string]bool{"production": true, "staging": false})
	f.add("shop", "A", map[string]bool{"production": false, "staging": true})
	cfg := Config{URL: srv.URL + "/unleash/", Token: fakeToken, Project: "shop", Environment: "staging"}
	e := New(Static(cfg), srv.Client())
	req := request(map[string]any{"B": "on", "A": "off"})
	req.Action = ActionFeatureToggle

	plan, err := e.Prepare(context.Background(), req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	want := []action.Change{
		{Target: "feature A (staging)", From: "on", To: "off"},
		{Target: "feature B (staging)", From: "off", To: "on"},
	}
	if !reflect.DeepEqual(plan.Changes, want) {
		t.Errorf("changes = %+v, want %+v", plan.Changes, want)
	}
	if _, err := e.Apply(context.Background(), req, plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if f.state("shop", "A", "staging") || !f.state("shop", "B", "staging") {
		t.Error("staging flags were not set to A off, B on")
	}
	if !f.state("shop", "B", "production") || f.state("shop", "A", "production") {
		t.Error("production flags changed")
	}
}

// TestApplyUsesThePlansEnvironment: settings changed between Prepare and
// Apply do not redirect a recorded plan.
func TestApplyUsesThePlansEnvironment(t *testing.T) {
	f, srv := newFakeUnleash(t)
	f.add("default", "F", map[string]bool{"production": true, "development": true})
	cfg := Config{URL: srv.URL, Token: fakeToken}
	e := New(func(context.Context, action.Request) (Config, error) { return cfg, nil }, srv.Client())
	plan, err := e.Prepare(context.Background(), request("F:off"))
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	cfg.Environment = "development"
	if _, err := e.Apply(context.Background(), request("F:off"), plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if f.state("default", "F", "production") || !f.state("default", "F", "development") {
		t.Error("Apply did not switch the plan's environment (production) alone")
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the fake and returns the executor's config.
		setup       func(f *fakeUnleash, url string) Config
		value       any
		apply       bool // the error comes from Apply, after a good Prepare
		wantInvalid bool
		wantMsg     string
	}{
		{
			name:        "missing feature",
			setup:       func(f *fakeUnleash, url string) Config { return Config{URL: url, Token: fakeToken} },
			value:       map[string]any{"EnablePromotion": "off"},
			wantInvalid: true,
			wantMsg:     "feature EnablePromotion does not exist in Unleash project default",
		},
		{
			name: "missing environment",
			setup: func(f *fakeUnleash, url string) Config {
				f.add("default", "F", map[string]bool{"development": true, "production": true})
				return Config{URL: url, Token: fakeToken, Environment: "qa"}
			},
			value:       "F:off",
			wantInvalid: true,
			wantMsg:     "has no environment qa (it has: development, production)",
		},
		{
			name: "wrong token",
			setup: func(f *fakeUnleash, url string) Config {
				f.add("default", "F", map[string]bool{"production": true})
				return Config{URL: url, Token: "*:*.wrong-secret"}
			},
			value:       "F:off",
			wantInvalid: true,
			wantMsg:     "refused the admin API token configured for project sockshop stage production (401 Unauthorized): You must log in to use Unleash.",
		},
		{
			name: "forbidden",
			setup: func(f *fakeUnleash, url string) Config {
				f.add("default", "F", map[string]bool{"production": true})
				f.status["GET /api/admin/projects/default/features/F"] = http.StatusForbidden
				return Config{URL: url, Token: fakeToken}
			},
			value:       "F:off",
			wantInvalid: true,
			wantMsg:     "must be an admin API token",
		},
		{
			name: "server error on read is retryable",
			setup: func(f *fakeUnleash, url string) Config {
				f.add("default", "F", map[string]bool{"production": true})
				f.status["GET /api/admin/projects/default/features/F"] = http.StatusInternalServerError
				return Config{URL: url, Token: fakeToken}
			},
			value:   "F:off",
			wantMsg: "500 Internal Server Error: injected 500",
		},
		{
			name: "server error on switch is retryable",
			setup: func(f *fakeUnleash, url string) Config {
				f.add("default", "F", map[string]bool{"production": true})
				f.status["POST /api/admin/projects/default/features/F/environments/production/off"] = http.StatusServiceUnavailable
				return Config{URL: url, Token: fakeToken}
			},
			value:   "F:off",
			apply:   true,
			wantMsg: "503 Service Unavailable",
		},
		{
			name: "too many requests is retryable",
			setup: func(f *fakeUnleash, url string) Config {
				f.add("default", "F", map[string]bool{"production": true})
				f.status["GET /api/admin/projects/default/features/F"] = http.StatusTooManyRequests
				return Config{URL: url, Token: fakeToken}
			},
			value:   "F:off",
			wantMsg: "429 Too Many Requests",
		},
		{
			name: "other client error is final",
			setup: func(f *fakeUnleash, url string) Config {
				f.add("default", "F", map[string]bool{"production": true})
				f.status["POST /api/admin/projects/default/features/F/environments/production/off"] = http.StatusBadRequest
				return Config{URL: url, Token: fakeToken}
			},
			value:       "F:off",
			apply:       true,
			wantInvalid: true,
			wantMsg:     "400 Bad Request",
		},
		{
			name: "no answer in time is retryable",
			setup: func(f *fakeUnleash, url string) Config {
				f.hang = true
				return Config{URL: url, Token: fakeToken, Timeout: 50 * time.Millisecond}
			},
			value:   "F:off",
			wantMsg: "no answer in time",
		},
		{
			name:        "bad value",
			setup:       func(f *fakeUnleash, url string) Config { return Config{URL: url, Token: fakeToken} },
			value:       map[string]any{"F": "sideways"},
			wantInvalid: true,
			wantMsg:     `toggle-feature: feature F: state "sideways" is not on or off`,
		},
		{
			name:        "no URL",
			setup:       func(f *fakeUnleash, url string) Config { return Config{Token: fakeToken} },
			value:       "F:off",
			wantInvalid: true,
			wantMsg:     "no Unleash URL is configured for project sockshop stage production",
		},
		{
			name:        "not an http URL",
			setup:       func(f *fakeUnleash, url string) Config { return Config{URL: "unleash:4242", Token: fakeToken} },
			value:       "F:off",
			wantInvalid: true,
			wantMsg:     "is not an http(s) URL",
		},
		{
			name:        "no token",
			setup:       func(f *fakeUnleash, url string) Config { return Config{URL: url} },
			value:       "F:off",
			wantInvalid: true,
			wantMsg:     "no Unleash admin API token is configured",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFakeUnleash(t)
			cfg := tt.setup(f, srv.URL)
			e := New(Static(cfg), srv.Client())
			req := request(tt.value)
			plan, err := e.Prepare(context.Background(), req)
			if tt.apply {
				if err != nil {
					t.Fatalf("Prepare: %v", err)
				}
				_, err = e.Apply(context.Background(), req, plan)
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantMsg)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if got := errors.Is(err, action.ErrInvalid); got != tt.wantInvalid {
				t.Errorf("errors.Is(err, ErrInvalid) = %v, want %v (err: %v)", got, tt.wantInvalid, err)
			}
			if cfg.Token != "" && strings.Contains(err.Error(), cfg.Token) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

// TestTokenRedacted: an Unleash (or proxy) that echoes the token in its
// error message never gets it into tend's error.
func TestTokenRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "bad token " + r.Header.Get("Authorization")})
	}))
	defer srv.Close()
	e := New(Static(Config{URL: srv.URL, Token: fakeToken}), srv.Client())
	_, err := e.Prepare(context.Background(), request("F:off"))
	if err == nil {
		t.Fatal("no error from a 400 answer")
	}
	if strings.Contains(err.Error(), fakeToken) {
		t.Errorf("error shows the token: %v", err)
	}
	if !strings.Contains(err.Error(), "bad token <redacted>") {
		t.Errorf("error %q does not carry Unleash's (redacted) message", err)
	}
}

func TestApplyRejectsForeignPlan(t *testing.T) {
	_, srv := newFakeUnleash(t)
	e := New(Static(Config{URL: srv.URL, Token: fakeToken}), srv.Client())
	for _, data := range []string{``, `{}`, `{"features":[]}`, `"scale"`} {
		_, err := e.Apply(context.Background(), request("F:off"), action.Plan{Action: ActionToggleFeature, Data: json.RawMessage(data)})
		if !errors.Is(err, action.ErrInvalid) {
			t.Errorf("Apply with plan data %q: error %v, want ErrInvalid", data, err)
		}
	}
}

func TestResolverError(t *testing.T) {
	cause := fmt.Errorf("settings store down")
	e := New(func(context.Context, action.Request) (Config, error) { return Config{}, cause }, nil)
	_, err := e.Prepare(context.Background(), request("F:off"))
	if !errors.Is(err, cause) || errors.Is(err, action.ErrInvalid) {
		t.Errorf("error %v: want it to wrap the resolver's error and stay retryable", err)
	}
}
