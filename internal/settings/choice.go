package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tendhq/tend/internal/store"
)

// Choice is a setting whose value is one of several variants, told apart
// by a discriminator member: the monitoring configuration is
// {"provider": "prometheus", ...Prometheus's fields} or {"provider":
// "dynatrace", ...}. Each variant is the Schema of the adapter it
// configures, named by its Key, so adding an SLI provider adds a variant
// and touches no other code. The most specific scope's value wins whole:
// fields of two providers never mix.
type Choice struct {
	key, disc string
	doc       Doc
	variants  []Schema
}

// NewChoice returns the Choice stored under key whose discriminator member
// disc names one of variants by its Key.
func NewChoice(key, disc string, doc Doc, variants ...Schema) *Choice {
	return &Choice{key: key, disc: disc, doc: doc, variants: variants}
}

// Key implements Schema.
func (c *Choice) Key() string { return c.key }

// Doc implements Schema.
func (c *Choice) Doc() Doc { return c.doc }

// Scoping implements Schema.
func (c *Choice) Scoping() Scoping { return AnyScope }

// CheckName implements Schema.
func (c *Choice) CheckName(string) error { return nil }

// Discriminator is the member that names the variant.
func (c *Choice) Discriminator() string { return c.disc }

// Variants returns the variants in registration order.
func (c *Choice) Variants() []Schema { return c.variants }

// Names returns the variants' names.
func (c *Choice) Names() []string {
	out := make([]string, len(c.variants))
	for i, v := range c.variants {
		out[i] = v.Key()
	}
	return out
}

// Variant returns the variant called name.
func (c *Choice) Variant(name string) (Schema, bool) {
	for _, v := range c.variants {
		if v.Key() == name {
			return v, true
		}
	}
	return nil, false
}

// Fields implements Schema: the discriminator, then every variant's
// fields once. A field is required when every variant requires it, and
// secret when any variant keeps it secret.
func (c *Choice) Fields() []Field {
	out := []Field{{Name: c.disc, Required: true, Usage: "one of " + strings.Join(c.Names(), ", ")}}
	for _, v := range c.variants {
		for _, f := range v.Fields() {
			i := slices.IndexFunc(out, func(o Field) bool { return o.Name == f.Name })
			if i < 0 {
				out = append(out, f)
				continue
			}
			out[i].Secret = out[i].Secret || f.Secret
			out[i].Endpoint = out[i].Endpoint || f.Endpoint
		}
	}
	for i := 1; i < len(out); i++ {
		for _, v := range c.variants {
			if !slices.ContainsFunc(v.Fields(), func(f Field) bool { return f.Name == out[i].Name && f.Required }) {
				out[i].Required = false
			}
		}
	}
	return out
}

// split reads the discriminator of a JSON object and returns the object
// without it.
func (c *Choice) split(value []byte) (string, []byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(value, &m); err != nil || m == nil {
		return "", nil, errors.New("the value is not a JSON object")
	}
	raw, ok := m[c.disc]
	if !ok {
		return "", nil, fmt.Errorf("%s is missing; want one of %s", c.disc, strings.Join(c.Names(), ", "))
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", nil, fmt.Errorf("%s must be a string, one of %s", c.disc, strings.Join(c.Names(), ", "))
	}
	delete(m, c.disc)
	rest, err := json.Marshal(m)
	return name, rest, err
}

// Normalize implements Schema.
func (c *Choice) Normalize(value []byte) ([]byte, error) {
	name, rest, err := c.split(value)
	if err != nil {
		return nil, &InvalidError{What: c.doc.What, Problems: []string{err.Error()}}
	}
	v, ok := c.Variant(name)
	if !ok {
		return nil, &InvalidError{What: c.doc.What, Problems: []string{fmt.Sprintf("%s %q is unknown; want one of %s", c.disc, name, strings.Join(c.Names(), ", "))}}
	}
	b, err := v.Normalize(rest)
	var inv *InvalidError
	if errors.As(err, &inv) {
		return nil, &InvalidError{What: c.doc.What, Problems: inv.Problems}
	}
	if err != nil {
		return nil, err
	}
	return c.join(name, b)
}

// join puts the discriminator first into a variant's JSON object.
func (c *Choice) join(name string, obj []byte) ([]byte, error) {
	d, err := json.Marshal(map[string]string{c.disc: name})
	if err != nil {
		return nil, err
	}
	if string(obj) == "{}" {
		return d, nil
	}
	return append(append(d[:len(d)-1:len(d)-1], ','), obj[1:]...), nil
}

// Mask implements Schema, with the fields of the value's variant; a value
// of no known variant is masked with every variant's secrets.
func (c *Choice) Mask(value []byte) ([]byte, []string) {
	if name, _, err := c.split(value); err == nil {
		if v, ok := c.Variant(name); ok {
			return v.Mask(value)
		}
	}
	return maskFields(value, c.Fields())
}

// Selection is the value a Choice resolved to for a service.
type Selection struct {
	// Variant is the discriminator's value: "prometheus".
	Variant string
	// Value is the stored JSON object without the discriminator, as the
	// variant's Schema reads it.
	Value json.RawMessage
	// Scope is where it is stored.
	Scope store.Scope
}

// Resolve returns the most specific value of a service. It returns an
// error wrapping ErrNotSet when no scope holds one.
func (c *Choice) Resolve(ctx context.Context, g Getter, project, stage, service string) (Selection, error) {
	chain := Chain(project, stage, service)
	slices.Reverse(chain)
	for _, sc := range chain {
		s, err := g.GetSetting(ctx, sc, c.key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return Selection{}, fmt.Errorf("read %s: %w", c.doc.What, err)
		}
		name, rest, err := c.split(s.Value)
		if err != nil {
			return Selection{}, fmt.Errorf("decode %s of %s: %w", c.doc.What, ScopeText(sc), err)
		}
		return Selection{Variant: name, Value: rest, Scope: sc}, nil
	}
	return Selection{}, fmt.Errorf("%w: no %s for project %s, stage %s, service %s", ErrNotSet, c.doc.What, project, stage, service)
}

// Check validates a resolved value again, as its variant would a new one:
// a stored value may predate a stricter rule or name a provider that is
// no longer registered.
func (c *Choice) Check(sel Selection) error {
	v, ok := c.Variant(sel.Variant)
	if !ok {
		return &InvalidError{What: c.doc.What, Problems: []string{fmt.Sprintf("%s %q is unknown; want one of %s", c.disc, sel.Variant, strings.Join(c.Names(), ", "))}}
	}
	_, err := v.Normalize(sel.Value)
	return err
}
