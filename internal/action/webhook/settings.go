package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

// Secret is a named secret of a project that webhook headers reference as
// {{ .Secrets.NAME }}, stored under "secret/NAME" as {"secret": VALUE,
// "url": PREFIX}. The API and the CLI take it as "value"; Check moves it to
// "secret", the member stored since the first version.
//
// URL binds the secret to the receivers it was given for: it is sent only
// in calls to that scheme and host (and port) under that path, so whoever
// may edit remediation.yaml cannot point a webhook elsewhere and collect
// it. Moving the receiver means giving the secret again with the new URL.
// A secret stored before binding existed has no URL and is sent nowhere.
type Secret struct {
	Value  string `json:"value,omitempty"`
	Secret string `json:"secret,omitempty"`
	URL    string `json:"url,omitempty"`
}

var secretName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)

// SecretSchema is the family of "secret/NAME" settings.
var SecretSchema = settings.Define(settings.Spec[Secret]{
	Key:     "secret/",
	Scoping: settings.ProjectScope,
	Doc: settings.Doc{
		What:          "webhook secret",
		Title:         "Secret",
		Summary:       "Set a secret of the project that webhook actions reference as {{ .Secrets.name }}. It is never shown again.",
		DeleteSummary: "Remove a secret of the project.",
		Op:            "Secret", Body: "SecretConfig",
		Short: "Set a secret that webhook actions of a project reference",
		Long: `Configure secret stores a value that the project's webhook actions use in
their headers as {{ .Secrets.NAME }}, so remediation.yaml never holds it.
--value may be "file:PATH", "env:NAME" or "-" (standard input). The server
never shows it again.

--url binds the secret to the receivers it is meant for: it is sent only to
URLs with that scheme, host and port, under that path. A webhook pointed
anywhere else does not get it; to move the receiver, give the secret again
with the new --url.`,
		Example: `  tend configure secret restart-token --project sockshop --value file:/run/secrets/restart --url https://hooks.example.com/restart`,
	},
	Fields: []settings.Field{
		{Name: "value", Usage: "the secret", Secret: true, Required: true,
			Hint: "give the secret's value (file:PATH, env:NAME or - keep it out of the shell history)"},
		{Name: "url", Usage: "the URL prefix the secret may be sent to, e.g. https://hooks.example.com/restart", Required: true, Endpoint: true,
			Hint: "give the URL (scheme, host and path prefix) of the receivers the secret is for; it is sent nowhere else"},
		// The stored member: never given, always masked.
		{Name: "secret", Secret: true, Stored: true},
	},
	Check: func(s *Secret) []string {
		var probs []string
		if s.Value != "" {
			s.Secret, s.Value = s.Value, ""
		}
		if s.Secret == "" {
			probs = append(probs, "value is empty; give the secret's value")
		}
		if s.URL != "" {
			if p := settings.CheckURL("url", s.URL, true); p != "" {
				probs = append(probs, p)
			}
		}
		return probs
	},
	CheckName: func(name string) error {
		if !secretName.MatchString(name) {
			return &settings.InvalidError{What: "webhook secret", Problems: []string{fmt.Sprintf("secret name %q is invalid: use a letter then letters, digits, _ or - (at most 63)", name)}}
		}
		return nil
	},
})

// FromSettings returns the SecretResolver that reads a project's secrets
// through g and hands one out only for a call to the URL it is bound to.
// A missing or unbound secret is final (action.ErrInvalid): retrying does
// not change it.
func FromSettings(g settings.Getter) SecretResolver {
	return func(ctx context.Context, project, name string, target *url.URL) (string, error) {
		s, err := SecretSchema.Get(ctx, g, store.Scope{Project: project}, name)
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("%w: no secret %q is configured for project %s; set it with tend configure secret %s --project %s --value file:PATH", action.ErrInvalid, name, project, name, project)
		}
		if err != nil && !errors.Is(err, settings.ErrCorrupt) {
			return "", fmt.Errorf("read secret %q: %w", name, err)
		}
		if err != nil || s.Secret == "" {
			return "", fmt.Errorf("%w: secret %q of project %s is unreadable; set it again", action.ErrInvalid, name, project)
		}
		if s.URL == "" {
			return "", fmt.Errorf("%w: secret %q of project %s is bound to no URL (it was stored before secrets were bound to their receivers) and is sent nowhere; set it again with tend configure secret %s --project %s --value file:PATH --url URL",
				action.ErrInvalid, name, project, name, project)
		}
		if !Allows(s.URL, target) {
			return "", fmt.Errorf("%w: secret %q of project %s is bound to %s and is not sent to %s; to use it there, set it again with that --url",
				action.ErrInvalid, name, project, redactedURL(s.URL), displayURL(target))
		}
		return s.Secret, nil
	}
}

// Allows reports whether a secret bound to prefix may be sent to target:
// the same scheme, host and port, and a path at or below prefix's path,
// compared segment by segment so that /hooks does not allow /hooksmith
// and /hooks/../admin is refused.
func Allows(prefix string, target *url.URL) bool {
	p, err := url.Parse(prefix)
	if err != nil || target == nil || p.Host == "" || p.User != nil || target.User != nil {
		return false
	}
	if !strings.EqualFold(p.Scheme, target.Scheme) || !strings.EqualFold(p.Hostname(), target.Hostname()) ||
		portOf(p) != portOf(target) || portOf(p) == "" {
		return false
	}
	for _, seg := range strings.Split(target.Path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	base := strings.TrimSuffix(p.Path, "/")
	return base == "" || target.Path == base || strings.HasPrefix(target.Path, base+"/")
}

// portOf is a URL's port, the scheme's default when none is given; ""
// for schemes other than http(s).
func portOf(u *url.URL) string {
	if port := u.Port(); port != "" {
		return port
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// redactedURL shows a stored URL prefix without user information or query.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	return displayURL(u)
}
