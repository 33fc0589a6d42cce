package tutorial

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/demo"
)

// startCarts makes sure the flag exists (off), runs one carts process per
// stage, each playing what the cluster runs in its namespace, and has
// Prometheus scrape each as its stage's job.
func (s *Story) startCarts(ctx context.Context) error {
	c := s.opts.Components
	s.n.step("Run carts in each stage")
	un := &unleash{url: c.UnleashURL, token: c.UnleashAdminToken}
	created, err := un.ensureFlag(ctx, UnleashProject, Flag, UnleashEnvironment)
	if err != nil {
		return err
	}
	if created {
		s.n.say("Unleash: created feature flag %s, off in environment %s", Flag, UnleashEnvironment)
	} else {
		s.n.say("Unleash: feature flag %s is off in environment %s", Flag, UnleashEnvironment)
	}
	clientToken := c.UnleashClientToken
	if clientToken == "" {
		if clientToken, err = un.clientToken(ctx, "carts-"+orDefault(s.opts.Unique, "demo"), UnleashEnvironment); err != nil {
			return err
		}
	}
	s.n.say("The cluster's Pods run nothing, so a carts process per stage plays what Kubernetes runs there: the")
	s.n.say("version (image tag) of the Deployment that Service carts selects, its ready replicas as capacity.")
	s.n.say("%s is the slow build: every request takes %s more.", SlowVersion, duration(demo.DefaultSlowLatency))
	for _, stage := range Stages {
		ns := s.namespace(stage)
		cfg := demo.CartsConfig{
			Listen:          "127.0.0.1:0",
			Model:           demo.DefaultModel(),
			TimeScale:       1,
			LoadWindow:      10 * time.Second,
			Replicas:        1,
			UnleashURL:      c.UnleashURL,
			UnleashToken:    clientToken,
			UnleashAppName:  "carts",
			UnleashFlag:     Flag,
			UnleashInterval: UnleashInterval,
			Kubeconfig:      c.Kubeconfig,
			Namespace:       ns,
			Service:         Service,
			SlowVersions:    demo.DefaultSlowVersions,
			SlowLatency:     demo.DefaultSlowLatency,
		}
		listening := make(chan string, 1)
		cfg.OnListen = func(u string) { listening <- u }
		cctx, stopCarts := context.WithCancel(context.WithoutCancel(ctx))
		cartsDone := make(chan error, 1)
		go func() { cartsDone <- demo.RunCarts(cctx, cfg, s.opts.Log, s.opts.Log) }()
		s.onClose("stop carts of "+stage, func() error {
			stopCarts()
			if err := <-cartsDone; err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		})
		var u string
		select {
		case u = <-listening:
		case err := <-cartsDone:
			cartsDone <- err
			return fmt.Errorf("carts of %s did not start: %w", stage, err)
		case <-ctx.Done():
			return ctx.Err()
		}
		s.carts[stage] = u
		addr := strings.TrimPrefix(u, "http://")
		job := s.job(stage)
		name, err := writeSD(c.PrometheusTargetsDir, "tend-demo-carts-"+stage+"-"+orDefault(s.opts.Unique, "demo"), []sdGroup{{Targets: []string{addr}, Labels: map[string]string{"job": job}}})
		if err != nil {
			return fmt.Errorf("announce carts of %s to Prometheus: %w", stage, err)
		}
		s.onClose("remove the Prometheus target of "+stage, func() error { return removeIfExists(name) })
		if err := waitTargetUp(ctx, c.PrometheusURL, job, addr); err != nil {
			return err
		}
		s.n.say("carts of %s serves on %s, following Service %s in namespace %s; Prometheus scrapes it as job %s", stage, u, Service, ns, job)
	}
	s.n.say("Nothing is deployed yet, so both answer 503. %s comes from Unleash every %s.", Flag, UnleashInterval)
	return nil
}

// startLoad sends production's carts its steady load and returns when
// it started.
func (s *Story) startLoad(ctx context.Context) (time.Time, error) {
	target := s.carts[Stage]
	lctx, stopLoad := context.WithCancel(context.WithoutCancel(ctx))
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		if _, err := demo.RunLoad(lctx, demo.LoadConfig{Target: target, Rate: LoadRate, Concurrency: 64, Customers: 50, Progress: 10 * time.Second}, s.opts.Log); err != nil && lctx.Err() == nil {
			s.log.Error("load generator stopped", "err", err)
		}
	}()
	s.onClose("stop the load", func() error { stopLoad(); <-loadDone; return nil })
	s.n.say("load on carts in %s: %g requests/s (1.5 times what one replica serves at full speed), from now on", Stage, LoadRate)
	return time.Now(), nil
}

// namespace is where a stage's carts runs.
func (s *Story) namespace(stage string) string { return s.project + "-" + stage }

// job is the Prometheus job label of a stage's carts, the one tend's SLIs
// filter on ($SERVICE-$PROJECT-$STAGE).
func (s *Story) job(stage string) string { return Service + "-" + s.project + "-" + stage }

// configure sets up monitoring (provider, alert rules), the Alertmanager
// route, and where the actions act.
func (s *Story) configure(ctx context.Context) error {
	c := s.opts.Components
	s.n.step("Configure monitoring, alerting and the actions' targets")
	s.n.say("The alert rule watches the p90 over the last %s and fires after %s above 1000 ms.", duration(RuleWindow), duration(RuleFor))
	if err := os.MkdirAll(filepath.Dir(s.rulesFile), 0o755); err != nil {
		return err
	}
	// An alert of an earlier run that still fires in a shared
	// Alertmanager would reach this tend as soon as its route is in, and
	// open a problem before the release. Resolve such leftovers now, and
	// this run's alert once its rules are gone (cleanups run in reverse).
	if n, err := resolveAlerts(ctx, c.AlertmanagerURL, s.project); err != nil {
		return fmt.Errorf("resolve earlier alerts of project %s in Alertmanager: %w", s.project, err)
	} else if n > 0 {
		s.log.Info("resolved alerts of an earlier run in Alertmanager", "alerts", n)
	}
	s.onClose("resolve the story's alert in Alertmanager", func() error {
		_, err := resolveAlerts(context.Background(), c.AlertmanagerURL, s.project)
		return err
	})
	if _, err := s.tend(ctx, true, "configure", "monitoring", "prometheus", "--project", s.project, "--service", Service,
		"--url", c.PrometheusURL, "--rules-file", s.rulesFile, "--reload-url", c.PrometheusURL,
		"--window", duration(RuleWindow), "--for", duration(RuleFor)); err != nil {
		return err
	}
	s.onClose("remove the alert rules", func() error {
		if err := removeIfExists(s.rulesFile); err != nil {
			return err
		}
		return postReload(context.Background(), c.PrometheusURL)
	})

	out, err := s.tendQuiet(ctx, true, "create", "token", "alertmanager-"+orDefault(s.opts.Unique, s.project), "--scope", "intake", "--project", s.project, "-o", "json")
	if err != nil {
		return err
	}
	var tok apitypes.CreatedToken
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" {
		return fmt.Errorf("read the intake token: %v", err)
	}
	tokenFile := filepath.Join(s.opts.WorkDir, "intake-token")
	if err := os.WriteFile(tokenFile, []byte(tok.Token+"\n"), 0o600); err != nil {
		return err
	}
	s.n.indent("(the intake token went to %s)", tokenFile)
	if err := s.mergeAlertmanager(ctx, true); err != nil {
		return err
	}
	s.onClose("remove tend's route from Alertmanager", func() error {
		s.amMu.Lock()
		defer s.amMu.Unlock()
		if err := unmergeAlertmanagerFile(c.AlertmanagerConfig, s.receiver); err != nil {
			return err
		}
		return postReload(context.Background(), c.AlertmanagerURL)
	})
	// After the last Prometheus reload, which rebuilds its notifier.
	amHost := hostOf(c.AlertmanagerURL)
	name, err := writeSD(c.PrometheusAlertmanagersDir, "tend-demo-alertmanager-"+orDefault(s.opts.Unique, "demo"), []sdGroup{{Targets: []string{amHost}}})
	if err != nil {
		return fmt.Errorf("point Prometheus at Alertmanager: %w", err)
	}
	s.onClose("remove the Prometheus alertmanager entry", func() error { return removeIfExists(name) })
	if err := waitAlertmanagerActive(ctx, c.PrometheusURL, amHost); err != nil {
		return err
	}
	s.n.say("Prometheus sends its alerts to Alertmanager at %s", c.AlertmanagerURL)

	unleashToken := filepath.Join(s.opts.WorkDir, "unleash-admin-token")
	if err := os.WriteFile(unleashToken, []byte(c.UnleashAdminToken+"\n"), 0o600); err != nil {
		return err
	}
	if _, err := s.tend(ctx, true, "configure", "unleash", "--project", s.project, "--stage", Stage,
		"--url", c.UnleashURL, "--token", "file:"+unleashToken, "--environment", UnleashEnvironment); err != nil {
		return err
	}
	// The Pods run nothing, so staging's test requests carts of staging,
	// which plays what the Deployment runs, instead of the Service's
	// cluster address the deployment reports.
	if _, err := s.tend(ctx, true, "configure", "tests", "--project", s.project, "--stage", StagingStage, "--service", Service,
		"--url", s.carts[StagingStage], "--paths", "/carts/1/items,/carts/2", "--rate", fmt.Sprint(LoadTestRate), "--duration", duration(LoadTestDuration)); err != nil {
		return err
	}
	s.n.say("Scaling needs no setting: tend scales Deployment %s-primary in namespace %s by default.", Service, s.namespace(Stage))
	_, err = s.tend(ctx, true, "get", "config", "--project", s.project)
	return err
}

// mergeAlertmanager merges tend's route and receiver into the
// Alertmanager's configuration with `tend generate alertmanager-config
// --merge` and reloads it. show prints the command.
func (s *Story) mergeAlertmanager(ctx context.Context, show bool) error {
	c := s.opts.Components
	s.amMu.Lock()
	defer s.amMu.Unlock()
	args := []string{"generate", "alertmanager-config", "--project", s.project, "--intake-url", s.app.URL(),
		"--intake-token", "file:" + filepath.Join(s.opts.WorkDir, "intake-token"), "--merge", c.AlertmanagerConfig}
	if s.receiver != "tend" {
		args = append(args, "--receiver-name", s.receiver)
	}
	var merged string
	var err error
	if show {
		merged, err = s.tendQuiet(ctx, false, args...)
	} else {
		merged, err = s.quiet(ctx, args...)
	}
	if err != nil {
		return err
	}
	if err := replaceFile(c.AlertmanagerConfig, []byte(merged)); err != nil {
		return fmt.Errorf("write the Alertmanager configuration: %w", err)
	}
	if show {
		s.n.indent("(written to %s; then POST %s/-/reload)", c.AlertmanagerConfig, c.AlertmanagerURL)
	}
	return postReload(ctx, c.AlertmanagerURL)
}

// quiet runs a command without narrating it.
func (s *Story) quiet(ctx context.Context, args ...string) (string, error) {
	var out, errOut strings.Builder
	if code := s.opts.CLI(ctx, args, strings.NewReader(""), &out, &errOut); code != 0 {
		return "", fmt.Errorf("tend %s: exit status %d: %s", strings.Join(args, " "), code, strings.TrimSpace(errOut.String()))
	}
	return out.String(), nil
}

// keepRoute puts tend's route back when someone else rewrote the
// Alertmanager's configuration (a shared test Alertmanager).
func (s *Story) keepRoute(ctx context.Context) {
	data, err := os.ReadFile(s.opts.Components.AlertmanagerConfig)
	if err != nil || strings.Contains(string(data), "name: "+s.receiver+"\n") {
		return
	}
	s.log.Warn("tend's route is gone from the Alertmanager configuration; merging it again", "file", s.opts.Components.AlertmanagerConfig)
	if err := s.mergeAlertmanager(ctx, false); err != nil {
		s.log.Error("merge tend's route again", "err", err)
	}
}

// baseline waits until the load has run Warmup plus BaselineWindow and
// records a passing evaluation over the window.
func (s *Story) baseline(ctx context.Context, loadStarted time.Time) (string, error) {
	s.n.step("Record a baseline: evaluate the SLO while carts is healthy")
	if wait := time.Until(loadStarted.Add(Warmup + BaselineWindow)); wait > 0 {
		s.n.say("Waiting %s, until carts has been under load for %s (warm-up %s, then the %s window)...", duration(wait), duration(Warmup+BaselineWindow), duration(Warmup), duration(BaselineWindow))
		if err := sleep(ctx, wait); err != nil {
			return "", err
		}
	}
	out, err := s.tend(ctx, true, "trigger", "evaluation", "--project", s.project, "--stage", Stage, "--service", Service,
		"--timeframe", duration(BaselineWindow), "--watch", "--watch-timeout", "2m")
	kctx := ""
	if i := strings.Index(out, "ID of Keptn context: "); i >= 0 {
		kctx = strings.Fields(out[i+len("ID of Keptn context: "):])[0]
	}
	if err != nil {
		return kctx, fmt.Errorf("the baseline evaluation did not pass, so the story cannot go on (%w); is carts overloaded? See the log", err)
	}
	return kctx, nil
}

// release switches the promotion on, as a release would.
func (s *Story) release(ctx context.Context) error {
	c := s.opts.Components
	s.n.step("Release: switch %s on", Flag)
	s.n.command([]string{"curl", "-X", "POST", "-H", "Authorization: $UNLEASH_ADMIN_TOKEN",
		c.UnleashURL + "/api/admin/projects/" + UnleashProject + "/features/" + Flag + "/environments/" + UnleashEnvironment + "/on"})
	un := &unleash{url: c.UnleashURL, token: c.UnleashAdminToken}
	if err := un.switchFlag(ctx, UnleashProject, Flag, UnleashEnvironment, true); err != nil {
		return err
	}
	s.n.say("The promotion adds about a second to every carts request: p90 goes from ~700 ms to ~1950 ms.")
	s.n.say("Expect the alert in about %s: the p90 over %s must cross 1000 ms, then stay there %s.", duration(expectedAlert()), duration(RuleWindow), duration(RuleFor))
	return nil
}

// awaitProblem waits for tend to open a problem and start remediating it,
// and returns the keptn context and the id of the event it told. While it
// waits it shows carts's p90.
func (s *Story) awaitProblem(ctx context.Context) (string, string, error) {
	s.n.step("The alert fires")
	deadline := time.NewTimer(alertLimit)
	defer deadline.Stop()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", "", ctx.Err()
		case <-deadline.C:
			return "", "", fmt.Errorf("no problem opened within %s of the release; %s", alertLimit, s.diagnose(context.WithoutCancel(ctx)))
		case <-tick.C:
			s.keepRoute(ctx)
			if v, err := promQuery(ctx, s.opts.Components.PrometheusURL, p90Query(s.job(Stage), "30s")); err == nil {
				s.n.say("carts p90 over the last 30s: %.0f ms (Prometheus)", v)
			}
		case ev := <-s.events:
			if ev.typ != remediationType("triggered") {
				continue
			}
			line, kctx := s.n.tell.problemOpened(ev.raw)
			s.n.say("%s", line)
			return kctx, decode(ev.raw).ID, nil
		}
	}
}

// followRemediation narrates the remediation's events until it ends and
// returns it as tend recorded it.
func (s *Story) followRemediation(ctx context.Context, kctx, told string) (*apitypes.Remediation, error) {
	s.n.step("tend remediates")
	s.n.say("Each action: tend applies it, waits %s (settling), then verifies it with an evaluation over that window; about %s for both.", duration(Settling), duration(2*Settling+10*time.Second))
	deadline := time.NewTimer(remediationLimit)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Second)
	defer poll.Stop()
	seen := map[string]bool{told: true}
	for {
		var batch []streamEvent
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			return nil, fmt.Errorf("the remediation in keptn context %s did not end within %s; %s", kctx, remediationLimit, s.diagnose(context.WithoutCancel(ctx)))
		case ev := <-s.events:
			batch = []streamEvent{ev}
		case <-poll.C:
			// The stream is the fast path; the log is the truth, should
			// the stream have dropped an event.
			s.keepRoute(ctx)
			evs, err := s.contextEvents(ctx, kctx)
			if err != nil {
				s.log.Warn("read the remediation's events", "err", err)
				continue
			}
			batch = evs
		}
		for _, ev := range batch {
			var head struct {
				ID           string `json:"id"`
				KeptnContext string `json:"shkeptncontext"`
			}
			if json.Unmarshal(ev.raw, &head) != nil || head.KeptnContext != kctx || seen[head.ID] {
				continue
			}
			seen[head.ID] = true
			var changes []apitypes.ActionChange
			if ev.typ == "sh.keptn.event.action.finished" {
				changes = s.actionChanges(ctx, kctx, s.n.tell.action-1)
			}
			for i, line := range s.n.tell.line(ev.typ, ev.raw, changes) {
				s.n.say("%s", line)
				if i == 0 && ev.typ == "sh.keptn.event.action.finished" && s.n.tell.kind == "scaling" {
					s.tellCapacity(ctx)
				}
			}
			if ev.typ == remediationType("finished") {
				return s.finalRemediation(ctx, kctx)
			}
		}
	}
}

// actionChanges returns what tend recorded action i (0-based) of the
// remediation in kctx changed; nil when it cannot tell.
func (s *Story) actionChanges(ctx context.Context, kctx string, i int) []apitypes.ActionChange {
	r, err := s.remediation(ctx, kctx)
	if err != nil || i < 0 || i >= len(r.Actions) {
		return nil
	}
	return r.Actions[i].Changes
}

// remediation returns the remediation in kctx.
func (s *Story) remediation(ctx context.Context, kctx string) (*apitypes.Remediation, error) {
	rems, err := s.admin.ListRemediations(ctx, client.ProblemFilter{Project: s.project, Stage: Stage, Service: Service})
	if err != nil {
		return nil, fmt.Errorf("read the remediation: %w", err)
	}
	for _, r := range rems {
		if r.KeptnContext == kctx {
			return &r, nil
		}
	}
	return nil, fmt.Errorf("no remediation in keptn context %s", kctx)
}

// contextEvents lists the events of a keptn context, oldest first.
func (s *Story) contextEvents(ctx context.Context, kctx string) ([]streamEvent, error) {
	evs, err := ContextEvents(ctx, s.admin, s.project, kctx)
	if err != nil {
		return nil, err
	}
	out := make([]streamEvent, 0, len(evs))
	for _, e := range evs {
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(e, &head)
		out = append(out, streamEvent{typ: head.Type, raw: e})
	}
	return out, nil
}

// ContextEvents returns the events of a keptn context from tend's event
// log, oldest first.
func ContextEvents(ctx context.Context, c *client.Client, project, kctx string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for e, err := range c.Events(ctx, client.EventFilter{Project: project, KeptnContext: kctx, PageSize: 500}) {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// finalRemediation reads the remediation of kctx and shows it.
func (s *Story) finalRemediation(ctx context.Context, kctx string) (*apitypes.Remediation, error) {
	r, err := s.remediation(ctx, kctx)
	if err != nil {
		return nil, err
	}
	s.n.step("What tend recorded")
	if _, err := s.tend(ctx, true, "get", "remediation", r.ID); err != nil {
		s.log.Warn("show the remediation", "err", err)
	}
	return r, nil
}

// diagnose says what the components report, for a story that got stuck.
func (s *Story) diagnose(ctx context.Context) string {
	c := s.opts.Components
	var parts []string
	if v, err := promQuery(ctx, c.PrometheusURL, p90Query(s.job(Stage), "30s")); err == nil {
		parts = append(parts, fmt.Sprintf("carts p90 over 30s is %.0f ms", v))
	} else {
		parts = append(parts, fmt.Sprintf("carts p90: %v", err))
	}
	if st, err := ruleState(ctx, c.PrometheusURL, "tend-"+s.project+"-"+Stage+"-"+Service, "response_time_p90"); err == nil {
		parts = append(parts, "alert rule: "+st)
	} else {
		parts = append(parts, fmt.Sprintf("alert rule: %v", err))
	}
	if ps, err := s.admin.ListProblems(ctx, client.ProblemFilter{Project: s.project}); err == nil {
		var ss []string
		for _, p := range ps {
			ss = append(ss, fmt.Sprintf("%s %s %s (remediation %s %s)", short(p.ID), p.State, p.Title, short(p.RemediationID), p.RemediationState))
		}
		parts = append(parts, fmt.Sprintf("tend's problems: [%s]", strings.Join(ss, ", ")))
	}
	if rs, err := s.admin.ListRemediations(ctx, client.ProblemFilter{Project: s.project}); err == nil {
		for _, r := range rs {
			parts = append(parts, fmt.Sprintf("remediation %s: %s %s", short(r.ID), r.State, r.Reason))
		}
	}
	return strings.Join(parts, "; ")
}

func p90Query(job, window string) string {
	return fmt.Sprintf("histogram_quantile(0.9, sum by(le) (rate(http_response_time_milliseconds_bucket{job='%s'}[%s])))", job, window)
}

func remediationType(phase string) string {
	return "sh.keptn.event." + Stage + ".remediation." + phase
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Host
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func roundSecond(d time.Duration) time.Duration { return d.Round(time.Second) }

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
