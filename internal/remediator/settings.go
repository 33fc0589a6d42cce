package remediator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/action/kubernetes"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

// The store setting keys this package owns. Each is scoped like the
// monitoring configuration: a project, a stage, a service in every stage,
// or a service in one stage; the most specific value of each field wins.
const (
	// KeyRemediation holds a Policy: limits, dry run, settling time.
	KeyRemediation = "remediation"
	// KeyKubernetes holds a KubernetesSettings: where scaling acts.
	KeyKubernetes = "kubernetes"
	// KeyUnleash holds an UnleashSettings: which Unleash toggles act on.
	KeyUnleash = "unleash"
	// KeyPaused holds a Pause at project or service scope.
	KeyPaused = "remediation-paused"
	// KeySecretPrefix + NAME holds a webhook Secret at project scope.
	KeySecretPrefix = "secret/"
)

// ErrInvalid marks a setting that cannot be stored; its message says what
// would be right.
var ErrInvalid = errors.New("invalid remediation setting")

// Duration is a time.Duration that reads and writes as "10m" in JSON.
type Duration time.Duration

// MarshalJSON writes the Go duration text.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "10m", "90s" or "0".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string such as \"10m\": %w", err)
	}
	if s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration; want e.g. 10m", s)
	}
	*d = Duration(v)
	return nil
}

// Policy is the remediation setting of one scope. A nil field is not set
// at that scope and comes from a less specific one, else the server's
// defaults.
type Policy struct {
	MaxReplicas       *int      `json:"maxReplicas,omitempty"`
	Cooldown          *Duration `json:"cooldown,omitempty"`
	MaxActionsPerHour *int      `json:"maxActionsPerHour,omitempty"`
	DryRun            *bool     `json:"dryRun,omitempty"`
	// Settling applies when the shipyard's evaluation task names no
	// triggeredAfter.
	Settling *Duration `json:"settling,omitempty"`
}

// Validate reports every problem of p.
func (p Policy) Validate() error {
	var probs []string
	if p.MaxReplicas != nil && *p.MaxReplicas < 0 {
		probs = append(probs, "maxReplicas must be 0 (no limit) or more")
	}
	if p.MaxActionsPerHour != nil && *p.MaxActionsPerHour < 0 {
		probs = append(probs, "maxActionsPerHour must be 0 (no limit) or more")
	}
	if p.Cooldown != nil && *p.Cooldown < 0 {
		probs = append(probs, "cooldown must not be negative")
	}
	if p.Settling != nil && *p.Settling <= 0 {
		probs = append(probs, "settling must be longer than 0, e.g. 10m")
	}
	return joinProbs(probs)
}

// KubernetesSettings say where a service's scaling acts. Empty fields keep
// the defaults: namespace <project>-<stage>, deployment <service>-primary,
// falling back to <service>.
type KubernetesSettings struct {
	Namespace          string `json:"namespace,omitempty"`
	Deployment         string `json:"deployment,omitempty"`
	FallbackDeployment string `json:"fallbackDeployment,omitempty"`
	// ScaleURL selects the HTTP scale target (GET/PUT {"replicas": N})
	// instead of a Kubernetes Deployment.
	ScaleURL string `json:"scaleURL,omitempty"`
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Validate reports every problem of k.
func (k KubernetesSettings) Validate() error {
	var probs []string
	if k.Namespace != "" && (len(k.Namespace) > 63 || !dnsLabel.MatchString(k.Namespace)) {
		probs = append(probs, fmt.Sprintf("namespace %q is not a Kubernetes namespace name (lower-case letters, digits and -)", k.Namespace))
	}
	for _, n := range []struct{ what, v string }{{"deployment", k.Deployment}, {"fallbackDeployment", k.FallbackDeployment}} {
		if n.v != "" && (len(n.v) > 253 || !dnsLabel.MatchString(strings.ReplaceAll(n.v, ".", "-"))) {
			probs = append(probs, fmt.Sprintf("%s %q is not a Kubernetes deployment name", n.what, n.v))
		}
	}
	if k.ScaleURL != "" {
		if err := checkHTTPURL(k.ScaleURL); err != nil {
			probs = append(probs, "scaleURL "+err.Error())
		}
	}
	return joinProbs(probs)
}

// UnleashSettings say which Unleash the toggle actions switch. Token is
// an admin API token: stored because toggling needs it, masked in every
// answer.
type UnleashSettings struct {
	URL         string `json:"url,omitempty"`
	Token       string `json:"token,omitempty"`
	Project     string `json:"project,omitempty"`
	Environment string `json:"environment,omitempty"`
}

// Validate reports every problem of u.
func (u UnleashSettings) Validate() error {
	var probs []string
	if u.URL != "" {
		if err := checkHTTPURL(u.URL); err != nil {
			probs = append(probs, "url "+err.Error())
		}
	}
	return joinProbs(probs)
}

// Secret is a named webhook secret of a project, referenced from
// remediation.yaml as {{ .Secrets.NAME }} in webhook headers.
type Secret struct {
	Secret string `json:"secret"`
}

var secretName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// CheckSecretName checks a webhook secret's name.
func CheckSecretName(name string) error {
	if !secretName.MatchString(name) {
		return fmt.Errorf("%w: secret name %q is invalid: use a letter then letters, digits, _ or - (at most 63)", ErrInvalid, name)
	}
	return nil
}

// Pause is stored while remediation is paused for a project or service.
type Pause struct {
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q carries credentials; give them as a token so they are kept as secrets", u.Redacted())
	}
	return nil
}

func joinProbs(probs []string) error {
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(probs, "; "))
}

// Getter reads settings; store.Store and store.Tx satisfy it.
type Getter interface {
	GetSetting(ctx context.Context, sc store.Scope, key string) (store.Setting, error)
}

// scopes returns the scopes of a service's settings, least specific first,
// so later ones override earlier ones.
func scopes(project, stage, service string) []store.Scope {
	return []store.Scope{
		{Project: project},
		{Project: project, Stage: stage},
		{Project: project, Service: service},
		{Project: project, Stage: stage, Service: service},
	}
}

// layered decodes key at every scope of the service, least specific
// first, into a fresh T each, and hands each to merge.
func layered[T any](ctx context.Context, g Getter, key, project, stage, service string, merge func(T)) error {
	for _, sc := range scopes(project, stage, service) {
		s, err := g.GetSetting(ctx, sc, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s settings: %w", key, err)
		}
		var v T
		if err := json.Unmarshal(s.Value, &v); err != nil {
			return fmt.Errorf("decode %s settings of %+v: %w", key, sc, err)
		}
		merge(v)
	}
	return nil
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
	err := layered(ctx, g, KeyRemediation, project, stage, service, func(p Policy) {
		if p.MaxReplicas != nil {
			out.Limits.MaxReplicas = *p.MaxReplicas
		}
		if p.Cooldown != nil {
			out.Limits.Cooldown = time.Duration(*p.Cooldown)
		}
		if p.MaxActionsPerHour != nil {
			out.Limits.MaxActionsPerHour = *p.MaxActionsPerHour
		}
		if p.DryRun != nil {
			out.Limits.DryRun = *p.DryRun
		}
		if p.Settling != nil {
			out.Settling, out.SettlingSet = time.Duration(*p.Settling), true
		}
	})
	return out, err
}

// ResolveKubernetes merges the Kubernetes settings of a service into a
// scaling target, with the replica limit of its policy.
func ResolveKubernetes(ctx context.Context, g Getter, d Defaults, project, stage, service string) (kubernetes.Target, error) {
	var k KubernetesSettings
	err := layered(ctx, g, KeyKubernetes, project, stage, service, func(v KubernetesSettings) {
		if v.Namespace != "" {
			k.Namespace = v.Namespace
		}
		if v.Deployment != "" {
			k.Deployment = v.Deployment
		}
		if v.FallbackDeployment != "" {
			k.FallbackDeployment = v.FallbackDeployment
		}
		if v.ScaleURL != "" {
			k.ScaleURL = v.ScaleURL
		}
	})
	if err != nil {
		return kubernetes.Target{}, err
	}
	pol, err := ResolvePolicy(ctx, g, d, project, stage, service)
	if err != nil {
		return kubernetes.Target{}, err
	}
	t := kubernetes.Target{Namespace: k.Namespace, Deployment: k.Deployment, FallbackDeployment: k.FallbackDeployment}
	if k.ScaleURL != "" {
		t.HTTP = &kubernetes.HTTPTarget{URL: k.ScaleURL}
	}
	if m := pol.Limits.MaxReplicas; m > 0 {
		t.MaxReplicas = int32(min(m, 1<<30))
	} else {
		t.MaxReplicas = 1 << 30 // no limit configured
	}
	return t, nil
}

// ResolveUnleash merges the Unleash settings of a service.
func ResolveUnleash(ctx context.Context, g Getter, project, stage, service string) (UnleashSettings, error) {
	var u UnleashSettings
	err := layered(ctx, g, KeyUnleash, project, stage, service, func(v UnleashSettings) {
		if v.URL != "" {
			u.URL = v.URL
		}
		if v.Token != "" {
			u.Token = v.Token
		}
		if v.Project != "" {
			u.Project = v.Project
		}
		if v.Environment != "" {
			u.Environment = v.Environment
		}
	})
	return u, err
}

// Paused reports whether remediation is paused for the service (at its
// project or at the service in every stage), and why.
func Paused(ctx context.Context, g Getter, project, service string) (bool, string, error) {
	for _, sc := range []store.Scope{{Project: project}, {Project: project, Service: service}} {
		s, err := g.GetSetting(ctx, sc, KeyPaused)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, "", fmt.Errorf("read pause: %w", err)
		}
		var p Pause
		_ = json.Unmarshal(s.Value, &p)
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

// ResolveSecret returns a project's webhook secret value.
func ResolveSecret(ctx context.Context, g Getter, project, name string) (string, error) {
	s, err := g.GetSetting(ctx, store.Scope{Project: project}, KeySecretPrefix+name)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("no secret %q is configured for project %s; set it with tend configure secret %s --project %s --value file:PATH", name, project, name, project)
	}
	if err != nil {
		return "", fmt.Errorf("read secret %q: %w", name, err)
	}
	var v Secret
	if err := json.Unmarshal(s.Value, &v); err != nil || v.Secret == "" {
		return "", fmt.Errorf("secret %q of project %s is unreadable; set it again", name, project)
	}
	return v.Secret, nil
}
