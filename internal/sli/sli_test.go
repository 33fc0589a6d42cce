package sli

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/slo"
)

var (
	t0  = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	req = Request{
		Project: "sockshop", Stage: "dev", Service: "carts", Deployment: "primary",
		Start: t0, End: t0.Add(5 * time.Minute),
		Filters: map[string]string{"handler": "ItemsController.addToCart", "SERVICE_NAME": "carts-svc"},
		Labels:  map[string]string{"tag": "v1", "tag2": "v2", "empty": ""},
	}
)

func TestMerge(t *testing.T) {
	tests := []struct {
		name                    string
		project, stage, service map[string]string
		want                    map[string]string
	}{
		{name: "all missing", want: map[string]string{}},
		{name: "project only", project: map[string]string{"a": "p"}, want: map[string]string{"a": "p"}},
		{
			name:    "later levels override earlier keys",
			project: map[string]string{"a": "p", "b": "p", "c": "p"},
			stage:   map[string]string{"b": "s", "c": "s"},
			service: map[string]string{"c": "x", "d": "x"},
			want:    map[string]string{"a": "p", "b": "s", "c": "x", "d": "x"},
		},
		{
			name:    "missing stage level",
			project: map[string]string{"a": "p"},
			service: map[string]string{"a": "x"},
			want:    map[string]string{"a": "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			projectBefore := maps.Clone(tt.project)
			got := Merge(tt.project, tt.stage, tt.service)
			if !maps.Equal(got, tt.want) {
				t.Errorf("Merge = %v, want %v", got, tt.want)
			}
			if !maps.Equal(tt.project, projectBefore) {
				t.Errorf("Merge modified its input: %v, was %v", tt.project, projectBefore)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		modify  func(r *Request)
		wantErr string
	}{
		{name: "valid", modify: func(*Request) {}},
		{name: "no project", modify: func(r *Request) { r.Project = "" }, wantErr: "project is empty"},
		{name: "no start", modify: func(r *Request) { r.Start = time.Time{} }, wantErr: "needs both a start and an end"},
		{name: "end equals start", modify: func(r *Request) { r.End = r.Start }, wantErr: "must be after its start"},
		{name: "end before start", modify: func(r *Request) { r.End = r.Start.Add(-time.Second) }, wantErr: "must be after its start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req
			tt.modify(&r)
			err := r.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("Validate = %v, want ErrInvalidRequest with %q", err, tt.wantErr)
			}
		})
	}
}

func TestReplace(t *testing.T) {
	tests := []struct {
		name, query, want string
	}{
		{"no placeholders", "up", "up"},
		{"upper case", "$PROJECT/$STAGE/$SERVICE/$DEPLOYMENT", "sockshop/dev/carts/primary"},
		{"lower case", "$project/$stage/$service/$deployment", "sockshop/dev/carts/primary"},
		{"keptn job", "job='$SERVICE-$PROJECT-$STAGE-$DEPLOYMENT'", "job='carts-sockshop-dev-primary'"},
		{"duration", "rate(x[$DURATION_SECONDS])", "rate(x[300s])"},
		{"labels", "tag($LABEL.tag),tag($LABEL.tag2),[$LABEL.empty]", "tag(v1),tag(v2),[]"},
		{"filter", `handler="$handler"`, `handler="ItemsController.addToCart"`},
		{"longest name wins", "$SERVICE_NAME and $SERVICE", "carts-svc and carts"},
		{"no boundary needed, as in Keptn", "$SERVICE_x", "carts_x"},
		{"unknown placeholder stays", "$FOO $LABEL.nope", "$FOO $LABEL.nope"},
		{"regex anchor stays", `path=~"^/api$"`, `path=~"^/api$"`},
		{"dollar at end", "x$", "x$"},
		{"double dollar", "$$SERVICE", "$carts"},
		{"lone dollars", "$ $$ $", "$ $$ $"},
	}
	r := NewReplacer(req)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Replace(tt.query); got != tt.want {
				t.Errorf("Replace(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
}

func TestReplaceDoesNotRescanValues(t *testing.T) {
	r2 := req
	r2.Labels = map[string]string{"evil": "$SERVICE"}
	r2.Filters = map[string]string{"DEPLOYMENT": "canary"}
	got := NewReplacer(r2).Replace("$LABEL.evil/$DEPLOYMENT")
	if want := "$SERVICE/canary"; got != want {
		t.Errorf("Replace = %q, want %q (label values stay literal; a filter overrides a built-in name)", got, want)
	}
}

func TestDurationSeconds(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"whole", 5 * time.Minute, "300s"},
		{"rounded up", 299*time.Second + 200*time.Millisecond, "300s"},
		{"one nanosecond over", time.Second + 1, "2s"},
		{"sub second", time.Millisecond, "1s"},
		{"empty", 0, "0s"},
		{"reversed", -time.Minute, "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DurationSeconds(t0, t0.Add(tt.d)); got != tt.want {
				t.Errorf("DurationSeconds(%s) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

func TestUnresolved(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{"up", nil},
		{`x{a=~"^b$"}`, nil},
		{"$SERVCE-$PROJECT_X-$SERVCE", []string{"$SERVCE", "$PROJECT_X"}},
		{"tag($LABEL.missing.)", []string{"$LABEL.missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := Unresolved(tt.query); !slices.Equal(got, tt.want) {
				t.Errorf("Unresolved(%q) = %q, want %q", tt.query, got, tt.want)
			}
		})
	}
	if h := UnresolvedHint("up"); h != "" {
		t.Errorf("UnresolvedHint without names = %q, want empty", h)
	}
	if h := UnresolvedHint("$SERVCE"); !strings.Contains(h, "$SERVCE") {
		t.Errorf("UnresolvedHint = %q, want it to name $SERVCE", h)
	}
}

func TestFailed(t *testing.T) {
	got := Failed("error_rate", "query %q: %s", "q", "no data")
	want := slo.SLIResult{Metric: "error_rate", Message: `SLI "error_rate": query "q": no data`}
	if got != want {
		t.Errorf("Failed = %+v, want %+v", got, want)
	}
}

func TestCollect(t *testing.T) {
	t.Run("keeps order, fixes names, respects the limit", func(t *testing.T) {
		names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
		var running, peak atomic.Int32
		var mu sync.Mutex
		release := make(chan struct{})
		started := 0
		go func() {
			// Let the goroutines pile up against the limit, then go.
			for {
				mu.Lock()
				s := started
				mu.Unlock()
				if s >= 2 {
					close(release)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		got, err := Collect(context.Background(), names, 2, func(ctx context.Context, name string) slo.SLIResult {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			mu.Lock()
			started++
			mu.Unlock()
			<-release
			running.Add(-1)
			return slo.SLIResult{Metric: "wrong", Value: float64(len(name)), Success: true}
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range got {
			if r.Metric != names[i] {
				t.Errorf("result %d is %q, want %q", i, r.Metric, names[i])
			}
		}
		if p := peak.Load(); p > 2 {
			t.Errorf("%d fetches ran at once, limit 2", p)
		}
	})
	t.Run("canceled context fails the rest and is returned", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		got, err := Collect(ctx, []string{"a", "b", "c"}, 1, func(ctx context.Context, name string) slo.SLIResult {
			cancel()
			return slo.SLIResult{Value: 1, Success: true}
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if len(got) != 3 || got[2].Success || !strings.Contains(got[2].Message, "not fetched") {
			t.Fatalf("results = %+v, want the last one failed with 'not fetched'", got)
		}
	})
}

// FuzzReplace checks the replacer on any query: it never panics, leaves a
// query without '$' alone, and is the identity when every placeholder's
// value is the placeholder itself (so it replaces exactly the names it
// knows and touches nothing else).
func FuzzReplace(f *testing.F) {
	for _, s := range []string{"", "up", "$SERVICE-$PROJECT", "$LABEL.tag$$", "$SERVICE_NAME$", `a=~"^x$"`, "$DURATION_SECONDS]"} {
		f.Add(s, "handler", "v")
	}
	f.Fuzz(func(t *testing.T, query, filterKey, labelName string) {
		r := req
		r.Filters = map[string]string{filterKey: "F"}
		r.Labels = map[string]string{labelName: "L"}
		out := NewReplacer(r).Replace(query)
		if !strings.Contains(query, "$") && out != query {
			t.Fatalf("Replace changed a query without '$': %q -> %q", query, out)
		}
		id := NewReplacer(r)
		for k := range id.values {
			id.values[k] = "$" + k
		}
		if got := id.Replace(query); got != query {
			t.Fatalf("identity replacement changed %q to %q", query, got)
		}
		_ = Unresolved(out)
	})
}
