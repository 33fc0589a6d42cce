package yamlnode

import "strings"

// Severity says whether a diagnostic makes a file invalid.
type Severity int

// The severities of a diagnostic.
const (
	SeverityError Severity = iota
	SeverityWarning
)

// Diagnostic is one problem found in a file.
type Diagnostic struct {
	File     string
	Line     int // 1-based; 0 when the problem concerns the whole file
	Col      int // 1-based; 0 when unknown
	Severity Severity
	Message  string
}

// String formats the diagnostic as FILE:LINE:COL: message, with "warning: "
// before the message of a warning.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(Where(d.File, d.Line, d.Col))
	b.WriteString(": ")
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// Diagnostics is the list of problems found in one or more files, in the order
// they were found.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns the errors alone, without the warnings: what stops a file
// from being used, for callers (such as an evaluation) that go on despite
// warnings and report only why they cannot.
func (ds Diagnostics) Errors() Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// Strict returns a copy in which every warning is an error.
func (ds Diagnostics) Strict() Diagnostics {
	out := make(Diagnostics, len(ds))
	for i, d := range ds {
		d.Severity = SeverityError
		out[i] = d
	}
	return out
}

// Error joins the diagnostics one per line, so Diagnostics can be returned
// where an error is expected.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}
