package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/demo"
)

// newDemoCommand is the `demo` group: the pieces of the self-healing
// tutorial that stand in for a real application (docs/demo.md).
func newDemoCommand(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the self-healing tutorial's demo service and its load",
		Args:  usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newDemoCartsCommand(s), newDemoLoadCommand(s), newDemoTutorialCommand(s))
	return cmd
}

func newDemoCartsCommand(s *streams) *cobra.Command {
	var cfg demo.CartsConfig
	cmd := &cobra.Command{
		Use:   "carts",
		Short: "Run the carts demo service: sockshop's carts with modelled latency",
		Long: `Run the carts demo service, shaped like sockshop's carts: add to cart
(POST /carts/{customerId}/items), get a cart (GET /carts/{customerId}),
delete a cart, GET /health, and Prometheus metrics at /metrics
(http_response_time_milliseconds, http_requests_total).

Its latency is modelled: a base latency, multiplied by the overload once
the load exceeds --capacity-per-replica per replica, plus
--promotion-latency while the Unleash flag EnablePromotion is on.

With --namespace it follows a release on Kubernetes: it plays what the
Service --service (default carts) selects there, the primary or the
canary: the version is that Deployment's image tag (--slow-versions answer
--slow-latency later) and the capacity its ready replicas, so tend's
delivery and scaling change what it serves. --deployment follows one
Deployment instead. Without --namespace its own scale endpoint sets the
replicas: PUT /scale {"replicas": N}, GET /scale.

It runs until interrupted. docs/demo.md describes the model and its numbers.`,
		Example: `  tend demo carts
  tend demo carts --listen 127.0.0.1:0 --unleash-url http://127.0.0.1:4242 --unleash-token file:client-token
  tend demo carts --kubeconfig kubeconfig --namespace sockshop-production
  tend demo carts --kubeconfig kubeconfig --namespace sockshop-production --deployment carts-primary`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demoError(demo.RunCarts(cmd.Context(), cfg, s.out, s.err))
		},
	}
	cfg.AddFlags(cmd.Flags())
	return cmd
}

func newDemoLoadCommand(s *streams) *cobra.Command {
	var cfg demo.LoadConfig
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Send steady load to the carts demo service",
		Long: `Send requests to the carts demo service at a fixed rate (open loop: a
slow service gets the same rate), half adding items to carts and half
reading carts. Every --progress it prints to stderr the rate, the p50 and
p90 latency seen by the client, errors, and requests skipped because
--concurrency requests were already in flight.

It runs for --duration, or until interrupted when that is 0.`,
		Example: `  tend demo load --target http://127.0.0.1:8081
  tend demo load --target http://127.0.0.1:8081 --rate 15 --duration 60s`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := demo.RunLoad(cmd.Context(), cfg, s.err)
			return demoError(err)
		},
	}
	cfg.AddFlags(cmd.Flags())
	return cmd
}

// demoError maps the demo's errors to tend's exit statuses: bad flags are
// usage errors, anything else a failure to run.
func demoError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*demo.UsageError](err); ok {
		return &usageError{err: err}
	}
	return withExit(ExitServer, err)
}
