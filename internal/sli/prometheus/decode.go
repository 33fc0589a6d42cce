package prometheus

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/tendhq/tend/internal/sli"
)

// ErrNoData is an instant query that answered with an empty result. tend
// never reads it as zero (docs/keptn.md, "SLI files": Keptn 0.6 did, which passed
// evaluations with no data); a query where no data truly means zero says so
// with "... or vector(0)".
var ErrNoData = errors.New("query returned no data")

// APIError is an answer of Prometheus that is not a result: an error
// envelope (status "error" with errorType and error) or a non-2xx status.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Type and Message are the envelope's errorType and error; when the
	// body was no envelope (a proxy's HTML page), Type is empty and
	// Message holds the start of the body.
	Type, Message string
}

func (e *APIError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("prometheus answered HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("prometheus answered HTTP %d, %s: %s", e.StatusCode, e.Type, e.Message)
}

// Is makes an answer with a server error (HTTP 5xx: Prometheus or a proxy
// before it failed, or the query timed out) match sli.ErrUnavailable: it
// is an outage, not a statement about the SLI. A 4xx (a bad query) is not.
func (e *APIError) Is(target error) bool {
	return target == sli.ErrUnavailable && e.StatusCode >= 500
}

// SeveralSeriesError is a query that returned more than one series where
// an SLI needs one number. tend does not pick one or add them up: which
// aggregation is right depends on the query, so the query must say it
// (sum, avg, max ... by nothing).
type SeveralSeriesError struct {
	Count int
	// First holds the label sets of up to three series, in the order
	// Prometheus returned them.
	First []string
}

func (e *SeveralSeriesError) Error() string {
	return fmt.Sprintf("query returned %d series where one number is needed (first: %s); aggregate it to one series, e.g. sum(...) or avg(...)",
		e.Count, strings.Join(e.First, ", "))
}

// NotFiniteError is a result of NaN or ±Inf. NaN usually means 0/0 (no
// requests in the window, or a histogram without observations), Inf a
// division by zero. Either is no measurement, so it fails the SLI rather
// than passing or failing criteria by accident.
type NotFiniteError struct {
	Value string
}

func (e *NotFiniteError) Error() string {
	hint := "a division by zero"
	if strings.EqualFold(e.Value, "NaN") {
		hint = "usually 0/0, e.g. no requests or no observations in the window"
	}
	return fmt.Sprintf("query returned %s (%s), not a number tend can evaluate", e.Value, hint)
}

// MalformedError is an answer tend could not read as the Prometheus HTTP
// API's JSON.
type MalformedError struct {
	Reason string
	// Body is the start of the answer, for the message.
	Body string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed answer (%s): %s", e.Reason, e.Body)
}

// envelope is the Prometheus HTTP API's response envelope.
type envelope struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

type queryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

type vectorSample struct {
	Metric map[string]string `json:"metric"`
	Value  json.RawMessage   `json:"value"`
}

// Result is the one number an instant query produced, with the warnings
// Prometheus attached to it.
type Result struct {
	Value    float64
	Warnings []string
}

// maxSnippet bounds how much of an unexpected body reaches a message.
const maxSnippet = 200

// DecodeQuery reads the answer of /api/v1/query. It accepts a vector of
// exactly one sample and a scalar, both with a finite value; everything else
// is an error: *APIError, ErrNoData, *SeveralSeriesError, *NotFiniteError,
// or *MalformedError (which includes a matrix or string result: an SLI
// query must be an instant vector or a scalar).
func DecodeQuery(statusCode int, body []byte) (Result, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		if statusCode < 200 || statusCode > 299 {
			return Result{}, &APIError{StatusCode: statusCode, Message: snippet(body)}
		}
		return Result{}, &MalformedError{Reason: "not JSON: " + err.Error(), Body: snippet(body)}
	}
	if env.Status == "error" || statusCode < 200 || statusCode > 299 {
		msg := env.Error
		if msg == "" {
			msg = snippet(body)
		}
		return Result{}, &APIError{StatusCode: statusCode, Type: env.ErrorType, Message: msg}
	}
	if env.Status != "success" {
		return Result{}, &MalformedError{Reason: fmt.Sprintf("status %q, want \"success\" or \"error\"", env.Status), Body: snippet(body)}
	}
	var data queryData
	if err := json.Unmarshal(env.Data, &data); err != nil || len(env.Data) == 0 || string(env.Data) == "null" {
		return Result{}, &MalformedError{Reason: "no readable data object", Body: snippet(body)}
	}
	var (
		raw string
		err error
	)
	switch data.ResultType {
	case "vector":
		raw, err = vectorValue(data.Result, body)
	case "scalar":
		raw, err = sampleValue(data.Result, body)
	case "matrix", "string":
		return Result{}, &MalformedError{
			Reason: "result type " + data.ResultType + ", but an SLI query must give an instant vector or a scalar (no [range] selector at the end of the query)",
			Body:   snippet(body),
		}
	default:
		return Result{}, &MalformedError{Reason: fmt.Sprintf("unknown result type %q", data.ResultType), Body: snippet(body)}
	}
	if err != nil {
		return Result{}, err
	}
	v, perr := strconv.ParseFloat(raw, 64)
	if perr != nil {
		return Result{}, &MalformedError{Reason: fmt.Sprintf("sample value %q is not a number", raw), Body: snippet(body)}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Result{}, &NotFiniteError{Value: raw}
	}
	return Result{Value: v, Warnings: env.Warnings}, nil
}

func vectorValue(result json.RawMessage, body []byte) (string, error) {
	var samples []vectorSample
	if err := json.Unmarshal(result, &samples); err != nil {
		return "", &MalformedError{Reason: "vector result is not a list of samples", Body: snippet(body)}
	}
	switch len(samples) {
	case 0:
		return "", ErrNoData
	case 1:
		return sampleValue(samples[0].Value, body)
	}
	e := &SeveralSeriesError{Count: len(samples)}
	for _, s := range samples[:min(3, len(samples))] {
		e.First = append(e.First, labelSet(s.Metric))
	}
	return "", e
}

// sampleValue reads [<unix time>, "<value>"].
func sampleValue(pair json.RawMessage, body []byte) (string, error) {
	var p []json.RawMessage
	if err := json.Unmarshal(pair, &p); err != nil || len(p) != 2 {
		return "", &MalformedError{Reason: "a sample is not [time, \"value\"]", Body: snippet(body)}
	}
	var ts float64
	if err := json.Unmarshal(p[0], &ts); err != nil {
		return "", &MalformedError{Reason: "a sample's time is not a number", Body: snippet(body)}
	}
	var s string
	if err := json.Unmarshal(p[1], &s); err != nil {
		return "", &MalformedError{Reason: "a sample's value is not a string", Body: snippet(body)}
	}
	return s, nil
}

// labelSet formats labels as PromQL writes them: {a="1",b="2"}, sorted.
func labelSet(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return "(empty body)"
	}
	if len(s) > maxSnippet {
		s = s[:maxSnippet] + "..."
	}
	return strconv.Quote(s)
}
