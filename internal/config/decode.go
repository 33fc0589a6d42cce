package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

type decoder struct {
	file  string
	probs []string
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.probs = append(d.probs, yamlnode.At(d.file, n)+": "+fmt.Sprintf(format, args...))
}

func (d *decoder) err() error {
	if len(d.probs) == 0 {
		return nil
	}
	return &Error{Problems: d.probs}
}

// fields walks a mapping, calling set for every known key and reporting
// unknown and repeated ones.
func (d *decoder) fields(n *yaml.Node, where string, set map[string]func(v *yaml.Node)) {
	n = yamlnode.Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of keys to values, not %s", where, yamlnode.Describe(n))
		return
	}
	known := make([]string, 0, len(set))
	for k := range set {
		known = append(known, k)
	}
	sort.Strings(known)
	seen := map[string]bool{}
	for k, v := range yamlnode.Pairs(n) {
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s has a key that is not a string", where)
			continue
		}
		if k.Value == "<<" {
			d.errorf(k, "merge keys (<<) are not supported in tend.yaml; write the keys out")
			continue
		}
		fn, ok := set[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, where)
			if s := yamlnode.Suggest(k.Value, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; known keys: " + strings.Join(known, ", ")
			}
			d.errorf(k, "%s", msg)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "%s.%s is given twice; keep one", where, k.Value)
			continue
		}
		seen[k.Value] = true
		fn(v)
	}
}

func (d *decoder) str(n *yaml.Node, where string, dst *string) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be a string, not %s", where, yamlnode.Describe(n))
		return
	}
	*dst = n.Value
}

func (d *decoder) duration(n *yaml.Node, where string, dst *time.Duration, allowZero bool) {
	var s string
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "%s must be a duration such as 10m or 30s, not %s", where, yamlnode.Describe(n))
		return
	}
	s = n.Value
	v, err := ParseDuration(s)
	if err != nil {
		d.errorf(n, "%s: %v", where, err)
		return
	}
	if v == 0 && !allowZero {
		d.errorf(n, "%s must be longer than 0; want e.g. 10m", where)
		return
	}
	*dst = v
}

func (d *decoder) integer(n *yaml.Node, where string, dst *int) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errorf(n, "%s must be a whole number, not %s", where, yamlnode.Describe(n))
		return
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < 0 {
		d.errorf(n, "%s must be a whole number of 0 or more (0 means no limit), not %s", where, n.Value)
		return
	}
	*dst = v
}

func (d *decoder) boolean(n *yaml.Node, where string, dst *bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, "%s must be true or false, not %s", where, yamlnode.Describe(n))
		return
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		d.errorf(n, "%s must be true or false, not %s", where, yamlnode.Describe(n))
		return
	}
	*dst = b
}

// secret reads a secret reference; a plain value is refused so that no
// secret sits in the file.
func (d *decoder) secret(n *yaml.Node, where string, dst *Secret) {
	var s string
	d.str(n, where, &s)
	if s == "" {
		return
	}
	if err := CheckRef(s); err != nil {
		d.errorf(n, "%s: %v", where, err)
		return
	}
	dst.Ref = s
}
