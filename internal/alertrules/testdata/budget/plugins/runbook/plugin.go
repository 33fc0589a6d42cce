// Package plugin is a Sloth SLO plugin for tend's tests, loaded from a
// plugin directory: it adds a runbook_url annotation, from its config, to
// every alert of the SLOs whose chain names it.
package plugin

import (
	"context"
	"encoding/json"
	"fmt"

	pluginslov1 "github.com/slok/sloth/pkg/prometheus/plugin/slo/v1"
)

const (
	PluginVersion = "prometheus/slo/v1"
	PluginID      = "tend.test/runbook/v1"
)

type config struct {
	URL string `json:"url"`
}

// NewPlugin reads the plugin's config: the runbook URL.
func NewPlugin(raw json.RawMessage, _ pluginslov1.AppUtils) (pluginslov1.Plugin, error) {
	var c config
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if c.URL == "" {
		return nil, fmt.Errorf("url is required")
	}
	return runbook{url: c.URL}, nil
}

type runbook struct{ url string }

// ProcessSLO annotates the SLO's alerts.
func (p runbook) ProcessSLO(_ context.Context, _ *pluginslov1.Request, res *pluginslov1.Result) error {
	for i := range res.SLORules.AlertRules.Rules {
		r := &res.SLORules.AlertRules.Rules[i]
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		r.Annotations["runbook_url"] = p.url
	}
	return nil
}
