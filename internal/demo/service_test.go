package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// newTestService starts a Service that never sleeps, on an httptest
// server, and returns both with the service's registry.
func newTestService(t testing.TB, o Options) (*Service, *httptest.Server, *prometheus.Registry) {
	t.Helper()
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	svc, err := NewService(o)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return svc, srv, o.Registry
}

// call makes one request and returns the status and body.
func call(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestCartLifecycle(t *testing.T) {
	_, srv, _ := newTestService(t, Options{})
	base := srv.URL

	steps := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string // a substring
	}{
		{"empty cart of a new customer", "GET", "/carts/c1", "", 200, `"items":[]`},
		{"add an item", "POST", "/carts/c1/items", `{"itemId":"sock","quantity":2,"unitPrice":1.5}`, 201, `"quantity":2`},
		{"adding it again raises the quantity", "POST", "/carts/c1/items", `{"itemId":"sock","unitPrice":1.5}`, 201, `"quantity":3`},
		{"add another item", "POST", "/carts/c1/items", `{"itemId":"shoe","quantity":1,"unitPrice":10}`, 201, `"itemId":"shoe"`},
		{"cart has both and the total", "GET", "/carts/c1", "", 200, `"total":14.5`},
		{"items alone", "GET", "/carts/c1/items", "", 200, `"itemId":"sock"`},
		{"other customers are separate", "GET", "/carts/c2", "", 200, `"items":[]`},
		{"bad item", "POST", "/carts/c1/items", `{"quantity":1}`, 400, `itemId`},
		{"not JSON", "POST", "/carts/c1/items", `itemId=sock`, 400, `not a JSON object`},
		{"delete the cart", "DELETE", "/carts/c1", "", 202, ""},
		{"deleted cart is empty", "GET", "/carts/c1", "", 200, `"items":[]`},
		{"deleting again finds nothing", "DELETE", "/carts/c1", "", 404, `has no cart`},
		{"health", "GET", "/health", "", 200, `"OK"`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, body := call(t, s.method, base+s.path, s.body)
			if status != s.wantStatus || !strings.Contains(body, s.wantBody) {
				t.Errorf("%s %s = %d %s, want %d containing %q", s.method, s.path, status, body, s.wantStatus, s.wantBody)
			}
		})
	}
}

func TestCartLimits(t *testing.T) {
	s := newCartStore()
	for i := range maxItemsPerCart {
		if _, err := s.add("c", Item{ItemID: strings.Repeat("x", i+1), Quantity: 1}); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	if _, err := s.add("c", Item{ItemID: "one-too-many", Quantity: 1}); err != errCartFull {
		t.Errorf("item beyond the limit: err %v, want errCartFull", err)
	}
	if got, err := s.add("c", Item{ItemID: "x", Quantity: maxQuantity}); err != nil || got.Quantity != maxQuantity {
		t.Errorf("raising an existing item: %+v, %v; want quantity capped at %d", got, err, maxQuantity)
	}
}

// findFamily returns the metric family name from the registry.
func findFamily(t testing.TB, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestMetrics(t *testing.T) {
	svc, srv, reg := newTestService(t, Options{})
	call(t, "POST", srv.URL+"/carts/c1/items", `{"itemId":"sock"}`)
	call(t, "POST", srv.URL+"/carts/c1/items", `{}`)
	call(t, "GET", srv.URL+"/carts/c1", "")
	call(t, "GET", srv.URL+"/health", "")
	svc.SetReplicas(3)
	svc.SetPromotion(true)

	t.Run("latency histogram by handler and status", func(t *testing.T) {
		f := findFamily(t, reg, "http_response_time_milliseconds")
		if f == nil || f.GetType() != dto.MetricType_HISTOGRAM {
			t.Fatalf("http_response_time_milliseconds is missing or not a histogram: %v", f)
		}
		var got []string
		for _, m := range f.GetMetric() {
			l := labels(m)
			got = append(got, l["handler"]+" "+l["status"])
			var bounds []float64
			for _, b := range m.GetHistogram().GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
			}
			if !slices.Equal(bounds, LatencyBuckets) {
				t.Errorf("buckets %v, want %v", bounds, LatencyBuckets)
			}
			if s := m.GetHistogram().GetSampleSum(); s < 300*float64(m.GetHistogram().GetSampleCount()) {
				t.Errorf("%v: mean latency %.0f ms is below the model's least base latency of 300 ms", l, s/float64(m.GetHistogram().GetSampleCount()))
			}
		}
		slices.Sort(got)
		want := []string{"CartsController.get 200", "ItemsController.addToCart 201", "ItemsController.addToCart 400"}
		if !slices.Equal(got, want) {
			t.Errorf("series %q, want %q (health is not measured)", got, want)
		}
		if !slices.Contains(LatencyBuckets, 1000) || !slices.Contains(LatencyBuckets, 1200) {
			t.Errorf("buckets %v do not have bounds at the SLO's 1000 and 1200 ms", LatencyBuckets)
		}
	})
	t.Run("request counter by handler and status", func(t *testing.T) {
		f := findFamily(t, reg, "http_requests_total")
		if f == nil || f.GetType() != dto.MetricType_COUNTER {
			t.Fatalf("http_requests_total is missing or not a counter: %v", f)
		}
		total := 0.0
		for _, m := range f.GetMetric() {
			if l := labels(m); len(l) != 2 || l["handler"] == "" || l["status"] == "" {
				t.Errorf("labels %v, want exactly handler and status", l)
			}
			total += m.GetCounter().GetValue()
		}
		if total != 3 {
			t.Errorf("counted %v requests, want 3", total)
		}
	})
	t.Run("narration gauges", func(t *testing.T) {
		for name, want := range map[string]float64{"carts_replicas": 3, "carts_promotion_enabled": 1} {
			f := findFamily(t, reg, name)
			if f == nil || len(f.GetMetric()) != 1 {
				t.Errorf("%s missing", name)
				continue
			}
			if got := f.GetMetric()[0].GetGauge().GetValue(); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
	})
	t.Run("served at /metrics", func(t *testing.T) {
		status, body := call(t, "GET", srv.URL+"/metrics", "")
		for _, want := range []string{
			`http_response_time_milliseconds_bucket{handler="ItemsController.addToCart",status="201",le="1200"}`,
			`http_requests_total{handler="CartsController.get",status="200"} 1`,
			`carts_promotion_enabled 1`,
		} {
			if status != 200 || !strings.Contains(body, want) {
				t.Errorf("/metrics (status %d) lacks %s", status, want)
			}
		}
	})
}

func TestScaleEndpoint(t *testing.T) {
	svc, srv, _ := newTestService(t, Options{})
	steps := []struct {
		name       string
		method     string
		body       string
		wantStatus int
		wantBody   string
	}{
		{"starts with one replica", "GET", "", 200, `{"replicas":1}`},
		{"set two", "PUT", `{"replicas": 2}`, 200, `{"replicas":2}`},
		{"reads back two", "GET", "", 200, `{"replicas":2}`},
		{"zero is refused", "PUT", `{"replicas": 0}`, 400, "want 1 to 50"},
		{"above the limit is refused", "PUT", `{"replicas": 51}`, 400, "want 1 to 50"},
		{"a fraction is refused", "PUT", `{"replicas": 1.5}`, 400, "whole number"},
		{"a missing field is refused", "PUT", `{"replica": 3}`, 400, `no \"replicas\" field`},
		{"not JSON is refused", "PUT", `3`, 400, "not {"},
		{"refusals leave the count", "GET", "", 200, `{"replicas":2}`},
		{"the limit itself is fine", "PUT", `{"replicas": 50}`, 200, `{"replicas":50}`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			status, body := call(t, s.method, srv.URL+"/scale", s.body)
			if status != s.wantStatus || !strings.Contains(body, s.wantBody) {
				t.Errorf("%s /scale %s = %d %s, want %d containing %q", s.method, s.body, status, body, s.wantStatus, s.wantBody)
			}
		})
	}
	if got := svc.Replicas(); got != 50 {
		t.Errorf("the model's replicas = %d, want 50", got)
	}
}

// TestScaleEndpointMatchesTheHTTPScaleTarget checks the exact JSON that
// internal/action/kubernetes's http scale target decodes: an object with
// an integer "replicas".
func TestScaleEndpointMatchesTheHTTPScaleTarget(t *testing.T) {
	_, srv, _ := newTestService(t, Options{Replicas: 4})
	status, body := call(t, "GET", srv.URL+"/scale", "")
	var got struct {
		Replicas *int32 `json:"replicas"`
	}
	if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil || got.Replicas == nil || *got.Replicas != 4 {
		t.Errorf("GET /scale = %d %s (%v), want 200 {\"replicas\": 4}", status, body, err)
	}
}

func TestReplicaSourceSwitch(t *testing.T) {
	svc, srv, _ := newTestService(t, Options{})
	if status, _ := call(t, "PUT", srv.URL+"/scale", `{"replicas": 2}`); status != 200 {
		t.Fatalf("PUT /scale before a source: status %d, want 200", status)
	}
	svc.UseReplicaSource("Kubernetes Deployment sockshop-production/carts-primary")
	svc.SetReplicas(5) // as the Deployment watcher does

	status, body := call(t, "PUT", srv.URL+"/scale", `{"replicas": 3}`)
	if status != http.StatusConflict || !strings.Contains(body, "sockshop-production/carts-primary") {
		t.Errorf("PUT /scale with a Deployment as source = %d %s, want 409 naming the Deployment", status, body)
	}
	if status, body := call(t, "GET", srv.URL+"/scale", ""); status != 200 || !strings.Contains(body, `{"replicas":5}`) {
		t.Errorf("GET /scale = %d %s, want the Deployment's 5", status, body)
	}
}

func TestLatencyFollowsState(t *testing.T) {
	m := Model{BaseLatency: 100e6, CapacityPerReplica: 1000, PromotionLatency: 5000e6}
	svc, srv, reg := newTestService(t, Options{Model: &m})
	mean := func() float64 {
		f := findFamily(t, reg, "http_response_time_milliseconds")
		h := f.GetMetric()[0].GetHistogram()
		return h.GetSampleSum() / float64(h.GetSampleCount())
	}
	call(t, "GET", srv.URL+"/carts/a", "")
	off := mean()
	svc.SetPromotion(true)
	call(t, "GET", srv.URL+"/carts/a", "")
	both := mean() // the mean of one request off and one on
	if off < 100 || off > 400 {
		t.Errorf("promotion off: %.0f ms, want about the base of 100 ms", off)
	}
	if both < 2550 {
		t.Errorf("mean of one request without and one with promotion: %.0f ms, want over 2550 ms (the promotion adds 5000)", both)
	}
}

func TestNewServiceRefusesBadOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"jitter larger than latency", Options{Model: &Model{BaseLatency: 1, BaseJitter: 2, CapacityPerReplica: 1}}, "jitter"},
		{"no capacity", Options{Model: &Model{BaseLatency: 1}}, "capacity per replica must be positive"},
		{"negative time scale", Options{TimeScale: -1}, "time scale"},
		{"replicas out of range", Options{Replicas: 51}, "replicas must be 1 to 50"},
		{"tiny load window", Options{LoadWindow: 1}, "load window"},
		{"negative error rate", Options{ErrorRate: -0.1}, "error rate must be a share from 0 to 1"},
		{"error rate above 1", Options{ErrorRate: 5}, "error rate must be a share from 0 to 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewService(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestErrorRate checks that --error-rate answers 500 to its share of the
// carts requests and counts them under status 500. The shares 0 and 1 are
// exact; 0.5 over 400 requests gives both answers unless the random draw
// is broken (the chance of one kind only is 2^-399).
func TestErrorRate(t *testing.T) {
	tests := []struct {
		name             string
		rate             float64
		want500, want201 bool
	}{
		{"none", 0, false, true},
		{"all", 1, true, false},
		{"half", 0.5, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv, reg := newTestService(t, Options{ErrorRate: tt.rate})
			const n = 400
			counts := map[int]int{}
			for range n {
				status, body := call(t, "POST", srv.URL+"/carts/c1/items", `{"itemId":"sock"}`)
				counts[status]++
				if status == http.StatusInternalServerError && !strings.Contains(body, "error-rate") {
					t.Errorf("500 body %q does not say the failure is on purpose", body)
				}
			}
			if got := counts[http.StatusInternalServerError] > 0; got != tt.want500 {
				t.Errorf("answers %v: some 500 = %v, want %v", counts, got, tt.want500)
			}
			if got := counts[http.StatusCreated] > 0; got != tt.want201 {
				t.Errorf("answers %v: some 201 = %v, want %v", counts, got, tt.want201)
			}
			if counts[http.StatusInternalServerError]+counts[http.StatusCreated] != n {
				t.Errorf("answers %v, want only 201 and 500", counts)
			}
			counted := map[string]float64{}
			for _, m := range findFamily(t, reg, "http_requests_total").GetMetric() {
				counted[labels(m)["status"]] += m.GetCounter().GetValue()
			}
			if counted["500"] != float64(counts[http.StatusInternalServerError]) || counted["201"] != float64(counts[http.StatusCreated]) {
				t.Errorf("http_requests_total by status %v, want the answers %v", counted, counts)
			}
		})
	}
}
