package remediation

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/spec"
)

func TestLimits(t *testing.T) {
	l := DefaultLimits()
	if l.MaxReplicas != 10 || l.Cooldown != 15*time.Minute || l.MaxActionsPerHour != 6 || l.DryRun {
		t.Fatalf("defaults %+v", l)
	}
	hour := func(n int, last time.Time) []time.Time {
		var ts []time.Time
		for i := range n {
			ts = append(ts, last.Add(-time.Duration(i)*time.Minute))
		}
		return ts
	}
	tests := []struct {
		name   string
		limits Limits
		h      History
		start  bool
		act    bool
		reason string
	}{
		{"no history", l, History{}, true, true, ""},
		{"previous remediation ended 14m ago", l, History{LastFinished: at(-14)}, false, true, "next may start at 2024-05-06T07:01:00Z"},
		{"previous remediation ended exactly 15m ago", l, History{LastFinished: at(-15)}, true, true, ""},
		{"five actions this hour", l, History{Actions: hour(5, at(-1))}, true, true, ""},
		{"six actions this hour", l, History{Actions: hour(6, at(-1))}, true, false, "at most 6 actions per hour per service: 6 ran"},
		{"six actions, the oldest an hour ago", l, History{Actions: append(hour(5, at(-1)), at(-60))}, true, true, ""},
		{"actions in the future are not counted", l, History{Actions: hour(6, at(10))}, true, true, ""},
		{"zero limits limit nothing", Limits{}, History{LastFinished: at(-1), Actions: hour(100, at(-1))}, true, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, why1 := tt.limits.MayStart(tt.h, at(0))
			act, why2 := tt.limits.MayAct(tt.h, at(0))
			if start != tt.start || act != tt.act {
				t.Fatalf("MayStart %t (%s), MayAct %t (%s); want %t, %t", start, why1, act, why2, tt.start, tt.act)
			}
			if why := why1 + why2; !strings.Contains(why, tt.reason) || (tt.reason == "") != (why == "") {
				t.Errorf("reason %q, want %q", why, tt.reason)
			}
		})
	}
	if ok, _ := l.MayScaleTo(10); !ok {
		t.Error("10 replicas refused")
	}
	if ok, why := l.MayScaleTo(11); ok || !strings.Contains(why, "limit of 10") {
		t.Errorf("11 replicas: %t %q", ok, why)
	}
}

func TestAdmit(t *testing.T) {
	l := DefaultLimits()
	recent := History{LastFinished: at(-1)}
	tests := []struct {
		name   string
		h      History
		paused bool
		want   EventKind
	}{
		{"free to start", History{}, false, KindProblemOpened},
		{"paused wins over the cooldown", recent, true, KindPaused},
		{"cooldown", recent, false, KindLimitReached},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := Admit(l, tt.h, tt.paused, at(0))
			if ev.Kind() != tt.want {
				t.Fatalf("got %s, want %s", ev.Kind(), tt.want)
			}
			r := newTest(scaleUp)
			if _, err := r.Apply(ev, at(0)); err != nil {
				t.Errorf("the admitted event is illegal on a new remediation: %v", err)
			}
		})
	}
}

func TestActions(t *testing.T) {
	v014, _ := spec.DecodeRemediation("r.yaml", []byte(tutorialRemediation))
	legacy, _ := spec.DecodeRemediation("r.yaml", []byte("remediations:\n  - name: Response time\n    actions:\n      - action: scaling\n        value: \"+1\"\n"))
	tests := []struct {
		name             string
		rem              *spec.Remediation
		rootCause, title string
		want             string // actions joined, "" for none
		matched          string
		ok               bool
	}{
		{"title", v014, "", "response_time_p90", "scaling,toggle-feature", "response_time_p90", true},
		{"root cause first", v014, "response_time_p90", "something else", "scaling,toggle-feature", "response_time_p90", true},
		{"default entry", v014, "", "Failure rate increase", "escalate", "default", true},
		{"legacy prefix of the title", legacy, "", "Response time degradation", "scaling", "Response time", true},
		{"legacy without match", legacy, "", "CPU", "", "", false},
		{"no remediation file", nil, "", "CPU", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acts, matched, ok := Actions(tt.rem, tt.rootCause, tt.title)
			var names []string
			for _, a := range acts {
				names = append(names, a.Action)
			}
			if strings.Join(names, ",") != tt.want || matched != tt.matched || ok != tt.ok {
				t.Errorf("got %v %q %t, want %s %q %t", names, matched, ok, tt.want, tt.matched, tt.ok)
			}
		})
	}
	if got := SettlingTime(nil, 0); got != DefaultSettling {
		t.Errorf("SettlingTime(nil, 0) = %v", got)
	}
}

func TestDecide(t *testing.T) {
	open := testProblem("")
	open.OpenedAt = time.Time{}
	closed := open
	closed.State = ProblemStateClosed
	known := testProblem("p1")
	known.RemediationID = "r1"
	knownClosed := known
	knownClosed.State = ProblemStateClosed
	runningRem := inState(t, StateSettling)
	ended := inState(t, StateResolved)

	tests := []struct {
		name    string
		in      Problem
		known   *Problem
		running *Remediation
		want    Verdict
		remID   string
	}{
		{"new problem, nothing running", open, nil, nil, Start, ""},
		{"new problem, remediation running", open, nil, runningRem, Join, "r1"},
		{"new problem, remediation ended", open, nil, ended, Start, ""},
		{"duplicate of an open problem", open, &known, runningRem, Ignore, ""},
		{"late opening of a closed problem", open, &knownClosed, nil, Ignore, ""},
		{"close of an open problem with its remediation running", closed, &known, runningRem, Close, "r1"},
		{"close of an open problem whose remediation ended", closed, &known, ended, Close, ""},
		{"duplicate close", closed, &knownClosed, runningRem, Ignore, ""},
		{"close of a problem never seen", closed, nil, runningRem, RecordClosed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.in, tt.known, tt.running, at(30))
			if d.Verdict != tt.want || d.RemediationID != tt.remID {
				t.Fatalf("got %s (%q, %s), want %s (%q)", d.Verdict, d.RemediationID, d.Reason, tt.want, tt.remID)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
			switch d.Verdict {
			case Start, Join:
				if d.Problem.State != ProblemStateOpen || !d.Problem.OpenedAt.Equal(at(30)) {
					t.Errorf("problem %+v", d.Problem)
				}
			case Close, RecordClosed:
				if d.Problem.State != ProblemStateClosed || d.Problem.ClosedAt.IsZero() {
					t.Errorf("problem %+v", d.Problem)
				}
			}
		})
	}
}

// dedupeSim is a store in miniature: problems by key, remediations by id,
// the running remediation per service. Each notification is decided and
// recorded in one step, as the store's per-service transaction does.
type dedupeSim struct {
	tb       testing.TB
	problems map[string]*Problem
	rems     map[string]*Remediation
	running  map[string]string
	starts   map[string]int // problem key -> remediations started for it
	verdicts map[Verdict]int
}

func newSim(tb testing.TB) *dedupeSim {
	return &dedupeSim{tb: tb, problems: map[string]*Problem{}, rems: map[string]*Remediation{}, running: map[string]string{}, starts: map[string]int{}, verdicts: map[Verdict]int{}}
}

func (s *dedupeSim) deliver(in Problem, now time.Time) {
	s.tb.Helper()
	svc := in.Project + "/" + in.Stage + "/" + in.Service
	var running *Remediation
	if id, ok := s.running[svc]; ok {
		running = s.rems[id]
	}
	d := Decide(in, s.problems[in.Key], running, now)
	s.verdicts[d.Verdict]++
	p := d.Problem
	switch d.Verdict {
	case Ignore:
		return
	case Start:
		p.ID = fmt.Sprintf("p%d", len(s.problems)+1)
		r := New(fmt.Sprintf("r%d", len(s.rems)+1), p, []action.Request{scaleUp, toggle}, Settings{Settling: time.Minute}, now)
		p.RemediationID = r.ID
		s.mustApply(r, ProblemOpened{}, now)
		s.rems[r.ID], s.running[svc] = r, r.ID
		s.starts[p.Key]++
	case Join:
		p.ID = fmt.Sprintf("p%d", len(s.problems)+1)
		s.mustApply(s.rems[d.RemediationID], ProblemJoined{ProblemID: p.ID}, now)
	case Close:
		if d.RemediationID != "" {
			r := s.rems[d.RemediationID]
			s.mustApply(r, ProblemClosed{ProblemID: p.ID}, now)
			if r.State.Terminal() {
				delete(s.running, svc)
			}
		}
	case RecordClosed:
		p.ID = fmt.Sprintf("p%d", len(s.problems)+1)
	}
	s.problems[p.Key] = &p
}

func (s *dedupeSim) mustApply(r *Remediation, ev Event, now time.Time) {
	s.tb.Helper()
	if _, err := r.Apply(ev, now); err != nil {
		s.tb.Fatalf("apply %s to %s: %v", ev.Kind(), r.ID, err)
	}
}

// TestDedupeThousandsOfNotifications: six problems on three services, each
// notified 500 times opening (retries, HA peers) interleaved at random with
// 500 closing copies delivered after the problem's first close. Every
// problem gets exactly one problem record and is part of exactly one
// remediation; a service never runs two remediations at once.
func TestDedupeThousandsOfNotifications(t *testing.T) {
	const copies = 500
	services := []string{"carts", "orders", "payment"}
	var opens, closes []Problem
	for i := range 6 {
		p := Problem{
			Key: fmt.Sprintf("alertmanager/%016x/2024-05-06T07:00:00Z", i), Source: "alertmanager",
			Project: "sockshop", Stage: "production", Service: services[i%3],
			Title: "response_time_p90", State: ProblemStateOpen,
		}
		opens = append(opens, p)
		p.State = ProblemStateClosed
		closes = append(closes, p)
	}

	// Phase 1: every opening copy, shuffled.
	rng := rand.New(rand.NewPCG(1, 2))
	var phase1 []Problem
	for range copies {
		phase1 = append(phase1, opens...)
	}
	rng.Shuffle(len(phase1), func(i, j int) { phase1[i], phase1[j] = phase1[j], phase1[i] })
	s := newSim(t)
	for i, n := range phase1 {
		s.deliver(n, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if len(s.rems) != len(services) {
		t.Fatalf("%d remediations after the opening notifications, want one per service (%d)", len(s.rems), len(services))
	}
	for _, r := range s.rems {
		if len(r.Problems) != 2 {
			t.Errorf("remediation %s (%s) has %d problems, want 2", r.ID, r.Service, len(r.Problems))
		}
	}

	// Phase 2: more opening copies and the closing copies, interleaved.
	var phase2 []Problem
	for range copies {
		phase2 = append(phase2, opens...)
		phase2 = append(phase2, closes...)
	}
	rng.Shuffle(len(phase2), func(i, j int) { phase2[i], phase2[j] = phase2[j], phase2[i] })
	for i, n := range phase2 {
		s.deliver(n, at(1).Add(time.Duration(i)*time.Millisecond))
	}

	if len(s.problems) != len(opens) {
		t.Errorf("%d problem records, want %d", len(s.problems), len(opens))
	}
	for key, n := range s.starts {
		if n != 1 {
			t.Errorf("problem %s started %d remediations", key, n)
		}
	}
	member := map[string]int{}
	for _, r := range s.rems {
		for _, p := range r.Problems {
			member[p.ID]++
		}
		// Both problems closed while the first action was being
		// prepared: the remediation stops after that step.
		if r.State != StatePreparing || r.StopPending == "" || r.OpenProblems() != 0 {
			t.Errorf("remediation %s: state %s, pending stop %q, %d open", r.ID, r.State, r.StopPending, r.OpenProblems())
		}
	}
	for key, p := range s.problems {
		if member[p.ID] != 1 || p.State != ProblemStateClosed {
			t.Errorf("problem %s (%s): in %d remediations, state %s", key, p.ID, member[p.ID], p.State)
		}
	}
	total := 0
	for _, n := range s.verdicts {
		total += n
	}
	if want := copies*len(opens)*2 + copies*len(closes); total != want {
		t.Errorf("decided %d notifications, want %d", total, want)
	}
	t.Logf("verdicts over %d notifications: %v", total, s.verdicts)
}

// TestDedupeRandomOrder: any order of duplicates, closes included, gives
// each problem key at most one remediation, and one exactly when its
// first notification opened it.
func TestDedupeRandomOrder(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var all []Problem
		for i := range 8 {
			p := Problem{Key: fmt.Sprintf("dynatrace/P-%d", i), Project: "shop", Stage: "prod", Service: fmt.Sprintf("svc%d", i%2), State: ProblemStateOpen}
			for range 50 + rng.IntN(100) {
				q := p
				if rng.IntN(3) == 0 {
					q.State = ProblemStateClosed
				}
				all = append(all, q)
			}
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		first := map[string]ProblemState{}
		s := newSim(t)
		for i, n := range all {
			if _, ok := first[n.Key]; !ok {
				first[n.Key] = n.State
			}
			s.deliver(n, t0.Add(time.Duration(i)*time.Second))
		}
		member := map[string]int{}
		for _, r := range s.rems {
			for _, p := range r.Problems {
				member[p.ID]++
			}
		}
		for key, p := range s.problems {
			want := 0
			if first[key] == ProblemStateOpen {
				want = 1
			}
			if member[p.ID] != want || s.starts[key] > 1 {
				t.Errorf("seed %d, problem %s: in %d remediations (want %d), started %d", seed, key, member[p.ID], want, s.starts[key])
			}
		}
	}
}
