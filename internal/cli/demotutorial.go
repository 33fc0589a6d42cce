package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tendhq/tend/internal/tutorial"
)

// newDemoTutorialCommand is `tend demo tutorial`: Keptn's self-healing
// tutorial played against real components (internal/tutorial), what
// `make demo` runs once scripts/demo.sh has started them.
func newDemoTutorialCommand(s *streams) *cobra.Command {
	var (
		comp        tutorial.Components
		workDir     string
		logFile     string
		timeout     time.Duration
		keepRunning string
	)
	cmd := &cobra.Command{
		Use:   "tutorial",
		Short: "Play Keptn's tutorial, from onboarding carts to self-healing, on a real cluster",
		Long: `Play Keptn's tutorial end to end, narrating each step from tend's own
events: a tend server (in this process), project sockshop with stages
staging and production, service carts onboarded with its Helm chart, the
delivery of carts 0.11.1 through staging (a performance test, a passing
quality gate, the release) into production, where kubectl shows carts 0/0
and carts-primary 1/1; then a slower 0.11.2 whose staging gate fails, so it
is rolled back and production keeps 0.11.1; then the self-healing story:
the carts demo service under load, the release that switches the Unleash
flag EnablePromotion on, the alert Prometheus fires through Alertmanager,
tend scaling carts-primary up (not enough: the verification fails),
switching EnablePromotion off (the verification passes) and the remediation
ending resolved. It takes about 4 minutes.

It needs a running Prometheus, Alertmanager and Unleash, given by the flags
or by the variables the scripts print, and a Kubernetes cluster given by
TEND_TEST_KUBECONFIG and TEND_TEST_KUBECTL (scripts/kube-cluster.sh prints
them): make demo (scripts/demo.sh) starts them all and runs this command.

With a terminal, everything keeps running after the story until Ctrl-C, so
you can look around with tend's CLI (and web UI). Without one (CI, scripts)
it exits when the story ends: 0 when the remediation ended resolved as told,
1 when it ended otherwise, 2 for bad flags, 3 when a step failed or
--timeout passed (the message says which and why).`,
		Example: `  make demo
  eval "$(scripts/kube-cluster.sh start)"; eval "$(scripts/prometheus.sh start)"
  eval "$(scripts/alertmanager.sh start)"; eval "$(scripts/unleash.sh start)"
  tend demo tutorial`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			env := tutorial.ComponentsFromEnv(os.Getenv)
			fill := func(dst *string, v string) {
				if *dst == "" {
					*dst = v
				}
			}
			fill(&comp.PrometheusURL, env.PrometheusURL)
			fill(&comp.PrometheusRulesDir, env.PrometheusRulesDir)
			fill(&comp.PrometheusTargetsDir, env.PrometheusTargetsDir)
			fill(&comp.PrometheusAlertmanagersDir, env.PrometheusAlertmanagersDir)
			fill(&comp.AlertmanagerURL, env.AlertmanagerURL)
			fill(&comp.AlertmanagerConfig, env.AlertmanagerConfig)
			fill(&comp.UnleashURL, env.UnleashURL)
			fill(&comp.UnleashAdminToken, env.UnleashAdminToken)
			fill(&comp.UnleashClientToken, env.UnleashClientToken)
			if err := comp.Validate(); err != nil {
				return &usageError{err: err}
			}
			interactive := isTerminal(s.in)
			switch keepRunning {
			case "auto":
			case "true":
				interactive = true
			case "false":
				interactive = false
			default:
				return &usageError{err: fmt.Errorf("--keep-running %q: want auto, true or false", keepRunning)}
			}
			if workDir == "" {
				d, err := os.MkdirTemp("", "tend-tutorial-")
				if err != nil {
					return withExit(ExitServer, err)
				}
				workDir = d
			} else if err := os.MkdirAll(workDir, 0o700); err != nil {
				return withExit(ExitServer, err)
			}
			if logFile == "" {
				logFile = filepath.Join(workDir, "tutorial.log")
			}
			lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return withExit(ExitServer, fmt.Errorf("open the log: %w", err))
			}
			defer lf.Close()

			story, err := tutorial.New(tutorial.Options{
				Components: comp, WorkDir: workDir, Out: s.out, Log: lf,
				CLI: func(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
					return Run(ctx, args, in, out, errOut)
				},
			})
			if err != nil {
				return withExit(ExitServer, err)
			}
			fmt.Fprintf(s.out, "Files, tend's data and the log (%s) are in %s.\n", logFile, workDir)
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			_, runErr := story.Run(ctx)
			if runErr != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && cmd.Context().Err() == nil {
				runErr = fmt.Errorf("the story did not end within --timeout %s: %w", timeout, runErr)
			}
			if interactive && cmd.Context().Err() == nil {
				fmt.Fprintf(s.out, "\nEverything keeps running so you can look around (tend get problems, tend get remediations,\ntend get events --project sockshop). Ctrl-C stops everything the demo started.\n")
				<-cmd.Context().Done()
			}
			fmt.Fprintln(s.err, "Stopping tend, carts and the load...")
			if err := story.Close(); err != nil {
				fmt.Fprintf(s.err, "warning: cleaning up: %v\n", err)
			}
			switch {
			case runErr == nil:
				return nil
			case errors.Is(runErr, tutorial.ErrNotAsTold):
				return withExit(ExitGateFailed, runErr)
			case cmd.Context().Err() != nil:
				return withExit(ExitServer, errors.New("interrupted; tend, carts and the load are stopped"))
			}
			return withExit(ExitServer, fmt.Errorf("%w (log: %s)", runErr, logFile))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&comp.PrometheusURL, "prometheus-url", "", "Prometheus's base URL (env "+tutorial.EnvNames["PrometheusURL"]+")")
	fl.StringVar(&comp.PrometheusRulesDir, "prometheus-rules-dir", "", "directory of rule files Prometheus loads (env "+tutorial.EnvNames["PrometheusRulesDir"]+")")
	fl.StringVar(&comp.PrometheusTargetsDir, "prometheus-targets-dir", "", "file-SD directory of Prometheus's scrape targets (env "+tutorial.EnvNames["PrometheusTargetsDir"]+")")
	fl.StringVar(&comp.PrometheusAlertmanagersDir, "prometheus-alertmanagers-dir", "", "file-SD directory of the Alertmanagers Prometheus notifies (env "+tutorial.EnvNames["PrometheusAlertmanagersDir"]+")")
	fl.StringVar(&comp.AlertmanagerURL, "alertmanager-url", "", "Alertmanager's base URL (env "+tutorial.EnvNames["AlertmanagerURL"]+")")
	fl.StringVar(&comp.AlertmanagerConfig, "alertmanager-config", "", "Alertmanager's configuration file; tend's route is merged into it (env "+tutorial.EnvNames["AlertmanagerConfig"]+")")
	fl.StringVar(&comp.UnleashURL, "unleash-url", "", "Unleash's base URL (env "+tutorial.EnvNames["UnleashURL"]+")")
	fl.StringVar(&comp.UnleashAdminToken, "unleash-admin-token", "", "an Unleash admin API token (env "+tutorial.EnvNames["UnleashAdminToken"]+")")
	fl.StringVar(&comp.UnleashClientToken, "unleash-client-token", "", "the carts service's Unleash client token; created when empty (env "+tutorial.EnvNames["UnleashClientToken"]+")")
	fl.StringVar(&workDir, "work-dir", "", "directory for the files, tend's data and the log (default: a new temporary directory)")
	fl.StringVar(&logFile, "log", "", "log of tend, carts and the load generator (default: tutorial.log in --work-dir)")
	fl.DurationVar(&timeout, "timeout", 15*time.Minute, "give up when the story has not ended after this long")
	fl.StringVar(&keepRunning, "keep-running", "auto", "keep everything running after the story until Ctrl-C: auto (when stdin is a terminal), true, false")
	return cmd
}

// isTerminal reports whether r is a terminal (not merely a character
// device: /dev/null is one too, and CI runs with it).
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
