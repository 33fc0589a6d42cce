package deliverer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/settings"
)

// Defaults of the delivery and tests settings.
const (
	DefaultRolloutTimeout = 5 * time.Minute
	DefaultPaths          = "/"
	DefaultRequests       = 1
	DefaultRate           = 10
	DefaultDuration       = 30 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	// maxRequests, maxRate and maxDuration keep one test from becoming a
	// load generator that runs for hours.
	maxRequests = 1000
	maxRate     = 1000
	maxDuration = time.Hour
)

// Delivery is the "delivery" setting: how the built-in deployment executor
// waits.
type Delivery struct {
	// RolloutTimeout bounds the wait for a rollout's ready replicas.
	RolloutTimeout string `json:"rolloutTimeout,omitempty"`
}

// DeliverySchema is the "delivery" setting.
var DeliverySchema = settings.Define(settings.Spec[Delivery]{
	Key: "delivery",
	Doc: settings.Doc{
		What:    "delivery settings",
		Title:   "Delivery",
		Summary: "Set how long tend's deployment, release and rollback executors wait for a rollout (rolloutTimeout), for the project, a stage, a service or a service in a stage.",
		Op:      "DeliveryConfig", Body: "DeliveryConfig",
		Short: "Set how tend's built-in deployments wait",
		Long: `Configure delivery sets how long tend's built-in deployment, release and
rollback executors wait for the service's Deployments to have their ready
replicas (default 5m). A rollout that is not ready in time fails the task
with the reason.`,
		Example: `  tend configure delivery --project sockshop --rollout-timeout 10m
  tend configure delivery --project sockshop --stage production --service carts --rollout-timeout 15m`,
	},
	Fields: []settings.Field{
		{Name: "rolloutTimeout", Flag: "rollout-timeout", Usage: "longest wait for a rollout's ready replicas, e.g. 5m"},
	},
	Check: func(d *Delivery) []string {
		var probs []string
		var p string
		if d.RolloutTimeout, p = duration("rolloutTimeout", d.RolloutTimeout, maxDuration); p != "" {
			probs = append(probs, p)
		}
		return probs
	},
	Merge: func(dst *Delivery, src Delivery) {
		if src.RolloutTimeout != "" {
			dst.RolloutTimeout = src.RolloutTimeout
		}
	},
})

// Tests is the "tests" setting: what tend's built-in test executor checks.
type Tests struct {
	// URL replaces the deployment's URL (deploymentURIsLocal[0]).
	URL string `json:"url,omitempty"`
	// Paths are comma-separated paths requested below the URL.
	Paths string `json:"paths,omitempty"`
	// Requests per path of a functional test.
	Requests *int `json:"requests,omitempty"`
	// Rate (requests per second) and Duration of a performance test.
	Rate     *int   `json:"rate,omitempty"`
	Duration string `json:"duration,omitempty"`
	// ExpectedStatus every answer must have; 0 or unset: any 2xx.
	ExpectedStatus *int `json:"expectedStatus,omitempty"`
}

// TestsSchema is the "tests" setting.
var TestsSchema = settings.Define(settings.Spec[Tests]{
	Key: "tests",
	Doc: settings.Doc{
		What:    "test settings",
		Title:   "Tests",
		Summary: "Set what tend's built-in test executor checks (url, paths, requests, rate, duration, expectedStatus), for the project, a stage, a service or a service in a stage.",
		Op:      "TestsConfig", Body: "TestsConfig",
		Short: "Set what tend's built-in tests check",
		Long: `Configure tests sets what tend's built-in test executor does for a test task
whose teststrategy is functional or performance. It requests each of --paths
(comma-separated, default /) below the deployment's URL (the deployment
task's deploymentURIsLocal, or --url):

  functional    --requests requests per path (default 1), each must answer
                --expected-status (default: any 2xx);
  performance   --rate requests per second (default 10) for --duration
                (default 30s), reporting requests, errors and p90/p95 latency;
                it fails when any request fails.

The test's start and end become the window of the evaluation that follows.`,
		Example: `  tend configure tests --project sockshop --paths /,/health --requests 3
  tend configure tests --project sockshop --stage staging --service carts --rate 20 --duration 1m
  tend configure tests --project sockshop --service carts --url http://carts.sockshop-staging.svc:80`,
	},
	Fields: []settings.Field{
		{Name: "url", Usage: "base URL to test instead of the deployment's", Endpoint: true},
		{Name: "paths", Usage: "comma-separated paths to request (default /)"},
		{Name: "requests", Kind: settings.Int, Usage: "requests per path of a functional test (default 1)"},
		{Name: "rate", Kind: settings.Int, Usage: "requests per second of a performance test (default 10)"},
		{Name: "duration", Usage: "how long a performance test runs, e.g. 30s"},
		{Name: "expectedStatus", Flag: "expected-status", Kind: settings.Int, Usage: "HTTP status every answer must have (default any 2xx)"},
	},
	Check: func(t *Tests) []string {
		var probs []string
		if t.URL != "" {
			if p := settings.CheckURL("url", t.URL, false); p != "" {
				probs = append(probs, p)
			}
		}
		if t.Paths != "" {
			for _, p := range splitPaths(t.Paths) {
				if !strings.HasPrefix(p, "/") {
					probs = append(probs, fmt.Sprintf("paths: %q does not start with /", p))
				}
			}
		}
		if t.Requests != nil && (*t.Requests < 1 || *t.Requests > maxRequests) {
			probs = append(probs, fmt.Sprintf("requests must be 1 to %d", maxRequests))
		}
		if t.Rate != nil && (*t.Rate < 1 || *t.Rate > maxRate) {
			probs = append(probs, fmt.Sprintf("rate must be 1 to %d requests per second", maxRate))
		}
		var p string
		if t.Duration, p = duration("duration", t.Duration, maxDuration); p != "" {
			probs = append(probs, p)
		}
		if t.ExpectedStatus != nil && *t.ExpectedStatus != 0 && (*t.ExpectedStatus < 100 || *t.ExpectedStatus > 599) {
			probs = append(probs, "expectedStatus must be an HTTP status (100 to 599), or 0 for any 2xx")
		}
		return probs
	},
	Merge: func(dst *Tests, src Tests) {
		if src.URL != "" {
			dst.URL = src.URL
		}
		if src.Paths != "" {
			dst.Paths = src.Paths
		}
		if src.Requests != nil {
			dst.Requests = src.Requests
		}
		if src.Rate != nil {
			dst.Rate = src.Rate
		}
		if src.Duration != "" {
			dst.Duration = src.Duration
		}
		if src.ExpectedStatus != nil {
			dst.ExpectedStatus = src.ExpectedStatus
		}
	},
})

// duration checks a positive duration field no longer than most and
// returns it in Go's form; "" stays unset.
func duration(field, v string, most time.Duration) (string, string) {
	if v == "" {
		return "", ""
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return v, fmt.Sprintf("%s: %q is not a duration; want e.g. 5m", field, v)
	case d <= 0:
		return v, fmt.Sprintf("%s must be longer than 0, e.g. 5m", field)
	case d > most:
		return v, fmt.Sprintf("%s %s is longer than the %s allowed", field, d, most)
	}
	return d.String(), ""
}

// splitPaths reads the paths field.
func splitPaths(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// rolloutTimeout resolves a service's rollout timeout.
func rolloutTimeout(ctx context.Context, g settings.Getter, project, stage, service string) (time.Duration, error) {
	d, _, err := DeliverySchema.Resolve(ctx, g, project, stage, service)
	if err != nil {
		return 0, err
	}
	if t, err := time.ParseDuration(d.RolloutTimeout); err == nil && t > 0 {
		return t, nil
	}
	return DefaultRolloutTimeout, nil
}

// checkRequest resolves a service's test settings into the check of kind
// against target (the deployment's URL); the setting's url replaces target.
// It returns "" as the URL when there is nothing to test.
func checkRequest(ctx context.Context, g settings.Getter, kind delivery.TestKind, project, stage, service, target string) (delivery.CheckRequest, error) {
	t, _, err := TestsSchema.Resolve(ctx, g, project, stage, service)
	if err != nil {
		return delivery.CheckRequest{}, err
	}
	req := delivery.CheckRequest{Kind: kind, URL: target, Paths: splitPaths(t.Paths), Requests: DefaultRequests,
		Rate: DefaultRate, Duration: DefaultDuration, RequestTimeout: DefaultRequestTimeout}
	if t.URL != "" {
		req.URL = t.URL
	}
	if len(req.Paths) == 0 {
		req.Paths = []string{DefaultPaths}
	}
	if t.Requests != nil {
		req.Requests = *t.Requests
	}
	if t.Rate != nil {
		req.Rate = *t.Rate
	}
	if d, err := time.ParseDuration(t.Duration); err == nil && d > 0 {
		req.Duration = d
	}
	if t.ExpectedStatus != nil {
		req.ExpectedStatus = *t.ExpectedStatus
	}
	return req, nil
}
