package dynatrace

import (
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
)

// Settings are a Dynatrace tenant as the monitoring setting stores it,
// next to "provider": "dynatrace".
type Settings struct {
	URL string `json:"url"`
	// Token is an API token with the metrics.read scope.
	Token string `json:"token,omitempty"`
}

// Schema is the dynatrace variant of the monitoring setting.
var Schema = settings.Define(settings.Spec[Settings]{
	Key: "dynatrace",
	Doc: settings.Doc{
		What:    "dynatrace configuration",
		Short:   "Make evaluations query Dynatrace (Metrics API v2)",
		Example: `  tend configure monitoring dynatrace --project sockshop --url https://abc12345.live.dynatrace.com --token env:DT_API_TOKEN`,
	},
	Fields: []settings.Field{
		{Name: "url", Usage: "base URL of dynatrace (required)", Required: true, Endpoint: true,
			Hint: "tend does not discover dynatrace; give its base URL, e.g. --url https://abc12345.live.dynatrace.com"},
		{Name: "token", Usage: "Dynatrace API token (required)", Secret: true, Required: true,
			Hint: "a Dynatrace API token with the metrics.read scope (file:PATH and env:NAME work)"},
	},
	Check: func(s *Settings) []string {
		if s.URL == "" {
			return nil
		}
		if p := settings.CheckURL("url", s.URL, true); p != "" {
			return []string{p}
		}
		return nil
	},
})

// ProviderKind registers the Dynatrace provider (app lists it).
var ProviderKind = sli.Kind{
	Settings: Schema,
	New: func(value []byte, o sli.Options) (sli.Provider, error) {
		s, err := Schema.Decode(value)
		if err != nil {
			return nil, err
		}
		return New(Config{URL: s.URL, Token: s.Token, Timeout: o.Timeout, Logger: o.Logger, HTTPClient: o.HTTPClient})
	},
}
