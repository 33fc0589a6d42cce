// Package tutorial plays Keptn's tutorial from delivery to self-healing
// end to end against real components: a tend server in process that
// onboards carts with its Helm chart and delivers it into a real
// Kubernetes cluster (staging with a quality gate, then production,
// blue/green), one carts demo process per stage that plays what the
// cluster runs there (the version of the Deployment its Service selects,
// and its ready replicas), a load generator, a real Prometheus that scrapes
// carts and evaluates the alerting rules tend generates, a real
// Alertmanager that delivers the alert to tend's intake, and a real
// Unleash whose EnablePromotion flag is the release that misbehaves. The
// scaling action scales Deployment carts-primary in production.
//
// The same Story is `tend demo tutorial` (make demo) and the end-to-end
// test (test/e2e), so the test proves what the demo shows. The story
// narrates what happens from tend's own events (the event stream), not
// from what it expects, and ends with a Verdict on the remediation as
// tend recorded it. docs/demo.md explains the timing and the numbers.
package tutorial

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/config"
	"github.com/tendhq/tend/internal/demo"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// The tutorial's names: Keptn's sockshop project, its production stage
// and the carts service, and the Unleash flag of the promotion.
const (
	Project            = "sockshop"
	Stage              = "production"
	Service            = "carts"
	Flag               = "EnablePromotion"
	UnleashProject     = "default"
	UnleashEnvironment = "production"
)

// The stages of the tutorial's shipyard, in delivery order; Stage
// (production) is the one that heals itself.
const StagingStage = "staging"

// Stages lists the shipyard's stages in delivery order.
var Stages = []string{StagingStage, Stage}

// The versions the story delivers: GoodVersion passes staging's quality
// gate, SlowVersion (carts's slow build, see internal/demo's
// DefaultSlowVersions) fails it and is rolled back.
const (
	Image       = "docker.io/keptnexamples/carts"
	GoodVersion = "0.11.1"
	SlowVersion = "0.11.2"
)

// The story's timing. Each value is as short as the story allows; why
// each is what it is, see docs/demo.md ("Timing").
const (
	// Settling is the wait between a remediation action and its
	// verification, and the verification's window: the shipyard's
	// triggeredAfter (files/shipyard.yaml). A shorter window would count
	// the slow requests still in flight when the flag goes off.
	Settling = time.Minute
	// RuleWindow is the generated alert rule's rate window. It is longer
	// than Settling so that the alert resolves only after the last
	// verification passed: a problem that closes while tend settles stops
	// the remediation instead of letting it verify.
	RuleWindow = 2 * time.Minute
	// RuleFor is how long the violation lasts before the alert fires.
	RuleFor = 10 * time.Second
	// LoadTestDuration and LoadTestRate are staging's performance test: its window
	// is the quality gate's evaluation window, and its rate stays within
	// one replica's capacity (10 requests/s), so 0.11.1 passes and only
	// the slow build fails.
	LoadTestDuration = 30 * time.Second
	LoadTestRate     = 5
	// Warmup is how long the load runs before the baseline's window starts:
	// carts measures its load over 10 s.
	Warmup = 15 * time.Second
	// BaselineWindow is the baseline evaluation's timeframe.
	BaselineWindow = 30 * time.Second
	// LoadRate is the load generator's rate: 1.5 times one replica's
	// capacity, so one replica is overloaded and two are not.
	LoadRate = demo.DefaultLoadRate
	// UnleashInterval is how often carts reads the flag.
	UnleashInterval = time.Second
)

// Limits of the waits; each is far above what the story needs, so that a
// broken setup fails with a reason instead of hanging.
const (
	alertLimit       = 5 * time.Minute
	deliveryLimit    = 6 * time.Minute
	remediationLimit = 2*Settling + 5*time.Minute
)

//go:embed all:files
var files embed.FS

// File returns one of the tutorial's files (shipyard.yaml, slo.yaml,
// remediation.yaml, prometheus/sli.yaml).
func File(name string) ([]byte, error) { return files.ReadFile("files/" + name) }

// Components say where the real components run. The scripts in scripts/
// start each on a free port and print these values (EnvNames lists the
// variables).
type Components struct {
	PrometheusURL string
	// PrometheusRulesDir is the directory of rule files (*.yml) the
	// Prometheus loads on /-/reload.
	PrometheusRulesDir string
	// PrometheusTargetsDir is the file-SD directory of scrape targets.
	PrometheusTargetsDir string
	// PrometheusAlertmanagersDir is the file-SD directory of the
	// Alertmanagers the Prometheus notifies.
	PrometheusAlertmanagersDir string
	AlertmanagerURL            string
	// AlertmanagerConfig is the Alertmanager's configuration file, into
	// which tend's route is merged.
	AlertmanagerConfig string
	UnleashURL         string
	UnleashAdminToken  string
	// UnleashClientToken is the carts service's client token; "" makes
	// the story create one.
	UnleashClientToken string
	// Kubeconfig is the cluster's admin kubeconfig and Kubectl its
	// kubectl (scripts/kube-cluster.sh). New reads them from the
	// environment when they are empty.
	Kubeconfig string
	Kubectl    string
}

// EnvNames maps each field of Components to the variable the component
// scripts print (scripts/prometheus.sh, alertmanager.sh, unleash.sh).
var EnvNames = map[string]string{
	"PrometheusURL":              "TEND_TEST_PROMETHEUS_URL",
	"PrometheusRulesDir":         "TEND_TEST_PROMETHEUS_RULES_DIR",
	"PrometheusTargetsDir":       "TEND_TEST_PROMETHEUS_SD_DIR",
	"PrometheusAlertmanagersDir": "TEND_TEST_PROMETHEUS_ALERTMANAGER_SD_DIR",
	"AlertmanagerURL":            "TEND_TEST_ALERTMANAGER_URL",
	"AlertmanagerConfig":         "TEND_TEST_ALERTMANAGER_CONFIG",
	"UnleashURL":                 "TEND_TEST_UNLEASH_URL",
	"UnleashAdminToken":          "TEND_TEST_UNLEASH_ADMIN_TOKEN",
	"UnleashClientToken":         "TEND_DEMO_UNLEASH_CLIENT_TOKEN",
	"Kubeconfig":                 "TEND_TEST_KUBECONFIG",
	"Kubectl":                    "TEND_TEST_KUBECTL",
}

// ComponentsFromEnv reads Components from the variables of EnvNames.
func ComponentsFromEnv(getenv func(string) string) Components {
	return Components{
		PrometheusURL:              getenv(EnvNames["PrometheusURL"]),
		PrometheusRulesDir:         getenv(EnvNames["PrometheusRulesDir"]),
		PrometheusTargetsDir:       getenv(EnvNames["PrometheusTargetsDir"]),
		PrometheusAlertmanagersDir: getenv(EnvNames["PrometheusAlertmanagersDir"]),
		AlertmanagerURL:            getenv(EnvNames["AlertmanagerURL"]),
		AlertmanagerConfig:         getenv(EnvNames["AlertmanagerConfig"]),
		UnleashURL:                 getenv(EnvNames["UnleashURL"]),
		UnleashAdminToken:          getenv(EnvNames["UnleashAdminToken"]),
		UnleashClientToken:         getenv(EnvNames["UnleashClientToken"]),
		Kubeconfig:                 getenv(EnvNames["Kubeconfig"]),
		Kubectl:                    getenv(EnvNames["Kubectl"]),
	}
}

// Validate says which required components are missing, naming the
// variables that would set them. The cluster is checked by New, which
// also reads it from the environment.
func (c Components) Validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"PrometheusURL", c.PrometheusURL}, {"PrometheusRulesDir", c.PrometheusRulesDir},
		{"PrometheusTargetsDir", c.PrometheusTargetsDir}, {"PrometheusAlertmanagersDir", c.PrometheusAlertmanagersDir},
		{"AlertmanagerURL", c.AlertmanagerURL}, {"AlertmanagerConfig", c.AlertmanagerConfig},
		{"UnleashURL", c.UnleashURL}, {"UnleashAdminToken", c.UnleashAdminToken},
	} {
		if f.v == "" {
			missing = append(missing, EnvNames[f.name])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("tutorial: components missing: set %s (scripts/demo.sh starts them; or eval \"$(scripts/prometheus.sh start)\" and the same for alertmanager.sh, unleash.sh and kube-cluster.sh)", strings.Join(missing, ", "))
	}
	return nil
}

// CLI runs the tend command line in process; cli.Run is one. The story
// takes it as a function so that the cli package can offer the story as
// `tend demo tutorial` without an import cycle.
type CLI func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int

// Options configure a Story.
type Options struct {
	Components Components
	// Project is the project's name, Project ("sockshop") when empty; its
	// stages deploy into namespaces <project>-<stage>, which must not
	// hold anything yet. Tests sharing a cluster give each run its own.
	Project string
	// WorkDir receives the tutorial's files, tend's data directory and
	// the token files; it must exist.
	WorkDir string
	// Unique is appended to the names the story gives to files and
	// receivers in the components, so that several runs can share them
	// (the test suite's Prometheus and Alertmanager). "" for the demo.
	Unique string
	// Out receives the narration; Log the logs of tend, carts and the
	// load generator.
	Out io.Writer
	Log io.Writer
	// CLI runs tend's commands.
	CLI CLI
}

// Result is what the story saw.
type Result struct {
	// TendURL is the in-process tend server's address.
	TendURL string
	// Deliveries are the keptn contexts of the deliveries of GoodVersion
	// and SlowVersion.
	Deliveries []string
	// Baseline is the keptn context of the baseline evaluation.
	Baseline string
	// KeptnContext is the problem's (and its remediation's) context.
	KeptnContext string
	// Remediation is the remediation as tend recorded it at the end.
	Remediation apitypes.Remediation
	// Took is how long the story ran, from tend's start.
	Took time.Duration
}

// Story is one run of the tutorial. Run it once, then Close it, which
// stops and removes everything it started or wrote.
type Story struct {
	opts    Options
	project string
	kube    kubernetes.Interface
	n       *narrator
	log     *slog.Logger
	start   time.Time

	app       *app.App
	admin     *client.Client
	tokenFile string
	carts     map[string]string // stage → carts's URL
	rulesFile string
	receiver  string
	amMu      sync.Mutex

	events chan streamEvent

	mu       sync.Mutex
	cleanups []cleanup
}

type cleanup struct {
	name string
	fn   func() error
}

// New checks opts and returns a Story that has not started anything yet.
func New(opts Options) (*Story, error) {
	// `tend demo tutorial` fills in the components it has flags for;
	// the cluster comes from the variables kube-cluster.sh prints.
	env := ComponentsFromEnv(os.Getenv)
	if opts.Components.Kubeconfig == "" {
		opts.Components.Kubeconfig = env.Kubeconfig
	}
	if opts.Components.Kubectl == "" {
		opts.Components.Kubectl = env.Kubectl
	}
	if err := opts.Components.Validate(); err != nil {
		return nil, err
	}
	if opts.Components.Kubeconfig == "" || opts.Components.Kubectl == "" {
		return nil, fmt.Errorf("tutorial: the Kubernetes cluster is missing: set %s and %s (scripts/demo.sh starts it; or eval \"$(scripts/kube-cluster.sh start)\")", EnvNames["Kubeconfig"], EnvNames["Kubectl"])
	}
	if opts.WorkDir == "" || opts.CLI == nil {
		return nil, errors.New("tutorial: Options.WorkDir and Options.CLI are required")
	}
	if fi, err := os.Stat(opts.WorkDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("tutorial: work directory %s: not a directory (%v)", opts.WorkDir, err)
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	kc, err := clientcmd.BuildConfigFromFlags("", opts.Components.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("tutorial: kubeconfig %s: %w", opts.Components.Kubeconfig, err)
	}
	kc.Timeout = 15 * time.Second
	cs, err := kubernetes.NewForConfig(kc)
	if err != nil {
		return nil, fmt.Errorf("tutorial: kubernetes client: %w", err)
	}
	s := &Story{
		opts:    opts,
		project: orDefault(opts.Project, Project),
		kube:    cs,
		carts:   map[string]string{},
		n:       newNarrator(opts.Out),
		log:     slog.New(slog.NewTextHandler(opts.Log, nil)),
		events:  make(chan streamEvent, 4096),
	}
	name := "tend-" + s.project + "-" + Service
	receiver := "tend"
	if opts.Unique != "" {
		name += "-" + opts.Unique
		receiver += "-" + opts.Unique
	}
	s.rulesFile = filepath.Join(opts.Components.PrometheusRulesDir, name+".yml")
	s.receiver = receiver
	return s, nil
}

// onClose registers a cleanup; Close runs them in reverse.
func (s *Story) onClose(name string, fn func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, cleanup{name, fn})
}

// Close stops everything the story started and removes what it wrote into
// the components, in reverse order. It is safe to call more than once.
func (s *Story) Close() error {
	s.mu.Lock()
	cs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		if err := cs[i].fn(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cs[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// Client is a client of the story's tend server with its admin token; nil
// before Run started tend.
func (s *Story) Client() *client.Client { return s.admin }

// Run plays the story and returns what tend recorded. An error says which
// step failed and why; a remediation that ended otherwise than the story
// says is an error too (see Verdict), returned with the Result.
func (s *Story) Run(ctx context.Context) (*Result, error) {
	s.start = time.Now()
	s.n.start = s.start
	res := &Result{}
	s.n.say("Keptn's tutorial from delivery to self-healing, played by tend on a Kubernetes cluster. It takes")
	s.n.say("about 4 to 5 minutes: carts %s through staging (a %s test, then the quality gate) to production,", GoodVersion, duration(LoadTestDuration))
	s.n.say("carts %s, whose gate fails and which is rolled back, then a %s baseline under load, the release", SlowVersion, duration(BaselineWindow))
	s.n.say("of EnablePromotion, ~%s until the alert fires, and two remediation actions, each verified %s after it ran.", duration(expectedAlert()), duration(Settling))

	if err := s.startTend(ctx); err != nil {
		return res, err
	}
	res.TendURL = s.app.URL()
	if err := s.setUpProject(ctx); err != nil {
		return res, err
	}
	if err := s.startCarts(ctx); err != nil {
		return res, err
	}
	if err := s.configure(ctx); err != nil {
		return res, err
	}
	kctx, err := s.deliverGood(ctx)
	res.Deliveries = append(res.Deliveries, kctx)
	if err != nil {
		return res, err
	}
	loadStarted, err := s.startLoad(ctx)
	if err != nil {
		return res, err
	}
	kctx, err = s.deliverSlow(ctx)
	res.Deliveries = append(res.Deliveries, kctx)
	if err != nil {
		return res, err
	}
	if res.Baseline, err = s.baseline(ctx, loadStarted); err != nil {
		return res, err
	}
	if err := s.release(ctx); err != nil {
		return res, err
	}
	kctx, told, err := s.awaitProblem(ctx)
	if err != nil {
		return res, err
	}
	res.KeptnContext = kctx
	rem, err := s.followRemediation(ctx, kctx, told)
	if rem != nil {
		res.Remediation = *rem
	}
	res.Took = time.Since(s.start)
	if err != nil {
		return res, err
	}
	if err := Verdict(*rem); err != nil {
		s.n.say("%v", err)
		return res, err
	}
	s.n.step("The end")
	s.n.say("Remediation %s resolved the problem in %s: scaling up was not enough, switching %s off was.",
		short(rem.ID), roundSecond(rem.UpdatedAt.Sub(rem.CreatedAt)), Flag)
	s.n.say("The story took %s.", roundSecond(res.Took))
	return res, nil
}

// Verdict checks that a remediation ended as the tutorial tells it:
// resolved, after the scaling action (verified: fail) and the toggle
// (verified: pass). The error says what differs.
func Verdict(r apitypes.Remediation) error {
	var probs []string
	if r.State != "resolved" {
		probs = append(probs, fmt.Sprintf("it ended %s, not resolved (%s)", r.State, r.Reason))
	}
	want := []string{"scaling", "toggle-feature"}
	if len(r.Actions) < len(want) {
		probs = append(probs, fmt.Sprintf("it has %d actions, want %d (scaling, toggle-feature)", len(r.Actions), len(want)))
	} else {
		for i, w := range want {
			a := r.Actions[i]
			if a.Action != w || a.State != "finished" {
				probs = append(probs, fmt.Sprintf("action %d is %s in state %s, want %s finished%s", i+1, a.Action, a.State, w, errSuffix(a.Error)))
			}
		}
	}
	wantEval := []string{"fail", "pass"}
	if len(r.Evaluations) != len(wantEval) {
		probs = append(probs, fmt.Sprintf("%d verifications, want %d (fail after scaling, pass after the toggle)", len(r.Evaluations), len(wantEval)))
	} else {
		for i, w := range wantEval {
			if e := r.Evaluations[i]; e.Result != w || e.Action != i {
				probs = append(probs, fmt.Sprintf("verification %d of action %d is %q, want %q of action %d", i+1, e.Action+1, e.Result, w, i+1))
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: remediation %s: %s", ErrNotAsTold, r.ID, strings.Join(probs, "; "))
	}
	return nil
}

// ErrNotAsTold is matched by Verdict's errors: the remediation ran, but
// did not end as the tutorial tells it.
var ErrNotAsTold = errors.New("the story did not end as told")

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " (" + e + ")"
}

// expectedAlert estimates the time from the release to the problem: the
// p90 over the rule's window crosses 1000 ms once a tenth of its requests
// are slow, then the rule waits RuleFor, then Alertmanager and tend.
func expectedAlert() time.Duration {
	return RuleWindow/10 + RuleFor + 5*time.Second
}

// startTend runs a tend server in process on SQLite in the work directory.
func (s *Story) startTend(ctx context.Context) error {
	s.n.step("Start tend")
	cfg := config.Default()
	cfg.Remediation.Settling = Settling
	// Delivery and scaling act on the story's cluster, never on whatever
	// cluster ~/.kube/config names.
	cfg.Kubernetes.Kubeconfig = s.opts.Components.Kubeconfig
	dataDir := filepath.Join(s.opts.WorkDir, "tend-data")
	a, err := app.New(ctx, app.Options{
		Listen:  "127.0.0.1:0",
		DataDir: dataDir,
		Logger:  s.log.With("component", "tend"),
		Config:  &cfg,
	})
	if err != nil {
		return fmt.Errorf("start tend: %w", err)
	}
	a.Start()
	s.app = a
	s.onClose("stop tend", func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return a.Shutdown(sctx)
	})
	s.tokenFile = filepath.Join(dataDir, app.AdminTokenFile)
	s.admin, err = client.New(a.URL(), a.AdminToken())
	if err != nil {
		return fmt.Errorf("tend client: %w", err)
	}
	s.n.say("tend serves on %s (SQLite and Git in %s; settling time %s)", a.URL(), dataDir, duration(Settling))
	s.n.say("Its admin token is in %s. To look around from another terminal:", s.tokenFile)
	s.n.say("  export TEND_ENDPOINT=%s TEND_API_TOKEN=$(cat %s)", a.URL(), s.tokenFile)
	s.n.say("  export KUBECONFIG=%s; alias kubectl=%s", s.opts.Components.Kubeconfig, s.opts.Components.Kubectl)
	if ui := s.uiURL(ctx); ui != "" {
		s.n.say("Web UI: %s (log in with the admin token)", ui)
	}
	return nil
}

// uiURL is the web UI's address when tend serves one (its login page
// answers), else "".
func (s *Story) uiURL(ctx context.Context) string {
	u := s.app.URL() + "/login"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		return s.app.URL() + "/"
	}
	return ""
}

// tend runs one tend command, printing it (without the connection flags)
// and its output, and returns its stdout.
func (s *Story) tend(ctx context.Context, online bool, args ...string) (string, error) {
	s.n.command(args)
	full := args
	if online {
		full = append(append([]string{}, args...), "--endpoint", s.app.URL(), "--api-token", "file:"+s.tokenFile)
	}
	var out strings.Builder
	w := io.MultiWriter(&out, s.n.indented())
	code := s.opts.CLI(ctx, full, strings.NewReader(""), w, s.n.indented())
	if code != 0 {
		return out.String(), fmt.Errorf("tend %s: exit status %d", strings.Join(args, " "), code)
	}
	return out.String(), nil
}

// tendQuiet runs a command whose output the story uses rather than shows.
func (s *Story) tendQuiet(ctx context.Context, online bool, args ...string) (string, error) {
	s.n.command(args)
	full := args
	if online {
		full = append(append([]string{}, args...), "--endpoint", s.app.URL(), "--api-token", "file:"+s.tokenFile)
	}
	var out, errOut strings.Builder
	if code := s.opts.CLI(ctx, full, strings.NewReader(""), &out, io.MultiWriter(&errOut, s.n.indented())); code != 0 {
		return out.String(), fmt.Errorf("tend %s: exit status %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// path is where the story wrote one of its files.
func (s *Story) path(name string) string { return filepath.Join(s.opts.WorkDir, "files", name) }

// setUpProject writes the tutorial's files and creates the project, the
// service and its resources.
func (s *Story) setUpProject(ctx context.Context) error {
	err := fs.WalkDir(files, "files", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		dst := s.path(strings.TrimPrefix(p, "files/"))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		return fmt.Errorf("write the tutorial's files: %w", err)
	}

	s.n.step("Create project %s and onboard service %s with its Helm chart", s.project, Service)
	s.n.say("Staging: blue/green deployment, a %s performance test, the SLO as quality gate, release; a failed", duration(LoadTestDuration))
	s.n.say("delivery is rolled back. Production: blue/green deployment and release; self-healing, settling %s.", duration(Settling))
	if _, err := s.tend(ctx, true, "create", "project", s.project, "--shipyard", s.path("shipyard.yaml")); err != nil {
		return err
	}
	if _, err := s.tend(ctx, true, "onboard", "service", Service, "--project", s.project, "--chart", s.path("carts")); err != nil {
		return err
	}
	s.watchEvents(ctx)

	s.n.step("Add the service's SLO and SLI (both stages) and its remediation (production)")
	for _, f := range []struct{ file, uri, stage string }{
		{"slo.yaml", "slo.yaml", StagingStage},
		{"prometheus/sli.yaml", "prometheus/sli.yaml", StagingStage},
		{"slo.yaml", "slo.yaml", Stage},
		{"prometheus/sli.yaml", "prometheus/sli.yaml", Stage},
		{"remediation.yaml", "remediation.yaml", Stage},
	} {
		if _, err := s.tend(ctx, true, "add-resource", "--project", s.project, "--stage", f.stage, "--service", Service,
			"--resource", s.path(f.file), "--resourceUri", f.uri); err != nil {
			return err
		}
	}
	s.n.say("slo.yaml: response_time_p90 passes at <=+10%% of the baseline and <1000 ms, warns at <=1200 ms.")
	s.n.say("remediation.yaml: for response_time_p90, scale up by one replica, then switch %s off.", Flag)
	return nil
}

// streamEvent is one event of the stream.
type streamEvent struct {
	id  string
	typ string
	raw []byte
}

// watchEvents follows the project's event stream until the story ends.
func (s *Story) watchEvents(ctx context.Context) {
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := s.admin.StreamEvents(sctx, s.project, "", func(id, typ string, data []byte) error {
			select {
			case s.events <- streamEvent{id: id, typ: typ, raw: append([]byte(nil), data...)}:
			default:
				s.log.Warn("event stream backlog full; dropping an event", "type", typ)
			}
			return nil
		})
		if err != nil && sctx.Err() == nil {
			s.log.Error("event stream ended", "err", err)
		}
	}()
	s.onClose("stop the event stream", func() error { cancel(); <-done; return nil })
}
