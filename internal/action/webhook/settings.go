package webhook

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

// Secret is a named secret of a project that webhook headers reference as
// {{ .Secrets.NAME }}, stored under "secret/NAME" as {"secret": VALUE}.
// The API and the CLI take it as "value"; Check moves it to "secret", the
// member stored since the first version, so existing secrets still read.
type Secret struct {
	Value  string `json:"value,omitempty"`
	Secret string `json:"secret,omitempty"`
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
never shows it again.`,
		Example: `  tend configure secret restart-token --project sockshop --value file:/run/secrets/restart`,
	},
	Fields: []settings.Field{
		{Name: "value", Usage: "the secret", Secret: true, Required: true,
			Hint: "give the secret's value (file:PATH, env:NAME or - keep it out of the shell history)"},
		// The stored member: never given, always masked.
		{Name: "secret", Secret: true, Stored: true},
	},
	Check: func(s *Secret) []string {
		if s.Value != "" {
			s.Secret, s.Value = s.Value, ""
		}
		if s.Secret == "" {
			return []string{"value is empty; give the secret's value"}
		}
		return nil
	},
	CheckName: func(name string) error {
		if !secretName.MatchString(name) {
			return &settings.InvalidError{What: "webhook secret", Problems: []string{fmt.Sprintf("secret name %q is invalid: use a letter then letters, digits, _ or - (at most 63)", name)}}
		}
		return nil
	},
})

// FromSettings returns the SecretResolver that reads a project's secrets
// through g. A missing secret is final (action.ErrInvalid): retrying does
// not make it appear.
func FromSettings(g settings.Getter) SecretResolver {
	return func(ctx context.Context, project, name string) (string, error) {
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
		return s.Secret, nil
	}
}
