// Package budget owns error-budget SLO files: the `slo/*.yaml` resources
// of a service written in Sloth's `prometheus/v1` format, Sloth's
// Kubernetes `PrometheusServiceLevel` or OpenSLO `v1alpha` `SLO`. It detects
// the format, decodes the file as YAML nodes through yamlnode (within its
// limits) and reports every problem with its line and column, as spec does
// for Keptn's files. It is pure: the rules are generated elsewhere
// (internal/alertrules, with Sloth's own library) from the documents this
// package has checked.
package budget

import (
	"fmt"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/yamlnode"
)

// Format is the format of one budget SLO document.
type Format string

// The formats tend reads, named by their version or apiVersion.
const (
	FormatSloth      Format = "prometheus/v1"
	FormatKubernetes Format = "sloth.slok.dev/v1"
	FormatOpenSLO    Format = "openslo/v1alpha"
)

// File is one decoded budget SLO file: one or more documents (Sloth's
// multi-document files hold one service each).
type File struct {
	Docs []Doc
}

// Doc is one document of a file: one service's SLOs.
type Doc struct {
	Format Format
	// Line is where the document starts, for messages about it.
	Line int
	// Service is the spec's service (Sloth's sloth_service label).
	Service string
	SLOs    []SLO
	// SLOPluginIDs are the Sloth SLO plugins the document's plugin chains
	// name (its own and its SLOs'), which decide where the generator
	// finds them (Sloth's built-in ones or the operator's directories).
	SLOPluginIDs []string
	// Source is the document as Sloth's generator reads it: the document
	// re-encoded alone, with tend's default alert name (DefaultAlertName)
	// written into every Sloth SLO that alerts but names no alert.
	Source []byte
}

// SLO is one objective of a document.
type SLO struct {
	// Name is the SLO's name (OpenSLO: metadata.name and the objective's
	// index, as Sloth names it).
	Name string
	// Objective is the target in percent, (0, 100].
	Objective float64
	// Period is the SLO's time window; 0 means Sloth's default, 30 days.
	Period time.Duration
	// AlertName is the name of the page and ticket alerts ("" when neither
	// is generated), Page and Ticket whether each is.
	AlertName    string
	Page, Ticket bool
	// The indicator: ErrorQuery and TotalQuery (events), ErrorRatioQuery
	// (raw), PluginID (a Sloth SLI plugin); OpenSLO's good/total ratio is
	// GoodQuery and TotalQuery.
	ErrorQuery, TotalQuery, ErrorRatioQuery, GoodQuery, PluginID string
}

// Severity, Diagnostic and Diagnostics are the YAML core's, as in
// internal/spec: a budget file's problems read like any other file's.
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

// DefaultAlertName is the name tend gives the page and ticket alerts of an
// SLO whose spec names none (Sloth requires one; OpenSLO has no place for
// it): the service and SLO names in CamelCase followed by "BudgetBurn", so
// service carts, SLO requests-availability alerts as
// CartsRequestsAvailabilityBudgetBurn.
func DefaultAlertName(service, slo string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(service+"-"+slo, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	name := b.String() + "BudgetBurn"
	if name[0] >= '0' && name[0] <= '9' {
		name = "SLO" + name
	}
	return name
}

// ProblemType is the problem title tend's intake gives a page or ticket
// burn alert, and so the problemType a remediation.yaml names: the alert
// name followed by "-page" or "-ticket". Sloth gives both alerts one name
// and tells them apart by the sloth_severity label; the title has to tell
// them apart too, so a remediation can act on the page alone.
func ProblemType(alertName, severity string) string {
	return fmt.Sprintf("%s-%s", alertName, severity)
}
