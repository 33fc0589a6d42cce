package remediation

import (
	"encoding/json"
	"fmt"
	"time"
)

// Decode reads a stored remediation's document, the encoding/json of
// *Remediation that Encode writes; id names the remediation in the error.
// The intake, the loop, the API and the UI all read it with Decode, so
// every side agrees on the format.
func Decode(id string, doc []byte) (*Remediation, error) {
	var rem Remediation
	if err := json.Unmarshal(doc, &rem); err != nil {
		return nil, fmt.Errorf("read remediation %s: %w", id, err)
	}
	return &rem, nil
}

// Encode returns the document that stores r.
func (r *Remediation) Encode() []byte {
	// Remediation holds strings, times, finite numbers and the actions'
	// values as decoded from YAML or JSON, all of which marshal.
	b, _ := json.Marshal(r)
	return b
}

// ProblemDetails is the document stored with a problem: what its
// notification said beyond the problem's columns.
type ProblemDetails struct {
	RootCause   string            `json:"rootCause,omitempty"`
	Details     string            `json:"details,omitempty"`
	URL         string            `json:"url,omitempty"`
	Entity      string            `json:"impactedEntity,omitempty"`
	Origin      string            `json:"origin,omitempty"`
	EventID     string            `json:"eventId,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// DecodeProblemDetails reads a problem's document; an empty or unreadable
// one gives empty details.
func DecodeProblemDetails(doc []byte) ProblemDetails {
	var d ProblemDetails
	_ = json.Unmarshal(doc, &d)
	return d
}

// Encode returns the document that stores d.
func (d ProblemDetails) Encode() []byte {
	b, _ := json.Marshal(d) // strings and maps of strings: cannot fail
	return b
}

// PendingJoin is a problem that joined a remediation after its document was last
// written: its runner may record a join beside the document instead of
// rewriting it (see JoinsInPlace), and whoever reads the document folds the
// joins in with FoldJoins.
type PendingJoin struct {
	ProblemID string
	// At is when the problem joined: the time ProblemJoined was applied at.
	At time.Time
}

// JoinsInPlace reports whether a problem joining r changes nothing of it but
// its list of problems and UpdatedAt, so that the join can be recorded
// beside r's document (a PendingJoin) and folded in when the document is next read,
// with the same result as rewriting it at once. A pending stop is cleared by
// a join, so a remediation with one must be rewritten.
func (r *Remediation) JoinsInPlace() bool {
	return !r.State.Terminal() && r.StopPending == ""
}

// FoldJoins returns the document doc of remediation id with the joins
// applied in order, each as ProblemJoined at its time: the document its
// runner would have written had it rewritten the document for each join.
// It fails when doc does not decode or a join is not a legal move.
func FoldJoins(id string, doc []byte, joins []PendingJoin) ([]byte, error) {
	if len(joins) == 0 {
		return doc, nil
	}
	r, err := Decode(id, doc)
	if err != nil {
		return nil, err
	}
	if err := r.fold(joins); err != nil {
		return nil, fmt.Errorf("fold the joins of remediation %s: %w", id, err)
	}
	return r.Encode(), nil
}

// fold applies the joins as Apply(ProblemJoined) would, one after the
// other, in one pass: Apply copies the remediation for every move, which
// for many joins to a remediation of many problems is quadratic.
// TestFoldJoinsIsApply checks that both agree.
func (r *Remediation) fold(joins []PendingJoin) error {
	if _, ok := Allowed(r.State, KindProblemJoined); !ok {
		return &IllegalMoveError{Remediation: r.ID, State: r.State, Event: KindProblemJoined, Why: "no transition"}
	}
	have := make(map[string]bool, len(r.Problems)+len(joins))
	for _, p := range r.Problems {
		have[p.ID] = true
	}
	for _, j := range joins {
		if j.ProblemID == "" {
			return &IllegalMoveError{Remediation: r.ID, State: r.State, Event: KindProblemJoined, Why: "the joining problem has no id"}
		}
		if !have[j.ProblemID] {
			have[j.ProblemID] = true
			r.Problems = append(r.Problems, ProblemRef{ID: j.ProblemID})
			r.StopPending = ""
		}
		r.UpdatedAt = j.At
	}
	return nil
}
