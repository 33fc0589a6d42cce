package sli

import (
	"errors"
	"fmt"
	"time"

	"github.com/tendhq/tend/internal/settings"
)

// ExternalKey is the monitoring provider that tend does not query itself:
// an evaluation hands its get-sli task out to a Keptn integration (such
// as Keptn's dynatrace-service) and waits for its get-sli.finished.
const ExternalKey = "external"

// DefaultExternalTimeout is how long an evaluation waits for an external
// provider's answer when the setting names no timeout.
const DefaultExternalTimeout = 10 * time.Minute

// ExternalSettings are the external variant of the monitoring setting.
type ExternalSettings struct {
	// Name is the sliProvider of get-sli.triggered, which the integration
	// answers for (Keptn's dynatrace-service answers "dynatrace").
	Name string `json:"name"`
	// Timeout is how long an evaluation waits for the answer, as a Go
	// duration ("10m"); "" means DefaultExternalTimeout.
	Timeout string `json:"timeout,omitempty"`
}

// TimeoutOrDefault returns the wait of a checked value.
func (s ExternalSettings) TimeoutOrDefault() time.Duration {
	if d, err := time.ParseDuration(s.Timeout); err == nil && d > 0 {
		return d
	}
	return DefaultExternalTimeout
}

// ExternalSchema is the external variant of the monitoring setting.
var ExternalSchema = settings.Define(settings.Spec[ExternalSettings]{
	Key: ExternalKey,
	Doc: settings.Doc{
		What:  "external SLI provider configuration",
		Short: "Make evaluations ask a Keptn integration for SLIs",
		Example: `  tend configure monitoring external --project sockshop --name dynatrace
  tend configure monitoring external --project sockshop --name my-sli-service --timeout 2m`,
	},
	Fields: []settings.Field{
		{Name: "name", Usage: "the sliProvider of get-sli.triggered that the integration answers for (required)", Required: true,
			Hint: "give the provider name the integration answers for, e.g. --name dynatrace"},
		{Name: "timeout", Usage: "how long an evaluation waits for the integration's get-sli.finished (default 10m)"},
	},
	Check: func(s *ExternalSettings) []string {
		var probs []string
		if len(s.Name) > 100 {
			probs = append(probs, "name is longer than 100 characters")
		}
		if s.Timeout != "" {
			d, err := time.ParseDuration(s.Timeout)
			switch {
			case err != nil:
				probs = append(probs, fmt.Sprintf("timeout %q is not a duration such as 10m or 90s", s.Timeout))
			case d < time.Second || d > 24*time.Hour:
				probs = append(probs, fmt.Sprintf("timeout %s must be between 1s and 24h", d))
			default:
				s.Timeout = d.String()
			}
		}
		return probs
	},
})

// ErrExternal is what ExternalKind's New returns: an external provider is
// asked through events, never called.
var ErrExternal = errors.New("an external SLI provider is asked through get-sli events, not called")

// ExternalKind registers the external provider (app lists it). The
// evaluation sequence recognises the variant and never builds it.
var ExternalKind = Kind{
	Settings: ExternalSchema,
	New: func([]byte, Options) (Provider, error) {
		return nil, ErrExternal
	},
}
