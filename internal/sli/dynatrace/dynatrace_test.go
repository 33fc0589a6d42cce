package dynatrace

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/sli"
)

const token = "dt0c01.SAMPLE.SECRETPART"

var (
	t0      = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	baseReq = sli.Request{
		Project: "sockshop", Stage: "dev", Service: "carts", Deployment: "primary",
		Start: t0, End: t0.Add(5 * time.Minute),
	}
	from = fmt.Sprint(t0.UnixMilli())
	to   = fmt.Sprint(t0.Add(5 * time.Minute).UnixMilli())
)

// Documented payloads (Dynatrace API v2 reference), trimmed.
func metricsAnswer(metricID string, values string) string {
	return `{"totalCount":1,"nextPageKey":null,"resolution":"Inf","result":[{"metricId":` + fmt.Sprintf("%q", metricID) +
		`,"dataPointCountRatio":1.0E-6,"dimensionCountRatio":1.0E-5,"data":[{"dimensions":[],"dimensionMap":{},"timestamps":[1714565100000],"values":` + values + `}]}]}`
}

const (
	noSeries      = `{"totalCount":0,"nextPageKey":null,"resolution":"Inf","result":[{"metricId":"builtin:x","data":[]}]}`
	twoSeries     = `{"totalCount":2,"resolution":"Inf","result":[{"metricId":"builtin:x","data":[{"dimensions":["SERVICE-1"],"dimensionMap":{"dt.entity.service":"SERVICE-1"},"timestamps":[1],"values":[1]},{"dimensions":["SERVICE-2"],"dimensionMap":{"dt.entity.service":"SERVICE-2"},"timestamps":[1],"values":[2]}]}]}`
	twoMetrics    = `{"totalCount":2,"resolution":"Inf","result":[{"metricId":"builtin:a","data":[]},{"metricId":"builtin:b","data":[]}]}`
	twoPoints     = `{"totalCount":1,"resolution":"1m","result":[{"metricId":"builtin:x","data":[{"dimensions":[],"dimensionMap":{},"timestamps":[1,2],"values":[1,2]}]}]}`
	sloAnswer     = `{"id":"524ca177-849b-3e8c-8175-42b93fbc33c5","enabled":true,"name":"rt faster 500ms","evaluatedPercentage":96.5,"error":"NONE","status":"SUCCESS"}`
	sloFailed     = `{"id":"x","name":"broken","evaluatedPercentage":-1,"error":"SLO_DISABLED"}`
	problemsCount = `{"totalCount":3,"pageSize":50,"problems":[]}`
	err401        = `{"error":{"code":401,"message":"Token Authentication failed"}}`
	err400        = `{"error":{"code":400,"message":"Constraints violated.","constraintViolations":[{"path":"metricSelector","message":"The metric selector is invalid","parameterLocation":"QUERY","location":null}]}}`
)

type call struct {
	path   string
	params url.Values
}

// fakeDynatrace checks method and token on every request, records the
// request and answers with the canned status and body.
func fakeDynatrace(t testing.TB, status int, body string) (*httptest.Server, chan call) {
	t.Helper()
	calls := make(chan call, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("method %s, want GET", r.Method)
		}
		if got := r.Header.Get("Authorization"); got != "Api-Token "+token {
			t.Errorf("Authorization = %q, want the API token", got)
		}
		calls <- call{path: r.URL.EscapedPath(), params: r.URL.Query()}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, calls
}

func newProvider(t testing.TB, cfg Config) *Provider {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = token
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestQueries(t *testing.T) {
	rt := `builtin:service.response.time:merge("dt.entity.service"):percentile(90)`
	entity := "type(SERVICE),tag(keptn_project:sockshop),tag(keptn_stage:dev),tag(keptn_service:carts),tag(keptn_deployment:primary)"
	metrics := func(extra map[string]string) url.Values {
		v := url.Values{"from": {from}, "to": {to}, "resolution": {"Inf"}}
		for k, x := range extra {
			v.Set(k, x)
		}
		return v
	}
	tests := []struct {
		name       string
		query      string
		status     int
		body       string
		wantPath   string
		wantParams url.Values
		wantValue  float64
	}{
		{
			name:  "plain metric selector",
			query: `builtin:service.requestCount.total:merge("dt.entity.service"):sum`,
			body:  metricsAnswer("builtin:service.requestCount.total", "[1234]"), wantValue: 1234,
			wantPath:   "/api/v2/metrics/query",
			wantParams: metrics(map[string]string{"metricSelector": `builtin:service.requestCount.total:merge("dt.entity.service"):sum`}),
		},
		{
			name:  "selector parameters with placeholders",
			query: "metricSelector=builtin:service.errors.total.count:merge(0):avg&entitySelector=type(SERVICE),tag(keptn_project:$PROJECT),tag(keptn_stage:$STAGE),tag(keptn_service:$SERVICE),tag(keptn_deployment:$DEPLOYMENT)",
			body:  metricsAnswer("builtin:service.errors.total.count", "[2.5]"), wantValue: 2.5,
			wantPath:   "/api/v2/metrics/query",
			wantParams: metrics(map[string]string{"metricSelector": "builtin:service.errors.total.count:merge(0):avg", "entitySelector": entity}),
		},
		{
			name:  "a selector may contain & and spaces",
			query: `metricSelector=calc:service.teststep:filter(eq("Test Step","a&b c")):avg&entitySelector=type(SERVICE)&mzSelector=mzName(prod)`,
			body:  metricsAnswer("calc:service.teststep", "[1]"), wantValue: 1,
			wantPath:   "/api/v2/metrics/query",
			wantParams: metrics(map[string]string{"metricSelector": `calc:service.teststep:filter(eq("Test Step","a&b c")):avg`, "entitySelector": "type(SERVICE)", "mzSelector": "mzName(prod)"}),
		},
		{
			name:  "service response time is converted from microseconds, as in Keptn",
			query: "metricSelector=" + rt + "&entitySelector=type(SERVICE)",
			body:  metricsAnswer(rt, "[8433]"), wantValue: 8.433,
			wantPath:   "/api/v2/metrics/query",
			wantParams: metrics(map[string]string{"metricSelector": rt, "entitySelector": "type(SERVICE)"}),
		},
		{
			name:  "MV2 MicroSecond converts once",
			query: "MV2;MicroSecond;metricSelector=" + rt,
			body:  metricsAnswer(rt, "[5000]"), wantValue: 5,
			wantPath: "/api/v2/metrics/query", wantParams: metrics(map[string]string{"metricSelector": rt}),
		},
		{
			name:  "MV2 MicroSecond on a custom metric",
			query: "MV2;MicroSecond;calc:service.teststepresponsetime:avg",
			body:  metricsAnswer("calc:service.teststepresponsetime", "[250000]"), wantValue: 250,
			wantPath: "/api/v2/metrics/query", wantParams: metrics(map[string]string{"metricSelector": "calc:service.teststepresponsetime:avg"}),
		},
		{
			name:  "MV2 Byte to kilobytes",
			query: "MV2;Byte;metricSelector=builtin:host.mem.used:avg&entitySelector=type(HOST)",
			body:  metricsAnswer("builtin:host.mem.used", "[2048]"), wantValue: 2,
			wantPath: "/api/v2/metrics/query", wantParams: metrics(map[string]string{"metricSelector": "builtin:host.mem.used:avg", "entitySelector": "type(HOST)"}),
		},
		{
			name:  "MV2 Percent unconverted",
			query: "MV2;Percent;metricSelector=builtin:host.cpu.usage:merge(0):avg",
			body:  metricsAnswer("builtin:host.cpu.usage", "[37.5]"), wantValue: 37.5,
			wantPath: "/api/v2/metrics/query", wantParams: metrics(map[string]string{"metricSelector": "builtin:host.cpu.usage:merge(0):avg"}),
		},
		{
			name:  "SLO",
			query: "SLO;524ca177-849b-3e8c-8175-42b93fbc33c5",
			body:  sloAnswer, wantValue: 96.5,
			wantPath:   "/api/v2/slo/524ca177-849b-3e8c-8175-42b93fbc33c5",
			wantParams: url.Values{"from": {from}, "to": {to}, "timeFrame": {"GTF"}},
		},
		{
			name:  "SLO id is one path segment",
			query: "SLO;a/b c",
			body:  sloAnswer, wantValue: 96.5,
			wantPath:   "/api/v2/slo/a%2Fb%20c",
			wantParams: url.Values{"from": {from}, "to": {to}, "timeFrame": {"GTF"}},
		},
		{
			name:  "PV2 with parameters",
			query: "PV2;problemSelector=status(open)&entitySelector=tag(keptn_service:$SERVICE)",
			body:  problemsCount, wantValue: 3,
			wantPath:   "/api/v2/problems",
			wantParams: url.Values{"from": {from}, "to": {to}, "problemSelector": {"status(open)"}, "entitySelector": {"tag(keptn_service:carts)"}},
		},
		{
			name:  "PV2 with a bare problem selector",
			query: "PV2;status(open),severityLevel(ERROR)",
			body:  problemsCount, wantValue: 3,
			wantPath:   "/api/v2/problems",
			wantParams: url.Values{"from": {from}, "to": {to}, "problemSelector": {"status(open),severityLevel(ERROR)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.status == 0 {
				tt.status = 200
			}
			srv, calls := fakeDynatrace(t, tt.status, tt.body)
			p := newProvider(t, Config{URL: srv.URL})
			r := baseReq
			r.Indicators = []string{"sli"}
			r.Queries = map[string]string{"sli": tt.query}
			got, err := p.GetSLIs(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if !got[0].Success || got[0].Value != tt.wantValue {
				t.Errorf("result = %+v, want success with %v", got[0], tt.wantValue)
			}
			c := <-calls
			if c.path != tt.wantPath {
				t.Errorf("path = %q, want %q", c.path, tt.wantPath)
			}
			if c.params.Encode() != tt.wantParams.Encode() {
				t.Errorf("parameters\n  %v\nwant\n  %v", c.params, tt.wantParams)
			}
		})
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name    string
		query   string
		status  int
		body    string
		wantMsg []string
	}{
		{name: "401", query: "builtin:x", status: 401, body: err401, wantMsg: []string{"HTTP 401", "Token Authentication failed"}},
		{name: "400 constraint violations", query: "builtin:x", status: 400, body: err400, wantMsg: []string{"HTTP 400", "Constraints violated", "metricSelector: The metric selector is invalid"}},
		{name: "500 without error object", query: "builtin:x", status: 500, body: "<html>oops</html>", wantMsg: []string{"HTTP 500", "oops"}},
		{name: "malformed JSON", query: "builtin:x", status: 200, body: `{"result":[`, wantMsg: []string{"malformed"}},
		{name: "zero series", query: "builtin:x", status: 200, body: noSeries, wantMsg: []string{"no data points", "no series"}},
		{name: "null value", query: "builtin:x", status: 200, body: metricsAnswer("builtin:x", "[null]"), wantMsg: []string{"no data points", "no value"}},
		{name: "no metric in the answer", query: "builtin:x", status: 200, body: `{"result":[]}`, wantMsg: []string{"no data points"}},
		{name: "several series", query: "builtin:x", status: 200, body: twoSeries, wantMsg: []string{"2 series", "SERVICE-1", "SERVICE-2"}},
		{name: "several metrics", query: "builtin:a,builtin:b", status: 200, body: twoMetrics, wantMsg: []string{"2 metrics"}},
		{name: "several data points", query: "builtin:x", status: 200, body: twoPoints, wantMsg: []string{"2 data points"}},
		{name: "SLO not evaluated", query: "SLO;x", status: 200, body: sloFailed, wantMsg: []string{"could not evaluate", "SLO_DISABLED"}},
		{name: "SLO without percentage", query: "SLO;x", status: 200, body: `{"id":"x"}`, wantMsg: []string{"no evaluatedPercentage"}},
		{name: "SLO 404", query: "SLO;x", status: 404, body: `{"error":{"code":404,"message":"SLO not found"}}`, wantMsg: []string{"HTTP 404", "SLO not found"}},
		{name: "problems without totalCount", query: "PV2;status(open)", status: 200, body: `{}`, wantMsg: []string{"no totalCount"}},
		{name: "unknown MV2 unit", query: "MV2;MicroSeconds;builtin:x", wantMsg: []string{`unknown unit "MicroSeconds"`, "MicroSecond, Byte, Percent"}},
		{name: "MV2 without unit", query: "MV2;;builtin:x", wantMsg: []string{"want MV2;<unit>;<metric query>"}},
		{name: "USQL unsupported", query: "USQL;COLUMN_CHART;iPad mini;SELECT device FROM usersession", wantMsg: []string{"USQL; prefix", "not supported"}},
		{name: "unknown prefix", query: "FOO;bar", wantMsg: []string{`unknown prefix "FOO;"`}},
		{name: "metrics API v1 query", query: "builtin:service.requestCount.total:merge(0):count?scope=tag(keptn_project:$PROJECT)", wantMsg: []string{"Metrics API v1"}},
		{name: "parameter tend sets", query: "metricSelector=builtin:x&resolution=1m", wantMsg: []string{`parameter "resolution" is set by tend`}},
		{name: "unknown parameter", query: "entitySelector=type(HOST)&foo=1", wantMsg: []string{"no metricSelector"}},
		{name: "unknown first parameter in PV2", query: "PV2;entitySelector=x&problemSelector=y&problemSelector=z", wantMsg: []string{`"problemSelector" given twice`}},
		{name: "empty SLO id", query: "SLO;", wantMsg: []string{"want SLO;<slo id>"}},
		{name: "unresolved placeholder named", query: "builtin:x&entitySelector=tag($SERVCE)", status: 400, body: err400, wantMsg: []string{"$SERVCE", "not a placeholder tend knows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.status == 0 {
				tt.status = 200
			}
			srv, _ := fakeDynatrace(t, tt.status, tt.body)
			p := newProvider(t, Config{URL: srv.URL})
			r := baseReq
			r.Indicators = []string{"my_sli"}
			r.Queries = map[string]string{"my_sli": tt.query}
			got, err := p.GetSLIs(context.Background(), r)
			// A server error is an outage of Dynatrace, not a failed SLI.
			if outage := tt.status >= 500; outage != errors.Is(err, sli.ErrUnavailable) || (err != nil && !outage) {
				t.Fatalf("err = %v, want an outage: %t", err, outage)
			}
			g := got[0]
			if g.Success || g.Value != 0 || g.Metric != "my_sli" {
				t.Fatalf("result = %+v, want a failure without value", g)
			}
			for _, s := range append(tt.wantMsg, `SLI "my_sli"`) {
				if !strings.Contains(g.Message, s) {
					t.Errorf("message %q does not contain %q", g.Message, s)
				}
			}
		})
	}
}

func TestTransportFailures(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		t.Cleanup(srv.Close)
		p := newProvider(t, Config{URL: srv.URL, Timeout: 50 * time.Millisecond})
		r := baseReq
		r.Indicators = []string{"x"}
		r.Queries = map[string]string{"x": "builtin:x"}
		got, err := p.GetSLIs(context.Background(), r)
		if !errors.Is(err, sli.ErrUnavailable) {
			t.Fatalf("err = %v, want an outage (sli.ErrUnavailable)", err)
		}
		if got[0].Success || !strings.Contains(got[0].Message, "within 50ms") {
			t.Errorf("result = %+v, want a timeout failure", got[0])
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		p := newProvider(t, Config{URL: u})
		r := baseReq
		r.Indicators = []string{"x"}
		r.Queries = map[string]string{"x": "builtin:x"}
		got, err := p.GetSLIs(context.Background(), r)
		if !errors.Is(err, sli.ErrUnavailable) {
			t.Fatalf("err = %v, want an outage (sli.ErrUnavailable)", err)
		}
		if got[0].Success || !strings.Contains(got[0].Message, "unreachable") {
			t.Errorf("result = %+v, want an unreachable failure", got[0])
		}
	})
}

func TestTokenRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprintf(w, `{"error":{"code":401,"message":"token %s expired"}}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Api-Token "))
	}))
	t.Cleanup(srv.Close)
	p := newProvider(t, Config{URL: srv.URL})
	r := baseReq
	r.Indicators = []string{"x"}
	r.Queries = map[string]string{"x": "builtin:x"}
	got, err := p.GetSLIs(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got[0].Message, token) || !strings.Contains(got[0].Message, "<redacted>") {
		t.Errorf("message %q leaks the token or does not show the redaction", got[0].Message)
	}
}

func TestNoQueryConfigured(t *testing.T) {
	p := newProvider(t, Config{URL: "http://127.0.0.1:1"})
	r := baseReq
	r.Indicators = []string{"throughput"}
	got, err := p.GetSLIs(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Success || !strings.Contains(got[0].Message, "no query configured in dynatrace/sli.yaml") {
		t.Errorf("result = %+v, want a failure saying no query is configured", got[0])
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no URL", Config{Token: "t"}, "not an http(s) URL"},
		{"credentials in URL", Config{URL: "https://u:p@x.live.dynatrace.com", Token: "t"}, "without credentials"},
		{"no token", Config{URL: "https://x.live.dynatrace.com"}, "no API token"},
		{"negative timeout", Config{URL: "https://x", Token: "t", Timeout: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want error with %q", err, tt.wantErr)
			}
		})
	}
}

func TestTenantPathPrefix(t *testing.T) {
	srv, calls := fakeDynatrace(t, 200, metricsAnswer("builtin:x", "[1]"))
	p := newProvider(t, Config{URL: srv.URL + "/e/env-1/"})
	r := baseReq
	r.Indicators = []string{"x"}
	r.Queries = map[string]string{"x": "builtin:x"}
	if _, err := p.GetSLIs(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if c := <-calls; c.path != "/e/env-1/api/v2/metrics/query" {
		t.Errorf("path = %q, want the managed environment prefix kept", c.path)
	}
}
