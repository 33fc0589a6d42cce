package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus metrics, named tend_<component>_<thing>_<unit>.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	eventsAppended prometheus.Counter
	streams        prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tend_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tend_http_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its answer, by route pattern and method. Event streams count their whole life.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tend_http_requests_in_flight",
			Help: "Requests being answered now, event streams included.",
		}),
		eventsAppended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tend_events_appended_total",
			Help: "Events accepted through the API and stored durably in the event log.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tend_events_streams_active",
			Help: "Open event streams (GET /api/v1/event/stream).",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.inFlight, m.eventsAppended, m.streams} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// metricsHandler serves the server's own registry, never the global one.
func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})
}

// health answers while the process runs.
func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, statusAnswer{Status: "ok"})
}

// ready answers 200 when the store answers a small query in time, and 503
// when it does not or when the server is shutting down, so a load balancer
// sends requests only to replicas that can serve them.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.closed() {
		writeErrorStatus(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.readyWait)
	defer cancel()
	if _, err := s.store.CountTokens(ctx, "admin"); err != nil {
		s.log.WarnContext(r.Context(), "not_ready", "err", err)
		writeErrorStatus(w, http.StatusServiceUnavailable, "the store is not reachable")
		return
	}
	writeJSON(w, http.StatusOK, statusAnswer{Status: "ready"})
}
