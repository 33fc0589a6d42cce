package prometheus

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Sample is one series of an instant vector: its labels and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Point is one value of a range query's series at a time; JSON writes
// the time as Unix seconds.
type Point struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// Time is the point's time.
func (p Point) Time() time.Time { return time.Unix(p.T, 0).UTC() }

// Series is one series of a range query.
type Series struct {
	Labels map[string]string
	Points []Point
}

// maxSeries bounds how many series or points one answer may hold, so a
// listing cannot be made to grow without bound.
const maxSeries = 100_000

// envelopeData reads the common part of an answer: the data of a success,
// or the error (*APIError, *MalformedError) of anything else.
func envelopeData(statusCode int, body []byte, want string) (json.RawMessage, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		if statusCode < 200 || statusCode > 299 {
			return nil, &APIError{StatusCode: statusCode, Message: snippet(body)}
		}
		return nil, &MalformedError{Reason: "not JSON: " + err.Error(), Body: snippet(body)}
	}
	if env.Status == "error" || statusCode < 200 || statusCode > 299 {
		msg := env.Error
		if msg == "" {
			msg = snippet(body)
		}
		return nil, &APIError{StatusCode: statusCode, Type: env.ErrorType, Message: msg}
	}
	if env.Status != "success" {
		return nil, &MalformedError{Reason: fmt.Sprintf("status %q, want \"success\" or \"error\"", env.Status), Body: snippet(body)}
	}
	var data queryData
	if err := json.Unmarshal(env.Data, &data); err != nil || len(env.Data) == 0 || string(env.Data) == "null" {
		return nil, &MalformedError{Reason: "no readable data object", Body: snippet(body)}
	}
	if data.ResultType != want {
		return nil, &MalformedError{Reason: fmt.Sprintf("result type %q, want %q", data.ResultType, want), Body: snippet(body)}
	}
	return data.Result, nil
}

// DecodeVector reads the answer of an instant query of any number of
// series. A sample whose value is NaN or infinite is kept as such: callers
// decide (Budgets leaves it out). Errors are *APIError or *MalformedError.
func DecodeVector(statusCode int, body []byte) ([]Sample, error) {
	raw, err := envelopeData(statusCode, body, "vector")
	if err != nil {
		return nil, err
	}
	var samples []vectorSample
	if err := json.Unmarshal(raw, &samples); err != nil {
		return nil, &MalformedError{Reason: "vector result is not a list of samples", Body: snippet(body)}
	}
	if len(samples) > maxSeries {
		return nil, &MalformedError{Reason: fmt.Sprintf("%d series, more than tend reads (%d)", len(samples), maxSeries), Body: snippet(body)}
	}
	out := make([]Sample, 0, len(samples))
	for _, s := range samples {
		v, err := sampleValue(s.Value, body)
		if err != nil {
			return nil, err
		}
		f, perr := strconv.ParseFloat(v, 64)
		if perr != nil {
			return nil, &MalformedError{Reason: fmt.Sprintf("sample value %q is not a number", v), Body: snippet(body)}
		}
		out = append(out, Sample{Labels: s.Metric, Value: f})
	}
	return out, nil
}

type matrixSeries struct {
	Metric map[string]string `json:"metric"`
	Values []json.RawMessage `json:"values"`
}

// DecodeMatrix reads the answer of a range query. Points that are NaN or
// infinite are left out (a chart has nothing to draw there), so every
// point is finite. Errors are *APIError or *MalformedError.
func DecodeMatrix(statusCode int, body []byte) ([]Series, error) {
	raw, err := envelopeData(statusCode, body, "matrix")
	if err != nil {
		return nil, err
	}
	var series []matrixSeries
	if err := json.Unmarshal(raw, &series); err != nil {
		return nil, &MalformedError{Reason: "matrix result is not a list of series", Body: snippet(body)}
	}
	out := make([]Series, 0, len(series))
	total := 0
	for _, s := range series {
		total += len(s.Values)
		if total > maxSeries {
			return nil, &MalformedError{Reason: fmt.Sprintf("more than %d points", maxSeries), Body: snippet(body)}
		}
		pts := make([]Point, 0, len(s.Values))
		for _, pair := range s.Values {
			var p []json.RawMessage
			if err := json.Unmarshal(pair, &p); err != nil || len(p) != 2 {
				return nil, &MalformedError{Reason: "a point is not [time, \"value\"]", Body: snippet(body)}
			}
			var ts float64
			var vs string
			if json.Unmarshal(p[0], &ts) != nil || json.Unmarshal(p[1], &vs) != nil || math.IsNaN(ts) || math.IsInf(ts, 0) || math.Abs(ts) > 1e12 {
				return nil, &MalformedError{Reason: "a point's time or value is malformed", Body: snippet(body)}
			}
			v, perr := strconv.ParseFloat(vs, 64)
			if perr != nil {
				return nil, &MalformedError{Reason: fmt.Sprintf("point value %q is not a number", vs), Body: snippet(body)}
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			pts = append(pts, Point{T: int64(ts), V: v})
		}
		out = append(out, Series{Labels: s.Metric, Points: pts})
	}
	return out, nil
}
