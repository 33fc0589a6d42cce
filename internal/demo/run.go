package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/tendhq/tend/internal/action/kubernetes"
)

// DefaultListen is where the carts service listens unless told otherwise.
const DefaultListen = "127.0.0.1:8081"

// Environment variables read when the matching flag is empty, the names
// Unleash's own SDKs use.
const (
	EnvUnleashURL   = "UNLEASH_URL"
	EnvUnleashToken = "UNLEASH_TOKEN"
)

// CartsConfig is the carts service's command line: `tend demo carts` and
// cmd/carts both register it with AddFlags and run it with RunCarts.
type CartsConfig struct {
	Listen     string
	Model      Model
	TimeScale  float64
	LoadWindow time.Duration
	Replicas   int
	Promotion  bool

	UnleashURL      string
	UnleashToken    string
	UnleashAppName  string
	UnleashFlag     string
	UnleashInterval time.Duration

	Kubeconfig string
	Namespace  string
	// Service is the Kubernetes Service whose selected Deployments carts
	// plays (default carts); Deployment names one Deployment instead.
	Service    string
	Deployment string
	Container  string

	SlowVersions []string
	SlowLatency  time.Duration
	ErrorRate    float64

	// OnListen, when set, is called with the service's base URL once it
	// listens (tests use it with port 0).
	OnListen func(baseURL string)
}

// AddFlags registers the carts service's flags on fs, with the defaults
// of DefaultModel.
func (c *CartsConfig) AddFlags(fs *pflag.FlagSet) {
	m := DefaultModel()
	fs.StringVar(&c.Listen, "listen", DefaultListen, "address to listen on; port 0 picks a free port")
	fs.DurationVar(&c.Model.BaseLatency, "base-latency", m.BaseLatency, "mean latency of a request on a replica within capacity")
	fs.DurationVar(&c.Model.BaseJitter, "base-jitter", m.BaseJitter, "the base latency varies uniformly by plus or minus this")
	fs.Float64Var(&c.Model.CapacityPerReplica, "capacity-per-replica", m.CapacityPerReplica, "requests per second one replica serves at base latency; above it latency grows in proportion to the overload")
	fs.DurationVar(&c.Model.PromotionLatency, "promotion-latency", m.PromotionLatency, "latency EnablePromotion adds to every request, whatever the replicas")
	fs.DurationVar(&c.Model.PromotionJitter, "promotion-jitter", m.PromotionJitter, "the promotion latency varies uniformly up to this much more")
	fs.Float64Var(&c.TimeScale, "time-scale", 1, "fraction of the modelled latency really slept (1 for the demo; smaller to run fast; the metrics show the modelled latency)")
	fs.DurationVar(&c.LoadWindow, "load-window", 10*time.Second, "window over which the load (requests per second) is measured")
	fs.IntVar(&c.Replicas, "replicas", 1, fmt.Sprintf("replicas at start when PUT /scale is the source (%d to %d)", MinReplicas, MaxReplicas))
	fs.BoolVar(&c.Promotion, "promotion", false, "state of EnablePromotion until Unleash is read (the only source without --unleash-url)")
	fs.StringVar(&c.UnleashURL, "unleash-url", "", "Unleash base URL to read EnablePromotion from (env "+EnvUnleashURL+")")
	fs.StringVar(&c.UnleashToken, "unleash-token", "", `Unleash client token, or "file:PATH", "env:NAME" (env `+EnvUnleashToken+")")
	fs.StringVar(&c.UnleashAppName, "unleash-app-name", "carts", "application name reported to Unleash")
	fs.StringVar(&c.UnleashFlag, "unleash-flag", DefaultFlag, "feature flag that switches the promotion")
	fs.DurationVar(&c.UnleashInterval, "unleash-interval", 2*time.Second, "how often Unleash is polled")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster carts follows (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	fs.StringVar(&c.Namespace, "namespace", "", "follow the release in this Kubernetes namespace: the version (image tag) and ready replicas of what --service selects; without it PUT /scale sets the replicas")
	fs.StringVar(&c.Service, "service", "", "Kubernetes Service whose selected Deployments carts plays (default carts)")
	fs.StringVar(&c.Deployment, "deployment", "", "follow this one Deployment instead of what --service selects")
	fs.StringVar(&c.Container, "container", "", "container whose image tag is the version (default: the one named after --service, else the first)")
	fs.StringSliceVar(&c.SlowVersions, "slow-versions", DefaultSlowVersions, "versions (image tags) that answer every request --slow-latency later")
	fs.DurationVar(&c.SlowLatency, "slow-latency", DefaultSlowLatency, "what a slow version adds to every request")
	fs.Float64Var(&c.ErrorRate, "error-rate", 0, "share of carts requests answered 500 at random (0.05 fails 5%), to burn an error budget")
}

// resolveSecret turns "file:PATH" and "env:NAME" into the secret they
// name; anything else is the secret itself. Errors name flag, never the
// secret.
func resolveSecret(flag, value string) (string, error) {
	var raw string
	switch {
	case strings.HasPrefix(value, "file:"):
		path := strings.TrimPrefix(value, "file:")
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--%s file:%s: %w", flag, path, err)
		}
		raw = string(data)
	case strings.HasPrefix(value, "env:"):
		name := strings.TrimPrefix(value, "env:")
		raw = os.Getenv(name)
		if raw == "" {
			return "", fmt.Errorf("--%s env:%s: the environment variable %s is not set", flag, name, name)
		}
	default:
		return value, nil
	}
	if i := strings.IndexAny(raw, "\r\n"); i >= 0 {
		raw = raw[:i]
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("--%s %s: the token is empty", flag, value)
	}
	return raw, nil
}

// UsageError is an error in the command line (a flag's value), which
// callers report as a usage error rather than a failure of the service.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// RunCarts runs the carts service until ctx ends: it prints its address
// to out, logs to errOut and reads EnablePromotion from Unleash and its
// replicas from a Deployment when configured so.
func RunCarts(ctx context.Context, c CartsConfig, out, errOut io.Writer) error {
	log := slog.New(slog.NewTextHandler(errOut, nil))
	if c.UnleashURL == "" {
		c.UnleashURL = os.Getenv(EnvUnleashURL)
	}
	if c.UnleashToken == "" {
		c.UnleashToken = os.Getenv(EnvUnleashToken)
	}
	token, err := resolveSecret("unleash-token", c.UnleashToken)
	if err != nil {
		return usagef("%v", err)
	}
	if c.UnleashURL != "" && token == "" {
		return usagef("--unleash-url needs --unleash-token (or %s): a client token, e.g. from scripts/unleash.sh client-token", EnvUnleashToken)
	}
	if c.Namespace == "" && (c.Kubeconfig != "" || c.Service != "" || c.Deployment != "") {
		return usagef("--kubeconfig, --service and --deployment need --namespace, the namespace carts runs in, e.g. sockshop-production")
	}
	if c.Service != "" && c.Deployment != "" {
		return usagef("--service %s and --deployment %s: give one, what to follow", c.Service, c.Deployment)
	}
	if c.Namespace != "" && c.Service == "" && c.Deployment == "" {
		c.Service = "carts"
	}
	if c.Container == "" {
		c.Container = c.Service
	}

	model := c.Model
	svc, err := NewService(Options{
		Model:      &model,
		TimeScale:  c.TimeScale,
		LoadWindow: c.LoadWindow,
		Replicas:   c.Replicas,
		Promotion:  c.Promotion,
		Registry:   prometheus.NewRegistry(),
		Logger:     log,

		SlowVersions: c.SlowVersions,
		SlowLatency:  c.SlowLatency,
		ErrorRate:    c.ErrorRate,
	})
	if err != nil {
		return usagef("%v", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	pollers := 0

	if c.Namespace != "" {
		cs, err := kubernetes.NewClientset(c.Kubeconfig)
		if err != nil {
			return fmt.Errorf("carts: %w", err)
		}
		f := &Follower{Client: cs, Namespace: c.Namespace, Service: c.Service, Deployment: c.Deployment, Container: c.Container, Logger: log}
		if err := f.Check(ctx); err != nil {
			return fmt.Errorf("carts: %w", err)
		}
		svc.Follow(f.String())
		pollers++
		go func() { defer func() { done <- struct{}{} }(); f.Run(ctx, svc.SetRelease) }()
	}
	if c.UnleashURL != "" {
		p := &UnleashPoller{URL: c.UnleashURL, Token: token, AppName: c.UnleashAppName, Flag: c.UnleashFlag, Interval: c.UnleashInterval, Logger: log}
		on, err := p.Fetch(ctx)
		var se *statusError
		switch {
		case errors.As(err, &se) && se.code < 500:
			// Unleash answered but refused: the URL or the token is
			// wrong, which polling will not fix.
			return fmt.Errorf("carts: %w", err)
		case err != nil:
			log.Warn("unleash unreachable at start, promotion stays as --promotion says until it answers", "err", err)
		default:
			svc.SetPromotion(on)
		}
		pollers++
		go func() { defer func() { done <- struct{}{} }(); p.Run(ctx, svc.SetPromotion) }()
	}
	defer func() {
		cancel()
		for range pollers {
			<-done
		}
	}()

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("carts: listen on %s: %w", c.Listen, err)
	}
	base := "http://" + ln.Addr().String()
	srv := &http.Server{
		Handler:           svc.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Requests derive from ctx, so on stop those waiting out their
		// modelled latency end at once instead of delaying Shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	if _, ok := svc.Release(); ok {
		what := "Deployment " + c.Deployment
		if c.Deployment == "" {
			what = "what Service " + c.Service + " selects"
		}
		fmt.Fprintf(out, "carts is serving on %s (following %s in namespace %s, promotion %v)\n", base, what, c.Namespace, svc.Promotion())
	} else {
		fmt.Fprintf(out, "carts is serving on %s (replicas %d, promotion %v)\n", base, svc.Replicas(), svc.Promotion())
	}
	if c.OnListen != nil {
		c.OnListen(base)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("carts: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}
