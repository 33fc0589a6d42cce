package prometheus

import (
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
)

// Settings are a Prometheus connection as the monitoring setting stores
// it, next to "provider": "prometheus".
type Settings struct {
	URL string `json:"url"`
	// User and Password select basic authentication, BearerToken
	// "Authorization: Bearer"; at most one of the two.
	User        string `json:"user,omitempty"`
	Password    string `json:"password,omitempty"`
	BearerToken string `json:"bearerToken,omitempty"`
}

// Schema is the prometheus variant of the monitoring setting.
var Schema = settings.Define(settings.Spec[Settings]{
	Key: "prometheus",
	Doc: settings.Doc{
		What:  "prometheus configuration",
		Short: "Make evaluations query Prometheus",
		Example: `  tend configure monitoring prometheus --project sockshop --url http://prometheus:9090
  tend configure monitoring prometheus --project sockshop --service carts --url https://prom.example --user tend --password env:PROM_PASSWORD`,
	},
	Fields: []settings.Field{
		{Name: "url", Usage: "base URL of prometheus (required)", Required: true, Endpoint: true,
			Hint: "tend does not discover prometheus; give its base URL, e.g. --url http://prometheus:9090"},
		{Name: "user", Usage: "user for HTTP basic authentication", With: "password"},
		{Name: "password", Usage: "password for basic authentication", Secret: true, With: "user"},
		{Name: "bearerToken", Flag: "bearer-token", Usage: "bearer token", Secret: true, Excludes: []string{"user", "password"}},
	},
	Check: func(s *Settings) []string {
		var probs []string
		if s.URL != "" {
			if p := settings.CheckURL("url", s.URL, true); p != "" {
				probs = append(probs, p)
			}
		}
		if s.BearerToken != "" && (s.User != "" || s.Password != "") {
			probs = append(probs, "give either user and password, or bearerToken, not both")
		}
		if s.Password != "" && s.User == "" {
			probs = append(probs, "a password needs a user")
		}
		if s.User != "" && s.Password == "" {
			probs = append(probs, "a user needs a password")
		}
		return probs
	},
})

// ProviderKind registers the Prometheus provider (app lists it).
var ProviderKind = sli.Kind{
	Settings: Schema,
	New: func(value []byte, o sli.Options) (sli.Provider, error) {
		s, err := Schema.Decode(value)
		if err != nil {
			return nil, err
		}
		return New(Config{URL: s.URL, User: s.User, Password: s.Password, BearerToken: s.BearerToken, Timeout: o.Timeout, Logger: o.Logger, HTTPClient: o.HTTPClient,
			Labels: o.Labels})
	},
}
