package sli

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/settings"
)

// MonitoringKey is the store setting that says which SLI provider a
// service's evaluations query.
const MonitoringKey = "monitoring"

// Kind is one SLI provider type as the composition root registers it: the
// schema of its connection settings (its Key is the provider's name, the
// "provider" of the monitoring setting) and how to build a provider from
// a stored value. Adding a provider is a package that exports a Kind (ProviderKind) and
// one line in app that lists it.
type Kind struct {
	Settings settings.Schema
	// New builds the provider of a stored, checked value. Its errors must
	// not contain the value's secrets.
	New func(value []byte, o Options) (Provider, error)
}

// Options are what every provider is built with.
type Options struct {
	// Timeout bounds each query; 0 means the provider's default.
	Timeout time.Duration
	Logger  *slog.Logger
	// HTTPClient makes the provider's calls; app hands in the client of
	// the outbound policy. nil means the provider's default.
	HTTPClient *http.Client
	// Labels name the labels that carry tend's project, stage and service
	// on the series of recording rules tend generates (tend.yaml
	// intake.labels); the Prometheus provider reads budget SLOs by them.
	// Empty fields are project, stage and service.
	Labels LabelNames
}

// LabelNames name the labels of a project, a stage and a service.
type LabelNames struct {
	Project, Stage, Service string
}

// WithDefaults fills the empty fields with project, stage and service.
func (l LabelNames) WithDefaults() LabelNames {
	for _, f := range []struct {
		dst *string
		def string
	}{{&l.Project, "project"}, {&l.Stage, "stage"}, {&l.Service, "service"}} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	return l
}

// Monitoring returns the monitoring setting over the providers' schemas:
// {"provider": NAME, ...that provider's fields}, stored per project,
// stage, service or service in a stage; the most specific one applies.
func Monitoring(kinds ...Kind) *settings.Choice {
	variants := make([]settings.Schema, len(kinds))
	names := make([]string, len(kinds))
	for i, k := range kinds {
		variants[i], names[i] = k.Settings, k.Settings.Key()
	}
	return settings.NewChoice(MonitoringKey, "provider", settings.Doc{
		What:          "monitoring configuration",
		Title:         "Monitoring",
		Summary:       "Set the SLI provider (" + strings.Join(names, " or ") + ") of the project, a stage, a service or a service in a stage; the most specific applies. The answer masks secrets.",
		DeleteSummary: "Remove the SLI provider configuration of a scope.",
		Op:            "Monitoring", Body: "MonitoringConfig",
		Short: "Set the SLI provider evaluations query",
		Long: `Configure monitoring stores the SLI provider that evaluations of the project
query, for the whole project or only a stage (--stage), a service in every
stage (--service, as keptn configure monitoring took it) or a service in one
stage (both). An evaluation uses the most specific configuration: service in
the stage, service, stage, project. Running it again replaces the
configuration of that scope.

Secrets may be given as "file:PATH" (the first line of a file), "env:NAME"
(an environment variable) or "-" (standard input), so they stay out of the
shell history. The CLI resolves these forms itself and sends the plain
value to the server (use https, or loopback). The server stores it, uses it
only to query the provider, and never shows it again: answers, events and
logs mask it.`,
	}, variants...)
}
