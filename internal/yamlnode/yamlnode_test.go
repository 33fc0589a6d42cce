package yamlnode

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode/yamlnodetest"
)

func TestDecodeLimits(t *testing.T) {
	nested, nestedAlias := yamlnodetest.Nested(9, 10)
	wide, wideAlias := yamlnodetest.Wide(10000, 4000)
	tests := []struct {
		name string
		lim  Limits
		doc  string
		// want is part of the message; "" means the document is accepted.
		want       string
		line, col  int
		wantLimits bool
	}{
		{name: "plain", lim: Limits{Bytes: 100, Nodes: 10}, doc: "a: [1, 2, 3]\n"},
		{name: "exactly the node limit", lim: Limits{Bytes: 100, Nodes: 6}, doc: "a: [1, 2, 3]\n"},
		{name: "one node over", lim: Limits{Bytes: 100, Nodes: 5}, doc: "a: [1, 2, 3]\n",
			want: "the document has more than 5 YAML nodes, over tend's limit of 5 nodes per document; split it", line: 1, col: 4},
		{name: "aliases counted expanded", lim: Limits{Bytes: 100, Nodes: 10}, doc: "a: &a [1, 2, 3]\nb: *a\n",
			want: "aliases expand it to more than 10 YAML nodes", line: 2, col: 4},
		{name: "aliases within the limit", lim: Limits{Bytes: 100, Nodes: 11}, doc: "a: &a [1, 2, 3]\nb: *a\n"},
		{name: "too large", lim: Limits{Bytes: 10, Nodes: 100}, doc: "a: [1, 2, 3]\n",
			want: "the input is 13 bytes, over tend's limit of 10 bytes per YAML file"},
		{name: "cycle", lim: Limits{Bytes: 100, Nodes: 100}, doc: "a: &a [*a]\n",
			want: "the alias *a refers to a node that contains it", line: 1, col: 8},
		{name: "cycle through a mapping", lim: Limits{Bytes: 100, Nodes: 100}, doc: "a: &m {b: [1, *m]}\n",
			want: "the alias *m refers to a node that contains it", line: 1, col: 15},
		{name: "billion laughs nested", lim: Limits{Bytes: MaxBytes, Nodes: MaxNodes}, doc: nested + "use: " + nestedAlias + "\n",
			want: "aliases expand it to more than 100000 YAML nodes, over tend's limit of 100000 nodes per document", line: 5, col: 77},
		{name: "billion laughs wide (issue 12)", lim: Limits{Bytes: MaxBytes, Nodes: MaxNodes}, doc: wide + "use: " + wideAlias + "\n",
			want: "aliases expand it to more than 100000", line: 2, col: 68},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := NewDecoderLimits([]byte(tt.doc), tt.lim).Decode()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				if n := Size(doc, tt.lim.Nodes); n > tt.lim.Nodes {
					t.Fatalf("accepted a document of %d nodes over the limit %d", n, tt.lim.Nodes)
				}
				return
			}
			le, ok := errors.AsType[*LimitError](err)
			if !ok || !errors.Is(err, ErrLimit) {
				t.Fatalf("Decode error = %v, want a *LimitError matching ErrLimit", err)
			}
			if !strings.Contains(le.Message, tt.want) {
				t.Errorf("message %q does not contain %q", le.Message, tt.want)
			}
			if le.Line != tt.line || le.Column != tt.col {
				t.Errorf("position %d:%d, want %d:%d", le.Line, le.Column, tt.line, tt.col)
			}
		})
	}
}

func TestDecodeDocuments(t *testing.T) {
	dec := NewDecoder([]byte("a: 1\n---\nb: 2\n"))
	for _, want := range []string{"a", "b"} {
		doc, err := dec.Decode()
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if got := doc.Content[0].Content[0].Value; got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
	if _, err := dec.Decode(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last document: %v, want io.EOF", err)
	}
	if _, err := NewDecoder([]byte("a: [\n")).Decode(); err == nil || errors.Is(err, ErrLimit) {
		t.Errorf("syntax error = %v, want yaml.v3's error", err)
	}
}

// TestRefusalIsFast logs what refusing each hostile shape costs; the
// numbers go to docs/configuration.md. Tests do not assert on speed.
func TestRefusalIsFast(t *testing.T) {
	nested, nestedAlias := yamlnodetest.Nested(9, 10)
	wide, wideAlias := yamlnodetest.Wide(10000, 4000)
	for name, doc := range map[string]string{
		"nested": nested + "use: " + nestedAlias + "\n",
		"wide":   wide + "use: " + wideAlias + "\n",
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := NewDecoder([]byte(doc)).Decode()
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("%s: %v, want a limit error", name, err)
		}
		t.Logf("%s (%d bytes): refused in %v, %d KB allocated", name, len(doc), took, (after.TotalAlloc-before.TotalAlloc)>>10)
	}
}

func BenchmarkRefuseWideLaughs(b *testing.B) {
	wide, alias := yamlnodetest.Wide(10000, 4000)
	data := []byte(wide + "use: " + alias + "\n")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewDecoder(data).Decode(); !errors.Is(err, ErrLimit) {
			b.Fatal(err)
		}
	}
}

func TestPairsResolvesValues(t *testing.T) {
	doc, err := NewDecoder([]byte("a: &x 1\nb: *x\n")).Decode()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for k, v := range Pairs(doc.Content[0]) {
		got = append(got, k.Value+"="+v.Value)
	}
	if strings.Join(got, ",") != "a=1,b=1" {
		t.Errorf("pairs %v", got)
	}
	for range Pairs(&yaml.Node{Kind: yaml.SequenceNode}) {
		t.Error("a list yields pairs")
	}
}

func TestDescribe(t *testing.T) {
	tests := map[string]string{
		"~": "empty", "true": "the boolean true", "5": "the number 5", "1.5": "the number 1.5",
		"x": `the string "x"`, `"5"`: `the string "5"`, "[1]": "a list", "{a: 1}": "a mapping",
	}
	for src, want := range tests {
		doc, err := NewDecoder([]byte(src)).Decode()
		if err != nil {
			t.Fatal(err)
		}
		if got := Describe(doc.Content[0]); got != want {
			t.Errorf("Describe(%s) = %q, want %q", src, got, want)
		}
	}
	if Describe(nil) != "nothing" {
		t.Error("Describe(nil)")
	}
}

func TestWhere(t *testing.T) {
	for _, tt := range []struct {
		line, col int
		want      string
	}{{0, 0, "f.yaml"}, {3, 0, "f.yaml:3:1"}, {3, 7, "f.yaml:3:7"}} {
		if got := Where("f.yaml", tt.line, tt.col); got != tt.want {
			t.Errorf("Where(%d, %d) = %q, want %q", tt.line, tt.col, got, tt.want)
		}
	}
	if At("f.yaml", nil) != "f.yaml" || At("f.yaml", &yaml.Node{Line: 2, Column: 4}) != "f.yaml:2:4" {
		t.Error("At")
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := NewDecoder([]byte("a: 1\nb: [\n")).Decode()
	line, msg := SyntaxError(err)
	if line == 0 || strings.HasPrefix(msg, "yaml:") || msg == "" {
		t.Errorf("SyntaxError(%v) = %d, %q", err, line, msg)
	}
	if line, msg := SyntaxError(errors.New("yaml: something")); line != 0 || msg != "something" {
		t.Errorf("without a line: %d, %q", line, msg)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"spec_version", "objectives", "total_score", "key_sli", "displayName", "weight", "criteria", "settling"}
	tests := []struct{ key, want string }{
		{"objectivs", "objectives"},
		{"key-sli", "key_sli"},
		{"keySli", "key_sli"},
		{"dispayName", "displayName"},
		{"displayname", "displayName"},
		{"wieght", "weight"},
		{"totalscore", "total_score"},
		{"criterias", "criteria"},
		{"setling", "settling"},
		{"zzz", ""},
		{"description", ""},
		{strings.Repeat("x", 100), ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := Suggest(tt.key, known); got != tt.want {
				t.Errorf("Suggest(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// FuzzDecode checks the decoder's contract on any input: it never panics,
// a document it accepts stays within the node budget when every alias is
// followed, and a refusal names the limit.
func FuzzDecode(f *testing.F) {
	nested, alias := yamlnodetest.Nested(4, 4)
	for _, seed := range []string{"a: 1\n", "a: &a [*a]\n", "a: &a [1, 2]\nb: [*a, *a]\n", nested + "use: " + alias + "\n", "a: [\n", "---\n---\n"} {
		f.Add([]byte(seed))
	}
	lim := Limits{Bytes: 4096, Nodes: 200}
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := NewDecoderLimits(data, lim)
		for range 3 {
			doc, err := dec.Decode()
			if err != nil {
				if le, ok := errors.AsType[*LimitError](err); ok && !strings.Contains(le.Message, "limit") {
					t.Fatalf("limit error without the limit: %v", le)
				}
				return
			}
			if n := Size(doc, lim.Nodes); n > lim.Nodes {
				t.Fatalf("accepted a document that expands to %d nodes, over %d", n, lim.Nodes)
			}
			if n := walk(doc, 0); n > lim.Nodes {
				t.Fatalf("walking the accepted document visits %d nodes, over %d", n, lim.Nodes)
			}
		}
	})
}

// walk counts the nodes a decoder visits when it follows every alias, the
// way spec's conversion of properties to Go values does.
func walk(n *yaml.Node, depth int) int {
	n = Resolve(n)
	if n == nil {
		return 0
	}
	count := 1
	if n.Kind == yaml.DocumentNode {
		count = 0
	}
	for _, c := range n.Content {
		count += walk(c, depth+1)
	}
	return count
}
