// Package spec owns Keptn's file formats (SLO, SLI, remediation and shipyard
// files): it decodes them as YAML nodes, reports every problem with its file,
// line and column, and maps valid files to domain types.
package spec

import "github.com/tendhq/tend/internal/yamlnode"

// Kind is the kind of a Keptn file.
type Kind string

// The kinds of file tend understands.
const (
	KindSLO         Kind = "slo"
	KindSLI         Kind = "sli"
	KindRemediation Kind = "remediation"
	KindShipyard    Kind = "shipyard"
	// KindBudget is an error-budget SLO file (slo/*.yaml in Sloth's or
	// OpenSLO's format), which internal/budget decodes.
	KindBudget Kind = "budget"
)

// Kinds lists every kind, for flag help and errors.
var Kinds = []Kind{KindSLO, KindSLI, KindRemediation, KindShipyard, KindBudget}

// Severity, Diagnostic and Diagnostics are the YAML core's, shared by
// every decoder of files tend validates (internal/budget's too), so
// diagnostics of any kind of file read and print alike.
type (
	Severity    = yamlnode.Severity
	Diagnostic  = yamlnode.Diagnostic
	Diagnostics = yamlnode.Diagnostics
)

// The severities of a diagnostic.
const (
	SeverityError   = yamlnode.SeverityError
	SeverityWarning = yamlnode.SeverityWarning
)
