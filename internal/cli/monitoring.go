package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
)

// newConfigureCommand is keptn's `configure` verb; monitoring is its noun.
func newConfigureCommand(s *streams) *cobra.Command {
	return groupCommand("configure", "Configure a project on the tend server",
		groupCommand("monitoring", "Set the SLI provider (prometheus or dynatrace) evaluations query",
			newConfigureMonitoringCommand(s, "prometheus"),
			newConfigureMonitoringCommand(s, "dynatrace"),
		),
		// Issue 5's remediation settings (remediation.go).
		newConfigureRemediationCommand(s),
		newConfigureKubernetesCommand(s),
		newConfigureUnleashCommand(s),
		newConfigureSecretCommand(s),
	)
}

// scopeFlags are --project, --stage and --service of a setting.
type scopeFlags struct{ project, stage, service string }

func (f *scopeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&f.stage, "stage", "", "only this stage (default: every stage)")
	cmd.Flags().StringVar(&f.service, "service", "", "only this service (in every stage unless --stage is given)")
	_ = cmd.MarkFlagRequired("project")
}

func (f *scopeFlags) text() string {
	t := "project " + f.project
	if f.stage != "" {
		t += ", stage " + f.stage
	}
	if f.service != "" {
		t += ", service " + f.service
		if f.stage == "" {
			t += " in every stage"
		}
	}
	return t
}

func newConfigureMonitoringCommand(s *streams, provider string) *cobra.Command {
	var (
		scope                   scopeFlags
		urlFlag, user, password string
		bearer, token           string
		format                  outputFormat
		conn                    *connFlags
		rules                   *rulesFlags
	)
	cmd := &cobra.Command{
		Use:   provider + " --project P [--stage S] [--service X] --url URL " + map[string]string{"prometheus": "[--user U --password PW | --bearer-token T]", "dynatrace": "--token T"}[provider],
		Short: "Make evaluations query " + map[string]string{"prometheus": "Prometheus", "dynatrace": "Dynatrace (Metrics API v2)"}[provider],
		Long: `Configure monitoring stores the SLI provider that evaluations of the project
query, for the whole project or only a stage (--stage), a service in every
stage (--service, as keptn configure monitoring took it) or a service in one
stage (both). An evaluation uses the most specific configuration: service in
the stage, service, stage, project. Running it again replaces the
configuration of that scope.

Secrets (--password, --bearer-token, --token) may be given as "file:PATH"
(the first line of a file), "env:NAME" (an environment variable) or "-"
(standard input), so they stay out of the shell history. The CLI resolves
these forms itself and sends the plain value to the server (use https, or
loopback). The server stores it, uses it only to query the provider, and
never shows it again: answers, events and logs mask it.

Exit status 0 when stored, 2 on bad flags, a refused token or an unknown
project, stage or service, 3 when the server failed or could not be reached.`,
		Example: map[string]string{
			"prometheus": `  tend configure monitoring prometheus --project sockshop --url http://prometheus:9090
  tend configure monitoring prometheus --project sockshop --service carts --url https://prom.example --user tend --password env:PROM_PASSWORD`,
			"dynatrace": `  tend configure monitoring dynatrace --project sockshop --url https://abc12345.live.dynatrace.com --token env:DT_API_TOKEN`,
		}[provider],
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if urlFlag == "" {
				hint := "http://prometheus:9090"
				if provider == "dynatrace" {
					hint = "https://abc12345.live.dynatrace.com"
				}
				return &usageError{err: fmt.Errorf("--url is required: tend does not discover %s; give its base URL, e.g. --url %s", provider, hint)}
			}
			req := apitypes.MonitoringConfig{Provider: provider, URL: urlFlag, User: user, Stage: scope.stage, Service: scope.service}
			var err error
			switch provider {
			case "prometheus":
				if bearer != "" && (user != "" || password != "") {
					return &usageError{err: errors.New("give --user and --password, or --bearer-token, not both")}
				}
				if (user == "") != (password == "") {
					return &usageError{err: errors.New("--user and --password go together")}
				}
				if req.Password, err = secretFlag(s, conn, "password", password); err != nil {
					return err
				}
				if req.BearerToken, err = secretFlag(s, conn, "bearer-token", bearer); err != nil {
					return err
				}
			case "dynatrace":
				if token == "" {
					return &usageError{err: errors.New("--token is required: a Dynatrace API token with the metrics.read scope (file:PATH and env:NAME work)")}
				}
				if req.Token, err = secretFlag(s, conn, "token", token); err != nil {
					return err
				}
			}
			var reload string
			if rules != nil {
				if reload, err = rules.check(scope); err != nil {
					return err
				}
			}
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				body, err := json.Marshal(req)
				if err != nil {
					return err
				}
				_, raw, err := c.Raw(cmd.Context(), http.MethodPut, client.MonitoringConfigPath(scope.project), nil, body)
				if err != nil {
					return apiFailure(err)
				}
				if err := printRaw(s, format, raw); err != nil || rules == nil {
					return err
				}
				return configureRules(cmd.Context(), s, s.err, c, scope, rules, reload)
			}
			if _, err := c.PutMonitoring(cmd.Context(), scope.project, req); err != nil {
				return apiFailure(err)
			}
			fmt.Fprintf(s.out, "Monitoring of %s: %s at %s\n", scope.text(), provider, urlFlag)
			if rules != nil {
				return configureRules(cmd.Context(), s, s.out, c, scope, rules, reload)
			}
			return nil
		},
	}
	conn = addConnFlags(cmd)
	scope.add(cmd)
	cmd.Flags().StringVar(&urlFlag, "url", "", "base URL of "+provider+" (required)")
	if provider == "prometheus" {
		cmd.Flags().StringVar(&user, "user", "", "user for HTTP basic authentication")
		cmd.Flags().StringVar(&password, "password", "", `password for basic authentication, or "file:PATH", "env:NAME", "-"`)
		cmd.Flags().StringVar(&bearer, "bearer-token", "", `bearer token, or "file:PATH", "env:NAME", "-"`)
		rules = addRulesFlags(cmd)
	} else {
		cmd.Flags().StringVar(&token, "token", "", `Dynatrace API token, or "file:PATH", "env:NAME", "-" (required)`)
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// secretFlag resolves a secret flag's file:, env: and - forms; "" stays "".
func secretFlag(s *streams, conn *connFlags, flag, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	v, err := readSecret(s, flag, value, &conn.stdinRead)
	if err != nil {
		return "", inputError(err)
	}
	return v, nil
}

func newGetConfigCommand(s *streams) *cobra.Command {
	var (
		project string
		format  outputFormat
		conn    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "config --project P [-o table|json|yaml]",
		Short: "Show a project's settings (monitoring and others), secrets masked",
		Long: `Get config shows every setting of a project at every level: the SLI
provider set by tend configure monitoring, and the settings of other
components. Secrets are never shown: they read "****", and the SECRETS
column (or "secrets" in -o json) lists those that are set.

Exit status 0, 2 on bad flags, a refused token or an unknown project, 3 when
the server failed or could not be reached.`,
		Example: `  tend get config --project sockshop
  tend get config --project sockshop -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				raw, err := getRaw(cmd.Context(), c, client.ConfigPath(project), nil)
				if err != nil {
					return err
				}
				return printRaw(s, format, raw)
			}
			cfg, err := c.GetConfig(cmd.Context(), project)
			if err != nil {
				return apiFailure(err)
			}
			if len(cfg.Settings) == 0 {
				fmt.Fprintf(s.err, "Project %s has no settings; set its SLI provider with tend configure monitoring.\n", project)
				return nil
			}
			return writeConfigTable(s.out, cfg)
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	_ = cmd.MarkFlagRequired("project")
	addOutputFlag(cmd, &format)
	return cmd
}

func writeConfigTable(w io.Writer, cfg *apitypes.ProjectConfig) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSERVICE\tKEY\tVALUE\tSECRETS")
	for _, st := range cfg.Settings {
		stage := st.Stage
		if stage == "" {
			stage = "*"
		}
		service := st.Service
		if service == "" {
			service = "*"
		}
		var secrets []string
		for name, state := range st.Secrets {
			if state.Set {
				secrets = append(secrets, name)
			}
		}
		sort.Strings(secrets)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", stage, service, st.Key, settingText(st.Value), dash(strings.Join(secrets, ", ")))
	}
	return tw.Flush()
}

// settingText shows a setting's (masked) JSON object as key=value pairs in
// key order; other values as their JSON.
func settingText(v json.RawMessage) string {
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		return string(v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		val := m[k]
		if s, ok := val.(string); ok {
			if s == "" {
				continue
			}
			parts = append(parts, k+"="+s)
			continue
		}
		b, _ := json.Marshal(val)
		parts = append(parts, k+"="+string(b))
	}
	return strings.Join(parts, " ")
}
