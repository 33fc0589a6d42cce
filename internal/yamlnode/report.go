package yamlnode

import (
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"
)

// Reporter collects the diagnostics of one file while a decoder walks its
// nodes. The decoders of every kind of file tend validates embed it, so
// their problems are positioned, worded and ordered alike.
type Reporter struct {
	// File names the file in every diagnostic.
	File string
	// Diags are the diagnostics so far, in the order they were reported.
	Diags Diagnostics
}

// Add reports a problem of severity sev at n's line and column (0:0, the
// whole file, when n is nil).
func (r *Reporter) Add(sev Severity, n *yaml.Node, format string, args ...any) {
	var line, col int
	if n != nil {
		line, col = n.Line, n.Column
	}
	r.Diags = append(r.Diags, Diagnostic{File: r.File, Line: line, Col: col, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// Errorf reports a problem that makes the file unusable.
func (r *Reporter) Errorf(n *yaml.Node, format string, args ...any) {
	r.Add(SeverityError, n, format, args...)
}

// Warnf reports a construct that is ignored or cannot mean what it says.
func (r *Reporter) Warnf(n *yaml.Node, format string, args ...any) {
	r.Add(SeverityWarning, n, format, args...)
}

// Sorted sorts the diagnostics into file order, whole-file ones first and
// those at one place in the order reported, and returns them.
func (r *Reporter) Sorted() Diagnostics {
	sort.SliceStable(r.Diags, func(i, j int) bool {
		a, b := r.Diags[i], r.Diags[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return r.Diags
}
