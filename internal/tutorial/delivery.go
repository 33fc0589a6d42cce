package tutorial

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tendhq/tend/internal/demo"
)

// deliverGood delivers GoodVersion through staging to production and
// shows the production Deployments, as Keptn's tutorial does. It returns
// the delivery's keptn context.
func (s *Story) deliverGood(ctx context.Context) (string, error) {
	s.n.step("Deliver carts %s: staging (test, quality gate), then production", GoodVersion)
	kctx, err := s.newArtifact(ctx, GoodVersion)
	if err != nil {
		return kctx, err
	}
	final := sequenceType(Stage, "delivery", "finished")
	evs, err := s.followSequence(ctx, kctx, func(typ string, d eventData) bool { return typ == final })
	if err != nil {
		return kctx, err
	}
	for _, want := range []string{sequenceType(StagingStage, "delivery", "finished"), final} {
		if d, ok := evs[want]; !ok || d.Result == "fail" || d.Status == "errored" {
			return kctx, fmt.Errorf("the delivery of %s did not pass: %s ended %s/%s (%s)", GoodVersion, strings.TrimPrefix(want, "sh.keptn.event."), d.Status, d.Result, d.Message)
		}
	}
	if err := s.awaitServing(ctx, Stage, GoodVersion); err != nil {
		return kctx, err
	}
	s.n.step("What runs in production")
	if err := s.showDeployments(ctx, Stage); err != nil {
		return kctx, err
	}
	s.n.say("As in Keptn's tutorial: carts scaled to 0 (the canary), carts-primary serving %s:%s.", Image, GoodVersion)
	if _, err := s.tend(ctx, true, "get", "services", "--project", s.project); err != nil {
		return kctx, err
	}
	return kctx, nil
}

// deliverSlow delivers SlowVersion: staging's quality gate fails, the
// rollback sequence puts traffic back on the primary, and production is
// never asked. It returns the delivery's keptn context.
func (s *Story) deliverSlow(ctx context.Context) (string, error) {
	s.n.step("Deliver carts %s, the slow build: staging's quality gate fails", SlowVersion)
	kctx, err := s.newArtifact(ctx, SlowVersion)
	if err != nil {
		return kctx, err
	}
	rolledBack := sequenceType(StagingStage, "rollback", "finished")
	passed := sequenceType(Stage, "delivery", "triggered")
	evs, err := s.followSequence(ctx, kctx, func(typ string, d eventData) bool {
		return typ == rolledBack || typ == passed || (typ == sequenceType(StagingStage, "delivery", "finished") && d.Result != "fail")
	})
	if err != nil {
		return kctx, err
	}
	if _, ok := evs[rolledBack]; !ok {
		d := evs[sequenceType(StagingStage, "delivery", "finished")]
		return kctx, fmt.Errorf("%w: the delivery of %s was not rolled back: staging's delivery ended %s/%s (%s)", ErrNotAsTold, SlowVersion, d.Status, d.Result, d.Message)
	}
	if err := s.awaitServing(ctx, StagingStage, GoodVersion); err != nil {
		return kctx, err
	}
	s.n.step("What runs after the rollback")
	for _, stage := range Stages {
		if err := s.showDeployments(ctx, stage); err != nil {
			return kctx, err
		}
	}
	s.n.say("Staging serves %s again from carts-primary; production was never asked and keeps %s.", GoodVersion, GoodVersion)
	if _, err := s.tend(ctx, true, "get", "services", "--project", s.project); err != nil {
		return kctx, err
	}
	return kctx, nil
}

// newArtifact starts a delivery with Keptn 0.6's verb and returns its
// keptn context.
func (s *Story) newArtifact(ctx context.Context, tag string) (string, error) {
	out, err := s.tend(ctx, true, "send", "event", "new-artifact", "--project", s.project, "--service", Service, "--image", Image, "--tag", tag)
	if err != nil {
		return "", err
	}
	const prefix = "ID of Keptn context: "
	i := strings.Index(out, prefix)
	if i < 0 {
		return "", fmt.Errorf("tend send event new-artifact printed no keptn context: %q", out)
	}
	return strings.Fields(out[i+len(prefix):])[0], nil
}

// followSequence narrates the events of a delivery's keptn context as tend
// records them until done says the story has seen enough, and returns the
// data of the last event of each type.
func (s *Story) followSequence(ctx context.Context, kctx string, done func(typ string, d eventData) bool) (map[string]eventData, error) {
	deadline := time.NewTimer(deliveryLimit)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Second)
	defer poll.Stop()
	seen := map[string]bool{}
	got := map[string]eventData{}
	for {
		var batch []streamEvent
		select {
		case <-ctx.Done():
			return got, ctx.Err()
		case <-deadline.C:
			return got, fmt.Errorf("the delivery in keptn context %s did not end within %s; %s", kctx, deliveryLimit, s.diagnoseDelivery(context.WithoutCancel(ctx), kctx))
		case ev := <-s.events:
			batch = []streamEvent{ev}
		case <-poll.C:
			// The stream is the fast path; the log is the truth.
			evs, err := s.contextEvents(ctx, kctx)
			if err != nil {
				s.log.Warn("read the delivery's events", "err", err)
				continue
			}
			batch = evs
		}
		for _, ev := range batch {
			e := decode(ev.raw)
			if e.KeptnContext != kctx || seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			got[ev.typ] = e.Data
			for _, line := range deliveryLine(ev.typ, e.Data) {
				s.n.say("%s", line)
			}
			switch strings.TrimPrefix(ev.typ, "sh.keptn.event.") {
			case "deployment.finished", "release.finished", "rollback.finished":
				s.tellServing(ctx, e.Data)
			}
			if done(ev.typ, e.Data) {
				return got, nil
			}
		}
	}
}

// tellServing says what carts of the event's stage now plays, once it
// serves the image the event names (or after a few seconds, what it does).
func (s *Story) tellServing(ctx context.Context, d eventData) {
	u, ok := s.carts[d.Stage]
	if !ok || d.Deployment == nil || d.Deployment.Image == "" {
		return
	}
	want := demo.ImageTag(d.Deployment.Image)
	var r demo.Release
	_ = waitUntil(ctx, 10*time.Second, func() (bool, string) {
		var err error
		r, err = cartsRelease(ctx, u)
		if err != nil {
			return false, err.Error()
		}
		return r.Version == want && r.Serves(), r.String()
	}, "carts of "+d.Stage+" to serve "+want)
	slow := ""
	if demo.ImageTag(r.Image) == SlowVersion {
		slow = " (the slow build)"
	}
	s.n.say("  carts of %s now plays %s%s: Deployment %s, %d ready replica(s)", d.Stage, orDash(r.Version), slow, strings.Join(r.Deployments, "+"), r.Ready)
}

// tellCapacity says how many ready replicas carts of production plays
// once the scaling's new replica is ready (or after a few seconds, what
// it plays).
func (s *Story) tellCapacity(ctx context.Context) {
	var r demo.Release
	_ = waitUntil(ctx, 10*time.Second, func() (bool, string) {
		var err error
		r, err = cartsRelease(ctx, s.carts[Stage])
		if err != nil {
			return false, err.Error()
		}
		return r.Ready > 1, r.String()
	}, "carts of "+Stage+" to see the new replica")
	s.n.say("  carts of %s now plays %d ready replica(s) of %s: more capacity, the same promotion cost per request", Stage, r.Ready, strings.Join(r.Deployments, "+"))
}

// awaitServing waits until carts of stage serves version from the
// primary alone, the state a release or rollback leaves.
func (s *Story) awaitServing(ctx context.Context, stage, version string) error {
	return waitUntil(ctx, time.Minute, func() (bool, string) {
		r, err := cartsRelease(ctx, s.carts[stage])
		if err != nil {
			return false, err.Error()
		}
		return r.Version == version && r.Ready > 0 && strings.Join(r.Deployments, ",") == Service+"-primary", r.String()
	}, fmt.Sprintf("carts of %s to serve %s from %s-primary", stage, version, Service))
}

// cartsRelease asks a carts process what it plays.
func cartsRelease(ctx context.Context, base string) (demo.Release, error) {
	status, body, err := call(ctx, "GET", base+"/release", nil, "")
	if err != nil {
		return demo.Release{}, err
	}
	var r demo.Release
	if status != 200 {
		return r, fmt.Errorf("GET /release: status %d: %s", status, bytes.TrimSpace(body))
	}
	return r, json.Unmarshal(body, &r)
}

// showDeployments prints `kubectl get deployments -o wide` of a stage's
// namespace, once every Deployment there has settled (ready as wanted).
func (s *Story) showDeployments(ctx context.Context, stage string) error {
	ns := s.namespace(stage)
	_ = waitUntil(ctx, time.Minute, func() (bool, string) {
		l, err := s.kube.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, d := range l.Items {
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			if d.Status.ReadyReplicas != want || d.Status.Replicas != want || d.Status.ObservedGeneration < d.Generation {
				return false, fmt.Sprintf("deployment %s: %d/%d ready", d.Name, d.Status.ReadyReplicas, want)
			}
		}
		return true, ""
	}, "the Deployments in "+ns+" to settle")
	args := []string{"get", "deployments", "-n", ns, "-o", "wide"}
	s.n.command(append([]string{"kubectl"}, args...))
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, s.opts.Components.Kubectl, append([]string{"--kubeconfig", s.opts.Components.Kubeconfig}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	_, _ = s.n.indented().Write(out.Bytes())
	if err != nil {
		return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// diagnoseDelivery says where a delivery stands, for one that got stuck.
func (s *Story) diagnoseDelivery(ctx context.Context, kctx string) string {
	var parts []string
	evs, err := s.contextEvents(ctx, kctx)
	if err != nil {
		parts = append(parts, fmt.Sprintf("its events: %v", err))
	} else if len(evs) > 0 {
		last := evs[len(evs)-1]
		parts = append(parts, fmt.Sprintf("%d events, the last %s (%s)", len(evs), last.typ, decode(last.raw).Data.Message))
	}
	for _, stage := range Stages {
		if r, err := cartsRelease(ctx, s.carts[stage]); err == nil {
			parts = append(parts, fmt.Sprintf("carts of %s plays %s", stage, r.String()))
		}
	}
	return strings.Join(parts, "; ")
}

// sequenceType is the type of a stage's sequence event.
func sequenceType(stage, sequence, phase string) string {
	return "sh.keptn.event." + stage + "." + sequence + "." + phase
}

// deliveryLine returns the story's lines for one event of a delivery
// (none for events that add nothing to the story).
func deliveryLine(typ string, d eventData) []string {
	name := strings.TrimPrefix(typ, "sh.keptn.event.")
	parts := strings.Split(name, ".")
	phase := parts[len(parts)-1]
	stage := d.Stage
	outcome := d.Result
	if d.Status != "" && d.Status != "succeeded" {
		outcome = d.Status + "/" + d.Result
	}
	switch {
	case len(parts) == 3 && phase == "triggered": // <stage>.<sequence>.triggered
		return []string{fmt.Sprintf("%s: sequence %s starts", parts[0], parts[1])}
	case len(parts) == 3 && phase == "finished":
		return []string{strings.TrimSpace(fmt.Sprintf("%s: sequence %s finished: %s %s", parts[0], parts[1], outcome, d.Message))}
	case len(parts) != 2 || phase != "finished":
		return nil
	}
	task := parts[0]
	switch task {
	case "deployment":
		if dep := d.Deployment; dep != nil {
			return []string{fmt.Sprintf("%s: deployment (%s) finished %s: %s serves %s", stage, dep.Strategy, outcome, strings.Join(dep.Names, ","), dep.Image)}
		}
	case "test":
		if t := d.Test; t != nil {
			return []string{fmt.Sprintf("%s: test (%s) finished %s: %d requests to %s, %d failed, p90 %.0f ms as the tester saw it, %s to %s",
				stage, t.Strategy, outcome, t.Requests, t.URL, t.Failures, t.LatencyP90Ms, clock(t.Start), clock(t.End))}
		}
	case "evaluation":
		return []string{fmt.Sprintf("%s: quality gate: %s", stage, evaluationText(d))}
	case "release", "rollback":
		if dep := d.Deployment; dep != nil {
			return []string{fmt.Sprintf("%s: %s finished %s: traffic on %s, serving %s", stage, task, outcome, strings.Join(dep.Names, ","), dep.Image)}
		}
	default:
		return nil
	}
	return []string{fmt.Sprintf("%s: %s finished %s %s", stage, task, outcome, d.Message)}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
