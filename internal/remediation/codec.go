package remediation

import (
	"encoding/json"
	"fmt"
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
