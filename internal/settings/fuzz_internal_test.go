package settings

import (
	"encoding/json"
	"testing"
)

// FuzzMaskByName checks masking of values no schema knows: whatever the
// stored bytes, the answer is JSON, and no member whose name marks a
// secret keeps a value other than Masked, at any depth.
func FuzzMaskByName(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://x","token":"abc"}`,
		`{"a":{"apiKey":"k","list":[{"password":"p"},{"Secret":7}]}}`,
		`{"token":""}`, `{"token":null}`, `[1,2]`, `"plain"`, `not json`, ``, `{"token":{"x":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, set := maskByName(in)
		if !json.Valid(out) {
			t.Fatalf("mask(%q) = %q: not JSON", in, out)
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		if leak := secretLeft(v); leak != "" {
			t.Fatalf("mask(%q) = %q keeps secret member %s", in, out, leak)
		}
		if !json.Valid(in) && (string(out) != `"`+Masked+`"` || len(set) != 1) {
			t.Fatalf("mask(%q) = %q %v; a value that is not JSON is masked whole", in, out, set)
		}
	})
}

// secretLeft returns the name of a secret-named member whose value is set
// and not Masked, or "".
func secretLeft(v any) string {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if isSecretName(k) {
				if val != nil && val != "" && val != Masked {
					return k
				}
				continue
			}
			if leak := secretLeft(val); leak != "" {
				return k + "." + leak
			}
		}
	case []any:
		for _, val := range t {
			if leak := secretLeft(val); leak != "" {
				return leak
			}
		}
	}
	return ""
}

// FuzzMaskFields checks masking by schema: a secret field that is set
// never comes back, and the answer is JSON.
func FuzzMaskFields(f *testing.F) {
	f.Add([]byte(`{"url":"https://u","token":"secret-value"}`))
	f.Add([]byte(`{"token":123}`))
	f.Add([]byte(`{"token":"x","token":"y"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	fields := []Field{{Name: "url"}, {Name: "token", Secret: true}}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _ := maskFields(in, fields)
		if !json.Valid(out) {
			t.Fatalf("mask(%q) = %q: not JSON", in, out)
		}
		var m map[string]any
		if json.Unmarshal(out, &m) == nil && m != nil {
			if v, ok := m["token"]; ok && v != nil && v != "" && v != Masked {
				t.Fatalf("mask(%q) = %q keeps the token", in, out)
			}
		}
	})
}
