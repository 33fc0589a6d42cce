package cli

import (
	"os"
	"reflect"
	"testing"

	"github.com/tendhq/tend/internal/slo"
)

func TestDecodeSLIValues(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []slo.SLIResult
		wantErr string
	}{
		{
			name: "keptn indicatorValues",
			in:   `[{"metric":"a","value":1.5,"success":true,"message":""},{"metric":"b","value":0,"success":false,"message":"timeout"}]`,
			want: []slo.SLIResult{{Metric: "a", Value: 1.5, Success: true}, {Metric: "b", Message: "timeout"}},
		},
		{
			name: "plain object keeps file order",
			in:   "{\"z\": 3, \"a\": -1e2}",
			want: []slo.SLIResult{{Metric: "z", Value: 3, Success: true}, {Metric: "a", Value: -100, Success: true}},
		},
		{
			name: "success defaults to whether a value is given",
			in:   `[{"metric":"a","value":2},{"metric":"b"}]`,
			want: []slo.SLIResult{{Metric: "a", Value: 2, Success: true}, {Metric: "b"}},
		},
		{name: "empty list", in: `[]`, want: nil},
		{name: "empty object", in: ` {} `, want: nil},
		{name: "empty file", in: "", wantErr: "values.json: file is empty; want " + wantSLIValues},
		{name: "a string", in: `"x"`, wantErr: `values.json:1:1: found the string "x"; want ` + wantSLIValues},
		{name: "syntax error", in: "[\n {\"metric\": \"a\",}\n]", wantErr: "values.json:2:17: invalid JSON: invalid character '}' looking for beginning of object key string; want " + wantSLIValues},
		{name: "truncated", in: `[{"metric": "a"`, wantErr: "values.json:1:16: the JSON ends too early; want " + wantSLIValues},
		{name: "value not a number", in: "[\n{\"metric\":\"a\",\"value\":true}]", wantErr: `values.json:2:26: "value" is true or false; want a number`},
		{name: "item not an object", in: `[1]`, wantErr: "values.json:1:2: value is a number; want an object"},
		{name: "metric missing", in: "[\n  {\"value\": 1}]", wantErr: `values.json:2:3: item 1: "metric" is missing`},
		{name: "duplicate metric in list", in: `[{"metric":"a","value":1},{"metric":"a","value":2}]`, wantErr: `values.json:1:27: item 2: SLI "a" already has a value (item 1); give each SLI one value`},
		{name: "success without value", in: `[{"metric":"a","success":true}]`, wantErr: `values.json:1:2: item 1: SLI "a" has "success": true but no "value"`},
		{name: "object value not a number", in: `{"a": "5"}`, wantErr: `values.json:1:7: value of SLI "a" is the string "5"; want a number`},
		{name: "object value null", in: `{"a": null}`, wantErr: `values.json:1:7: value of SLI "a" is null; want a number`},
		{name: "object value nested", in: `{"a": {"b": 1}}`, wantErr: `values.json:1:7: value of SLI "a" is an object; want a number`},
		{name: "object value out of range", in: `{"a": 1e999}`, wantErr: `values.json:1:7: value of SLI "a", 1e999, is out of range for a 64-bit float`},
		{name: "duplicate key", in: `{"a": 1, "a": 2}`, wantErr: `values.json:1:10: SLI "a" has a second value`},
		{name: "empty key", in: `{"": 1}`, wantErr: `values.json:1:2: empty SLI name`},
		{name: "trailing data", in: `{"a": 1} {}`, wantErr: `values.json:1:10: invalid JSON: invalid character '{' after top-level value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSLIValues("values.json", []byte(tt.in))
			checkDecode(t, got, tt.want, err, tt.wantErr)
		})
	}
}

func TestDecodePrevious(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []slo.Previous
		wantErr string
	}{
		{
			name: "evaluation objects",
			in:   `[{"id":"e2","result":"fail","invalidated":true,"indicatorResults":[{"value":{"metric":"a","value":3,"success":true}}]},{"result":"pass","indicatorResults":null}]`,
			want: []slo.Previous{
				{ID: "e2", Result: slo.Fail, Invalidated: true, Values: []slo.SLIResult{{Metric: "a", Value: 3, Success: true}}},
				{Result: slo.Pass},
			},
		},
		{
			name: "evaluation.finished data",
			in:   `[{"project":"p","result":"warning","evaluation":{"result":"warning","score":60,"indicatorResults":[{"score":1,"status":"pass","value":{"metric":"a","value":1,"success":false}}]}}]`,
			want: []slo.Previous{{Result: slo.Warning, Values: []slo.SLIResult{{Metric: "a", Value: 1}}}},
		},
		{
			name: "keptn events api answer",
			in:   `{"pageSize":2,"events":[{"id":"ev1","type":"sh.keptn.event.evaluation.finished","data":{"evaluation":{"result":"pass","indicatorResults":[{"value":{"metric":"a","value":7,"success":true}}]}}}],"totalCount":1}`,
			want: []slo.Previous{{ID: "ev1", Result: slo.Pass, Values: []slo.SLIResult{{Metric: "a", Value: 7, Success: true}}}},
		},
		{name: "empty list", in: `[]`, want: nil},
		{name: "object without events", in: `{"result":"pass"}`, wantErr: "prev.json:1:1: found an object without \"events\"; want " + wantPrevious},
		{name: "events not a list", in: `{"events": 3}`, wantErr: `prev.json:1:12: "events" is the number 3; want a list of evaluation.finished events`},
		{name: "result missing", in: "[\n  {\"id\": \"x\"}\n]", wantErr: `prev.json:2:3: item 1 (id "x"): "result" is missing; want pass, warning or fail`},
		{name: "result unknown", in: `[{"result":"passed"}]`, wantErr: `prev.json:1:2: item 1: result "passed" is not pass, warning or fail`},
		{name: "metric missing", in: `[{"result":"pass","indicatorResults":[{"value":{"value":1}}]}]`, wantErr: `prev.json:1:2: item 1: indicatorResults[0].value.metric is missing`},
		{name: "wrong type", in: `[{"result":"pass","indicatorResults":{}}]`, wantErr: `prev.json:1:38: "indicatorResults" is an object; want a list`},
		{name: "a number", in: `42`, wantErr: "prev.json:1:1: found the number 42; want " + wantPrevious},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePrevious("prev.json", []byte(tt.in))
			checkDecode(t, got, tt.want, err, tt.wantErr)
		})
	}
}

func checkDecode[T any](t testing.TB, got, want []T, err error, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil {
			t.Fatalf("no error, want %q; got %+v", wantErr, got)
		}
		if msg := err.Error(); len(msg) < len(wantErr) || msg[:len(wantErr)] != wantErr {
			t.Fatalf("error\n %q\nwant it to start with\n %q", msg, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// fuzzSeeds adds the test inputs and the testdata files as seeds.
func fuzzSeeds(f *testing.F, files ...string) {
	f.Helper()
	for _, s := range []string{``, `[]`, `{}`, `{"a":1}`, `[{"metric":"a","value":1,"success":true}]`, `{"events":[{"id":"x","data":{"evaluation":{"result":"pass"}}}]}`, `[{"result":"pass","indicatorResults":[{"value":{"metric":"a"}}]}]`, `[1,`, `{"a":1e999}`} {
		f.Add([]byte(s))
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzDecodeSLIValues(f *testing.F) {
	fuzzSeeds(f, "testdata/evaluate/values-pass.json", "testdata/evaluate/values-warning.json", "testdata/evaluate/bad-values.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		values, err := decodeSLIValues("f.json", data)
		if err != nil {
			if values != nil {
				t.Errorf("error %v with values %v", err, values)
			}
			return
		}
		seen := map[string]bool{}
		for _, v := range values {
			if v.Metric == "" || seen[v.Metric] {
				t.Errorf("decoded an empty or repeated metric %q", v.Metric)
			}
			seen[v.Metric] = true
		}
	})
}

func FuzzDecodePrevious(f *testing.F) {
	fuzzSeeds(f, "testdata/evaluate/previous.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		prev, err := decodePrevious("f.json", data)
		if err != nil {
			if prev != nil {
				t.Errorf("error %v with previous %v", err, prev)
			}
			return
		}
		for _, p := range prev {
			if p.Result != slo.Pass && p.Result != slo.Warning && p.Result != slo.Fail {
				t.Errorf("decoded result %q", p.Result)
			}
		}
	})
}
