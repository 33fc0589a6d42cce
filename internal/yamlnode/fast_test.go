package yamlnode

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// sameTree reports the first difference between the trees a and b, or ""
// when they are equal in everything but comments.
func sameTree(path string, a, b *yaml.Node) string {
	if (a == nil) != (b == nil) {
		return fmt.Sprintf("%s: one is nil", path)
	}
	if a == nil {
		return ""
	}
	if a.Kind != b.Kind || a.Style != b.Style || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor ||
		a.Line != b.Line || a.Column != b.Column || len(a.Content) != len(b.Content) || (a.Alias == nil) != (b.Alias == nil) {
		return fmt.Sprintf("%s: fast {kind %d style %d tag %q value %q at %d:%d, %d children}, yaml.v3 {kind %d style %d tag %q value %q at %d:%d, %d children}",
			path, a.Kind, a.Style, a.Tag, a.Value, a.Line, a.Column, len(a.Content), b.Kind, b.Style, b.Tag, b.Value, b.Line, b.Column, len(b.Content))
	}
	for i := range a.Content {
		if d := sameTree(fmt.Sprintf("%s/%d", path, i), a.Content[i], b.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

// checkFast fails when the fast path accepts data and yaml.v3 does not
// read it to the same single document.
func checkFast(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	fast, ok := parseFast(data)
	if !ok {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("the fast path accepted a document yaml.v3 refuses (%v):\n%s", err, data)
	}
	if d := sameTree("", fast, &doc); d != "" {
		t.Fatalf("the fast path's tree differs from yaml.v3's: %s\n%s", d, data)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		t.Fatalf("the fast path accepted an input of several documents:\n%s", data)
	}
	return true
}

var fastSeeds = []string{
	"a: 1\nb: [1, 2]\n",
	"spec_version: \"1.0\"\ncomparison:\n  compare_with: single_result\n  number_of_comparison_results: 1\nobjectives:\n  - sli: response_time_p95\n    key_sli: false\n    pass:\n      - criteria:\n          - \"<600\"\n    warning:\n      - criteria:\n          - '<=800'\n    weight: 1\ntotal_score:\n  pass: \"90%\"\n  warning: \"75%\"\n",
	"objectives:\n- sli: a # comment\n  weight: 2.5\n- sli: b\n\n  pass:\n  - criteria:\n    - <=+10%\n    - <1000\n",
	"# head\n  a: b\n  c:\n    - x\n    -\n      y: z\n",
	"a: -1\nb: +2\nc: 0.5\nd: 07\ne: .5\nf: 1e3\ng: null\nh: ~\ni: True\nj: yes\nk: 2024-01-01\nl: 0x1F\nm: 1_000\n",
	"a: b: c\n",
	"a:\n  b\n",
	"a: 'it''s'\nb: \"x\\ny\"\n",
	"- a\n- - b\n",
	"a: b\n c\n",
	"a: http://x:80/p\nb: x #y\nc: x#y\n",
}

func TestFastMatchesYAMLv3(t *testing.T) {
	for i, s := range fastSeeds {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkFast(t, []byte(s)) })
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	more, _ := filepath.Glob("../spec/testdata/*.yaml")
	accepted := 0
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if checkFast(t, data) {
			accepted++
		}
	}
	t.Logf("the fast path read %d of %d files", accepted, len(files)+len(more))
}

func FuzzFastMatchesYAMLv3(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 || strings.Count(string(data), "\n") > 4000 {
			return
		}
		checkFast(t, data)
	})
}
