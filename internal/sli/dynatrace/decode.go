package dynatrace

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tendhq/tend/internal/sli"
)

// ErrNoData is an answer without a value: no series, a series without data
// points, or a null value (Dynatrace's "no data in this interval"). It is
// never read as zero.
var ErrNoData = errors.New("no data points")

// APIError is an answer of Dynatrace that is not a result: the documented
// error object {"error": {"code", "message", "constraintViolations"}} or a
// non-2xx status with some other body.
type APIError struct {
	StatusCode int
	// Code and Message come from the error object; without one, Message
	// holds the start of the body.
	Code    int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("dynatrace answered HTTP %d: %s", e.StatusCode, e.Message)
}

// Is makes a server error (HTTP 5xx) match sli.ErrUnavailable: an outage
// of Dynatrace, not a statement about the SLI. A 4xx is not.
func (e *APIError) Is(target error) bool {
	return target == sli.ErrUnavailable && e.StatusCode >= 500
}

// SeveralError is an answer with more than one value where an SLI needs
// one: several metrics in the selector, several series (dimensions), or
// several data points. The selector must aggregate, e.g. :merge("...") or
// :splitBy() and :avg.
type SeveralError struct {
	What  string // "metrics", "series" or "data points"
	Count int
	// First describes up to three of them.
	First []string
}

func (e *SeveralError) Error() string {
	return fmt.Sprintf("%d %s where one value is needed (first: %s); aggregate the metric selector to one value, e.g. with :splitBy():avg or :merge(\"dt.entity.service\"):avg",
		e.Count, e.What, strings.Join(e.First, ", "))
}

// MalformedError is an answer that is not the JSON the API documents.
type MalformedError struct {
	Reason string
	Body   string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed answer (%s): %s", e.Reason, e.Body)
}

const maxSnippet = 200

type errorBody struct {
	Error *struct {
		Code                 int    `json:"code"`
		Message              string `json:"message"`
		ConstraintViolations []struct {
			Path    string `json:"path"`
			Message string `json:"message"`
		} `json:"constraintViolations"`
	} `json:"error"`
}

// checkStatus turns a non-2xx answer, or a 2xx answer that is an error
// object, into an *APIError.
func checkStatus(statusCode int, body []byte) error {
	var eb errorBody
	jsonErr := json.Unmarshal(body, &eb)
	ok := statusCode >= 200 && statusCode <= 299
	if jsonErr == nil && eb.Error != nil {
		msg := eb.Error.Message
		for _, v := range eb.Error.ConstraintViolations {
			msg += fmt.Sprintf("; %s: %s", v.Path, v.Message)
		}
		if msg == "" {
			msg = snippet(body)
		}
		return &APIError{StatusCode: statusCode, Code: eb.Error.Code, Message: msg}
	}
	if !ok {
		return &APIError{StatusCode: statusCode, Message: snippet(body)}
	}
	return nil
}

// Value is one number Dynatrace produced, with the warnings it attached.
type Value struct {
	Value    float64
	Warnings []string
}

type metricsBody struct {
	Result []struct {
		MetricID string `json:"metricId"`
		Data     []struct {
			DimensionMap map[string]string `json:"dimensionMap"`
			Dimensions   []string          `json:"dimensions"`
			Timestamps   []int64           `json:"timestamps"`
			Values       []*float64        `json:"values"`
		} `json:"data"`
		Warnings []string `json:"warnings"`
	} `json:"result"`
	Warnings []string `json:"warnings"`
}

// DecodeMetrics reads the answer of GET /api/v2/metrics/query. It accepts
// exactly one metric with exactly one series of exactly one non-null,
// finite data point (resolution=Inf gives one per series); anything else
// is *APIError, ErrNoData, *SeveralError or *MalformedError.
func DecodeMetrics(statusCode int, body []byte) (Value, error) {
	if err := checkStatus(statusCode, body); err != nil {
		return Value{}, err
	}
	var mb metricsBody
	if err := json.Unmarshal(body, &mb); err != nil {
		return Value{}, &MalformedError{Reason: "not a metrics query result: " + err.Error(), Body: snippet(body)}
	}
	switch len(mb.Result) {
	case 0:
		return Value{}, fmt.Errorf("%w: the answer lists no metric", ErrNoData)
	case 1:
	default:
		e := &SeveralError{What: "metrics", Count: len(mb.Result)}
		for _, r := range mb.Result[:min(3, len(mb.Result))] {
			e.First = append(e.First, strconv.Quote(r.MetricID))
		}
		return Value{}, e
	}
	r := mb.Result[0]
	warnings := append(append([]string(nil), mb.Warnings...), r.Warnings...)
	switch len(r.Data) {
	case 0:
		return Value{Warnings: warnings}, fmt.Errorf("%w: metric %q has no series for the entities and time frame", ErrNoData, r.MetricID)
	case 1:
	default:
		e := &SeveralError{What: "series", Count: len(r.Data)}
		for _, d := range r.Data[:min(3, len(r.Data))] {
			e.First = append(e.First, dimensions(d.DimensionMap, d.Dimensions))
		}
		return Value{}, e
	}
	d := r.Data[0]
	if len(d.Values) > 1 {
		e := &SeveralError{What: "data points", Count: len(d.Values)}
		for _, ts := range d.Timestamps[:min(3, len(d.Timestamps))] {
			e.First = append(e.First, strconv.FormatInt(ts, 10))
		}
		return Value{}, e
	}
	if len(d.Values) == 0 || d.Values[0] == nil {
		return Value{Warnings: warnings}, fmt.Errorf("%w: metric %q has a series but no value in the time frame", ErrNoData, r.MetricID)
	}
	// JSON has no NaN or Inf, so a decoded value is always finite.
	return Value{Value: *d.Values[0], Warnings: warnings}, nil
}

// DecodeSLO reads the answer of GET /api/v2/slo/<id>: its
// evaluatedPercentage. An SLO whose "error" field is set to something other
// than "NONE" (Dynatrace could not evaluate it) is an error.
func DecodeSLO(statusCode int, body []byte) (Value, error) {
	if err := checkStatus(statusCode, body); err != nil {
		return Value{}, err
	}
	var s struct {
		Name                string   `json:"name"`
		EvaluatedPercentage *float64 `json:"evaluatedPercentage"`
		Error               string   `json:"error"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return Value{}, &MalformedError{Reason: "not an SLO: " + err.Error(), Body: snippet(body)}
	}
	if s.Error != "" && s.Error != "NONE" {
		return Value{}, fmt.Errorf("dynatrace could not evaluate SLO %q: %s", s.Name, s.Error)
	}
	if s.EvaluatedPercentage == nil {
		return Value{}, fmt.Errorf("%w: the SLO has no evaluatedPercentage", ErrNoData)
	}
	return Value{Value: *s.EvaluatedPercentage}, nil
}

// DecodeProblems reads the answer of GET /api/v2/problems: its totalCount,
// the number of problems that match the selector in the time frame.
func DecodeProblems(statusCode int, body []byte) (Value, error) {
	if err := checkStatus(statusCode, body); err != nil {
		return Value{}, err
	}
	var p struct {
		TotalCount *int64   `json:"totalCount"`
		Warnings   []string `json:"warnings"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Value{}, &MalformedError{Reason: "not a problem list: " + err.Error(), Body: snippet(body)}
	}
	if p.TotalCount == nil {
		return Value{}, &MalformedError{Reason: "no totalCount", Body: snippet(body)}
	}
	return Value{Value: float64(*p.TotalCount), Warnings: p.Warnings}, nil
}

func dimensions(m map[string]string, list []string) string {
	if len(m) == 0 {
		return "[" + strings.Join(list, ",") + "]"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
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
