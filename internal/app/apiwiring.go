package app

import (
	"github.com/tendhq/tend/internal/alertrules"
	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/config"
	sliprometheus "github.com/tendhq/tend/internal/sli/prometheus"
)

// alertQueries builds the PromQL of the API's generated alert rules. The
// API may not import the Prometheus adapter (only app and cli import
// adapters, docs/ARCHITECTURE.md), so app hands it the adapter's pure
// query builder, the one evaluations use.
var alertQueries alertrules.Querier = sliprometheus.QueryBuilder{}

// intakeLabels fills the alert label names that o leaves empty from the
// server-wide configuration (tend.yaml intake.labels and the
// TEND_INTAKE_*_LABEL variables). Names set in Options.Intake win, so
// tests and embedders can still set them directly.
func intakeLabels(o api.IntakeOptions, cfg *config.Config) api.IntakeOptions {
	l, c := &o.Labels, cfg.Intake.Labels
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&l.ProjectLabel, c.Project}, {&l.StageLabel, c.Stage},
		{&l.ServiceLabel, c.Service}, {&l.RootCauseLabel, c.RootCause},
	} {
		if *f.dst == "" {
			*f.dst = f.v
		}
	}
	return o
}

// intakeLimits fills the intake's cap on new unmatched problems from
// tend.yaml's intake.maxUnmatchedPerMinute (0 there means no limit), unless
// Options.Intake sets it.
func intakeLimits(o api.IntakeOptions, cfg *config.Config) api.IntakeOptions {
	if o.MaxUnmatchedPerMinute != 0 {
		return o
	}
	o.MaxUnmatchedPerMinute = cfg.Intake.MaxUnmatchedPerMinute
	if o.MaxUnmatchedPerMinute == 0 {
		o.MaxUnmatchedPerMinute = -1
	}
	return o
}
