package settings

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Registry is every kind of setting tend knows, by key. The composition
// root builds it; the API serves a route set per entry and masks stored
// values with it, the CLI builds its configure commands from it.
type Registry struct {
	schemas []Schema
}

// NewRegistry returns a registry of schemas, in the order given. Two
// schemas with one key are a program error.
func NewRegistry(schemas ...Schema) (*Registry, error) {
	seen := map[string]bool{}
	for _, s := range schemas {
		if seen[s.Key()] {
			return nil, fmt.Errorf("settings: two schemas have the key %q", s.Key())
		}
		seen[s.Key()] = true
	}
	return &Registry{schemas: schemas}, nil
}

// Schemas returns the schemas in registration order.
func (r *Registry) Schemas() []Schema { return r.schemas }

// Lookup returns the schema of a stored key: the schema with that key, or
// the key family (a key ending in "/") it belongs to.
func (r *Registry) Lookup(key string) (Schema, bool) {
	for _, s := range r.schemas {
		if s.Key() == key || (strings.HasSuffix(s.Key(), "/") && strings.HasPrefix(key, s.Key())) {
			return s, true
		}
	}
	return nil, false
}

// Mask returns a stored value as an answer may show it, and the names of
// the secrets that are set. A key no schema knows (written by another
// version of tend) is masked by name: every member whose name contains
// password, token, secret or apikey, at any depth.
func (r *Registry) Mask(key string, value []byte) ([]byte, []string) {
	if r != nil {
		if s, ok := r.Lookup(key); ok {
			return s.Mask(value)
		}
	}
	return maskByName(value)
}

func maskByName(value []byte) ([]byte, []string) {
	var v any
	if err := json.Unmarshal(value, &v); err != nil {
		return maskedWhole()
	}
	var set []string
	v = maskNames(v, "", &set)
	b, err := json.Marshal(v)
	if err != nil {
		return maskedWhole()
	}
	sort.Strings(set)
	return b, set
}

func maskNames(v any, path string, set *[]string) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if isSecretName(k) {
				if val != nil && val != "" {
					t[k] = Masked
					*set = append(*set, p)
				}
				continue
			}
			t[k] = maskNames(val, p, set)
		}
		return t
	case []any:
		for i := range t {
			t[i] = maskNames(t[i], fmt.Sprintf("%s[%d]", path, i), set)
		}
		return t
	}
	return v
}

func isSecretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"password", "token", "secret", "apikey"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
