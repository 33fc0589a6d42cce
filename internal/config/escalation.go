package config

import (
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// Escalation says where escalation notifications go.
type Escalation struct {
	// URL receives a Slack-compatible message; a secret reference.
	URL Secret
	// Headers are sent with every notification; each value is a secret
	// reference.
	Headers map[string]Secret
	// Timeout bounds each notification call.
	Timeout time.Duration
}

func (d *decoder) escalation(n *yaml.Node, e *Escalation) {
	d.fields(n, "escalation", map[string]func(*yaml.Node){
		"url":     func(v *yaml.Node) { d.secret(v, "escalation.url", &e.URL) },
		"timeout": func(v *yaml.Node) { d.duration(v, "escalation.timeout", &e.Timeout, false) },
		"headers": func(v *yaml.Node) {
			if v.Kind != yaml.MappingNode {
				d.errorf(v, "escalation.headers must be a mapping of header names to env:NAME or file:PATH references, not %s", yamlnode.Describe(v))
				return
			}
			e.Headers = map[string]Secret{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, val := v.Content[i], v.Content[i+1]
				if k.Kind != yaml.ScalarNode || !validHeaderName(k.Value) {
					d.errorf(k, "escalation.headers: %s is not an HTTP header name", yamlnode.Describe(k))
					continue
				}
				var s Secret
				d.secret(val, "escalation.headers."+k.Value, &s)
				if s.IsSet() {
					e.Headers[k.Value] = s
				}
			}
		},
	})
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
