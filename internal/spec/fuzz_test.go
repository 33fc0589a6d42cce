package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// seedFuzz adds every testdata file and the repository examples as seeds.
func seedFuzz(f *testing.F) {
	f.Helper()
	for _, pattern := range []string{"testdata/*.yaml", "../../examples/*.yaml", "../../examples/*/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("objectives:\n  - sli: x\n    pass: [{criteria: [\"<=+1e5%\"]}]\n"))
}

// checkDecoded enforces the decoders' contract: a value exactly when there
// is no error, and every diagnostic names the file.
func checkDecoded(t *testing.T, isNil bool, diags Diagnostics) {
	t.Helper()
	if isNil != diags.HasErrors() {
		t.Fatalf("nil result = %v but HasErrors = %v:\n%s", isNil, diags.HasErrors(), diagLines(diags))
	}
	for _, d := range diags {
		if d.File != "fuzz.yaml" || d.Message == "" || d.Line < 0 {
			t.Fatalf("malformed diagnostic %+v", d)
		}
	}
}

func FuzzDecodeSLO(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, diags := DecodeSLO("fuzz.yaml", data)
		checkDecoded(t, v == nil, diags)
	})
}

func FuzzDecodeSLI(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, diags := DecodeSLI("fuzz.yaml", data)
		checkDecoded(t, v == nil, diags)
		if v != nil && len(v.Order) != len(v.Indicators) {
			t.Fatalf("order %v does not list the %d indicators", v.Order, len(v.Indicators))
		}
	})
}

func FuzzDecodeRemediation(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, diags := DecodeRemediation("fuzz.yaml", data)
		checkDecoded(t, v == nil, diags)
		if v != nil {
			v.Match("root", "title")
		}
	})
}

func FuzzDecodeShipyard(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, diags := DecodeShipyard("fuzz.yaml", data)
		checkDecoded(t, v == nil, diags)
		if v != nil {
			for _, name := range v.StageNames() {
				st, ok := v.Stage(name)
				if !ok {
					t.Fatalf("stage %q listed but not found", name)
				}
				st.RemediationEnabled()
				st.EvaluationDelay()
			}
		}
	})
}

func FuzzDetectKind(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		kind, err := DetectKind("fuzz.yaml", data)
		if (kind == "") != (err != nil) {
			t.Fatalf("kind %q with error %v", kind, err)
		}
		vk, diags := Validate("fuzz.yaml", data, "")
		if vk != kind {
			t.Fatalf("Validate kind %q, DetectKind %q", vk, kind)
		}
		if kind == "" && !diags.HasErrors() {
			t.Fatal("undetected kind without an error")
		}
	})
}
