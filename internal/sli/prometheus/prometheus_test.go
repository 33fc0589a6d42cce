package prometheus

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/slo"
)

var (
	t0      = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	baseReq = sli.Request{
		Project: "sockshop", Stage: "dev", Service: "carts",
		Start: t0, End: t0.Add(5 * time.Minute),
	}
)

// answer is a canned Prometheus answer.
type answer struct {
	status int
	body   string
}

const (
	oneSample   = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"carts-sockshop-dev"},"value":[1714565100,"42.5"]}]}}`
	scalar      = `{"status":"success","data":{"resultType":"scalar","result":[1714565100,"7"]}}`
	emptyVector = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	twoSeries   = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"handler":"a","job":"j"},"value":[1,"1"]},{"metric":{"handler":"b","job":"j"},"value":[1,"2"]}]}}`
	nan         = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`
	posInf      = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}`
	negInf      = `{"status":"success","data":{"resultType":"scalar","result":[1,"-Inf"]}}`
	matrix      = `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]}]}}`
	withWarning = `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"3"]}]},"warnings":["partial response"]}`
	badData     = `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected \"}\""}`
	execution   = `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`
	unavailable = `{"status":"error","errorType":"unavailable","error":"TSDB not ready"}`
)

// fakePrometheus serves one canned answer per query and records what it
// was asked.
type fakePrometheus struct {
	t       testing.TB
	answers map[string]answer // by query; "" is the default
	seen    chan *http.Request
}

func newFake(t testing.TB, answers map[string]answer) (*fakePrometheus, *httptest.Server) {
	t.Helper()
	f := &fakePrometheus{t: t, answers: answers, seen: make(chan *http.Request, 64)}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case f.seen <- r:
	default:
	}
	if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/api/v1/query") {
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	a, ok := f.answers[r.URL.Query().Get("query")]
	if !ok {
		a = f.answers[""]
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func newProvider(t testing.TB, cfg Config) *Provider {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestRequestShape(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		wantAuth string
	}{
		{name: "no auth"},
		{name: "basic auth", cfg: Config{User: "alice", Password: "s3cret"}, wantAuth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))},
		{name: "bearer token", cfg: Config{BearerToken: "tok-123"}, wantAuth: "Bearer tok-123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFake(t, map[string]answer{"": {200, oneSample}})
			tt.cfg.URL = srv.URL + "/prom/"
			tt.cfg.Timeout = 7 * time.Second
			p := newProvider(t, tt.cfg)
			r := baseReq
			r.Indicators = []string{"custom"}
			r.Queries = map[string]string{"custom": "sum(up{job='$SERVICE'})"}
			got, err := p.GetSLIs(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if want := (slo.SLIResult{Metric: "custom", Value: 42.5, Success: true}); got[0] != want {
				t.Errorf("result = %+v, want %+v", got[0], want)
			}
			req := <-f.seen
			if req.URL.Path != "/prom/api/v1/query" {
				t.Errorf("path = %q, want /prom/api/v1/query", req.URL.Path)
			}
			q := req.URL.Query()
			checks := map[string]string{"query": "sum(up{job='carts'})", "time": "1714565100.000", "timeout": "7000ms"}
			for k, want := range checks {
				if q.Get(k) != want {
					t.Errorf("parameter %s = %q, want %q", k, q.Get(k), want)
				}
			}
			if got := req.Header.Get("Authorization"); got != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tt.wantAuth)
			}
			if got := req.Header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept = %q, want application/json", got)
			}
		})
	}
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name      string
		answer    answer
		wantValue float64
		wantMsg   []string // substrings of the message; a failure when non-empty and no value
		wantOK    bool
		// wantOutage: a server error, an outage of the monitoring (GetSLIs
		// returns the results with an error matching sli.ErrUnavailable),
		// not a failed SLI.
		wantOutage bool
	}{
		{name: "one sample", answer: answer{200, oneSample}, wantValue: 42.5, wantOK: true},
		{name: "scalar", answer: answer{200, scalar}, wantValue: 7, wantOK: true},
		{name: "warnings kept on success", answer: answer{200, withWarning}, wantValue: 3, wantOK: true, wantMsg: []string{"partial response"}},
		{name: "empty vector", answer: answer{200, emptyVector}, wantMsg: []string{"no data", `or vector(0)`}},
		{name: "two series", answer: answer{200, twoSeries}, wantMsg: []string{"2 series", `{handler="a",job="j"}`, `{handler="b",job="j"}`}},
		{name: "NaN", answer: answer{200, nan}, wantMsg: []string{"NaN", "0/0"}},
		{name: "+Inf", answer: answer{200, posInf}, wantMsg: []string{"+Inf"}},
		{name: "-Inf scalar", answer: answer{200, negInf}, wantMsg: []string{"-Inf"}},
		{name: "matrix", answer: answer{200, matrix}, wantMsg: []string{"matrix", "instant vector or a scalar"}},
		{name: "400 bad_data", answer: answer{400, badData}, wantMsg: []string{"HTTP 400", "bad_data", "parse error"}},
		{name: "422 execution", answer: answer{422, execution}, wantMsg: []string{"HTTP 422", "execution", "too many samples"}},
		{name: "503 envelope", answer: answer{503, unavailable}, wantMsg: []string{"HTTP 503", "unavailable", "TSDB not ready"}, wantOutage: true},
		{name: "502 from a proxy", answer: answer{502, "<html>Bad Gateway</html>"}, wantMsg: []string{"HTTP 502", "Bad Gateway"}, wantOutage: true},
		{name: "500 empty body", answer: answer{500, ""}, wantMsg: []string{"HTTP 500", "(empty body)"}, wantOutage: true},
		{name: "malformed JSON", answer: answer{200, `{"status":"success","data":`}, wantMsg: []string{"malformed", "not JSON"}},
		{name: "error status with 200", answer: answer{200, badData}, wantMsg: []string{"HTTP 200", "bad_data"}},
		{name: "unknown status", answer: answer{200, `{"status":"maybe"}`}, wantMsg: []string{"malformed", `"maybe"`}},
		{name: "value not a number", answer: answer{200, `{"status":"success","data":{"resultType":"scalar","result":[1,"abc"]}}`}, wantMsg: []string{"not a number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newFake(t, map[string]answer{"": tt.answer})
			p := newProvider(t, Config{URL: srv.URL})
			r := baseReq
			r.Indicators = []string{"my_sli"}
			r.Queries = map[string]string{"my_sli": "my_query"}
			got, err := p.GetSLIs(context.Background(), r)
			if tt.wantOutage != errors.Is(err, sli.ErrUnavailable) || (err != nil && !tt.wantOutage) {
				t.Fatalf("err = %v, want an outage: %t", err, tt.wantOutage)
			}
			if len(got) != 1 {
				t.Fatalf("got %d results, want 1", len(got))
			}
			g := got[0]
			if g.Metric != "my_sli" || g.Success != tt.wantOK {
				t.Fatalf("result = %+v, want metric my_sli, success %v", g, tt.wantOK)
			}
			if tt.wantOK && g.Value != tt.wantValue {
				t.Errorf("value = %v, want %v", g.Value, tt.wantValue)
			}
			if !tt.wantOK {
				if g.Value != 0 {
					t.Errorf("failed result carries value %v", g.Value)
				}
				tt.wantMsg = append(tt.wantMsg, `SLI "my_sli"`, `query "my_query"`)
			}
			for _, s := range tt.wantMsg {
				if !strings.Contains(g.Message, s) {
					t.Errorf("message %q does not contain %q", g.Message, s)
				}
			}
		})
	}
}

func TestTimeoutAndUnreachable(t *testing.T) {
	t.Run("slow prometheus hits the per-query timeout", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers in time
		}))
		t.Cleanup(srv.Close)
		p := newProvider(t, Config{URL: srv.URL, Timeout: 50 * time.Millisecond})
		r := baseReq
		r.Indicators = []string{"throughput"}
		got, err := p.GetSLIs(context.Background(), r)
		if !errors.Is(err, sli.ErrUnavailable) {
			t.Fatalf("err = %v, want an outage (sli.ErrUnavailable)", err)
		}
		if got[0].Success || !strings.Contains(got[0].Message, "within 50ms") || !strings.Contains(got[0].Message, "timeout") {
			t.Errorf("result = %+v, want a timeout failure", got[0])
		}
	})
	t.Run("unreachable prometheus", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		p := newProvider(t, Config{URL: url})
		r := baseReq
		r.Indicators = []string{"throughput", "error_rate"}
		got, err := p.GetSLIs(context.Background(), r)
		var outage *sli.OutageError
		if !errors.As(err, &outage) || outage.Indicators != 2 || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("err = %v, want an *sli.OutageError over both SLIs naming the refusal", err)
		}
		for _, g := range got {
			if g.Success || !strings.Contains(g.Message, "unreachable") || !strings.Contains(g.Message, "refused") {
				t.Errorf("result = %+v, want an unreachable failure", g)
			}
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cancel()
			<-r.Context().Done()
		}))
		t.Cleanup(srv.Close)
		p := newProvider(t, Config{URL: srv.URL})
		r := baseReq
		r.Indicators = []string{"throughput"}
		got, err := p.GetSLIs(ctx, r)
		if err == nil {
			t.Fatal("GetSLIs after cancel returned no error; the caller must learn it was stopped")
		}
		if got[0].Success || !strings.Contains(got[0].Message, "canceled") {
			t.Errorf("result = %+v, want a canceled failure", got[0])
		}
	})
}

func TestSecretsRedacted(t *testing.T) {
	// A proxy that echoes the Authorization header into its error page.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "denied for "+r.Header.Get("Authorization"), http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	for _, cfg := range []Config{{User: "u", Password: "hunter2-pass"}, {BearerToken: "tok-very-secret"}} {
		cfg.URL = srv.URL
		p := newProvider(t, cfg)
		r := baseReq
		r.Indicators = []string{"x"}
		r.Queries = map[string]string{"x": "up"}
		got, err := p.GetSLIs(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		m := got[0].Message
		if strings.Contains(m, "hunter2-pass") || strings.Contains(m, "tok-very-secret") || !strings.Contains(m, "<redacted>") {
			t.Errorf("message %q leaks a secret or does not show the redaction", m)
		}
		// Basic auth travels base64-encoded; the proxy echoed that form.
		if strings.Contains(m, base64.StdEncoding.EncodeToString([]byte("u:hunter2-pass"))) {
			t.Errorf("message %q leaks the base64 form of the basic credentials", m)
		}
	}
}

func TestBuiltinQueries(t *testing.T) {
	const job = "job='carts-sockshop-dev'"
	tests := []struct {
		name    string
		sli     string
		filters map[string]string
		want    string
		wantErr string
	}{
		{name: "throughput", sli: "throughput", want: "sum(rate(http_requests_total{" + job + "}[300s]))"},
		{
			name: "error_rate counts a missing error series as 0", sli: "error_rate",
			want: "(sum(rate(http_requests_total{" + job + ",status!~'2..'}[300s])) or vector(0)) / sum(rate(http_requests_total{" + job + "}[300s]))",
		},
		{name: "p50", sli: "response_time_p50", want: "histogram_quantile(0.5, sum by (le) (rate(http_response_time_milliseconds_bucket{" + job + "}[300s])))"},
		{name: "p90", sli: "response_time_p90", want: "histogram_quantile(0.9, sum by (le) (rate(http_response_time_milliseconds_bucket{" + job + "}[300s])))"},
		{name: "p95", sli: "response_time_p95", want: "histogram_quantile(0.95, sum by (le) (rate(http_response_time_milliseconds_bucket{" + job + "}[300s])))"},
		{
			name: "filters become matchers in key order", sli: "throughput",
			filters: map[string]string{"handler": "ItemsController.addToCart", "code": "!~'5..'", "path": "=~\"/api/.*\"", "zone": "=eu", "method": "!=POST", "quote": "it's"},
			want:    "sum(rate(http_requests_total{" + job + `,code!~'5..',handler='ItemsController.addToCart',method!=POST,path=~"/api/.*",quote='it\'s',zone=eu}[300s]))`,
		},
		{
			name: "a job filter replaces the default job", sli: "throughput",
			filters: map[string]string{"job": "carts-sockshop-dev-primary"},
			want:    "sum(rate(http_requests_total{job='carts-sockshop-dev-primary'}[300s]))",
		},
		{
			name: "filter values are not placeholders in built-ins", sli: "throughput",
			filters: map[string]string{"path": "=~'.*$SERVICE$'"},
			want:    "sum(rate(http_requests_total{" + job + ",path=~'.*$SERVICE$'}[300s]))",
		},
		{name: "filter key that is no label name", sli: "throughput", filters: map[string]string{"bad-key": "x"}, wantErr: `"bad-key" is not a Prometheus label name`},
		{name: "not a built-in", sli: "cpu", wantErr: "no query configured in prometheus/sli.yaml and no built-in SLI"},
	}
	p := newProvider(t, Config{URL: "http://127.0.0.1:1"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := baseReq
			r.Filters = tt.filters
			got, err := p.Query(tt.sli, r)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Query = %q, %v; want error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Query(%s) =\n  %s\nwant\n  %s", tt.sli, got, tt.want)
			}
		})
	}
}

func TestConfiguredQueryWinsAndPlaceholders(t *testing.T) {
	p := newProvider(t, Config{URL: "http://127.0.0.1:1"})
	r := baseReq
	r.Deployment = "primary"
	r.Filters = map[string]string{"handler": "addToCart"}
	r.Labels = map[string]string{"version": "v2"}
	r.Queries = map[string]string{"throughput": "sum(rate(x{job='$SERVICE-$PROJECT-$STAGE-$DEPLOYMENT',handler='$handler',v='$LABEL.version'}[$DURATION_SECONDS]))"}
	got, err := p.Query("throughput", r)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sum(rate(x{job='carts-sockshop-dev-primary',handler='addToCart',v='v2'}[300s]))"; got != want {
		t.Errorf("Query = %q, want %q", got, want)
	}
}

// TestQueryBuilderMatchesProvider keeps the alert rules' queries (built by
// QueryBuilder, with no Prometheus) the very ones an evaluation runs.
func TestQueryBuilderMatchesProvider(t *testing.T) {
	p := newProvider(t, Config{URL: "http://127.0.0.1:1"})
	configured := baseReq
	configured.Queries = map[string]string{"throughput": "sum(rate(x{job='$SERVICE-$PROJECT-$STAGE'}[$DURATION_SECONDS]))"}
	filtered := baseReq
	filtered.Filters = map[string]string{"handler": "addToCart"}
	tests := []struct {
		name string
		sli  string
		req  sli.Request
	}{
		{"built-in", "response_time_p90", baseReq},
		{"built-in with a filter", "error_rate", filtered},
		{"configured query", "throughput", configured},
		{"unknown indicator", "cpu", baseReq},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantErr := p.Query(tt.sli, tt.req)
			got, err := QueryBuilder{}.Query(tt.sli, tt.req)
			if got != want || (err == nil) != (wantErr == nil) {
				t.Errorf("QueryBuilder.Query = %q, %v; Provider.Query = %q, %v", got, err, want, wantErr)
			}
		})
	}
}

func TestEveryIndicatorGetsAResult(t *testing.T) {
	_, srv := newFake(t, map[string]answer{
		"":                    {200, oneSample},
		"empty":               {200, emptyVector},
		"up{x='$MISSPELLED'}": {400, badData},
	})
	p := newProvider(t, Config{URL: srv.URL, Concurrency: 2})
	r := baseReq
	r.Indicators = []string{"throughput", "nothing", "empty", "typo", "throughput"}
	r.Queries = map[string]string{"empty": "empty", "typo": "up{x='$MISSPELLED'}"}
	got, err := p.GetSLIs(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	wantOK := []bool{true, false, false, false, true}
	if len(got) != len(wantOK) {
		t.Fatalf("got %d results, want %d", len(got), len(wantOK))
	}
	for i, g := range got {
		if g.Metric != r.Indicators[i] || g.Success != wantOK[i] {
			t.Errorf("result %d = %+v, want metric %s success %v", i, g, r.Indicators[i], wantOK[i])
		}
	}
	if !strings.Contains(got[3].Message, "$MISSPELLED") || !strings.Contains(got[3].Message, "not a placeholder tend knows") {
		t.Errorf("typo message %q does not point at the unresolved placeholder", got[3].Message)
	}
}

func TestInvalidRequest(t *testing.T) {
	p := newProvider(t, Config{URL: "http://127.0.0.1:1"})
	r := baseReq
	r.End = r.Start
	r.Indicators = []string{"throughput"}
	if _, err := p.GetSLIs(context.Background(), r); err == nil || !strings.Contains(err.Error(), "must be after") {
		t.Fatalf("GetSLIs with an empty window: err = %v", err)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no URL", Config{}, "not an http(s) URL"},
		{"no scheme", Config{URL: "prometheus:9090"}, "not an http(s) URL"},
		{"credentials in URL", Config{URL: "http://u:pw@prom:9090"}, "carries credentials"},
		{"query in URL", Config{URL: "http://prom:9090/?x=1"}, "query or fragment"},
		{"both auths", Config{URL: "http://prom", User: "u", Password: "p", BearerToken: "t"}, "use one"},
		{"password alone", Config{URL: "http://prom", Password: "p"}, "without a user"},
		{"negative timeout", Config{URL: "http://prom", Timeout: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want error with %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q shows the URL's password", err)
			}
		})
	}
}

// BenchmarkPrometheusEvaluationOverhead measures tend's own cost per SLI
// fetch (placeholders, request, decoding, result) against a fake that
// answers instantly, so Prometheus's query time is excluded.
func BenchmarkPrometheusEvaluationOverhead(b *testing.B) {
	_, srv := newFake(b, map[string]answer{"": {200, oneSample}})
	p := newProvider(b, Config{URL: srv.URL})
	r := baseReq
	r.Indicators = Builtins
	r.Filters = map[string]string{"handler": "ItemsController.addToCart"}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := p.GetSLIs(ctx, r)
		if err != nil || !got[0].Success {
			b.Fatalf("GetSLIs = %+v, %v", got, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(r.Indicators)), "ns/sli")
}

// TestPartialOutageIsNoOutage checks that an outage is only an outage when
// every SLI failed for a transport reason: one SLI answered by Prometheus
// (even with a 400 or no data) makes the evaluation a normal one.
func TestPartialOutageIsNoOutage(t *testing.T) {
	tests := []struct {
		name   string
		second answer
	}{
		{"one 503, one bad query (400)", answer{400, badData}},
		{"one 503, one without data", answer{200, emptyVector}},
		{"one 503, one value", answer{200, oneSample}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newFake(t, map[string]answer{"down_query": {503, unavailable}, "": tt.second})
			p := newProvider(t, Config{URL: srv.URL})
			r := baseReq
			r.Indicators = []string{"a", "b"}
			r.Queries = map[string]string{"a": "down_query", "b": "other_query"}
			got, err := p.GetSLIs(context.Background(), r)
			if err != nil {
				t.Fatalf("err = %v, want none: not every SLI failed for a transport reason", err)
			}
			if len(got) != 2 || got[0].Success {
				t.Errorf("results %+v", got)
			}
		})
	}
}
