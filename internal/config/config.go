// Package config owns tend's server-wide settings: the tend.yaml file that
// `tend serve --config` reads and the TEND_* environment variables that
// override it. It decodes the file as YAML nodes so that every problem is
// reported as FILE:LINE:COL with what would be right, all of them at once.
//
// Secrets (the escalation webhook URL and its header values, a database
// URL with a password) never appear in the file in plain text: they are
// "file:PATH" or "env:NAME" references, resolved once when the server
// starts (Resolve). Settings that belong to a project, stage or service
// (limits, Kubernetes and Unleash targets) live in the store instead, set
// with `tend configure`; the values here are the defaults they start from.
// docs/configuration.md documents every field and its default.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// Defaults of the remediation settings: the "stay safe" limits of the
// self-healing issue and Keptn's settling time.
const (
	DefaultSettling          = 10 * time.Minute
	DefaultExternalTimeout   = 10 * time.Minute
	DefaultMaxReplicas       = 10
	DefaultCooldown          = 15 * time.Minute
	DefaultMaxActionsPerHour = 6
	DefaultEscalationTimeout = 10 * time.Second
	// DefaultRetention is how long events, finished jobs, closed
	// problems and ended sequences are kept.
	DefaultRetention = 90 * 24 * time.Hour
	// DefaultOutageBackoff, DefaultOutageMaxBackoff and
	// DefaultOutageAttempts retry a verification over a monitoring
	// outage after 30s, 1m, 2m, 4m and 5m, six tries in all.
	DefaultOutageBackoff    = 30 * time.Second
	DefaultOutageMaxBackoff = 5 * time.Minute
	DefaultOutageAttempts   = 6
	// DefaultWatchdog is how often running remediations are checked.
	DefaultWatchdog = time.Minute
)

// Default names of the Alertmanager alert labels that locate a problem
// (the self-healing issue: "the project, stage and service labels", "the
// root_cause label").
const (
	DefaultProjectLabel   = "project"
	DefaultStageLabel     = "stage"
	DefaultServiceLabel   = "service"
	DefaultRootCauseLabel = "root_cause"
)

// Config is the server-wide configuration. The zero value is not useful;
// start from Default.
type Config struct {
	// Listen, DataDir and Database are serve's --listen, --data-dir and
	// --database; flags win over the file.
	Listen   string
	DataDir  string
	Database Secret
	// UIURL is tend's web UI address as people reach it, for links in
	// escalation messages; "" means no link to tend.
	UIURL       string
	Remediation Remediation
	Escalation  Escalation
	Kubernetes  Kubernetes
	Worker      Worker
	Sequences   Sequences
	Intake      Intake
	Outbound    Outbound
	Retention   Retention
	Budget      Budget
}

// Budget tunes the error-budget rule generator (Sloth's library).
type Budget struct {
	// PluginDirs are directories of Sloth SLI and SLO plugins (Go source
	// that Sloth runs inside tend's process, with its privileges), as the
	// file gives them. Only the operator sets them: specs and the API
	// cannot. The server loads them when it starts.
	PluginDirs []string
}

// Retention says how long records are kept before a background job deletes
// them; 0 keeps that kind for ever.
type Retention struct {
	// Events are deleted by their time, except those of a problem that
	// is still open or a remediation that still runs.
	Events time.Duration
	// Jobs are finished (done or failed) jobs, by when they finished.
	Jobs time.Duration
	// Problems are closed problems, by when they closed, with their
	// finished remediations.
	Problems time.Duration
	// Sequences are ended (finished, aborted or timedOut) sequence runs,
	// by when they ended; a sequence that has not ended is never pruned.
	Sequences time.Duration
}

// Intake tunes the problem intake (the Alertmanager webhook).
type Intake struct {
	Labels IntakeLabels
	// MaxUnmatchedPerMinute caps the new unmatched problems one intake
	// token may create per minute on each replica (default
	// DefaultMaxUnmatchedPerMinute); 0 means no limit.
	MaxUnmatchedPerMinute int
}

// DefaultMaxUnmatchedPerMinute is intake.maxUnmatchedPerMinute's default.
const DefaultMaxUnmatchedPerMinute = 60

// IntakeLabels name the alert labels that an Alertmanager alert's project,
// stage, service and root cause are read from. Alert rules written for
// another tool often carry these under other names (namespace, app, ...);
// naming them here saves relabelling every rule. Default fills all four.
type IntakeLabels struct {
	Project   string
	Stage     string
	Service   string
	RootCause string
}

// Worker tunes the durable job runner that runs evaluations and
// remediation steps. Zero values take the runner's defaults.
type Worker struct {
	// Lease bounds how long the jobs of a replica that died wait before
	// another replica (or the restarted one) takes them over (default
	// 30s).
	Lease time.Duration
	// PollInterval is how often due timers and expired leases are looked
	// for (default 1s): the precision of settling times.
	PollInterval time.Duration
	// Concurrency is how many jobs run at once (default 16).
	Concurrency int
}

// Sequences tunes the shipyard sequence engine.
type Sequences struct {
	// TaskTimeout is how long a triggered task waits for an executor's
	// .started before it finishes errored with "no executor answered"
	// (default 10m).
	TaskTimeout time.Duration
}

// Remediation holds the defaults of the remediation loop.
type Remediation struct {
	// Settling is the wait between an action and its verification when
	// the shipyard's evaluation task names no triggeredAfter.
	Settling time.Duration
	// ExternalTimeout is how long an external executor may take to answer
	// an action.triggered with action.finished.
	ExternalTimeout time.Duration
	// Limits are the safety limits every project starts from.
	Limits Limits
	// Outage spaces the verifications tried again while the monitoring
	// is unavailable, and bounds how many are tried before escalating.
	Outage Outage
	// StepAttempts is how often one step of a remediation that keeps
	// failing (the store, a bug) is tried before the remediation
	// escalates; 0 means the loop's default (50).
	StepAttempts int
	// Watchdog is how often running remediations are checked for work
	// behind them; one with none is escalated.
	Watchdog time.Duration
}

// Outage is the retry of a verification whose monitoring was unavailable:
// Backoff after the first try, doubling up to MaxBackoff, at most Attempts
// tries in all.
type Outage struct {
	Backoff    time.Duration
	MaxBackoff time.Duration
	Attempts   int
}

// Limits are the server-wide default safety limits; tend configure
// remediation overrides them per project, stage or service. Zero
// MaxReplicas, Cooldown or MaxActionsPerHour means no limit.
type Limits struct {
	MaxReplicas       int
	Cooldown          time.Duration
	MaxActionsPerHour int
	DryRun            bool
}

// Default returns the configuration of a server with no file and no
// environment variables.
func Default() Config {
	return Config{
		Remediation: Remediation{
			Settling:        DefaultSettling,
			ExternalTimeout: DefaultExternalTimeout,
			Limits: Limits{
				MaxReplicas:       DefaultMaxReplicas,
				Cooldown:          DefaultCooldown,
				MaxActionsPerHour: DefaultMaxActionsPerHour,
			},
			Outage:   Outage{Backoff: DefaultOutageBackoff, MaxBackoff: DefaultOutageMaxBackoff, Attempts: DefaultOutageAttempts},
			Watchdog: DefaultWatchdog,
		},
		Escalation: Escalation{Timeout: DefaultEscalationTimeout},
		Retention:  Retention{Events: DefaultRetention, Jobs: DefaultRetention, Problems: DefaultRetention, Sequences: DefaultRetention},
		Intake: Intake{Labels: IntakeLabels{
			Project: DefaultProjectLabel, Stage: DefaultStageLabel,
			Service: DefaultServiceLabel, RootCause: DefaultRootCauseLabel,
		}, MaxUnmatchedPerMinute: DefaultMaxUnmatchedPerMinute},
	}
}

// ErrInvalid is matched by every error of Decode, Load and ApplyEnv.
var ErrInvalid = errors.New("invalid configuration")

// Error lists every problem found, one per line as FILE:LINE:COL: message.
type Error struct {
	Problems []string
}

// Error joins the problems.
func (e *Error) Error() string { return strings.Join(e.Problems, "\n") }

// Unwrap makes the error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// Load reads the file at path (none when path is ""), then applies the
// environment (see ApplyEnv), over Default.
func Load(path string, getenv func(string) string) (Config, error) {
	c := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read configuration: %w", err)
		}
		if c, err = Decode(path, data); err != nil {
			return Config{}, err
		}
	}
	if err := c.ApplyEnv(getenv); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Decode reads a tend.yaml over Default. name is the file's name in
// messages. It reports every problem at once. The file is held to
// yamlnode's limits on size and alias expansion.
func Decode(name string, data []byte) (Config, error) {
	c := Default()
	d := &decoder{file: name}
	dec := yamlnode.NewDecoder(data)
	doc, err := dec.Decode()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // an empty file configures nothing
		}
		return Config{}, &Error{Problems: []string{decodeProblem(name, err)}}
	}
	if extra, err := dec.Decode(); err == nil {
		d.errorf(extra, "a second YAML document; tend.yaml holds one")
	}
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if yamlnode.IsNull(root) {
		return c, d.err()
	}
	d.top(root, &c)
	if err := d.err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decodeProblem words an error of yamlnode's decoder as FILE:LINE:COL:
// message.
func decodeProblem(name string, err error) string {
	if le, ok := errors.AsType[*yamlnode.LimitError](err); ok {
		return yamlnode.Where(name, le.Line, le.Column) + ": " + le.Message
	}
	line, msg := yamlnode.SyntaxError(err)
	return yamlnode.Where(name, line, 0) + ": invalid YAML: " + msg
}

func (d *decoder) top(n *yaml.Node, c *Config) {
	d.fields(n, "tend.yaml", map[string]func(*yaml.Node){
		"listen":  func(v *yaml.Node) { d.str(v, "listen", &c.Listen) },
		"dataDir": func(v *yaml.Node) { d.str(v, "dataDir", &c.DataDir) },
		"database": func(v *yaml.Node) {
			var s string
			d.str(v, "database", &s)
			switch {
			case s == "":
			case IsRef(s):
				c.Database.Ref = s
			case strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://"):
				if hasPassword(s) {
					d.errorf(v, "database carries a password; write it as env:NAME or file:PATH so the file holds no secret")
					return
				}
				c.Database = Secret{Ref: s, Value: s}
			default:
				d.errorf(v, "database must be a postgres:// URL, env:NAME or file:PATH; leave it out for SQLite in the data directory")
			}
		},
		"uiURL": func(v *yaml.Node) {
			d.str(v, "uiURL", &c.UIURL)
			if c.UIURL != "" && !strings.HasPrefix(c.UIURL, "http://") && !strings.HasPrefix(c.UIURL, "https://") {
				d.errorf(v, "uiURL must be an http(s) URL such as https://tend.example.com")
			}
		},
		"remediation": func(v *yaml.Node) { d.remediation(v, &c.Remediation) },
		"escalation":  func(v *yaml.Node) { d.escalation(v, &c.Escalation) },
		"worker": func(v *yaml.Node) {
			w := &c.Worker
			d.fields(v, "worker", map[string]func(*yaml.Node){
				"lease":        func(v *yaml.Node) { d.duration(v, "worker.lease", &w.Lease, false) },
				"pollInterval": func(v *yaml.Node) { d.duration(v, "worker.pollInterval", &w.PollInterval, false) },
				"concurrency":  func(v *yaml.Node) { d.integer(v, "worker.concurrency", &w.Concurrency) },
			})
		},
		"retention": func(v *yaml.Node) {
			r := &c.Retention
			d.fields(v, "retention", map[string]func(*yaml.Node){
				"events":    func(v *yaml.Node) { d.duration(v, "retention.events", &r.Events, true) },
				"jobs":      func(v *yaml.Node) { d.duration(v, "retention.jobs", &r.Jobs, true) },
				"problems":  func(v *yaml.Node) { d.duration(v, "retention.problems", &r.Problems, true) },
				"sequences": func(v *yaml.Node) { d.duration(v, "retention.sequences", &r.Sequences, true) },
			})
		},
		"sequences": func(v *yaml.Node) {
			d.fields(v, "sequences", map[string]func(*yaml.Node){
				"taskTimeout": func(v *yaml.Node) { d.duration(v, "sequences.taskTimeout", &c.Sequences.TaskTimeout, false) },
			})
		},
		"intake": func(v *yaml.Node) {
			d.fields(v, "intake", map[string]func(*yaml.Node){
				"labels": func(v *yaml.Node) { d.intakeLabels(v, &c.Intake.Labels) },
				"maxUnmatchedPerMinute": func(v *yaml.Node) {
					d.integer(v, "intake.maxUnmatchedPerMinute", &c.Intake.MaxUnmatchedPerMinute)
				},
			})
		},
		"kubernetes": func(v *yaml.Node) {
			d.fields(v, "kubernetes", map[string]func(*yaml.Node){
				"kubeconfig": func(v *yaml.Node) { d.str(v, "kubernetes.kubeconfig", &c.Kubernetes.Kubeconfig) },
				"disabled":   func(v *yaml.Node) { d.boolean(v, "kubernetes.disabled", &c.Kubernetes.Disabled) },
				"namespaces": func(v *yaml.Node) { d.namespaces(v, &c.Kubernetes.Namespaces) },
			})
		},
		"outbound": func(v *yaml.Node) { d.outbound(v, &c.Outbound) },
		"budget": func(v *yaml.Node) {
			d.fields(v, "budget", map[string]func(*yaml.Node){
				"pluginDirs": func(v *yaml.Node) { d.pluginDirs(v, &c.Budget.PluginDirs) },
			})
		},
	})
}

// pluginDirs reads budget.pluginDirs, a list of directory paths. Whether
// they exist is checked when the server loads them, as it starts.
func (d *decoder) pluginDirs(n *yaml.Node, dst *[]string) {
	n = yamlnode.Resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "budget.pluginDirs must be a list of directories, not %s", yamlnode.Describe(n))
		return
	}
	var dirs []string
	for i, item := range n.Content {
		item = yamlnode.Resolve(item)
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" || strings.TrimSpace(item.Value) == "" {
			d.errorf(item, "budget.pluginDirs[%d] must be a directory path, not %s", i, yamlnode.Describe(item))
			continue
		}
		dirs = append(dirs, item.Value)
	}
	*dst = dirs
}

func (d *decoder) remediation(n *yaml.Node, r *Remediation) {
	d.fields(n, "remediation", map[string]func(*yaml.Node){
		"settling":        func(v *yaml.Node) { d.duration(v, "remediation.settling", &r.Settling, false) },
		"externalTimeout": func(v *yaml.Node) { d.duration(v, "remediation.externalTimeout", &r.ExternalTimeout, false) },
		"limits": func(v *yaml.Node) {
			l := &r.Limits
			d.fields(v, "remediation.limits", map[string]func(*yaml.Node){
				"maxReplicas":       func(v *yaml.Node) { d.integer(v, "remediation.limits.maxReplicas", &l.MaxReplicas) },
				"cooldown":          func(v *yaml.Node) { d.duration(v, "remediation.limits.cooldown", &l.Cooldown, true) },
				"maxActionsPerHour": func(v *yaml.Node) { d.integer(v, "remediation.limits.maxActionsPerHour", &l.MaxActionsPerHour) },
				"dryRun":            func(v *yaml.Node) { d.boolean(v, "remediation.limits.dryRun", &l.DryRun) },
			})
		},
		"outage": func(v *yaml.Node) {
			o := &r.Outage
			d.fields(v, "remediation.outage", map[string]func(*yaml.Node){
				"backoff":    func(v *yaml.Node) { d.duration(v, "remediation.outage.backoff", &o.Backoff, false) },
				"maxBackoff": func(v *yaml.Node) { d.duration(v, "remediation.outage.maxBackoff", &o.MaxBackoff, false) },
				"attempts":   func(v *yaml.Node) { d.atLeastOne(v, "remediation.outage.attempts", &o.Attempts) },
			})
		},
		"stepAttempts": func(v *yaml.Node) { d.atLeastOne(v, "remediation.stepAttempts", &r.StepAttempts) },
		"watchdog":     func(v *yaml.Node) { d.duration(v, "remediation.watchdog", &r.Watchdog, false) },
	})
}

// atLeastOne reads a whole number of at least 1.
func (d *decoder) atLeastOne(n *yaml.Node, where string, dst *int) {
	v := *dst
	d.integer(n, where, &v)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" && v < 1 {
		d.errorf(n, "%s must be at least 1, not %d", where, v)
		return
	}
	*dst = v
}

// intakeLabels reads intake.labels; a key left out keeps its default.
func (d *decoder) intakeLabels(n *yaml.Node, l *IntakeLabels) {
	nodes := map[string]*yaml.Node{}
	label := func(key string, dst *string) func(*yaml.Node) {
		return func(v *yaml.Node) {
			where := "intake.labels." + key
			var s string
			d.str(v, where, &s)
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return
			}
			if msg := checkLabelName(s); msg != "" {
				d.errorf(v, "%s %s", where, msg)
				return
			}
			*dst = s
			nodes[key] = v
		}
	}
	d.fields(n, "intake.labels", map[string]func(*yaml.Node){
		"project":   label("project", &l.Project),
		"stage":     label("stage", &l.Stage),
		"service":   label("service", &l.Service),
		"rootCause": label("rootCause", &l.RootCause),
	})
	if a, b, ok := l.clash(); ok {
		// Point at the key written in this file, the later one if both are.
		at := nodes[b]
		if at == nil {
			at = nodes[a]
		}
		d.errorf(at, "intake.labels.%s and intake.labels.%s both name the label %q; each must name a label of its own", a, b, l.get(b))
	}
}

// checkLabelName says what is wrong with an alert label name, or "".
// Prometheus 3 allows any UTF-8 label name, so only names that cannot be
// meant are refused: empty ones and ones with spaces or control
// characters.
func checkLabelName(s string) string {
	if s == "" {
		return "must name an alert label, such as project; leave the key out for the default"
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return fmt.Sprintf("is %q, which has a space or control character; want a label name such as k8s_namespace", s)
		}
	}
	return ""
}

// labelKeys are the keys of intake.labels, in the order they are checked.
var labelKeys = []string{"project", "stage", "service", "rootCause"}

func (l *IntakeLabels) get(key string) string {
	switch key {
	case "project":
		return l.Project
	case "stage":
		return l.Stage
	case "service":
		return l.Service
	}
	return l.RootCause
}

// clash returns the first two keys that name the same label.
func (l *IntakeLabels) clash() (a, b string, ok bool) {
	for i, x := range labelKeys {
		for _, y := range labelKeys[i+1:] {
			if l.get(x) != "" && l.get(x) == l.get(y) {
				return x, y, true
			}
		}
	}
	return "", "", false
}

// Environment variables read by ApplyEnv, each overriding one field.
const (
	EnvListen            = "TEND_LISTEN"
	EnvDataDir           = "TEND_DATA_DIR"
	EnvDatabase          = "TEND_DATABASE"
	EnvUIURL             = "TEND_UI_URL"
	EnvSettling          = "TEND_REMEDIATION_SETTLING"
	EnvExternalTimeout   = "TEND_REMEDIATION_EXTERNAL_TIMEOUT"
	EnvMaxReplicas       = "TEND_REMEDIATION_MAX_REPLICAS"
	EnvCooldown          = "TEND_REMEDIATION_COOLDOWN"
	EnvMaxActionsPerHour = "TEND_REMEDIATION_MAX_ACTIONS_PER_HOUR"
	EnvDryRun            = "TEND_REMEDIATION_DRY_RUN"
	EnvEscalationURL     = "TEND_ESCALATION_URL"
	EnvEscalationTimeout = "TEND_ESCALATION_TIMEOUT"
	EnvKubeconfig        = "TEND_KUBECONFIG"
	EnvProjectLabel      = "TEND_INTAKE_PROJECT_LABEL"
	EnvStageLabel        = "TEND_INTAKE_STAGE_LABEL"
	EnvServiceLabel      = "TEND_INTAKE_SERVICE_LABEL"
	EnvRootCauseLabel    = "TEND_INTAKE_ROOT_CAUSE_LABEL"
)

// ApplyEnv overrides fields with the TEND_* variables that are set.
// TEND_ESCALATION_URL takes a reference (env:NAME or file:PATH) like the
// file; TEND_DATABASE takes the URL itself, as serve's flag does.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	var probs []string
	bad := func(name, v, want string) {
		probs = append(probs, fmt.Sprintf("%s=%q: %s", name, v, want))
	}
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	dur := func(name string, dst *time.Duration, allowZero bool) {
		v := getenv(name)
		if v == "" {
			return
		}
		d, err := ParseDuration(v)
		if err != nil || (d == 0 && !allowZero) {
			bad(name, v, "want a duration such as 10m or 30s, longer than 0")
			return
		}
		*dst = d
	}
	num := func(name string, dst *int) {
		v := getenv(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad(name, v, "want a whole number of 0 or more (0 means no limit)")
			return
		}
		*dst = n
	}
	str(EnvListen, &c.Listen)
	str(EnvDataDir, &c.DataDir)
	if v := getenv(EnvDatabase); v != "" {
		c.Database = Secret{Ref: v, Value: v}
		if IsRef(v) {
			c.Database.Value = ""
		}
	}
	str(EnvUIURL, &c.UIURL)
	dur(EnvSettling, &c.Remediation.Settling, false)
	dur(EnvExternalTimeout, &c.Remediation.ExternalTimeout, false)
	num(EnvMaxReplicas, &c.Remediation.Limits.MaxReplicas)
	dur(EnvCooldown, &c.Remediation.Limits.Cooldown, true)
	num(EnvMaxActionsPerHour, &c.Remediation.Limits.MaxActionsPerHour)
	if v := getenv(EnvDryRun); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(EnvDryRun, v, "want true or false")
		} else {
			c.Remediation.Limits.DryRun = b
		}
	}
	if v := getenv(EnvEscalationURL); v != "" {
		if err := CheckRef(v); err != nil {
			probs = append(probs, fmt.Sprintf("%s: %v", EnvEscalationURL, err))
		} else {
			c.Escalation.URL = Secret{Ref: v}
		}
	}
	dur(EnvEscalationTimeout, &c.Escalation.Timeout, false)
	str(EnvKubeconfig, &c.Kubernetes.Kubeconfig)
	labels := &c.Intake.Labels
	for _, e := range []struct {
		name string
		dst  *string
	}{
		{EnvProjectLabel, &labels.Project}, {EnvStageLabel, &labels.Stage},
		{EnvServiceLabel, &labels.Service}, {EnvRootCauseLabel, &labels.RootCause},
	} {
		v := getenv(e.name)
		if v == "" {
			continue
		}
		if msg := checkLabelName(v); msg != "" {
			probs = append(probs, fmt.Sprintf("%s %s", e.name, msg))
			continue
		}
		*e.dst = v
	}
	if a, b, ok := labels.clash(); ok {
		probs = append(probs, fmt.Sprintf("intake.labels.%s and intake.labels.%s both name the label %q (after the TEND_INTAKE_*_LABEL variables); each must name a label of its own", a, b, labels.get(b)))
	}
	if len(probs) > 0 {
		return &Error{Problems: probs}
	}
	return nil
}

// ParseDuration reads a Go duration ("10m", "1h30m", "45s"), optionally
// led by whole days ("90d", "1d12h"); "0" is zero. Negative durations are
// refused.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration; want e.g. 10m, 90s, 1h or 90d", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration; want e.g. 10m, 90s, 1h or 90d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative; want e.g. 10m", s)
	}
	return days + d, nil
}
