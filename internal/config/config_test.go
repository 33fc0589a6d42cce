package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
)

func TestDecodeFullFile(t *testing.T) {
	src := `listen: 0.0.0.0:8080
dataDir: /var/lib/tend
database: env:TEND_DB
uiURL: https://tend.example.com
remediation:
  settling: 2m
  externalTimeout: 5m
  limits:
    maxReplicas: 4
    cooldown: 0
    maxActionsPerHour: 3
    dryRun: true
  outage:
    backoff: 10s
    maxBackoff: 1m
    attempts: 3
  stepAttempts: 7
  watchdog: 30s
escalation:
  url: file:/run/secrets/slack
  timeout: 20s
  headers:
    Authorization: env:TEND_SLACK_AUTH
kubernetes:
  kubeconfig: /etc/tend/kubeconfig
`
	c, err := Decode("tend.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := Config{
		Listen: "0.0.0.0:8080", DataDir: "/var/lib/tend", Database: Secret{Ref: "env:TEND_DB"}, UIURL: "https://tend.example.com",
		Remediation: Remediation{Settling: 2 * time.Minute, ExternalTimeout: 5 * time.Minute,
			Limits:       Limits{MaxReplicas: 4, Cooldown: 0, MaxActionsPerHour: 3, DryRun: true},
			Outage:       Outage{Backoff: 10 * time.Second, MaxBackoff: time.Minute, Attempts: 3},
			StepAttempts: 7, Watchdog: 30 * time.Second},
		Escalation: Escalation{URL: Secret{Ref: "file:/run/secrets/slack"}, Timeout: 20 * time.Second,
			Headers: map[string]Secret{"Authorization": {Ref: "env:TEND_SLACK_AUTH"}}},
		Kubernetes: Kubernetes{Kubeconfig: "/etc/tend/kubeconfig"},
	}
	if c.Listen != want.Listen || c.DataDir != want.DataDir || c.Database != want.Database || c.UIURL != want.UIURL ||
		c.Remediation != want.Remediation || c.Escalation.URL != want.Escalation.URL || c.Escalation.Timeout != want.Escalation.Timeout ||
		c.Escalation.Headers["Authorization"] != want.Escalation.Headers["Authorization"] || !reflect.DeepEqual(c.Kubernetes, want.Kubernetes) {
		t.Errorf("Decode =\n%+v\nwant\n%+v", c, want)
	}
}

func TestDecodeEmptyKeepsDefaults(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "~\n"} {
		c, err := Decode("tend.yaml", []byte(src))
		if err != nil {
			t.Fatalf("Decode(%q): %v", src, err)
		}
		d := Default()
		if c.Remediation != d.Remediation || c.Escalation.Timeout != d.Escalation.Timeout {
			t.Errorf("Decode(%q) = %+v, want the defaults %+v", src, c, d)
		}
	}
	d := Default()
	if d.Remediation.Settling != 10*time.Minute || d.Remediation.ExternalTimeout != 10*time.Minute ||
		d.Remediation.Limits != (Limits{MaxReplicas: 10, Cooldown: 15 * time.Minute, MaxActionsPerHour: 6}) {
		t.Errorf("Default() = %+v; the issue's safe defaults are 10 replicas, 15m cooldown, 6 actions/hour, 10m settling and timeout", d)
	}
}

func TestDecodeReportsEveryProblemWithPosition(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"plain secret", "escalation:\n  url: https://hooks.slack.com/services/T/B/x\n",
			[]string{"tend.yaml:2:8: escalation.url: secrets must not be written here in plain text"}},
		{"typo with suggestion", "remediation:\n  setling: 5m\n",
			[]string{`tend.yaml:2:3: unknown key "setling" in remediation; did you mean "settling"?`}},
		{"unknown top key", "foo: 1\n", []string{`tend.yaml:1:1: unknown key "foo" in tend.yaml; known keys:`}},
		{"bad duration and number", "remediation:\n  settling: soon\n  limits:\n    maxReplicas: many\n",
			[]string{`tend.yaml:2:13: remediation.settling: "soon" is not a duration`, `tend.yaml:4:18: remediation.limits.maxReplicas must be a whole number, not the string "many"`}},
		{"negative and zero", "remediation:\n  settling: 0\n  externalTimeout: -1m\n",
			[]string{"tend.yaml:2:13: remediation.settling must be longer than 0", `tend.yaml:3:20: remediation.externalTimeout: "-1m" is negative`}},
		{"database password", "database: postgres://tend:hunter2@db/tend\n",
			[]string{"tend.yaml:1:11: database carries a password"}},
		{"not a mapping", "remediation: 5\n", []string{`tend.yaml:1:14: remediation must be a mapping of keys to values, not the number 5`}},
		{"duplicate key", "uiURL: http://a\nuiURL: http://b\n", []string{"tend.yaml:2:1: tend.yaml.uiURL is given twice"}},
		{"bad bool", "remediation:\n  limits:\n    dryRun: yes please\n", []string{"tend.yaml:3:13: remediation.limits.dryRun must be true or false"}},
		{"empty env ref", "escalation:\n  url: 'env:'\n", []string{"tend.yaml:2:8: escalation.url: env: needs a variable name"}},
		{"syntax", "a: [\n", []string{"tend.yaml:1:1: invalid YAML: "}},
		{"two documents", "uiURL: http://a\n---\nuiURL: http://b\n", []string{"tend.yaml:2:1: a second YAML document"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("tend.yaml", []byte(tc.src))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode error = %v, want one matching ErrInvalid", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", msg, w)
				}
			}
			if n := len(strings.Split(msg, "\n")); n != len(tc.want) {
				t.Errorf("error has %d lines, want %d:\n%s", n, len(tc.want), msg)
			}
		})
	}
}

func TestApplyEnvAndResolve(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "slack")
	if err := os.WriteFile(secretFile, []byte("https://hooks.example/abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		EnvSettling: "30s", EnvMaxReplicas: "3", EnvCooldown: "0", EnvDryRun: "true",
		EnvEscalationURL: "file:" + secretFile, EnvUIURL: "http://ui", "AUTH": "Bearer x",
	}
	getenv := func(k string) string { return env[k] }
	c := Default()
	c.Escalation.Headers = map[string]Secret{"Authorization": {Ref: "env:AUTH"}}
	if err := c.ApplyEnv(getenv); err != nil {
		t.Fatalf("ApplyEnv: %v", err)
	}
	if c.Remediation.Settling != 30*time.Second || c.Remediation.Limits.MaxReplicas != 3 || c.Remediation.Limits.Cooldown != 0 || !c.Remediation.Limits.DryRun || c.UIURL != "http://ui" {
		t.Errorf("after ApplyEnv: %+v", c)
	}
	if err := c.Resolve(getenv); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if c.Escalation.URL.Value != "https://hooks.example/abc" || c.Escalation.Headers["Authorization"].Value != "Bearer x" {
		t.Errorf("resolved secrets wrong: %+v", c.Escalation)
	}
	if strings.Contains(c.Escalation.URL.String(), "hooks.example") {
		t.Errorf("Secret.String shows the value: %s", c.Escalation.URL)
	}

	t.Run("bad values", func(t *testing.T) {
		c := Default()
		err := c.ApplyEnv(func(k string) string {
			return map[string]string{EnvSettling: "x", EnvMaxActionsPerHour: "-1", EnvEscalationURL: "https://plain"}[k]
		})
		if !errors.Is(err, ErrInvalid) || strings.Count(err.Error(), "\n") != 2 {
			t.Fatalf("ApplyEnv error = %v, want three problems", err)
		}
	})
	t.Run("missing secret", func(t *testing.T) {
		c := Default()
		c.Escalation.URL = Secret{Ref: "env:NOPE"}
		err := c.Resolve(func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "escalation.url (env:NOPE): environment variable NOPE is not set") {
			t.Fatalf("Resolve error = %v", err)
		}
	})
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tend.yaml")
	if err := os.WriteFile(path, []byte("remediation:\n  settling: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, func(k string) string { return map[string]string{EnvSettling: "2m"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Remediation.Settling != 2*time.Minute {
		t.Errorf("settling = %s, want the environment's 2m over the file's 1m", c.Remediation.Settling)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// TestDecodeRefusesBillionLaughs feeds tend.yaml the nested and the wide
// billion laughs and a file over the size limit; each is refused with the
// limit named (time and memory are logged, not asserted).
func TestDecodeRefusesBillionLaughs(t *testing.T) {
	nested, nestedAlias := yamlnodetest.Nested(9, 10)
	wide, wideAlias := yamlnodetest.Wide(10000, 4000)
	tests := []struct{ name, src, want string }{
		{"nested", nested + "escalation: {headers: " + nestedAlias + "}\n", "tend.yaml:5:77: the document's aliases expand it to more than 100000 YAML nodes, over tend's limit"},
		{"wide", wide + "escalation: {headers: " + wideAlias + "}\n", "tend.yaml:2:68: the document's aliases expand it to more than 100000 YAML nodes, over tend's limit"},
		{"cycle", "remediation: &r {limits: *r}\n", "tend.yaml:1:26: the alias *r refers to a node that contains it"},
		{"too large", "listen: " + strings.Repeat("x", yamlnode.MaxBytes) + "\n", "tend.yaml: the input is 1048585 bytes, over tend's limit of 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Decode("tend.yaml", []byte(tt.src))
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want one starting %q", err, tt.want)
			}
			t.Logf("%d bytes refused in %v, %d KB allocated", len(tt.src), took, (after.TotalAlloc-before.TotalAlloc)>>10)
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"", "listen: a\n", "remediation:\n  limits:\n    maxReplicas: 3\n", "escalation:\n  headers:\n    X: env:A\n",
		"a: &x {b: 1}\nc: *x\n", "remediation: {<<: {settling: 1m}}\n", "- 1\n- 2\n", "database: postgres://u:p@h/d\n",
		"intake:\n  labels:\n    project: team\n    stage: team\n    rootCause: [x]\n",
		"remediation: &r {limits: *r}\n", "budget: {pluginDirs: [a, ~, {b: c}]}\n",
	} {
		f.Add([]byte(s))
	}
	nested, alias := yamlnodetest.Nested(6, 10)
	f.Add([]byte(nested + "remediation: " + alias + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode("f.yaml", data)
		// The budget holds whatever the decoder does with the document:
		// one over it, counted on yaml.v3's own parse, is refused for it.
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil && yamlnode.Size(&doc, yamlnode.MaxNodes) > yamlnode.MaxNodes {
			if err == nil || !strings.Contains(err.Error(), "over tend's limit") {
				t.Fatalf("a document over %d nodes was not refused for it: %v", yamlnode.MaxNodes, err)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if c.Escalation.URL.Value != "" {
			t.Fatalf("Decode resolved a secret: %q", c.Escalation.URL.Value)
		}
	})
}

func TestIntakeLabels(t *testing.T) {
	defaults := IntakeLabels{Project: "project", Stage: "stage", Service: "service", RootCause: "root_cause"}
	tests := []struct {
		name    string
		src     string
		env     map[string]string
		want    IntakeLabels
		wantErr []string
	}{
		{name: "no file keeps the defaults", want: defaults},
		{name: "empty intake keeps the defaults", src: "intake: {}\n", want: defaults},
		{
			name: "every label renamed",
			src:  "intake:\n  labels:\n    project: team\n    stage: env\n    service: app\n    rootCause: cause\n",
			want: IntakeLabels{Project: "team", Stage: "env", Service: "app", RootCause: "cause"},
		},
		{
			name: "one label renamed keeps the others",
			src:  "intake:\n  labels:\n    service: app.kubernetes.io/name\n",
			want: IntakeLabels{Project: "project", Stage: "stage", Service: "app.kubernetes.io/name", RootCause: "root_cause"},
		},
		{
			name: "environment wins over the file",
			src:  "intake:\n  labels:\n    stage: env\n",
			env:  map[string]string{EnvStageLabel: "namespace", EnvProjectLabel: "team", EnvServiceLabel: "app", EnvRootCauseLabel: "cause"},
			want: IntakeLabels{Project: "team", Stage: "namespace", Service: "app", RootCause: "cause"},
		},
		{
			name: "environment alone",
			env:  map[string]string{EnvRootCauseLabel: "probable_cause"},
			want: IntakeLabels{Project: "project", Stage: "stage", Service: "service", RootCause: "probable_cause"},
		},
		{
			name:    "typo in a key",
			src:     "intake:\n  labels:\n    root_cause: cause\n",
			wantErr: []string{`tend.yaml:3:5: unknown key "root_cause" in intake.labels; did you mean "rootCause"?`},
		},
		{
			name:    "empty label name",
			src:     "intake:\n  labels:\n    project: ''\n",
			wantErr: []string{"tend.yaml:3:14: intake.labels.project must name an alert label"},
		},
		{
			name:    "label name with a space",
			src:     "intake:\n  labels:\n    stage: 'my stage'\n",
			wantErr: []string{`tend.yaml:3:12: intake.labels.stage is "my stage", which has a space`},
		},
		{
			name:    "not a string",
			src:     "intake:\n  labels:\n    service: [a, b]\n",
			wantErr: []string{"tend.yaml:3:14: intake.labels.service must be a string, not a list"},
		},
		{
			name:    "labels not a mapping",
			src:     "intake:\n  labels: project\n",
			wantErr: []string{`tend.yaml:2:11: intake.labels must be a mapping of keys to values, not the string "project"`},
		},
		{
			name:    "two settings name one label",
			src:     "intake:\n  labels:\n    stage: project\n",
			wantErr: []string{`tend.yaml:3:12: intake.labels.project and intake.labels.stage both name the label "project"`},
		},
		{
			name:    "environment clashes with the file",
			src:     "intake:\n  labels:\n    service: app\n",
			env:     map[string]string{EnvRootCauseLabel: "app"},
			wantErr: []string{`intake.labels.service and intake.labels.rootCause both name the label "app" (after the TEND_INTAKE_*_LABEL variables)`},
		},
		{
			name:    "bad environment value",
			env:     map[string]string{EnvProjectLabel: "a b"},
			wantErr: []string{`TEND_INTAKE_PROJECT_LABEL is "a b", which has a space`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode("tend.yaml", []byte(tc.src))
			if err == nil {
				err = c.ApplyEnv(func(k string) string { return tc.env[k] })
			}
			if len(tc.wantErr) > 0 {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error = %v, want one matching ErrInvalid", err)
				}
				msg := err.Error()
				for _, w := range tc.wantErr {
					if !strings.Contains(msg, w) {
						t.Errorf("error\n%s\ndoes not contain\n%s", msg, w)
					}
				}
				if n := len(strings.Split(msg, "\n")); n != len(tc.wantErr) {
					t.Errorf("error has %d lines, want %d:\n%s", n, len(tc.wantErr), msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.Intake.Labels != tc.want {
				t.Errorf("Intake.Labels = %+v, want %+v", c.Intake.Labels, tc.want)
			}
		})
	}
}

func TestOutboundAndNamespaces(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		want     Outbound
		wantNS   map[string][]string
		wantErrs []string
	}{
		{name: "none", src: "listen: 127.0.0.1:0\n"},
		{
			name: "rules and file upstreams",
			src:  "outbound:\n  allow: [10.0.0.0/8, prom.example]\n  deny:\n    - 10.9.0.0/16\n    - '*.corp.example'\n  allowFileUpstreams: true\n",
			want: Outbound{Allow: []string{"10.0.0.0/8", "prom.example"}, Deny: []string{"10.9.0.0/16", "*.corp.example"}, AllowFileUpstreams: true},
		},
		{
			name:   "namespaces",
			src:    "kubernetes:\n  namespaces:\n    sockshop: [shop, shop-canary]\n",
			wantNS: map[string][]string{"sockshop": {"shop", "shop-canary"}},
		},
		{
			name: "every bad rule with its position",
			src:  "outbound:\n  allow: [10.0.0.0/33]\n  deny:\n    - ok.example\n    - 'not a host'\n  allowFileUpstreams: yes please\n  alow: []\n",
			wantErrs: []string{
				`tend.yaml:2:11: outbound.allow: "10.0.0.0/33" is not a CIDR`,
				`tend.yaml:5:7: outbound.deny: "not a host" is neither a CIDR`,
				`tend.yaml:6:23: outbound.allowFileUpstreams must be true or false`,
				`tend.yaml:7:3: unknown key "alow" in outbound; did you mean "allow"?`,
			},
		},
		{
			name:     "rules not a list",
			src:      "outbound:\n  deny: 10.0.0.0/8\n",
			wantErrs: []string{`tend.yaml:2:9: outbound.deny must be a list of CIDRs, addresses or host names, not the string "10.0.0.0/8"`},
		},
		{
			name: "bad namespaces",
			src:  "kubernetes:\n  namespaces:\n    Shop: [a]\n    sockshop: [kube_system, ok]\n    other: x\n",
			wantErrs: []string{
				`tend.yaml:3:5: kubernetes.namespaces: the string "Shop" is not a project name`,
				`tend.yaml:4:16: kubernetes.namespaces.sockshop: the string "kube_system" is not a Kubernetes namespace name`,
				`tend.yaml:5:12: kubernetes.namespaces.other must be a list of namespaces`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Decode("tend.yaml", []byte(tc.src))
			if len(tc.wantErrs) > 0 {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error = %v; want ErrInvalid", err)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tc.wantErrs) {
					t.Errorf("got %d problems, want %d:\n%s", len(lines), len(tc.wantErrs), err)
				}
				for _, w := range tc.wantErrs {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Outbound, tc.want) {
				t.Errorf("outbound = %+v; want %+v", c.Outbound, tc.want)
			}
			if tc.wantNS != nil && !reflect.DeepEqual(c.Kubernetes.Namespaces, tc.wantNS) {
				t.Errorf("namespaces = %v; want %v", c.Kubernetes.Namespaces, tc.wantNS)
			}
		})
	}
}

func TestRetention(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name string
		yaml string
		want Retention
		err  string
	}{
		{"default", "", Retention{Events: 90 * day, Jobs: 90 * day, Problems: 90 * day, Sequences: 90 * day}, ""},
		{"days, hours and for ever", "retention:\n  events: 30d\n  jobs: 0\n  problems: 1d12h\n  sequences: 14d\n",
			Retention{Events: 30 * day, Jobs: 0, Problems: 36 * time.Hour, Sequences: 14 * day}, ""},
		{"one kind", "retention: {jobs: 7d}\n", Retention{Events: 90 * day, Jobs: 7 * day, Problems: 90 * day, Sequences: 90 * day}, ""},
		{"sequences for ever", "retention: {sequences: 0}\n", Retention{Events: 90 * day, Jobs: 90 * day, Problems: 90 * day}, ""},
		{"not a duration", "retention:\n  events: soon\n", Retention{}, "f.yaml:2:11: retention.events"},
		{"negative", "retention:\n  jobs: 1d-5h\n", Retention{}, "retention.jobs"},
		{"misspelt", "retention:\n  event: 1d\n", Retention{}, "event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode("f.yaml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Decode = %v, want an error saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Retention != tt.want {
				t.Errorf("retention = %+v, want %+v", c.Retention, tt.want)
			}
		})
	}
}

// TestBudgetPluginDirs: budget.pluginDirs is a list of directory paths;
// anything else is refused at its position.
func TestBudgetPluginDirs(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
		err        string
	}{
		{"default", "", nil, ""},
		{"two", "budget:\n  pluginDirs: [/etc/tend/sloth-plugins, ./plugins]\n", []string{"/etc/tend/sloth-plugins", "./plugins"}, ""},
		{"not a list", "budget:\n  pluginDirs: /etc/tend/sloth-plugins\n", nil, "f.yaml:2:15: budget.pluginDirs must be a list of directories"},
		{"empty path", "budget:\n  pluginDirs: [/a, \"\"]\n", nil, "f.yaml:2:20: budget.pluginDirs[1] must be a directory path"},
		{"not a path", "budget:\n  pluginDirs:\n    - {dir: /a}\n", nil, "f.yaml:3:7: budget.pluginDirs[0] must be a directory path, not a mapping"},
		{"misspelt", "budget:\n  pluginDir: [/a]\n", nil, "pluginDir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode("f.yaml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Decode = %v, want an error saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Budget.PluginDirs, tt.want) {
				t.Errorf("pluginDirs = %q, want %q", c.Budget.PluginDirs, tt.want)
			}
		})
	}
}
