package unleash

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestParseValue(t *testing.T) {
	tests := []struct {
		name    string
		value   any
		want    []Toggle
		wantErr string
	}{
		{name: "toggle-feature map off", value: map[string]any{"EnablePromotion": "off"}, want: []Toggle{{"EnablePromotion", false}}},
		{name: "toggle-feature map on", value: map[string]any{"EnableItemCache": "on"}, want: []Toggle{{"EnableItemCache", true}}},
		{name: "map with YAML booleans", value: map[string]any{"A": true, "B": false}, want: []Toggle{{"A", true}, {"B", false}}},
		{name: "several entries sorted by name", value: map[string]any{"Zeta": "enabled", "Alpha": "disabled", "Mid": "TRUE"}, want: []Toggle{{"Alpha", false}, {"Mid", true}, {"Zeta", true}}},
		{name: "map of strings", value: map[string]string{"F": "False"}, want: []Toggle{{"F", false}}},
		{name: "map with any keys", value: map[any]any{"F": "On"}, want: []Toggle{{"F", true}}},
		{name: "state with spaces and capitals", value: map[string]any{"F": " OFF "}, want: []Toggle{{"F", false}}},
		{name: "featuretoggle string off", value: "EnablePromotion:off", want: []Toggle{{"EnablePromotion", false}}},
		{name: "featuretoggle string on", value: "EnableItemCache:on", want: []Toggle{{"EnableItemCache", true}}},
		{name: "featuretoggle string with spaces", value: " EnableItemCache : Enabled ", want: []Toggle{{"EnableItemCache", true}}},
		{name: "featuretoggle string true", value: "F:true", want: []Toggle{{"F", true}}},

		{name: "nil value", value: nil, wantErr: "the value is empty"},
		{name: "empty map", value: map[string]any{}, wantErr: "names no feature"},
		{name: "string without colon", value: "EnablePromotion", wantErr: "has no colon"},
		{name: "empty string", value: "", wantErr: "has no colon"},
		{name: "string without name", value: ":off", wantErr: "feature name is empty"},
		{name: "string without state", value: "F:", wantErr: `state "" is not on or off`},
		{name: "unknown state", value: map[string]any{"F": "maybe"}, wantErr: `feature F: state "maybe" is not on or off`},
		{name: "number state", value: map[string]any{"F": 1}, wantErr: "state 1 is a int"},
		{name: "null state", value: map[string]any{"F": nil}, wantErr: "state is empty"},
		{name: "empty name in map", value: map[string]any{" ": "on"}, wantErr: "feature name is empty"},
		{name: "slash in name", value: map[string]any{"a/b": "on"}, wantErr: "contains a slash"},
		{name: "non-string key", value: map[any]any{1: "on"}, wantErr: "feature name 1 is a int"},
		{name: "number value", value: 1, wantErr: "the value is a int"},
		{name: "list value", value: []any{"F:on"}, wantErr: "the value is a []interface {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseValue(tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseValue(%#v) error = %v, want one containing %q", tt.value, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseValue(%#v): %v", tt.value, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseValue(%#v) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

// TestParseValueFromYAML reads values the way remediation files spell them,
// through the YAML library, so YAML's typing (quoted, unquoted, booleans) is
// covered too.
func TestParseValueFromYAML(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []Toggle
	}{
		{name: "tutorial quoted off", yaml: `value: {EnablePromotion: "off"}`, want: []Toggle{{"EnablePromotion", false}}},
		{name: "unquoted off stays a string in YAML 1.2", yaml: "value:\n  EnablePromotion: off", want: []Toggle{{"EnablePromotion", false}}},
		{name: "YAML boolean", yaml: "value:\n  EnablePromotion: false", want: []Toggle{{"EnablePromotion", false}}},
		{name: "legacy featuretoggle string", yaml: "value: EnableItemCache:on", want: []Toggle{{"EnableItemCache", true}}},
		{name: "two features", yaml: "value:\n  B: on\n  A: true", want: []Toggle{{"A", true}, {"B", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc struct {
				Value any `yaml:"value"`
			}
			if err := yaml.Unmarshal([]byte(tt.yaml), &doc); err != nil {
				t.Fatal(err)
			}
			got, err := ParseValue(doc.Value)
			if err != nil {
				t.Fatalf("ParseValue(%#v): %v", doc.Value, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseValue(%#v) = %v, want %v", doc.Value, got, tt.want)
			}
		})
	}
}

// FuzzParseValue feeds the string form and a one-entry map form with
// arbitrary text: every input gives toggles or an error, never a panic,
// and accepted names are never empty.
func FuzzParseValue(f *testing.F) {
	for _, s := range []string{"EnablePromotion:off", "F:on", ":", "", "a:b:c", " x : TRUE ", "a/b:on"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, v := range []any{s, map[string]any{s: "on"}, map[string]any{"F": s}} {
			got, err := ParseValue(v)
			if err != nil {
				continue
			}
			if len(got) == 0 {
				t.Fatalf("ParseValue(%#v) gave no toggles and no error", v)
			}
			for _, tg := range got {
				if strings.TrimSpace(tg.Feature) == "" {
					t.Fatalf("ParseValue(%#v) accepted an empty feature name", v)
				}
			}
		}
	})
}
