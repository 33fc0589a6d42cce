package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
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
	nested, alias := yamlnodetest.Nested(5, 10)
	f.Add([]byte(nested + "remediations: [{name: p, actions: [{action: a, value: " + alias + "}]}]\n"))
	f.Add([]byte("objectives:\n  - sli: x\n    pass: [{criteria: [\"<=+1e5%\"]}]\n"))
	f.Add([]byte("budget:\n  - slo: a\n    remainingAtLeast: \"25%\"\n    burnRateAtMost: 2\n"))
}

// checkDecoded enforces the decoders' contract: a value exactly when there
// is no error, every diagnostic names the file, and a document whose
// aliases expand beyond yamlnode.MaxNodes is refused with an error naming
// the limit (counted here on yaml.v3's own parse, not yamlnode's).
func checkDecoded(t *testing.T, data []byte, isNil bool, diags Diagnostics) {
	t.Helper()
	var doc yaml.Node
	if yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc) == nil && yamlnode.Size(&doc, yamlnode.MaxNodes) > yamlnode.MaxNodes {
		if !isNil || !strings.Contains(diags.Error(), "over tend's limit") {
			t.Fatalf("a document over %d nodes was not refused for it:\n%s", yamlnode.MaxNodes, diagLines(diags))
		}
	}
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
		checkDecoded(t, data, v == nil, diags)
	})
}

func FuzzDecodeSLI(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, diags := DecodeSLI("fuzz.yaml", data)
		checkDecoded(t, data, v == nil, diags)
		if v != nil && len(v.Order) != len(v.Indicators) {
			t.Fatalf("order %v does not list the %d indicators", v.Order, len(v.Indicators))
		}
	})
}

func FuzzDecodeRemediation(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, diags := DecodeRemediation("fuzz.yaml", data)
		checkDecoded(t, data, v == nil, diags)
		if v != nil {
			v.Match("root", "title")
			values := 0
			for _, e := range v.Entries {
				for _, a := range e.Actions {
					values += countValues(a.Value)
				}
			}
			checkValueBudget(t, values)
		}
	})
}

func FuzzDecodeShipyard(f *testing.F) {
	seedFuzz(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, diags := DecodeShipyard("fuzz.yaml", data)
		checkDecoded(t, data, v == nil, diags)
		if v != nil {
			for _, name := range v.StageNames() {
				st, ok := v.Stage(name)
				if !ok {
					t.Fatalf("stage %q listed but not found", name)
				}
				st.RemediationEnabled()
				st.EvaluationDelay()
			}
			values := 0
			for _, st := range v.Stages {
				for _, seq := range st.Sequences {
					for _, task := range seq.Tasks {
						values += countValues(task.Properties)
					}
				}
			}
			checkValueBudget(t, values)
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

// countValues counts the Go values a decoder built from free-form YAML
// (remediation action values, shipyard task properties), each map key
// included, the way yamlnode counts nodes.
func countValues(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := 1
		for _, x := range v {
			n += 1 + countValues(x)
		}
		return n
	case []any:
		n := 1
		for _, x := range v {
			n += countValues(x)
		}
		return n
	case nil:
		return 0
	}
	return 1
}

// checkValueBudget fails when a decoded file holds more free-form values
// than yamlnode.MaxNodes: the budget bounds what decoding may allocate.
func checkValueBudget(t *testing.T, values int) {
	t.Helper()
	if values > yamlnode.MaxNodes {
		t.Fatalf("decoded %d free-form values, over the budget of %d nodes", values, yamlnode.MaxNodes)
	}
}
