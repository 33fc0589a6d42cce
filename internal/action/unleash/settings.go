package unleash

import (
	"context"
	"fmt"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/settings"
)

// Settings say which Unleash the toggle actions switch, as the "unleash"
// setting stores them. Token is an admin API token: stored because
// toggling needs it, masked in every answer. Scopes merge field by field,
// except that url and token are taken together from the most specific
// scope that sets either: the token is bound to the URL it was given with.
type Settings struct {
	URL         string `json:"url,omitempty"`
	Token       string `json:"token,omitempty"`
	Project     string `json:"project,omitempty"`
	Environment string `json:"environment,omitempty"`
}

// Schema is the "unleash" setting.
var Schema = settings.Define(settings.Spec[Settings]{
	Key: "unleash",
	Doc: settings.Doc{
		What:    "unleash settings",
		Title:   "Unleash",
		Summary: "Set the Unleash that feature toggle actions switch (url, token, project, environment); the answer masks the token, for the project, a stage, a service or a service in a stage.",
		Op:      "UnleashConfig", Body: "UnleashConfig",
		Short: "Set the Unleash that feature toggle actions switch",
		Long: `Configure unleash says which Unleash the toggle-feature and featuretoggle
actions of a project, stage or service switch: its URL, an admin API token,
the Unleash project (default "default") and environment (default
"production").

The token may be given as "file:PATH", "env:NAME" or "-" (standard input);
the CLI resolves it and sends the value, which the server stores and never
shows again (tend get config masks it).`,
		Example: `  tend configure unleash --project sockshop --stage production --url http://unleash:4242 --token env:UNLEASH_ADMIN_TOKEN`,
	},
	Fields: []settings.Field{
		{Name: "url", Usage: "Unleash's base URL", Endpoint: true},
		{Name: "token", Usage: "Unleash admin API token", Secret: true},
		{Name: "project", Flag: "unleash-project", Usage: `Unleash project of the flags (default "default")`},
		{Name: "environment", Usage: `Unleash environment switched (default "production")`},
	},
	Check: func(u *Settings) []string {
		if u.URL == "" {
			return nil
		}
		if p := settings.CheckURL("url", u.URL, false); p != "" {
			return []string{p}
		}
		return nil
	},
	Merge: func(dst *Settings, src Settings) {
		if src.URL != "" {
			dst.URL = src.URL
		}
		if src.Token != "" {
			dst.Token = src.Token
		}
		if src.Project != "" {
			dst.Project = src.Project
		}
		if src.Environment != "" {
			dst.Environment = src.Environment
		}
	},
})

// FromSettings returns the Resolver that reads the "unleash" setting of
// the request's service through g.
func FromSettings(g settings.Getter) Resolver {
	return func(ctx context.Context, req action.Request) (Config, error) {
		u, _, err := Schema.Resolve(ctx, g, req.Project, req.Stage, req.Service)
		if err != nil {
			return Config{}, err
		}
		if u.URL != "" && u.Token == "" {
			return Config{}, fmt.Errorf("%w: the Unleash of project %s, stage %s, service %s has no token at the scope that names its URL; url and token are set together (a token is never sent to a URL set at another scope): run tend configure unleash with both --url and --token",
				action.ErrInvalid, req.Project, req.Stage, req.Service)
		}
		if u.URL == "" || u.Token == "" {
			return Config{}, fmt.Errorf("%w: no Unleash is configured for project %s, stage %s; run tend configure unleash --project %s --url URL --token file:PATH",
				action.ErrInvalid, req.Project, req.Stage, req.Project)
		}
		return Config{URL: u.URL, Token: u.Token, Project: u.Project, Environment: u.Environment}, nil
	}
}
