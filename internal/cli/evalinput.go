package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"github.com/tendhq/tend/internal/jsonpos"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
)

// This file decodes the JSON inputs of `tend evaluate`: the SLI values and
// the previous evaluations. Both come from outside (CI pipelines, exports of
// Keptn's event store), so every error names the file, the line and column
// and what was expected, and no input makes the decoders panic.

const (
	wantSLIValues = `a JSON list of indicator values [{"metric": "...", "value": 1.5, "success": true}] or an object {"sli_name": 1.5}`
	wantPrevious  = `a JSON list of previous evaluations, newest first: [{"id": "...", "result": "pass", "indicatorResults": [{"value": {"metric": "...", "value": 1.5, "success": true}}]}]`
)

// posError is an input error at a position in a file; it prints like a
// validation diagnostic.
type posError struct {
	d spec.Diagnostic
}

func (e *posError) Error() string { return e.d.String() }

// errorAt builds a posError for the byte offset off of data.
func errorAt(file string, data []byte, off int64, format string, args ...any) error {
	line, col := jsonpos.LineCol(data, off)
	return &posError{d: spec.Diagnostic{File: file, Line: line, Col: col, Message: fmt.Sprintf(format, args...)}}
}

// jsonError turns an error of encoding/json into a posError. The offsets in
// the error count from base; fallback is the offset to report when the error
// carries none (the start of the value being decoded).
func jsonError(file string, data []byte, base, fallback int64, err error, want string) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		if se.Offset >= int64(len(data))-base {
			return errorAt(file, data, int64(len(data)), "the JSON ends too early; want %s", want)
		}
		return errorAt(file, data, base+se.Offset-1, "invalid JSON: %v; want %s", se, want)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		what := "value"
		if te.Field != "" {
			what = strconv.Quote(te.Field)
		}
		return errorAt(file, data, base+te.Offset-1, "%s is %s; want %s", what, jsonKind(te.Value), typeName(te.Type))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errorAt(file, data, int64(len(data)), "unexpected end of JSON; want %s", want)
	}
	return errorAt(file, data, fallback, "%v; want %s", err, want)
}

// jsonKind names the JSON value kinds UnmarshalTypeError reports.
func jsonKind(v string) string {
	switch v {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "number":
		return "a number"
	}
	if len(v) > 6 && v[:6] == "number" {
		return "the number" + v[6:]
	}
	return v
}

// typeName says in JSON words what a Go type expects.
func typeName(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// tokenName describes a JSON token for an error message.
func tokenName(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '[':
			return "a list"
		case '{':
			return "an object"
		}
		return strconv.Quote(v.String())
	case string:
		return "the string " + strconv.Quote(v)
	case json.Number:
		return "the number " + v.String()
	case float64:
		return "the number " + strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return fmt.Sprint(tok)
}

// valueStart skips the white space and comma before the next value, so an
// error points at the value itself.
func valueStart(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// listReader walks a JSON list item by item so each item's position is known.
type listReader struct {
	file string
	data []byte
	dec  *json.Decoder
	want string
}

// items calls each for every item of the list whose '[' has been read, with
// the item's start offset, and then consumes the closing ']'.
func (r *listReader) items(each func(n int, start int64) error) error {
	for n := 1; r.dec.More(); n++ {
		start := valueStart(r.data, r.dec.InputOffset())
		if err := each(n, start); err != nil {
			return err
		}
	}
	if _, err := r.dec.Token(); err != nil {
		return jsonError(r.file, r.data, 0, r.dec.InputOffset(), err, r.want)
	}
	return nil
}

// end checks that nothing follows the document.
func (r *listReader) end() error {
	off := valueStart(r.data, r.dec.InputOffset())
	tok, err := r.dec.Token()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return jsonError(r.file, r.data, 0, off, err, r.want)
	}
	return errorAt(r.file, r.data, off, "unexpected %s after the end of the JSON document", tokenName(tok))
}

func newListReader(file string, data []byte, want string) *listReader {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &listReader{file: file, data: data, dec: dec, want: want}
}

// first checks the document's syntax and reads its first token. Syntax is
// checked on the whole document up front because only then do syntax errors
// carry offsets from the start of the file; the streaming reads that follow
// meet well-formed JSON only.
func (r *listReader) first() (json.Token, int64, error) {
	start := valueStart(r.data, 0)
	if start == int64(len(r.data)) {
		return nil, start, &posError{d: spec.Diagnostic{File: r.file, Message: "file is empty; want " + r.want}}
	}
	var raw json.RawMessage
	if err := json.Unmarshal(r.data, &raw); err != nil {
		return nil, start, jsonError(r.file, r.data, 0, start, err, r.want)
	}
	tok, err := r.dec.Token()
	if err != nil {
		return nil, start, jsonError(r.file, r.data, 0, start, err, r.want)
	}
	return tok, start, nil
}

// decodeItem decodes the value starting at offset start into v. The value is
// read raw first and then unmarshalled on its own, so a type error's offset
// counts from start.
func (r *listReader) decodeItem(start int64, v any, want string) error {
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return jsonError(r.file, r.data, start, start, err, want)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return jsonError(r.file, r.data, start, start, err, want)
	}
	return nil
}

// sliItem is one entry of Keptn's indicatorValues list. Pointers tell a
// missing field from a zero one.
type sliItem struct {
	Metric  *string  `json:"metric"`
	Value   *float64 `json:"value"`
	Success *bool    `json:"success"`
	Message string   `json:"message"`
}

// decodeSLIValues reads the --sli file: Keptn's indicatorValues list
// [{"metric","value","success","message"}] or a plain object {name: number}.
//
// A list item without "success" counts as successful when it has a value and
// as unsuccessful when it has none, so a hand-written file need not repeat
// "success": true, and a missing value never turns into a 0 that passes.
// Each SLI may appear once: two values for one SLI would make the result
// depend on which one the evaluator happens to read.
func decodeSLIValues(file string, data []byte) ([]slo.SLIResult, error) {
	r := newListReader(file, data, wantSLIValues)
	tok, start, err := r.first()
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	var out []slo.SLIResult
	switch tok {
	case json.Delim('['):
		err = r.items(func(n int, start int64) error {
			var it sliItem
			if err := r.decodeItem(start, &it, "an indicator value {\"metric\": \"...\", \"value\": 1.5, \"success\": true}"); err != nil {
				return err
			}
			if it.Metric == nil || *it.Metric == "" {
				return errorAt(file, data, start, "item %d: \"metric\" is missing; each indicator value names its SLI, e.g. {\"metric\": \"response_time_p90\", \"value\": 850, \"success\": true}", n)
			}
			name := *it.Metric
			if prev, dup := seen[name]; dup {
				return errorAt(file, data, start, "item %d: SLI %q already has a value (item %d); give each SLI one value", n, name, prev)
			}
			seen[name] = n
			v := slo.SLIResult{Metric: name, Message: it.Message}
			if it.Value != nil {
				v.Value = *it.Value
			}
			switch {
			case it.Success != nil:
				v.Success = *it.Success
			default:
				v.Success = it.Value != nil
			}
			if v.Success && it.Value == nil {
				return errorAt(file, data, start, "item %d: SLI %q has \"success\": true but no \"value\"; give its value or set \"success\": false", n, name)
			}
			out = append(out, v)
			return nil
		})
	case json.Delim('{'):
		err = decodeSLIObject(r, seen, &out)
	default:
		return nil, errorAt(file, data, start, "found %s; want %s", tokenName(tok), wantSLIValues)
	}
	if err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeSLIObject reads the members of {name: number} after its '{'.
func decodeSLIObject(r *listReader, seen map[string]int, out *[]slo.SLIResult) error {
	for n := 1; r.dec.More(); n++ {
		keyStart := valueStart(r.data, r.dec.InputOffset())
		tok, err := r.dec.Token()
		if err != nil {
			return jsonError(r.file, r.data, 0, keyStart, err, r.want)
		}
		name, _ := tok.(string)
		if name == "" {
			return errorAt(r.file, r.data, keyStart, "empty SLI name; each key names an SLI, e.g. {\"response_time_p90\": 850}")
		}
		if _, dup := seen[name]; dup {
			return errorAt(r.file, r.data, keyStart, "SLI %q has a second value; give each SLI one value", name)
		}
		seen[name] = n
		valStart := valueStart(r.data, r.dec.InputOffset())
		tok, err = r.dec.Token()
		if err != nil {
			return jsonError(r.file, r.data, 0, valStart, err, r.want)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return errorAt(r.file, r.data, valStart, "value of SLI %q is %s; want a number", name, tokenName(tok))
		}
		v, err := strconv.ParseFloat(num.String(), 64)
		if err != nil {
			return errorAt(r.file, r.data, valStart, "value of SLI %q, %s, is out of range for a 64-bit float", name, num)
		}
		*out = append(*out, slo.SLIResult{Metric: name, Value: v, Success: true})
	}
	if _, err := r.dec.Token(); err != nil {
		return jsonError(r.file, r.data, 0, r.dec.InputOffset(), err, r.want)
	}
	return nil
}

// previousDoc is one item of the --previous list. The same struct reads the
// three shapes Keptn wrote an evaluation in: the evaluation object itself, an
// evaluation.finished event's data ({"result", "evaluation": {...}}), and the
// whole CloudEvent ({"id", "data": {...}}).
type previousDoc struct {
	ID               string              `json:"id"`
	Result           string              `json:"result"`
	Invalidated      bool                `json:"invalidated"`
	IndicatorResults []previousIndicator `json:"indicatorResults"`
	Evaluation       *previousDoc        `json:"evaluation"`
	Data             *previousDoc        `json:"data"`
}

type previousIndicator struct {
	Value *sliItem `json:"value"`
}

// decodePrevious reads the --previous file: a JSON list of earlier Keptn
// evaluations, newest first, or the answer of Keptn's events API
// ({"events": [...]}) holding evaluation.finished events.
func decodePrevious(file string, data []byte) ([]slo.Previous, error) {
	r := newListReader(file, data, wantPrevious)
	tok, start, err := r.first()
	if err != nil {
		return nil, err
	}
	var out []slo.Previous
	readList := func() error {
		return r.items(func(n int, start int64) error {
			var doc previousDoc
			if err := r.decodeItem(start, &doc, "an evaluation object"); err != nil {
				return err
			}
			p, err := doc.previous(n)
			if err != nil {
				line, col := jsonpos.LineCol(data, start)
				return &posError{d: spec.Diagnostic{File: file, Line: line, Col: col, Message: err.Error()}}
			}
			out = append(out, p)
			return nil
		})
	}
	switch tok {
	case json.Delim('['):
		err = readList()
	case json.Delim('{'):
		err = readEventsWrapper(r, start, readList)
	default:
		return nil, errorAt(file, data, start, "found %s; want %s", tokenName(tok), wantPrevious)
	}
	if err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return out, nil
}

// readEventsWrapper reads {"events": [...], ...} after its '{', calling
// readList on the events list and skipping the other members (pageSize,
// nextPageKey, totalCount).
func readEventsWrapper(r *listReader, start int64, readList func() error) error {
	found := false
	for r.dec.More() {
		keyStart := valueStart(r.data, r.dec.InputOffset())
		tok, err := r.dec.Token()
		if err != nil {
			return jsonError(r.file, r.data, 0, keyStart, err, r.want)
		}
		valStart := valueStart(r.data, r.dec.InputOffset())
		if tok != "events" || found {
			var skip json.RawMessage
			if err := r.dec.Decode(&skip); err != nil {
				return jsonError(r.file, r.data, 0, valStart, err, r.want)
			}
			continue
		}
		found = true
		tok, err = r.dec.Token()
		if err != nil {
			return jsonError(r.file, r.data, 0, valStart, err, r.want)
		}
		if tok != json.Delim('[') {
			return errorAt(r.file, r.data, valStart, "\"events\" is %s; want a list of evaluation.finished events", tokenName(tok))
		}
		if err := readList(); err != nil {
			return err
		}
	}
	if _, err := r.dec.Token(); err != nil {
		return jsonError(r.file, r.data, 0, r.dec.InputOffset(), err, r.want)
	}
	if !found {
		return errorAt(r.file, r.data, start, "found an object without \"events\"; want %s", wantPrevious)
	}
	return nil
}

// previous flattens the nested shapes into one slo.Previous: the outermost
// id, the innermost result and indicator results, invalidated at any level.
func (d *previousDoc) previous(n int) (slo.Previous, error) {
	var (
		p    slo.Previous
		inds []previousIndicator
	)
	for cur, depth := d, 0; cur != nil && depth < 3; depth++ {
		if p.ID == "" {
			p.ID = cur.ID
		}
		if cur.Result != "" {
			p.Result = slo.Result(cur.Result)
		}
		p.Invalidated = p.Invalidated || cur.Invalidated
		if cur.IndicatorResults != nil {
			inds = cur.IndicatorResults
		}
		next := cur.Data
		if next == nil {
			next = cur.Evaluation
		}
		cur = next
	}
	label := fmt.Sprintf("item %d", n)
	if p.ID != "" {
		label += fmt.Sprintf(" (id %q)", p.ID)
	}
	switch p.Result {
	case slo.Pass, slo.Warning, slo.Fail:
	case "":
		return p, fmt.Errorf("%s: \"result\" is missing; want pass, warning or fail", label)
	default:
		return p, fmt.Errorf("%s: result %q is not pass, warning or fail", label, p.Result)
	}
	for i, ind := range inds {
		if ind.Value == nil || ind.Value.Metric == nil || *ind.Value.Metric == "" {
			return p, fmt.Errorf("%s: indicatorResults[%d].value.metric is missing; each indicator result names its SLI", label, i)
		}
		v := slo.SLIResult{Metric: *ind.Value.Metric, Message: ind.Value.Message}
		if ind.Value.Value != nil {
			v.Value = *ind.Value.Value
		}
		if ind.Value.Success != nil {
			v.Success = *ind.Value.Success
		} else {
			v.Success = ind.Value.Value != nil
		}
		if v.Success && ind.Value.Value == nil {
			v.Success = false
		}
		p.Values = append(p.Values, v)
	}
	return p, nil
}
