package settings

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// The remediation loop's own settings. They are tend's rather than an
// adapter's, and the pure remediation package cannot hold them (it reads
// no store), so they live here beside the machinery.

// Policy is the remediation setting of one scope: limits, dry run and
// settling time. A nil or empty field is not set at that scope and comes
// from a less specific one, else the server's defaults. Durations are Go
// duration texts ("15m0s"), as stored since the first version.
type Policy struct {
	MaxReplicas       *int   `json:"maxReplicas,omitempty"`
	Cooldown          string `json:"cooldown,omitempty"`
	MaxActionsPerHour *int   `json:"maxActionsPerHour,omitempty"`
	DryRun            *bool  `json:"dryRun,omitempty"`
	// Settling applies when the shipyard's evaluation task names no
	// triggeredAfter.
	Settling string `json:"settling,omitempty"`
}

// PolicySchema is the "remediation" setting.
var PolicySchema = Define(Spec[Policy]{
	Key: "remediation",
	Doc: Doc{
		What:    "remediation settings",
		Title:   "Remediation",
		Summary: "Set the remediation limits and timing (maxReplicas, cooldown, maxActionsPerHour, dryRun, settling); fields left out come from a less specific scope, else tend.yaml, for the project, a stage, a service or a service in a stage.",
		Op:      "RemediationConfig", Body: "RemediationConfig",
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
triggeredAfter. A limit of 0 means no limit.`,
		Example: `  tend configure remediation --project sockshop --max-replicas 5 --cooldown 30m
  tend configure remediation --project sockshop --stage production --service carts --dry-run true`,
	},
	Fields: []Field{
		{Name: "maxReplicas", Flag: "max-replicas", Kind: Int, Usage: "most replicas a scaling action may reach (0: no limit)"},
		{Name: "cooldown", Kind: String, Usage: `least time between remediations of one service, e.g. 15m ("0": none)`},
		{Name: "maxActionsPerHour", Flag: "max-actions-per-hour", Kind: Int, Usage: "most actions per hour per service (0: no limit)"},
		{Name: "dryRun", Flag: "dry-run", Kind: Bool, Usage: "true: record what actions would do without doing it"},
		{Name: "settling", Kind: String, Usage: "wait between an action and its verification, e.g. 10m"},
	},
	Check: func(p *Policy) []string {
		var probs []string
		if p.MaxReplicas != nil && *p.MaxReplicas < 0 {
			probs = append(probs, "maxReplicas must be 0 (no limit) or more")
		}
		if p.MaxActionsPerHour != nil && *p.MaxActionsPerHour < 0 {
			probs = append(probs, "maxActionsPerHour must be 0 (no limit) or more")
		}
		var prob string
		if p.Cooldown, prob = normalizeDuration("cooldown", p.Cooldown, false); prob != "" {
			probs = append(probs, prob)
		}
		if p.Settling, prob = normalizeDuration("settling", p.Settling, true); prob != "" {
			probs = append(probs, prob)
		}
		return probs
	},
	Merge: func(dst *Policy, src Policy) {
		if src.MaxReplicas != nil {
			dst.MaxReplicas = src.MaxReplicas
		}
		if src.Cooldown != "" {
			dst.Cooldown = src.Cooldown
		}
		if src.MaxActionsPerHour != nil {
			dst.MaxActionsPerHour = src.MaxActionsPerHour
		}
		if src.DryRun != nil {
			dst.DryRun = src.DryRun
		}
		if src.Settling != "" {
			dst.Settling = src.Settling
		}
	},
})

// normalizeDuration checks a duration field and returns it in Go's form;
// "" stays unset. "0" is allowed unless positive is set.
func normalizeDuration(field, v string, positive bool) (string, string) {
	if v == "" {
		return "", ""
	}
	d, err := time.ParseDuration(v)
	if v == "0" {
		d, err = 0, nil
	}
	switch {
	case err != nil:
		return v, fmt.Sprintf("%s: %q is not a duration; want e.g. 10m", field, v)
	case d < 0:
		return v, fmt.Sprintf("%s %q is negative; want e.g. 15m", field, v)
	case positive && d == 0:
		return v, field + " must be longer than 0, e.g. 10m"
	}
	return d.String(), ""
}

// parsedDuration reads a stored duration; a value that no longer parses
// counts as not set, as Check never stores one.
func parsedDuration(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	d, err := time.ParseDuration(v)
	return d, err == nil
}

// Defaults are the server-wide values that scoped settings start from.
type Defaults struct {
	Limits   remediation.Limits
	Settling time.Duration
}

// EffectivePolicy is the merged policy of a service.
type EffectivePolicy struct {
	Limits remediation.Limits
	// Settling is the configured settling time: a scope's, else the
	// server default. SettlingSet says a scope set it.
	Settling    time.Duration
	SettlingSet bool
}

// ResolvePolicy merges the remediation settings of a service over d.
func ResolvePolicy(ctx context.Context, g Getter, d Defaults, project, stage, service string) (EffectivePolicy, error) {
	out := EffectivePolicy{Limits: d.Limits, Settling: d.Settling}
	p, _, err := PolicySchema.Resolve(ctx, g, project, stage, service)
	if err != nil {
		return out, err
	}
	if p.MaxReplicas != nil {
		out.Limits.MaxReplicas = *p.MaxReplicas
	}
	if c, ok := parsedDuration(p.Cooldown); ok {
		out.Limits.Cooldown = c
	}
	if p.MaxActionsPerHour != nil {
		out.Limits.MaxActionsPerHour = *p.MaxActionsPerHour
	}
	if p.DryRun != nil {
		out.Limits.DryRun = *p.DryRun
	}
	if s, ok := parsedDuration(p.Settling); ok {
		out.Settling, out.SettlingSet = s, true
	}
	return out, nil
}

// Pause is stored while remediation is paused for a project or for a
// service in every stage.
type Pause struct {
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// PauseSchema is the "remediation-paused" setting. It has no configure
// route of its own (Doc.Op is empty): the pause and resume routes write it.
var PauseSchema = Define(Spec[Pause]{
	Key: "remediation-paused",
	Doc: Doc{What: "remediation pause"},
	Fields: []Field{
		{Name: "reason", Usage: "why, recorded with the pause"},
		{Name: "since", Usage: "when the pause began"},
	},
})

// Paused reports whether remediation is paused for the service (at its
// project or at the service in every stage), and why.
func Paused(ctx context.Context, g Getter, project, service string) (bool, string, error) {
	for _, sc := range []store.Scope{{Project: project}, {Project: project, Service: service}} {
		p, err := PauseSchema.Get(ctx, g, sc, "")
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return false, "", err
		}
		// A pause that does not decode is still a pause: stopping is
		// the safe reading of it.
		what := "project " + project
		if sc.Service != "" {
			what = "service " + service
		}
		reason := "remediation is paused for " + what
		if p.Reason != "" {
			reason += ": " + p.Reason
		}
		return true, reason, nil
	}
	return false, "", nil
}
