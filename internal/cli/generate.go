package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/sli/prometheus"
	"github.com/tendhq/tend/internal/spec"
)

// newGenerateCommand groups the offline generators of monitoring
// configuration (docs/monitoring.md).
func newGenerateCommand(s *streams) *cobra.Command {
	return groupCommand("generate", "Generate Prometheus alerting rules and Alertmanager routing from SLOs",
		newGenerateAlertRulesCommand(s),
		newGenerateAlertmanagerConfigCommand(s),
	)
}

// ruleFormat is the value of generate alert-rules --format.
type ruleFormat string

const (
	ruleFormatRules          ruleFormat = "rules"
	ruleFormatPrometheusRule ruleFormat = "prometheusrule"
)

func (f *ruleFormat) String() string { return string(*f) }

func (f *ruleFormat) Set(v string) error {
	switch r := ruleFormat(strings.ToLower(v)); r {
	case ruleFormatRules, ruleFormatPrometheusRule:
		*f = r
		return nil
	}
	return fmt.Errorf("unknown format %q: want rules (a Prometheus rule file) or prometheusrule (a Kubernetes PrometheusRule)", v)
}

func (f *ruleFormat) Type() string { return "format" }

type alertRulesFlags struct {
	sloFile, sliFile        string
	project, stage, service string
	window, forDuration     time.Duration
	severity                string
	format                  ruleFormat
	namespace               string
	labels                  []string
	labelNames              alertrules.LabelNames
}

// addLabelNameFlags adds --project-label, --stage-label and --service-label:
// the alert labels tend's intake reads (tend.yaml intake.labels), which
// generated rules and routes must use.
func addLabelNameFlags(cmd *cobra.Command, l *alertrules.LabelNames) {
	fl := cmd.Flags()
	fl.StringVar(&l.Project, "project-label", alertrules.DefaultProjectLabel, "alert label that carries the project, as the server's intake.labels.project names it")
	fl.StringVar(&l.Stage, "stage-label", alertrules.DefaultStageLabel, "alert label that carries the stage, as the server's intake.labels.stage names it")
	fl.StringVar(&l.Service, "service-label", alertrules.DefaultServiceLabel, "alert label that carries the service, as the server's intake.labels.service names it")
}

// labelNameFlags are the flags addLabelNameFlags adds.
var labelNameFlags = []string{"project-label", "stage-label", "service-label"}

// checkLabelNameFlags refuses an empty label name, which would silently
// mean the default.
func checkLabelNameFlags(l alertrules.LabelNames) error {
	var bad []error
	for _, f := range []struct{ flag, v string }{{"project-label", l.Project}, {"stage-label", l.Stage}, {"service-label", l.Service}} {
		if strings.TrimSpace(f.v) == "" {
			bad = append(bad, fmt.Errorf("--%s is empty; want the alert label name that tend's intake reads (intake.labels), e.g. %s", f.flag, strings.TrimSuffix(f.flag, "-label")))
		}
	}
	return errors.Join(bad...)
}

func newGenerateAlertRulesCommand(s *streams) *cobra.Command {
	f := alertRulesFlags{format: ruleFormatRules}
	var conn *connFlags
	cmd := &cobra.Command{
		Use:   "alert-rules [--slo FILE [--sli FILE]] --project P --stage S --service X",
		Short: "Print Prometheus alerting rules that fire when an SLO's pass criteria are violated",
		Long: `Generate alert-rules prints one Prometheus alerting rule per objective with
absolute pass criteria. A rule fires exactly when the criteria are violated,
boundary included: pass "<1000" alerts on ">= 1000". Criteria in one block
must all hold, so any violated one fires; of several pass blocks one must
hold, so the rule fires only when all are violated.

The expression is the SLI's query from --sli (Keptn's prometheus/sli.yaml),
else the built-in query of that name, with $PROJECT, $STAGE, $SERVICE and
the SLO's filters resolved and $DURATION_SECONDS set to --window. Alerts
carry the labels project, stage, service and severity; their summary is the
SLI name, which remediation files match with problemType. When the tend
server reads other label names (tend.yaml intake.labels), give them with
--project-label, --stage-label and --service-label.

Relative criteria ("<=+10%") compare with earlier evaluations and cannot
become static rules: they are skipped with a warning on standard error.

--format prometheusrule wraps the rules in a Kubernetes PrometheusRule for
prometheus-operator. Exit status 2 for unusable input.

Without --slo the tend server generates the rules from the service's stored
slo.yaml and layered prometheus/sli.yaml of the stage (--endpoint and
--api-token as for every online command), with the label names of its
intake; exit status 2 also when the service has no usable SLO there, 3
when the server failed.`,
		Example: `  tend generate alert-rules --slo slo.yaml --sli prometheus/sli.yaml \
      --project sockshop --stage production --service carts > carts.rules.yml
  promtool check rules carts.rules.yml
  tend generate alert-rules --slo slo.yaml --project sockshop --stage production \
      --service carts --format prometheusrule --label release=prometheus | kubectl apply -n monitoring -f -`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGenerateAlertRules(cmd, s, conn, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.sloFile, "slo", "", "SLO file (slo.yaml); - reads standard input; without it the server's SLO is used")
	fl.StringVar(&f.sliFile, "sli", "", "Prometheus SLI file (sli.yaml); without it the built-in queries are used")
	fl.StringVar(&f.project, "project", "", "project of the service")
	fl.StringVar(&f.stage, "stage", "", "stage the rules watch")
	fl.StringVar(&f.service, "service", "", "service the rules watch")
	fl.DurationVar(&f.window, "window", alertrules.DefaultWindow, "range of the queries ($DURATION_SECONDS)")
	fl.DurationVar(&f.forDuration, "for", alertrules.DefaultFor, "how long a violation lasts before the alert fires (0: at once)")
	fl.StringVar(&f.severity, "severity", alertrules.DefaultSeverity, "value of the alerts' severity label")
	fl.Var(&f.format, "format", "rules (a Prometheus rule file) or prometheusrule (a Kubernetes PrometheusRule)")
	fl.StringVar(&f.namespace, "namespace", "", "metadata.namespace of the PrometheusRule (with --format prometheusrule)")
	fl.StringArrayVar(&f.labels, "label", nil, "KEY=VALUE label of the PrometheusRule, repeatable, e.g. release=prometheus (with --format prometheusrule)")
	addLabelNameFlags(cmd, &f.labelNames)
	for _, name := range []string{"project", "stage", "service"} {
		_ = cmd.MarkFlagRequired(name)
	}
	conn = addConnFlags(cmd)
	return cmd
}

// k8sLabelKey is a Kubernetes label key: an optional DNS prefix and a name.
var k8sLabelKey = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)

func runGenerateAlertRules(cmd *cobra.Command, s *streams, conn *connFlags, f alertRulesFlags) error {
	var usage []error
	if f.format != ruleFormatPrometheusRule && (f.namespace != "" || len(f.labels) > 0) {
		usage = append(usage, errors.New("--namespace and --label apply to --format prometheusrule only"))
	}
	if f.sloFile == "" {
		for _, name := range labelNameFlags {
			if cmd.Flags().Changed(name) {
				usage = append(usage, errors.New("--project-label, --stage-label and --service-label apply with --slo only; without it the server generates the rules with the label names of its intake (tend.yaml intake.labels)"))
				break
			}
		}
	}
	if err := checkLabelNameFlags(f.labelNames); err != nil {
		usage = append(usage, err)
	}
	labels := map[string]string{}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || !k8sLabelKey.MatchString(k) || len(v) > 63 {
			usage = append(usage, fmt.Errorf("--label %q: want KEY=VALUE with a Kubernetes label key, e.g. release=prometheus", l))
			continue
		}
		labels[k] = v
	}
	if err := errors.Join(usage...); err != nil {
		return &usageError{err: err}
	}
	if f.sloFile == "" {
		return runGenerateAlertRulesFromServer(cmd.Context(), s, cmd, conn, f, labels)
	}

	var stdinRead bool
	objective, err := readSLO(s, f.sloFile, &stdinRead)
	if err != nil {
		return err
	}
	var queries map[string]string
	if f.sliFile != "" {
		name, data, err := readInput(s, f.sliFile, &stdinRead)
		if err != nil {
			return inputError(fmt.Errorf("%s: %w", name, err))
		}
		file, diags := spec.DecodeSLI(name, data)
		for _, d := range diags {
			fmt.Fprintln(s.err, d.String())
		}
		if file == nil || diags.HasErrors() {
			return inputError(fmt.Errorf("%s is not a usable SLI file; fix the errors above", name))
		}
		queries = file.Indicators
	}

	// The provider is used for its queries only, which it builds without
	// contacting Prometheus; the URL is never dialled.
	querier, err := prometheus.New(prometheus.Config{URL: "http://prometheus.invalid"})
	if err != nil {
		return fmt.Errorf("generate alert rules: %w", err)
	}
	rules, warnings, err := alertrules.Generate(objective, querier, alertrules.Options{
		Project: f.project, Stage: f.stage, Service: f.service,
		Window: f.window, For: f.forDuration, Severity: f.severity, Queries: queries,
		Labels: f.labelNames,
	})
	for _, w := range warnings {
		fmt.Fprintf(s.err, "warning: %s\n", w)
	}
	if err != nil {
		return inputError(err)
	}
	header := fmt.Sprintf("Alerting rules generated by tend from the SLO of service %s in stage %s of project %s\n(window %s, for %s). Regenerate with tend generate alert-rules rather than editing.",
		oneLine(f.service), oneLine(f.stage), oneLine(f.project), alertrules.FormatDuration(f.window), alertrules.FormatDuration(f.forDuration))
	var out []byte
	if f.format == ruleFormatPrometheusRule {
		out, err = rules.Manifest(f.namespace, labels).YAML(header)
	} else {
		out, err = rules.YAML(header)
	}
	if err != nil {
		return fmt.Errorf("generate alert rules: %w", err)
	}
	_, err = s.out.Write(out)
	return err
}

// oneLine keeps a value from breaking out of a comment line.
func oneLine(v string) string { return strings.Join(strings.Fields(v), " ") }

type alertmanagerFlags struct {
	project, intakeURL, token, mergeFile, receiverName string
	labelNames                                         alertrules.LabelNames
}

func newGenerateAlertmanagerConfigCommand(s *streams) *cobra.Command {
	var f alertmanagerFlags
	cmd := &cobra.Command{
		Use:   "alertmanager-config --project P --intake-url URL --intake-token TOKEN [--merge alertmanager.yml]",
		Short: "Print the Alertmanager route and webhook receiver that send a project's alerts to tend",
		Long: `Generate alertmanager-config prints an Alertmanager configuration whose route
sends the alerts labelled project="P" to a webhook receiver at tend's
Alertmanager intake (--intake-url is tend's address; the path
` + alertrules.IntakePath + ` is added), authenticated with the
project's intake token as a bearer token, with send_resolved: true so
problems close when alerts resolve. When the tend server reads other label
names (tend.yaml intake.labels), give them with --project-label,
--stage-label and --service-label: the route matches the project label and
a new configuration groups by all three.

--intake-token takes the token, "-" (standard input) or "env:NAME"; these
are written into the configuration. "file:PATH" writes credentials_file:
PATH instead (made absolute), so the token stays out of the configuration;
Alertmanager must be able to read that path. A file tend cannot read here
is a warning, since Alertmanager may run elsewhere.

--merge FILE prints FILE with tend's route inserted first in route.routes
with continue: true (the alerts still reach your routes) and tend's receiver
appended; everything else, comments included, stays. Merging again replaces
tend's route and receiver instead of adding them twice. Write the result to
a new file and move it into place: a shell redirect to FILE itself would
empty it before tend reads it.`,
		Example: `  tend generate alertmanager-config --project sockshop \
      --intake-url http://tend:8080 --intake-token file:/etc/alertmanager/tend-token \
      --merge /etc/alertmanager/alertmanager.yml > alertmanager.yml.new
  amtool check-config alertmanager.yml.new && mv alertmanager.yml.new /etc/alertmanager/alertmanager.yml
  curl -X POST http://alertmanager:9093/-/reload`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			return runGenerateAlertmanagerConfig(s, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.project, "project", "", "project whose alerts go to tend (the label --project-label names)")
	fl.StringVar(&f.intakeURL, "intake-url", "", "tend's address as Alertmanager reaches it, e.g. http://tend:8080")
	fl.StringVar(&f.token, "intake-token", "", `the project's intake token, or "-", "env:NAME", "file:PATH" (written as credentials_file)`)
	fl.StringVar(&f.mergeFile, "merge", "", "Alertmanager configuration to add tend's route and receiver to")
	fl.StringVar(&f.receiverName, "receiver-name", alertrules.DefaultReceiverName, "name of tend's receiver")
	addLabelNameFlags(cmd, &f.labelNames)
	for _, name := range []string{"project", "intake-url", "intake-token"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

func runGenerateAlertmanagerConfig(s *streams, f alertmanagerFlags) error {
	var stdinRead bool
	if f.mergeFile == "-" && f.token == "-" {
		return &usageError{err: errors.New("--merge - and --intake-token - both want standard input; give one of them as a file")}
	}
	if err := checkLabelNameFlags(f.labelNames); err != nil {
		return &usageError{err: err}
	}
	r := alertrules.Receiver{Project: f.project, Name: f.receiverName, URL: f.intakeURL, Labels: f.labelNames}
	if path, ok := strings.CutPrefix(f.token, "file:"); ok {
		// Read it only to catch a wrong path now rather than at the first
		// alert; the configuration names the file. Alertmanager may run on
		// another machine, so a file missing here is a warning.
		if _, err := readSecret(s, "intake-token", f.token, &stdinRead); err != nil {
			fmt.Fprintf(s.err, "warning: %v; the configuration names the file anyway: make sure Alertmanager can read it\n", err)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return inputError(fmt.Errorf("--intake-token file:%s: %w", path, err))
		}
		r.CredentialsFile = abs
	} else {
		tok, err := readSecret(s, "intake-token", f.token, &stdinRead)
		if err != nil {
			return inputError(err)
		}
		r.Token = tok
	}
	if strings.ContainsAny(r.Name, " \t\n") || r.Name == "" {
		return &usageError{err: fmt.Errorf("--receiver-name %q: want a name without spaces, e.g. tend", r.Name)}
	}

	var (
		out []byte
		err error
	)
	if f.mergeFile == "" {
		out, err = alertrules.AlertmanagerConfig(r)
	} else {
		name, data, rerr := readInput(s, f.mergeFile, &stdinRead)
		if rerr != nil {
			return inputError(fmt.Errorf("%s: %w", name, rerr))
		}
		out, err = alertrules.MergeAlertmanager(name, data, r)
	}
	if err != nil {
		return inputError(err)
	}
	_, err = s.out.Write(out)
	return err
}
