package config

import (
	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/outbound"
	"github.com/tendhq/tend/internal/yamlnode"
)

// Outbound is the policy on the addresses tend connects to on a user's
// behalf (SLI providers, Unleash, webhooks, HTTP scale targets, Git
// upstreams); internal/outbound enforces it. Link-local and cloud
// metadata addresses are always denied.
type Outbound struct {
	// Allow, when not empty, limits connections to these CIDRs, addresses
	// and host names ("*.domain" for every name below domain).
	Allow []string
	// Deny refuses these on top of the default denials.
	Deny []string
	// AllowFileUpstreams accepts local paths and file:// URLs as Git
	// upstreams. For tests only: it lets a token make tend write into a
	// repository on its own host.
	AllowFileUpstreams bool
}

// outbound reads the outbound section; each rule is checked where it is
// written.
func (d *decoder) outbound(n *yaml.Node, o *Outbound) {
	rules := func(key string, dst *[]string) func(*yaml.Node) {
		return func(v *yaml.Node) {
			where := "outbound." + key
			v = yamlnode.Resolve(v)
			if v.Kind != yaml.SequenceNode {
				d.errorf(v, "%s must be a list of CIDRs, addresses or host names, not %s", where, yamlnode.Describe(v))
				return
			}
			for _, item := range v.Content {
				item = yamlnode.Resolve(item)
				var s string
				d.str(item, where+" item", &s)
				if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
					continue
				}
				if _, err := outbound.ParseRule(s); err != nil {
					d.errorf(item, "%s: %v", where, err)
					continue
				}
				*dst = append(*dst, s)
			}
		}
	}
	d.fields(n, "outbound", map[string]func(*yaml.Node){
		"allow":              rules("allow", &o.Allow),
		"deny":               rules("deny", &o.Deny),
		"allowFileUpstreams": func(v *yaml.Node) { d.boolean(v, "outbound.allowFileUpstreams", &o.AllowFileUpstreams) },
	})
}
