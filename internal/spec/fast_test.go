package spec

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// decodeBothWays decodes data as kind with yamlnode's fast path and with
// yaml.v3 alone, and fails unless both give the same value and the same
// diagnostics. It reports whether the file decoded without errors.
func decodeBothWays(t *testing.T, file string, data []byte, kind Kind) bool {
	t.Helper()
	decode := func(slow bool) (any, Diagnostics) {
		d := newDecoder(file)
		d.slowYAML = slow
		switch kind {
		case KindSLO:
			v := d.slo(data)
			r, diags := result(d, v)
			return r, diags
		case KindSLI:
			v := d.sli(data)
			r, diags := result(d, v)
			return r, diags
		case KindRemediation:
			v := d.remediation(data)
			r, diags := result(d, v)
			return r, diags
		case KindShipyard:
			v := d.shipyard(data)
			r, diags := result(d, v)
			return r, diags
		}
		t.Fatalf("unknown kind %q", kind)
		return nil, nil
	}
	fast, fastDiags := decode(false)
	slow, slowDiags := decode(true)
	if !reflect.DeepEqual(fastDiags, slowDiags) {
		t.Fatalf("diagnostics differ between the fast path and yaml.v3:\nfast:\n%s\nyaml.v3:\n%s\ninput:\n%s", diagLines(fastDiags), diagLines(slowDiags), data)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("values differ between the fast path and yaml.v3:\nfast: %#v\nyaml.v3: %#v\ninput:\n%s", fast, slow, data)
	}
	return !slowDiags.HasErrors()
}

// TestFastPathKeptnExamples decodes every Keptn example both ways.
func TestFastPathKeptnExamples(t *testing.T) {
	root := keptnExamples(t)
	seen := 0
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		kind, derr := DetectKind(path, data)
		if derr != nil {
			return nil
		}
		seen++
		decodeBothWays(t, path, data, kind)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 50 {
		t.Errorf("decoded only %d Keptn files both ways", seen)
	}
}

func TestFastPathSLO10(t *testing.T) {
	if !decodeBothWays(t, "slo.yaml", slo10(), KindSLO) {
		t.Fatal("the benchmark's SLO has errors")
	}
}

// FuzzFastPathSLO decodes random and mutated SLO files both ways; the
// other kinds share the same parse and yamlnode's FuzzFastMatchesYAMLv3
// compares the node trees themselves.
func FuzzFastPathSLO(f *testing.F) {
	seedFuzz(f)
	f.Add(slo10())
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []Kind{KindSLO, KindSLI, KindRemediation, KindShipyard} {
			decodeBothWays(t, "fuzz.yaml", data, kind)
		}
	})
}

// TestKnownFieldsIsMapFields checks that knownFields finds what mapFields
// finds and reports the same, on mappings with repeated, unknown and
// misspelt keys.
func TestKnownFieldsIsMapFields(t *testing.T) {
	docs := []string{
		"sli: a\nweight: 2\npass: []\n",
		"sli: a\nsli: b\nweight: 1\nweight: 3\n",
		"sli: a\nwieght: 2\nextra: 1\nextra: 2\n",
		"criteria: [\"<1\"]\ncriteria: []\n",
		"{}\n",
	}
	for _, doc := range docs {
		for _, known := range [][]string{objectiveKeys, blockKeys} {
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
				t.Fatal(err)
			}
			n := root.Content[0]
			a, b := newDecoder("f.yaml"), newDecoder("f.yaml")
			f, has := a.knownFields(n, "an objective", known)
			m := b.mapFields(n, "an objective", known, nil)
			for i, k := range known {
				if e, ok := m[k]; ok != has[i] || e != f[i] {
					t.Errorf("%q, key %s: knownFields %v %+v, mapFields %v %+v", doc, k, has[i], f[i], ok, e)
				}
			}
			if !reflect.DeepEqual(a.finish(), b.finish()) {
				t.Errorf("%q: diagnostics differ:\n%s\n%s", doc, diagLines(a.Diags), diagLines(b.Diags))
			}
		}
	}
}
