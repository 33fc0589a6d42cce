// Package secret owns Keptn-style secrets: a named set of key/value pairs
// with a scope, created through Keptn's secrets API (keptn create secret)
// and kept as server-wide settings. Names are unique across scopes, as
// Keptn's Kubernetes secrets were. Values never leave the server through
// the API: listing shows names, scopes and keys. Webhook actions read a
// value as "NAME.KEY" when its scope is one tend's webhooks may read.
package secret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/tendhq/tend/internal/store"
)

// DefaultScope is the scope of a secret created without one.
const DefaultScope = "keptn-default"

// WebhookScope is the scope Keptn's webhook service read secrets from.
const WebhookScope = "keptn-webhook-service"

// keyPrefix + name is the server-wide setting that holds a secret.
const keyPrefix = "keptn-secret/"

// Sentinel errors; callers branch on them with errors.Is.
var (
	// ErrInvalid marks a secret that cannot be stored; the message says
	// what would be right.
	ErrInvalid = errors.New("invalid secret")
	// ErrExists is returned by Create for a name that is taken.
	ErrExists = errors.New("secret exists")
	// ErrNotFound is returned for an unknown name (or a name in another
	// scope).
	ErrNotFound = errors.New("secret not found")
)

// Secret is one secret with its values.
type Secret struct {
	Name  string
	Scope string
	Data  map[string]string
}

// Info describes a secret without its values.
type Info struct {
	Name  string
	Scope string
	// Keys are sorted.
	Keys []string
}

// Settings is the part of the store the package needs; store.Store
// satisfies it.
type Settings interface {
	Getter
	PutSetting(ctx context.Context, s store.Setting) error
	DeleteSetting(ctx context.Context, sc store.Scope, key string) error
	ListSettings(ctx context.Context, project string) ([]store.Setting, error)
}

// Getter reads one setting.
type Getter interface {
	GetSetting(ctx context.Context, sc store.Scope, key string) (store.Setting, error)
}

// stored is the JSON of the setting.
type stored struct {
	Scope string            `json:"scope"`
	Data  map[string]string `json:"data"`
}

// Names are Kubernetes object names without dots (so "NAME.KEY" is never
// ambiguous); keys are Kubernetes secret keys; scopes follow names.
var (
	nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,251}[a-z0-9])?$`)
	keyRE  = regexp.MustCompile(`^[-._a-zA-Z0-9]{1,253}$`)
)

// maxValueBytes bounds one secret's values together.
const maxValueBytes = 64 << 10

// Validate reports every problem of s, one per line.
func Validate(s Secret) error {
	var probs []string
	if !nameRE.MatchString(s.Name) {
		probs = append(probs, fmt.Sprintf("name %q is invalid: use lower-case letters, digits and '-', starting and ending with a letter or digit (at most 253)", s.Name))
	}
	if s.Scope != "" && !nameRE.MatchString(s.Scope) {
		probs = append(probs, fmt.Sprintf("scope %q is invalid: use lower-case letters, digits and '-', e.g. %s", s.Scope, WebhookScope))
	}
	if len(s.Data) == 0 {
		probs = append(probs, "data is empty: give at least one key and value")
	}
	size := 0
	for _, k := range sortedKeys(s.Data) {
		if !keyRE.MatchString(k) {
			probs = append(probs, fmt.Sprintf("data key %q is invalid: use letters, digits, '-', '_' and '.'", k))
		}
		size += len(k) + len(s.Data[k])
	}
	if size > maxValueBytes {
		probs = append(probs, fmt.Sprintf("data is %d bytes; at most %d are allowed", size, maxValueBytes))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(probs, "; "))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func setting(s Secret) (store.Setting, error) {
	b, err := json.Marshal(stored{Scope: s.Scope, Data: s.Data})
	if err != nil {
		return store.Setting{}, fmt.Errorf("encode secret %q: %w", s.Name, err)
	}
	return store.Setting{Key: keyPrefix + s.Name, Value: b}, nil
}

func get(ctx context.Context, g Getter, name string) (stored, error) {
	st, err := g.GetSetting(ctx, store.Scope{}, keyPrefix+name)
	if errors.Is(err, store.ErrNotFound) {
		return stored{}, fmt.Errorf("%w: no secret %q", ErrNotFound, name)
	}
	if err != nil {
		return stored{}, fmt.Errorf("read secret %q: %w", name, err)
	}
	var v stored
	if err := json.Unmarshal(st.Value, &v); err != nil {
		return stored{}, fmt.Errorf("secret %q is unreadable: %w", name, err)
	}
	return v, nil
}

// withScope fills in the default scope.
func withScope(s Secret) Secret {
	if s.Scope == "" {
		s.Scope = DefaultScope
	}
	return s
}

// Create stores a new secret. It returns ErrExists when the name is taken
// in any scope.
func Create(ctx context.Context, st Settings, s Secret) error {
	s = withScope(s)
	if err := Validate(s); err != nil {
		return err
	}
	if _, err := get(ctx, st, s.Name); err == nil {
		return fmt.Errorf("%w: a secret %q exists already; update or delete it", ErrExists, s.Name)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	set, err := setting(s)
	if err != nil {
		return err
	}
	return st.PutSetting(ctx, set)
}

// Update replaces the values of an existing secret of the same scope.
func Update(ctx context.Context, st Settings, s Secret) error {
	s = withScope(s)
	if err := Validate(s); err != nil {
		return err
	}
	old, err := get(ctx, st, s.Name)
	if err != nil {
		return err
	}
	if old.Scope != s.Scope {
		return fmt.Errorf("%w: secret %q is in scope %s, not %s", ErrNotFound, s.Name, old.Scope, s.Scope)
	}
	set, err := setting(s)
	if err != nil {
		return err
	}
	return st.PutSetting(ctx, set)
}

// Delete removes a secret of the given scope ("" is DefaultScope).
func Delete(ctx context.Context, st Settings, name, scope string) error {
	if scope == "" {
		scope = DefaultScope
	}
	old, err := get(ctx, st, name)
	if err != nil {
		return err
	}
	if old.Scope != scope {
		return fmt.Errorf("%w: secret %q is in scope %s, not %s", ErrNotFound, name, old.Scope, scope)
	}
	return st.DeleteSetting(ctx, store.Scope{}, keyPrefix+name)
}

// List describes every secret, ordered by name, without values.
func List(ctx context.Context, st Settings) ([]Info, error) {
	all, err := st.ListSettings(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	out := []Info{}
	for _, set := range all {
		name, ok := strings.CutPrefix(set.Key, keyPrefix)
		if !ok || set.Stage != "" || set.Service != "" {
			continue
		}
		var v stored
		if err := json.Unmarshal(set.Value, &v); err != nil {
			continue
		}
		out = append(out, Info{Name: name, Scope: v.Scope, Keys: sortedKeys(v.Data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Scopes returns the scopes secrets can have that tend knows of, and those
// in use, sorted.
func Scopes(ctx context.Context, st Settings) ([]string, error) {
	infos, err := List(ctx, st)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{DefaultScope: true, WebhookScope: true}
	for _, in := range infos {
		seen[in.Scope] = true
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// IsRef reports whether a webhook secret reference names a Keptn secret
// ("NAME.KEY"); tend's own project secrets cannot contain a dot.
func IsRef(ref string) bool { return strings.Contains(ref, ".") }

// BoundURLKey is the data key that binds a secret to the URL prefix its
// values may be sent to: `keptn create secret slack --from-literal=url=...
// --from-literal=tend-bound-url=https://hooks.slack.com/`. Keptn's webhook
// service sent secrets wherever a project's webhook config pointed; tend
// sends a Keptn secret only to the receiver its creator named, so that a
// project's write token cannot route a server-wide secret to a host of its
// choosing.
const BoundURLKey = "tend-bound-url"

// Resolve returns the value of "NAME.KEY" for a webhook action and the URL
// prefix the secret is bound to (its BoundURLKey value; "" when unbound,
// which callers must treat as "send nowhere"). Only secrets of
// DefaultScope and WebhookScope are readable this way, as Keptn's webhook
// service could read only those.
func Resolve(ctx context.Context, g Getter, ref string) (value, boundURL string, err error) {
	name, key, ok := strings.Cut(ref, ".")
	if !ok || name == "" || key == "" {
		return "", "", fmt.Errorf("%w: secret reference %q is not NAME.KEY", ErrInvalid, ref)
	}
	v, err := get(ctx, g, name)
	if err != nil {
		return "", "", fmt.Errorf("%w; create it with keptn create secret %s --from-literal=%s=VALUE --from-literal=%s=RECEIVER-URL --scope %s", err, name, key, BoundURLKey, WebhookScope)
	}
	if v.Scope != DefaultScope && v.Scope != WebhookScope {
		return "", "", fmt.Errorf("%w: secret %q is in scope %s, which webhooks cannot read; use scope %s or %s", ErrNotFound, name, v.Scope, WebhookScope, DefaultScope)
	}
	val, ok := v.Data[key]
	if !ok {
		return "", "", fmt.Errorf("%w: secret %q has no key %q", ErrNotFound, name, key)
	}
	return val, v.Data[BoundURLKey], nil
}
