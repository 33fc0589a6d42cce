// Package event owns tend's CloudEvent envelope and Keptn's event vocabulary:
// it parses and validates the structured-JSON CloudEvents that Keptn
// integrations send (CloudEvents 1.0, and Keptn 0.6/0.7's 0.2), assigns each
// event its Keptn context, names the task, sequence and legacy types, and
// builds the events tend itself emits. It is a core package: it does no I/O
// and imports nothing but the standard library.
package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SpecVersion is the CloudEvents version tend stores and emits. Events of
// older versions are converted to it when parsed.
const SpecVersion = "1.0"

// DefaultSource is the CloudEvents source of the events tend emits when a
// Builder names none.
const DefaultSource = "tend"

// JSONContentType is the datacontenttype of every event tend stores: Keptn
// events carry their data as a JSON object.
const JSONContentType = "application/json"

// Keptn's status and result values in event data.
const (
	StatusSucceeded = "succeeded"
	StatusErrored   = "errored"
	StatusUnknown   = "unknown"
	StatusAborted   = "aborted"

	ResultPass    = "pass"
	ResultWarning = "warning"
	ResultFail    = "fail"
)

// Event is one CloudEvent in structured-JSON form, with Keptn's extension
// attributes as fields. Parse fills every field it can and guarantees that
// ID, Source, Type, Time and KeptnContext are set and that Data is a compact
// JSON object; an Event built by hand is checked only when it is marshalled.
type Event struct {
	ID              string
	Source          string
	Type            string
	SpecVersion     string
	Time            time.Time
	DataContentType string
	DataSchema      string
	Subject         string

	// KeptnContext is the shkeptncontext extension: a UUID that ties a
	// whole process (a sequence, a remediation) together.
	KeptnContext string
	// TriggeredID is the triggeredid extension: the id of the .triggered
	// event that a .started, .status.changed or .finished event answers.
	TriggeredID string
	// GitCommitID is the gitcommitid extension: the resource version the
	// event's process works on.
	GitCommitID string

	// Extensions holds every other extension attribute, by name, as its
	// JSON value (a string, number or boolean), so that an event re-emitted
	// by tend carries them unchanged. Use Extension and SetExtension to
	// read and write string values.
	Extensions map[string]json.RawMessage

	// Data is the event's data, a JSON object.
	Data json.RawMessage
}

// knownAttributes are the attribute names that Event holds in fields, plus
// those Parse converts or refuses; an extension must not reuse them.
var knownAttributes = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "time": true,
	"datacontenttype": true, "dataschema": true, "subject": true,
	"data": true, "data_base64": true,
	"shkeptncontext": true, "triggeredid": true, "gitcommitid": true,
	"contenttype": true, "schemaurl": true, "datacontentencoding": true,
}

// Extension returns the value of an extension attribute as text: a string's
// value, or the JSON text of a number or boolean. It reports false when the
// event has no such extension.
func (e *Event) Extension(name string) (string, bool) {
	raw, ok := e.Extensions[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return string(raw), true
}

// SetExtension sets an extension attribute to a string value. Names are
// checked when the event is marshalled.
func (e *Event) SetExtension(name, value string) {
	if e.Extensions == nil {
		e.Extensions = make(map[string]json.RawMessage)
	}
	e.Extensions[name] = marshalString(value)
}

// CommonData is the part of a Keptn event's data that every Keptn event
// shares. Fields missing from the data are "".
type CommonData struct {
	Project string
	Stage   string
	Service string
	// Labels are the event's labels. Keptn's specification makes every
	// value a string, but real senders (the Dynatrace service) put objects
	// there too; such a value is kept as its compact JSON text, so no label
	// is lost and the map stays a map of strings.
	Labels map[string]string
	// Status is succeeded, errored, unknown or aborted on .finished and
	// .status.changed events.
	Status string
	// Result is pass, warning or fail on .finished events.
	Result string
	// Message is a human-readable explanation, mostly of failures.
	Message string
}

// Common decodes the fields every Keptn event's data shares. Names match
// exactly (encoding/json would also take "Project" for "project"), and a
// repeated name counts by its last value, the same rules Parse validated
// with. It fails only for an Event whose Data did not come from Parse or a
// Builder and is not a JSON object of the right shape. Each call walks Data
// again, so a caller that needs several fields calls Common once.
func (e *Event) Common() (CommonData, error) {
	if len(e.Data) == 0 {
		return CommonData{}, nil
	}
	if !json.Valid(e.Data) {
		return CommonData{}, fmt.Errorf("decode event data: not valid JSON")
	}
	fields, ok := members(e.Data)
	if !ok {
		return CommonData{}, fmt.Errorf("decode event data: got %s, want an object", jsonKind(e.Data))
	}
	var c CommonData
	var bad []string
	for name, dst := range map[string]*string{
		"project": &c.Project, "stage": &c.Stage, "service": &c.Service,
		"status": &c.Status, "result": &c.Result, "message": &c.Message,
	} {
		v := fields.get(name)
		if v == nil || isNull(v) {
			continue
		}
		s, ok := stringValue(v)
		if !ok {
			bad = append(bad, name)
			continue
		}
		*dst = s
	}
	if v := fields.get("labels"); v != nil && !isNull(v) {
		labels, ok := members(v)
		if !ok {
			bad = append(bad, "labels")
		} else if len(labels) > 0 {
			c.Labels = make(map[string]string, len(labels))
			for _, l := range labels {
				c.Labels[l.name] = labelText(l.value)
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return c, fmt.Errorf("decode event data: %s of the wrong JSON type", strings.Join(bad, ", "))
	}
	return c, nil
}

// labelText turns one label's JSON value into the string Labels holds:
// a string's value, "" for null, else the value's compact JSON text.
func labelText(v json.RawMessage) string {
	if s, ok := stringValue(v); ok {
		return s
	}
	if isNull(v) {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return string(v)
	}
	return b.String()
}

// Project returns data.project, or "" when it is missing or Data is not a
// Keptn data object.
func (e *Event) Project() string { c, _ := e.Common(); return c.Project }

// Stage returns data.stage, or "".
func (e *Event) Stage() string { c, _ := e.Common(); return c.Stage }

// Service returns data.service, or "".
func (e *Event) Service() string { c, _ := e.Common(); return c.Service }

// Labels returns data.labels, with non-string values as JSON text (see
// CommonData.Labels), or nil.
func (e *Event) Labels() map[string]string { c, _ := e.Common(); return c.Labels }

// Status returns data.status, or "".
func (e *Event) Status() string { c, _ := e.Common(); return c.Status }

// Result returns data.result, or "".
func (e *Event) Result() string { c, _ := e.Common(); return c.Result }

// Message returns data.message, or "".
func (e *Event) Message() string { c, _ := e.Common(); return c.Message }

// ParsedType takes the event's type apart (see ParseType).
func (e *Event) ParsedType() (Type, bool) { return ParseType(e.Type) }

// MarshalJSON writes the event as a structured-JSON CloudEvent 1.0: the
// context attributes in a fixed order, then the extensions (Keptn's first,
// the others sorted by name) at the top level, then data. Empty optional
// attributes are left out. It fails when an extension's name is not a valid
// CloudEvents attribute name or is one of the standard attributes, when an
// extension is not a JSON string, number or boolean, or when Data is not
// valid JSON.
func (e Event) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(256 + len(e.Data))
	b.WriteByte('{')
	n := 0
	field := func(name string, value []byte) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteByte('"')
		b.WriteString(name)
		b.WriteString(`":`)
		b.Write(value)
	}
	str := func(name, value string, always bool) {
		if value != "" || always {
			field(name, marshalString(value))
		}
	}
	str("specversion", SpecVersion, true)
	str("id", e.ID, true)
	str("source", e.Source, true)
	str("type", e.Type, true)
	if !e.Time.IsZero() {
		str("time", e.Time.UTC().Format(time.RFC3339Nano), false)
	}
	str("datacontenttype", e.DataContentType, false)
	str("dataschema", e.DataSchema, false)
	str("subject", e.Subject, false)
	str("shkeptncontext", e.KeptnContext, false)
	str("triggeredid", e.TriggeredID, false)
	str("gitcommitid", e.GitCommitID, false)

	names := make([]string, 0, len(e.Extensions))
	for name := range e.Extensions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if knownAttributes[name] {
			return nil, fmt.Errorf("marshal event: extension %q collides with the CloudEvents attribute of that name", name)
		}
		if !validAttributeName(name) {
			return nil, fmt.Errorf("marshal event: extension name %q is invalid: CloudEvents attribute names use only a-z and 0-9", name)
		}
		v, err := extensionValue(e.Extensions[name])
		if err != nil {
			return nil, fmt.Errorf("marshal event: extension %q %w", name, err)
		}
		field(name, v)
	}
	if len(e.Data) > 0 {
		var d bytes.Buffer
		if err := json.Compact(&d, e.Data); err != nil {
			return nil, fmt.Errorf("marshal event: \"data\" is not valid JSON: %w", err)
		}
		field("data", d.Bytes())
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON parses a structured-JSON CloudEvent with Parse, so that a
// JSON list of events decodes into []Event with the same validation and
// conversions the API applies on intake.
func (e *Event) UnmarshalJSON(data []byte) error {
	ev, err := Parse(data)
	if err != nil {
		return err
	}
	*e = *ev
	return nil
}

// extensionValue checks that raw is one JSON string, number or boolean and
// returns it compacted.
func extensionValue(raw json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("is not valid JSON: %w", err)
	}
	v := b.Bytes()
	if len(v) == 0 {
		return nil, fmt.Errorf("is empty; want a string, number or boolean")
	}
	switch v[0] {
	case '{':
		return nil, fmt.Errorf("must be a string, number or boolean, got an object")
	case '[':
		return nil, fmt.Errorf("must be a string, number or boolean, got an array")
	case 'n':
		return nil, fmt.Errorf("must be a string, number or boolean, got null")
	}
	return v, nil
}

// validAttributeName applies CloudEvents 1.0's naming rule: lower-case ASCII
// letters and digits only.
func validAttributeName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// marshalString encodes s as a JSON string without escaping <, > and &,
// which keeps URLs in sources and labels readable.
func marshalString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		// Encoding a string cannot fail; quote it anyway rather than panic.
		return []byte(strconv.Quote(s))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}
