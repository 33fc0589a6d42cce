package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler names, the values of the metrics' handler label. They are the
// names Keptn's carts service (a Spring application) reported, so SLO
// filters written for it, such as handler: "ItemsController.addToCart",
// keep working.
const (
	HandlerAddToCart  = "ItemsController.addToCart"
	HandlerGetItems   = "ItemsController.getItems"
	HandlerGetCart    = "CartsController.get"
	HandlerDeleteCart = "CartsController.delete"
)

// LatencyBuckets are the upper bounds, in milliseconds, of the
// http_response_time_milliseconds histogram. They bracket 1000 and 1200 ms
// closely, the tutorial SLO's pass and warning limits for the p90, so
// histogram_quantile's interpolation cannot move a p90 across either limit
// by much.
var LatencyBuckets = []float64{50, 100, 250, 500, 750, 900, 1000, 1100, 1200, 1500, 2000, 3000, 5000}

// Scale endpoint limits: PUT /scale accepts MinReplicas to MaxReplicas.
const (
	MinReplicas = 1
	MaxReplicas = 50
)

// Options configure a Service.
type Options struct {
	// Model is the latency model; the zero value means DefaultModel().
	Model *Model
	// TimeScale multiplies the time a request really sleeps: 1 sleeps the
	// modelled latency (what the demo needs, since Prometheus should see
	// real numbers), 0.01 sleeps a hundredth, 0 never sleeps. The
	// histogram records the modelled latency plus the real handling time
	// whatever the scale, so tests can run the model fast.
	TimeScale float64
	// LoadWindow is the sliding window over which the load (requests per
	// second) is measured; default 10s.
	LoadWindow time.Duration
	// Replicas is the replica count until a replica source or PUT /scale
	// changes it; default 1.
	Replicas int
	// Promotion is the state of EnablePromotion until Unleash says
	// otherwise.
	Promotion bool
	// Registry receives the service's metrics and is what GET /metrics
	// serves; nil means a new registry of its own.
	Registry *prometheus.Registry
	// Logger receives changes of replicas and promotion; nil discards.
	Logger *slog.Logger
	// SlowVersions are the versions (image tags) that answer every carts
	// request SlowLatency later, as Keptn's slow carts build did; nil
	// means DefaultSlowVersions. They matter only while a Release is
	// followed.
	SlowVersions []string
	// SlowLatency is what a slow version adds; 0 means DefaultSlowLatency.
	SlowLatency time.Duration
	// ErrorRate is the share of carts requests answered 500 instead of
	// served, drawn at random per request (0.05: one in twenty), so an
	// error budget can burn at a known rate; 0 fails none.
	ErrorRate float64
}

// The version-to-behaviour table of the tutorial: carts 0.11.2 is the slow
// build whose staging quality gate fails; every other version (0.11.1,
// 0.11.3, ...) answers at the model's speed. One second more per request
// puts the p90 of a replica within its capacity at about 1.4 s, above the
// SLO's 1000 ms pass and 1200 ms warning limits.
var DefaultSlowVersions = []string{"0.11.2"}

// DefaultSlowLatency is what a slow version adds to every request.
const DefaultSlowLatency = time.Second

// Service is the carts demo service: its HTTP handler, its carts and the
// state of the latency model. Replicas and promotion can change at any
// time, from the scale endpoint, a Kubernetes Deployment or Unleash.
type Service struct {
	model     Model
	timeScale float64
	meter     *rateMeter
	carts     *cartStore
	log       *slog.Logger
	reg       *prometheus.Registry
	duration  *prometheus.HistogramVec
	requests  *prometheus.CounterVec
	now       func() time.Time
	slow      map[string]bool
	slowBy    time.Duration
	errorRate float64

	mu             sync.Mutex
	release        *Release // nil unless a Follower is the source
	replicas       int
	promotion      bool
	replicaSource  string // "" while PUT /scale is the source
	promotionKnown bool
}

// NewService builds a Service and registers its metrics on o.Registry.
func NewService(o Options) (*Service, error) {
	m := DefaultModel()
	if o.Model != nil {
		m = *o.Model
	}
	if m.BaseLatency < 0 || m.BaseJitter < 0 || m.BaseJitter > m.BaseLatency || m.PromotionLatency < 0 || m.PromotionJitter < 0 {
		return nil, fmt.Errorf("carts: latencies must not be negative and the base jitter not larger than the base latency (base %s ± %s, promotion %s + %s)", m.BaseLatency, m.BaseJitter, m.PromotionLatency, m.PromotionJitter)
	}
	if m.CapacityPerReplica <= 0 {
		return nil, fmt.Errorf("carts: capacity per replica must be positive, got %v", m.CapacityPerReplica)
	}
	if o.TimeScale < 0 {
		return nil, fmt.Errorf("carts: time scale must be 0 or more, got %v", o.TimeScale)
	}
	if o.LoadWindow == 0 {
		o.LoadWindow = 10 * time.Second
	}
	if o.LoadWindow < 2*time.Second {
		return nil, fmt.Errorf("carts: load window must be at least 2s, got %s", o.LoadWindow)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas < MinReplicas || o.Replicas > MaxReplicas {
		return nil, fmt.Errorf("carts: replicas must be %d to %d, got %d", MinReplicas, MaxReplicas, o.Replicas)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SlowVersions == nil {
		o.SlowVersions = DefaultSlowVersions
	}
	if o.SlowLatency == 0 {
		o.SlowLatency = DefaultSlowLatency
	}
	if o.SlowLatency < 0 {
		return nil, fmt.Errorf("carts: slow latency must not be negative, got %s", o.SlowLatency)
	}
	if !(o.ErrorRate >= 0 && o.ErrorRate <= 1) {
		return nil, fmt.Errorf("carts: error rate must be a share from 0 to 1 (0.05 fails 5%% of the requests), got %v", o.ErrorRate)
	}
	slow := map[string]bool{}
	for _, v := range o.SlowVersions {
		slow[v] = true
	}
	s := &Service{
		model:     m,
		timeScale: o.TimeScale,
		meter:     newRateMeter(o.LoadWindow),
		carts:     newCartStore(),
		log:       o.Logger,
		reg:       o.Registry,
		now:       time.Now,
		slow:      slow,
		slowBy:    o.SlowLatency,
		errorRate: o.ErrorRate,
		replicas:  o.Replicas,
		promotion: o.Promotion,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_response_time_milliseconds",
			Help:    "Time to answer a carts request in milliseconds, by handler and HTTP status.",
			Buckets: LatencyBuckets,
		}, []string{"handler", "status"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "Carts requests answered, by handler and HTTP status.",
		}, []string{"handler", "status"}),
	}
	collectors := []prometheus.Collector{
		s.duration,
		s.requests,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "carts_replicas",
			Help: "Replicas the latency model assumes: the ready replicas of the Kubernetes Deployments that serve, or as set through PUT /scale.",
		}, func() float64 { return float64(s.Replicas()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "carts_promotion_enabled",
			Help: "1 while the EnablePromotion feature flag is on (each request is slower), else 0.",
		}, func() float64 {
			if s.Promotion() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "carts_load_requests_per_second",
			Help: "Carts requests per second over the load window, the load of the latency model.",
		}, func() float64 { return s.meter.rate(s.now()) }),
	}
	collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "carts_slow_version",
		Help: "1 while the version served is a slow one (each request is slower), else 0.",
	}, func() float64 {
		if s.slowNow() {
			return 1
		}
		return 0
	}))
	for _, c := range collectors {
		if err := o.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("carts: register metrics: %w", err)
		}
	}
	return s, nil
}

// Replicas returns the replica count the model currently assumes.
func (s *Service) Replicas() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replicas
}

// SetReplicas sets the replica count, as a replica source reports it.
// The Kubernetes count may be 0 (scaled to zero); the model treats fewer
// than one replica as one.
func (s *Service) SetReplicas(n int) {
	s.mu.Lock()
	old := s.replicas
	s.replicas = n
	s.mu.Unlock()
	if old != n {
		s.log.Info("replicas changed", "from", old, "to", n)
	}
}

// Follow makes the cluster the source of the release, described by
// source (e.g. "Kubernetes Service sockshop-staging/carts"): until the
// first SetRelease nothing serves, and PUT /scale is refused.
func (s *Service) Follow(source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicaSource = source
	s.release = &Release{Reason: "the cluster has not been read yet"}
}

// SetRelease takes the release a Follower reports: its ready replicas
// become the model's replicas, its version says whether carts is slow.
func (s *Service) SetRelease(r Release) {
	s.mu.Lock()
	old := s.release
	s.release = &r
	s.replicas = r.Ready
	s.mu.Unlock()
	if old == nil || old.Version != r.Version || old.Ready != r.Ready {
		s.log.Info("release", "release", r.String(), "slow", s.slow[r.Version])
	}
}

// Release returns the release followed; ok is false without a Follower.
func (s *Service) Release() (r Release, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.release == nil {
		return Release{}, false
	}
	return *s.release, true
}

func (s *Service) slowNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.release != nil && s.slow[s.release.Version]
}

// Promotion reports whether EnablePromotion is on.
func (s *Service) Promotion() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.promotion
}

// SetPromotion sets the state of EnablePromotion.
func (s *Service) SetPromotion(on bool) {
	s.mu.Lock()
	old, known := s.promotion, s.promotionKnown
	s.promotion, s.promotionKnown = on, true
	s.mu.Unlock()
	if old != on || !known {
		s.log.Info("promotion flag", "enabled", on)
	}
}

// UseReplicaSource makes an outside system (described by source, e.g.
// "Kubernetes Deployment sockshop-production/carts-primary") the owner of
// the replica count: GET /scale still reports it, PUT /scale is refused
// with 409 naming source, since a change there would be overwritten.
func (s *Service) UseReplicaSource(source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicaSource = source
}

// Handler returns the service's HTTP routes.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /carts/{customerId}/items", s.instrument(HandlerAddToCart, s.addToCart))
	mux.Handle("GET /carts/{customerId}/items", s.instrument(HandlerGetItems, s.getItems))
	mux.Handle("GET /carts/{customerId}", s.instrument(HandlerGetCart, s.getCart))
	mux.Handle("DELETE /carts/{customerId}", s.instrument(HandlerDeleteCart, s.deleteCart))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "OK"})
	})
	mux.HandleFunc("GET /release", s.getRelease)
	mux.HandleFunc("GET /scale", s.getScale)
	mux.HandleFunc("PUT /scale", s.putScale)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument applies the latency model to a carts handler and records the
// request in the metrics. The load counts every carts request, whatever
// its outcome. A request whose client goes away while it waits is not
// recorded: nobody saw an answer.
func (s *Service) instrument(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		load := s.meter.add(s.now())
		s.mu.Lock()
		replicas, promotion, rel := s.replicas, s.promotion, s.release
		s.mu.Unlock()
		var lat time.Duration
		handle := h
		switch {
		case rel != nil && !rel.Serves():
			// Like a Service without ready endpoints: nothing answers.
			handle = func(w http.ResponseWriter, _ *http.Request) {
				writeError(w, http.StatusServiceUnavailable, "carts does not serve: "+rel.String())
			}
		default:
			lat = s.model.Latency(load, replicas, promotion, rand.Float64(), rand.Float64())
			if rel != nil && s.slow[rel.Version] {
				lat += s.slowBy
			}
			if s.errorRate > 0 && rand.Float64() < s.errorRate {
				handle = func(w http.ResponseWriter, _ *http.Request) {
					writeError(w, http.StatusInternalServerError, "carts failed this request on purpose (--error-rate)")
				}
			}
		}
		slept, err := s.sleep(r.Context(), lat)
		if err != nil {
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		handle(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		// The modelled latency plus the real handling time: with time
		// scale 1 this is the wall time of the request.
		observed := time.Since(start) - slept + lat
		status := strconv.Itoa(sw.status)
		s.duration.WithLabelValues(name, status).Observe(float64(observed) / float64(time.Millisecond))
		s.requests.WithLabelValues(name, status).Inc()
	})
}

// sleep waits lat scaled by the time scale, or until ctx ends, and
// returns how long it really waited.
func (s *Service) sleep(ctx context.Context, lat time.Duration) (time.Duration, error) {
	d := time.Duration(float64(lat) * s.timeScale)
	if d <= 0 {
		return 0, ctx.Err()
	}
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return time.Since(start), nil
	case <-ctx.Done():
		return time.Since(start), ctx.Err()
	}
}

// customer returns the path's customer id, or answers 400 and "".
func customer(w http.ResponseWriter, r *http.Request) string {
	id := r.PathValue("customerId")
	if id == "" || len(id) > maxIDLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("customer id must be 1 to %d bytes", maxIDLen))
		return ""
	}
	return id
}

func (s *Service) addToCart(w http.ResponseWriter, r *http.Request) {
	id := customer(w, r)
	if id == "" {
		return
	}
	it, err := DecodeItem(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	stored, err := s.carts.add(id, it)
	if err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, stored)
}

func (s *Service) getItems(w http.ResponseWriter, r *http.Request) {
	if id := customer(w, r); id != "" {
		writeJSON(w, http.StatusOK, s.carts.get(id).Items)
	}
}

func (s *Service) getCart(w http.ResponseWriter, r *http.Request) {
	if id := customer(w, r); id != "" {
		writeJSON(w, http.StatusOK, s.carts.get(id))
	}
}

func (s *Service) deleteCart(w http.ResponseWriter, r *http.Request) {
	id := customer(w, r)
	if id == "" {
		return
	}
	if !s.carts.remove(id) {
		writeError(w, http.StatusNotFound, "customer "+strconv.Quote(id)+" has no cart")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// scaleBody is the JSON of the scale endpoint in both directions, the
// shape tend's http scale target reads and writes.
type scaleBody struct {
	Replicas *int `json:"replicas"`
}

// getRelease answers what serves, as the Follower last saw it; 404
// without one.
func (s *Service) getRelease(w http.ResponseWriter, _ *http.Request) {
	r, ok := s.Release()
	if !ok {
		writeError(w, http.StatusNotFound, "carts follows no Kubernetes release (run it with --namespace)")
		return
	}
	writeJSON(w, http.StatusOK, r)
}

func (s *Service) getScale(w http.ResponseWriter, _ *http.Request) {
	n := s.Replicas()
	writeJSON(w, http.StatusOK, scaleBody{Replicas: &n})
}

func (s *Service) putScale(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	source := s.replicaSource
	s.mu.Unlock()
	if source != "" {
		writeError(w, http.StatusConflict, "the replica count comes from "+source+"; scale that instead")
		return
	}
	n, err := decodeScale(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.SetReplicas(n)
	writeJSON(w, http.StatusOK, scaleBody{Replicas: &n})
}

// decodeScale reads {"replicas": N} with N from MinReplicas to
// MaxReplicas.
func decodeScale(r io.Reader) (int, error) {
	var b scaleBody
	dec := json.NewDecoder(io.LimitReader(r, 4<<10))
	if err := dec.Decode(&b); err != nil {
		return 0, fmt.Errorf("body is not {\"replicas\": N} with a whole number N: %w", err)
	}
	if b.Replicas == nil {
		return 0, errors.New("body has no \"replicas\" field; want {\"replicas\": N}")
	}
	if *b.Replicas < MinReplicas || *b.Replicas > MaxReplicas {
		return 0, fmt.Errorf("replicas %d is out of range; want %d to %d", *b.Replicas, MinReplicas, MaxReplicas)
	}
	return *b.Replicas, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
