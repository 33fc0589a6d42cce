package worker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runner's Prometheus collectors.
type metrics struct {
	jobs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	running  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tend_worker_jobs_total",
			Help: "Jobs this runner finished running, by kind and outcome (done, retried, failed, rescheduled, lease_lost, abandoned, error).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tend_worker_job_duration_seconds",
			Help: "How long job handlers ran, by kind.",
			// 1ms to about 4m: fast steps up to slow external calls.
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}, []string{"kind"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tend_worker_jobs_running",
			Help: "Job handlers running now.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.jobs, m.duration, m.running} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register worker metrics: %w", err)
			}
		}
	}
	return m, nil
}

// init creates kind's series at zero, so rates work from the first job.
func (m *metrics) init(kind string) {
	for _, o := range outcomes {
		m.jobs.WithLabelValues(kind, o)
	}
	m.duration.WithLabelValues(kind)
}
