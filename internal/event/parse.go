package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/jsonpos"
)

// ErrInvalid is matched (errors.Is) by every error Parse returns for input
// that is not an acceptable event; the API answers such errors with 400.
var ErrInvalid = errors.New("invalid event")

// Problem is one thing wrong with an event.
type Problem struct {
	// Field names the attribute ("type") or data field ("data.project") at
	// fault; it is "" for problems of the whole document, such as bad JSON.
	Field string
	// Message says what is wrong and what would be right, naming the field
	// itself, so it reads on its own.
	Message string
}

// ValidationError lists every problem Parse found in one event. A JSON
// syntax error is reported alone, with its position.
type ValidationError struct {
	Problems []Problem
	// Offset, Line and Column locate a JSON syntax error (Offset in bytes
	// from 0, Line and Column from 1); they are 0 for other problems.
	Offset, Line, Column int
}

// Error joins the problems' messages.
func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return "invalid event: " + strings.Join(msgs, "; ")
}

// Unwrap makes every ValidationError match ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// Parser parses events with an injectable clock and id source, so that tests
// of code that receives events without an id or time get fixed values.
type Parser struct {
	// Now stamps events that carry no time; time.Now when nil.
	Now func() time.Time
	// NewID returns the id of events that carry none, and the Keptn
	// context of events that carry none; it must return a fresh UUID each
	// call. NewUUID when nil.
	NewID func() string
}

// Parse parses one structured-JSON CloudEvent with the default Parser.
func Parse(data []byte) (*Event, error) { return Parser{}.Parse(data) }

// Parse decodes one structured-JSON CloudEvent and validates it. It accepts
// CloudEvents 1.0 and the 0.2 (and 0.3) envelopes of Keptn 0.6/0.7, and
// returns a 1.0 event:
//
//   - contenttype (0.2, and some Keptn 1.0 senders by mistake) becomes
//     datacontenttype, and schemaurl becomes dataschema;
//   - an empty or missing id gets a fresh UUID, and an empty or missing time
//     gets the time of parsing, since Keptn's own fixtures and integrations
//     send both empty; times are kept in UTC;
//   - the Keptn context is set by ContextFor's rules: generated when
//     missing, lower-cased when a UUID, mapped to a name-based UUID
//     otherwise;
//   - data is required, must be a JSON object, and is kept compacted; its
//     project, stage and service, when present, must be Keptn names, its
//     labels an object, and its status, result and message strings.
//
// Every problem is reported, not just the first, in a *ValidationError that
// matches ErrInvalid. Parse never modifies data.
func (p Parser) Parse(data []byte) (*Event, error) {
	attrs, verr := decodeObject(data)
	if verr != nil {
		return nil, verr
	}
	var probs problems

	// The version decides how the other attributes are read, so a missing
	// or unknown version is reported alone.
	version, ok := specVersion(attrs, &probs)
	if !ok {
		return nil, probs.err()
	}

	e := &Event{SpecVersion: SpecVersion}
	var rawTime, contentType, legacyContentType, schema, legacySchema string
	strAttrs := map[string]*string{
		"id": &e.ID, "source": &e.Source, "type": &e.Type, "subject": &e.Subject,
		"time": &rawTime, "datacontenttype": &contentType, "dataschema": &schema,
		"contenttype": &legacyContentType, "schemaurl": &legacySchema,
		"shkeptncontext": &e.KeptnContext, "triggeredid": &e.TriggeredID,
		"gitcommitid": &e.GitCommitID,
	}
	for _, a := range attrs {
		switch name := a.name; {
		case name == "specversion", name == "data":
		case strAttrs[name] != nil:
			if isNull(a.value) {
				continue // CloudEvents' JSON format reads null as absent.
			}
			if s, ok := stringValue(a.value); ok {
				*strAttrs[name] = s
			} else {
				probs.add(name, "%q must be a string, got %s", name, jsonKind(a.value))
			}
		case name == "data_base64":
			probs.add(name, `"data_base64" is not supported: Keptn events carry "data" as a JSON object`)
		case name == "datacontentencoding":
			probs.add(name, `"datacontentencoding" (CloudEvents %s) is not supported: Keptn events carry "data" as a JSON object`, version)
		case !validAttributeName(name):
			probs.add(name, "attribute name %q is invalid: CloudEvents attribute names use only lower-case letters a-z and digits 0-9", name)
		default:
			if isNull(a.value) {
				continue
			}
			v, err := extensionValue(a.value)
			if err != nil {
				probs.add(name, "extension %q %v", name, err)
				continue
			}
			if e.Extensions == nil {
				e.Extensions = make(map[string]json.RawMessage)
			}
			e.Extensions[name] = v
		}
	}

	if e.Type == "" {
		probs.add("type", `"type" is required, e.g. "sh.keptn.event.evaluation.triggered"`)
	}
	if e.Source == "" {
		probs.add("source", `"source" is required: it names the sender, e.g. "dynatrace" or "https://github.com/org/tool"`)
	}
	if e.ID == "" {
		e.ID = p.newID()
	}
	if rawTime == "" {
		e.Time = p.now().UTC()
	} else if t, err := time.Parse(time.RFC3339, rawTime); err != nil {
		probs.add("time", `"time" must be RFC 3339, e.g. "2006-01-02T15:04:05.999Z", got %q`, rawTime)
	} else if y := t.UTC().Year(); y < 0 || y > 9999 {
		// RFC 3339 has four-digit years; in UTC the time must still fit.
		probs.add("time", `"time" %q is out of range: in UTC it must fall in the years 0000 to 9999`, rawTime)
	} else {
		e.Time = t.UTC()
	}
	if contentType == "" {
		contentType = legacyContentType
	}
	if contentType == "" {
		contentType = JSONContentType
	} else if !isJSONMediaType(contentType) {
		probs.add("datacontenttype", `"datacontenttype" must be application/json (or another JSON media type) for Keptn events, got %q`, contentType)
	}
	e.DataContentType = contentType
	if schema == "" {
		schema = legacySchema
	}
	e.DataSchema = schema
	if e.KeptnContext == "" {
		e.KeptnContext = p.newID()
	} else {
		e.KeptnContext = mapContext(e.KeptnContext)
	}

	e.Data = checkData(attrs.get("data"), &probs)
	if len(probs) > 0 {
		return nil, probs.err()
	}
	return e, nil
}

func (p Parser) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p Parser) newID() string {
	if p.NewID != nil {
		return p.NewID()
	}
	return NewUUID()
}

// specVersion reads and checks specversion.
func specVersion(attrs attributes, probs *problems) (string, bool) {
	raw := attrs.get("specversion")
	if raw == nil || isNull(raw) {
		switch {
		case attrs.get("alerts") != nil && attrs.get("version") != nil:
			probs.add("specversion", `"specversion" is required: this looks like an Alertmanager webhook message, not a CloudEvent; send it to /api/v1/integrations/alertmanager`)
		case attrs.get("type") == nil && jsonKind(attrs.get("events")) == "an array":
			probs.add("specversion", `"specversion" is required: this looks like a list of events ({"events": [...]}), not one CloudEvent; send the events one at a time`)
		default:
			probs.add("specversion", `"specversion" is required: a CloudEvent names its version, "1.0"`)
		}
		return "", false
	}
	v, ok := stringValue(raw)
	if !ok {
		probs.add("specversion", `"specversion" must be a string such as "1.0", got %s`, jsonKind(raw))
		return "", false
	}
	switch v {
	case "1.0", "0.2", "0.3":
		return v, true
	}
	probs.add("specversion", `"specversion" must be "1.0" (or Keptn 0.6's "0.2"), got %q`, v)
	return "", false
}

// checkData validates the data attribute and returns it compacted.
func checkData(raw json.RawMessage, probs *problems) json.RawMessage {
	if raw == nil || isNull(raw) {
		probs.add("data", `"data" is required: Keptn events carry a JSON object with project, stage and service`)
		return nil
	}
	if raw[0] != '{' {
		probs.add("data", `"data" must be a JSON object for Keptn events, got %s`, jsonKind(raw))
		return nil
	}
	// Compacting copies data out of the caller's buffer and checks its
	// syntax, which Parse has checked already and json.Marshal guarantees
	// for a Builder.
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		probs.add("data", `"data" is not valid JSON: %v`, err)
		return nil
	}
	raw = b.Bytes()
	fields, _ := members(raw)
	for _, name := range []string{"project", "stage", "service"} {
		v := fields.get(name)
		if v == nil || isNull(v) {
			continue
		}
		s, ok := stringValue(v)
		if !ok {
			probs.add("data."+name, `"data.%s" must be a string, got %s`, name, jsonKind(v))
			continue
		}
		if s != "" && !IsName(s) {
			hint := ""
			if strings.HasPrefix(s, "$") {
				hint = " (an unexpanded template placeholder?)"
			}
			probs.add("data."+name, `"data.%s" must be a Keptn name: a lower-case letter, then lower-case letters, digits or '-', not ending in '-'; got %q%s`, name, s, hint)
		}
	}
	for _, name := range []string{"status", "result", "message"} {
		if v := fields.get(name); v != nil && !isNull(v) {
			if _, ok := stringValue(v); !ok {
				probs.add("data."+name, `"data.%s" must be a string, got %s`, name, jsonKind(v))
			}
		}
	}
	if v := fields.get("labels"); v != nil && !isNull(v) && v[0] != '{' {
		probs.add("data.labels", `"data.labels" must be a JSON object of names to strings, got %s`, jsonKind(v))
	}
	return raw
}

// IsName reports whether s is a valid Keptn project, stage or service name:
// a lower-case letter, then lower-case letters, digits and '-', not ending in
// '-'. Keptn used these names as Git branches and Kubernetes namespaces
// (<project>-<stage>), which is where the rule comes from.
func IsName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isJSONMediaType accepts application/json, text/json and any +json type,
// with or without parameters such as charset.
func isJSONMediaType(s string) bool {
	mt, _, err := mime.ParseMediaType(s)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// attribute is one member of a JSON object: its name and its value, a
// slice of the parsed document.
type attribute struct {
	name  string
	value json.RawMessage
}

// attributes keeps an object's members in document order, so problems are
// reported in the order a reader meets them.
type attributes []attribute

// get returns the value of the last member called name, or nil. Last, as
// encoding/json decides duplicates, so that validation and later decoding
// see the same value.
func (as attributes) get(name string) json.RawMessage {
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].name == name {
			return as[i].value
		}
	}
	return nil
}

// decodeObject checks that data is one JSON object and returns its members,
// rejecting duplicate attribute names (encoding/json would silently keep the
// last one).
func decodeObject(data []byte) (attributes, *ValidationError) {
	if i := invalidUTF8(data); i >= 0 {
		return nil, syntaxError(data, i, "the event is not valid UTF-8")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &ValidationError{Problems: []Problem{{Message: "the event is empty: want a JSON object"}}}
	}
	if !json.Valid(data) {
		var raw json.RawMessage
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(data, &raw), &se) {
			if se.Offset >= int64(len(data)) && strings.HasPrefix(se.Error(), "unexpected end") {
				return nil, syntaxError(data, len(data), "unexpected end of JSON input: the event is cut short")
			}
			// Offset counts the bytes read, including the offending one.
			return nil, syntaxError(data, max(int(se.Offset)-1, 0), se.Error())
		}
		return nil, syntaxError(data, len(data), "unexpected end of JSON input: the event is cut short")
	}
	attrs, ok := members(data)
	if !ok {
		kind := jsonKind(data)
		return nil, &ValidationError{Problems: []Problem{{Message: "a CloudEvent must be a JSON object, got " + kind}}}
	}
	seen := make(map[string]bool, len(attrs))
	for _, a := range attrs {
		if seen[a.name] {
			return nil, &ValidationError{Problems: []Problem{{Field: a.name, Message: fmt.Sprintf("attribute %q appears twice", a.name)}}}
		}
		seen[a.name] = true
	}
	return attrs, nil
}

// members lists the members of a JSON object. data must be valid JSON (the
// caller checks with json.Valid); members reports false when it is not an
// object. It does not decode the values, which keeps parsing a large event
// to one validation pass and one walk over its top level.
func members(data []byte) (attributes, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	var out attributes
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] != '}' {
		end := stringEnd(data, i)
		name, ok := stringValue(data[i:end])
		if !ok {
			return nil, false
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}
		i = skipSpace(data, i+1)
		end = valueEnd(data, i)
		out = append(out, attribute{name: name, value: data[i:end:end]})
		i = skipSpace(data, end)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return out, i < len(data)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the offset just past the JSON string starting at i.
func stringEnd(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// valueEnd returns the offset just past the JSON value starting at i.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return len(data)
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = stringEnd(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(data)
	default: // a number, true, false or null
		j := i
		for j < len(data) && !strings.ContainsRune(",}] \t\n\r", rune(data[j])) {
			j++
		}
		return j
	}
}

// syntaxError reports a problem at byte offset off of data.
func syntaxError(data []byte, off int, msg string) *ValidationError {
	off = min(max(off, 0), len(data))
	line, col := jsonpos.LineCol(data, int64(off))
	return &ValidationError{
		Problems: []Problem{{Message: fmt.Sprintf("invalid JSON at line %d, column %d (byte %d): %s", line, col, off, msg)}},
		Offset:   off, Line: line, Column: col,
	}
}

// invalidUTF8 returns the offset of the first byte that is not valid UTF-8,
// or -1.
func invalidUTF8(data []byte) int {
	if utf8.Valid(data) {
		return -1
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

// stringValue decodes v when it is a JSON string.
func stringValue(v json.RawMessage) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		// Valid JSON has no control characters in strings, so without
		// escapes the text between the quotes is the value.
		return string(v[1 : len(v)-1]), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// problems collects Problems.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() *ValidationError { return &ValidationError{Problems: ps} }
