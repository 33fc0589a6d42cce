package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
)

// The remediation settings commands of issue 5: configure remediation,
// kubernetes, unleash and secret, and pause and resume remediation.

const settingsExit = `

Exit status 0 when stored, 2 on bad flags, a refused token or an unknown
project, stage or service, 3 when the server failed or could not be reached.`

// putSettingCommand runs a PUT of a scoped setting and prints the answer.
func putSettingCommand(s *streams, cmd *cobra.Command, conn *connFlags, format outputFormat, path string, body any, done string) error {
	c, err := conn.client(s)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	_, raw, err := c.Raw(cmd.Context(), http.MethodPut, path, nil, b)
	if err != nil {
		return apiFailure(err)
	}
	if format != formatTable {
		return printRaw(s, format, raw)
	}
	var set apitypes.ConfigSetting
	_ = json.Unmarshal(raw, &set)
	fmt.Fprintf(s.out, "%s: %s\n", done, set.Value)
	return nil
}

func newConfigureRemediationCommand(s *streams) *cobra.Command {
	var (
		scope                      scopeFlags
		maxReplicas, actionsPerHr  int
		cooldown, settling, dryRun string
		format                     outputFormat
		conn                       *connFlags
	)
	cmd := &cobra.Command{
		Use:   "remediation --project P [--stage S] [--service X] [--max-replicas N] [--cooldown D] [--max-actions-per-hour N] [--dry-run true|false] [--settling D]",
		Short: "Set the safety limits and timing of remediation",
		Long: `Configure remediation sets the safety limits of self-healing for a project,
a stage (--stage), a service in every stage (--service) or a service in one
stage (both). Only the flags given are set at that scope; the others come
from a less specific scope, else from the server's tend.yaml (defaults: at
most 10 replicas, a 15m cooldown between remediations of a service, at most
6 actions per hour per service, dry run off, 10m settling). Running it again
replaces the scope's settings.

--dry-run true records what each action would do (its plan) without doing
it. --settling applies only when the shipyard's evaluation task names no
triggeredAfter. A limit of 0 means no limit.` + settingsExit,
		Example: `  tend configure remediation --project sockshop --max-replicas 5 --cooldown 30m
  tend configure remediation --project sockshop --stage production --service carts --dry-run true`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := apitypes.RemediationConfig{Stage: scope.stage, Service: scope.service, Cooldown: cooldown, Settling: settling}
			f := cmd.Flags()
			if f.Changed("max-replicas") {
				body.MaxReplicas = &maxReplicas
			}
			if f.Changed("max-actions-per-hour") {
				body.MaxActionsPerHour = &actionsPerHr
			}
			if dryRun != "" {
				switch strings.ToLower(dryRun) {
				case "true", "on", "yes":
					v := true
					body.DryRun = &v
				case "false", "off", "no":
					v := false
					body.DryRun = &v
				default:
					return &usageError{err: fmt.Errorf("--dry-run %q: want true or false", dryRun)}
				}
			}
			if body.MaxReplicas == nil && body.MaxActionsPerHour == nil && body.DryRun == nil && cooldown == "" && settling == "" {
				return &usageError{err: errors.New("nothing to set: give at least one of --max-replicas, --cooldown, --max-actions-per-hour, --dry-run, --settling")}
			}
			return putSettingCommand(s, cmd, conn, format, client.SettingPath(scope.project, "remediation"), body, "Remediation of "+scope.text())
		},
	}
	conn = addConnFlags(cmd)
	scope.add(cmd)
	fl := cmd.Flags()
	fl.IntVar(&maxReplicas, "max-replicas", 0, "most replicas a scaling action may reach (0: no limit)")
	fl.StringVar(&cooldown, "cooldown", "", `least time between remediations of one service, e.g. 15m ("0": none)`)
	fl.IntVar(&actionsPerHr, "max-actions-per-hour", 0, "most actions per hour per service (0: no limit)")
	fl.StringVar(&dryRun, "dry-run", "", "true: record what actions would do without doing it")
	fl.StringVar(&settling, "settling", "", "wait between an action and its verification, e.g. 10m")
	addOutputFlag(cmd, &format)
	return cmd
}

func newConfigureKubernetesCommand(s *streams) *cobra.Command {
	var (
		scope                                   scopeFlags
		namespace, deployment, fallback, scaleU string
		format                                  outputFormat
		conn                                    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "kubernetes --project P [--stage S] [--service X] [--namespace NS] [--deployment D] [--fallback-deployment D] [--scale-url URL]",
		Short: "Set where scaling actions act",
		Long: `Configure kubernetes says where the scaling action of a project, stage or
service acts. By default it scales Deployment <service>-primary, else
<service>, in namespace <project>-<stage>, through the scale subresource (or
an HPA's minReplicas when one manages it). --scale-url instead scales
through an HTTP scale endpoint (GET and PUT {"replicas": N}), as the carts
demo service offers.` + settingsExit,
		Example: `  tend configure kubernetes --project sockshop --stage production --service carts --namespace shop
  tend configure kubernetes --project sockshop --service carts --scale-url http://127.0.0.1:8081/scale`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := apitypes.KubernetesConfig{Namespace: namespace, Deployment: deployment, FallbackDeployment: fallback, ScaleURL: scaleU, Stage: scope.stage, Service: scope.service}
			if body == (apitypes.KubernetesConfig{Stage: scope.stage, Service: scope.service}) {
				return &usageError{err: errors.New("nothing to set: give --namespace, --deployment, --fallback-deployment or --scale-url")}
			}
			return putSettingCommand(s, cmd, conn, format, client.SettingPath(scope.project, "kubernetes"), body, "Scaling of "+scope.text())
		},
	}
	conn = addConnFlags(cmd)
	scope.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&namespace, "namespace", "", "namespace of the Deployment (default <project>-<stage>)")
	fl.StringVar(&deployment, "deployment", "", "Deployment to scale (default <service>-primary)")
	fl.StringVar(&fallback, "fallback-deployment", "", "Deployment to scale when --deployment does not exist (default <service>)")
	fl.StringVar(&scaleU, "scale-url", "", "HTTP scale endpoint to use instead of Kubernetes")
	addOutputFlag(cmd, &format)
	return cmd
}

func newConfigureUnleashCommand(s *streams) *cobra.Command {
	var (
		scope                          scopeFlags
		urlFlag, token, project, envir string
		format                         outputFormat
		conn                           *connFlags
	)
	cmd := &cobra.Command{
		Use:   "unleash --project P [--stage S] [--service X] --url URL --token T [--unleash-project UP] [--environment E]",
		Short: "Set the Unleash that feature toggle actions switch",
		Long: `Configure unleash says which Unleash the toggle-feature and featuretoggle
actions of a project, stage or service switch: its URL, an admin API token,
the Unleash project (default "default") and environment (default
"production").

The token may be given as "file:PATH", "env:NAME" or "-" (standard input);
the CLI resolves it and sends the value, which the server stores and never
shows again (tend get config masks it).` + settingsExit,
		Example: `  tend configure unleash --project sockshop --stage production --url http://unleash:4242 --token env:UNLEASH_ADMIN_TOKEN`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := apitypes.UnleashConfig{URL: urlFlag, Project: project, Environment: envir, Stage: scope.stage, Service: scope.service}
			var err error
			if body.Token, err = secretFlag(s, conn, "token", token); err != nil {
				return err
			}
			if body.URL == "" && body.Token == "" && project == "" && envir == "" {
				return &usageError{err: errors.New("nothing to set: give --url and --token (and --unleash-project, --environment)")}
			}
			return putSettingCommand(s, cmd, conn, format, client.SettingPath(scope.project, "unleash"), body, "Unleash of "+scope.text())
		},
	}
	conn = addConnFlags(cmd)
	scope.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&urlFlag, "url", "", "Unleash's base URL")
	fl.StringVar(&token, "token", "", `Unleash admin API token, or "file:PATH", "env:NAME", "-"`)
	fl.StringVar(&project, "unleash-project", "", `Unleash project of the flags (default "default")`)
	fl.StringVar(&envir, "environment", "", `Unleash environment switched (default "production")`)
	addOutputFlag(cmd, &format)
	return cmd
}

func newConfigureSecretCommand(s *streams) *cobra.Command {
	var (
		project, value string
		format         outputFormat
		conn           *connFlags
	)
	cmd := &cobra.Command{
		Use:   "secret NAME --project P --value V",
		Short: "Set a secret that webhook actions of a project reference",
		Long: `Configure secret stores a value that the project's webhook actions use in
their headers as {{ .Secrets.NAME }}, so remediation.yaml never holds it.
--value may be "file:PATH", "env:NAME" or "-" (standard input). The server
never shows it again.` + settingsExit,
		Example: `  tend configure secret restart-token --project sockshop --value file:/run/secrets/restart`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if value == "" {
				return &usageError{err: errors.New("--value is required (file:PATH, env:NAME or - keep it out of the shell history)")}
			}
			v, err := secretFlag(s, conn, "value", value)
			if err != nil {
				return err
			}
			return putSettingCommand(s, cmd, conn, format, client.SecretPath(project, args[0]), apitypes.SecretConfig{Value: v}, "Secret "+args[0]+" of project "+project)
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	_ = cmd.MarkFlagRequired("project")
	cmd.Flags().StringVar(&value, "value", "", `the secret, or "file:PATH", "env:NAME", "-" (required)`)
	addOutputFlag(cmd, &format)
	return cmd
}

// newPauseCommand and newResumeCommand are the pause and resume verbs;
// remediation is their noun.
func newPauseCommand(s *streams) *cobra.Command {
	return groupCommand("pause", "Pause work on the tend server", newPauseRemediationCommand(s, true))
}

func newResumeCommand(s *streams) *cobra.Command {
	return groupCommand("resume", "Resume work on the tend server", newPauseRemediationCommand(s, false))
}

func newPauseRemediationCommand(s *streams, pause bool) *cobra.Command {
	var (
		project, service, reason string
		format                   outputFormat
		conn                     *connFlags
	)
	verb := "pause"
	long := `Pause remediation stops self-healing for a project or one service (in every
stage): running remediations stop after their current step (at once when
waiting or settling) and stay paused; new problems are recorded but not
acted on until tend resume remediation.`
	if !pause {
		verb = "resume"
		long = `Resume remediation lifts a pause of a project or service: paused
remediations go on with their next step, and new problems are acted on
again. A service cannot be resumed while its whole project is paused.`
	}
	cmd := &cobra.Command{
		Use:     "remediation --project P [--service X]",
		Short:   strings.ToUpper(verb[:1]) + verb[1:] + " remediation of a project or service",
		Long:    long + "\n\nExit status 0, 2 on bad flags or an unknown project or service, 3 when the\nserver failed or could not be reached.",
		Example: "  tend " + verb + " remediation --project sockshop --service carts",
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			path := client.PausePath(project)
			if !pause {
				path = client.ResumePath(project)
			}
			b, _ := json.Marshal(apitypes.PauseRequest{Service: service, Reason: reason})
			_, raw, err := c.Raw(cmd.Context(), http.MethodPost, path, nil, b)
			if err != nil {
				return apiFailure(err)
			}
			if format != formatTable {
				return printRaw(s, format, raw)
			}
			var ans apitypes.PauseAnswer
			_ = json.Unmarshal(raw, &ans)
			what := "project " + project
			if service != "" {
				what = "service " + service + " of project " + project
			}
			state := "paused"
			if !pause {
				state = "resumed"
			}
			fmt.Fprintf(s.out, "Remediation of %s %s; %d running remediation(s) told.\n", what, state, len(ans.Remediations))
			return nil
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	_ = cmd.MarkFlagRequired("project")
	cmd.Flags().StringVar(&service, "service", "", "only this service (in every stage)")
	if pause {
		cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the pause")
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// changesText shows an action's changes as "replicas 1 -> 2, ...".
func changesText(cs []apitypes.ActionChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Target + " " + c.From + " -> " + c.To
	}
	return strings.Join(parts, ", ")
}
