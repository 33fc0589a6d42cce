package spec

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestNumbersReadAsYAMLDoes checks that the fast path of number, integer
// and boolean reads every scalar as yaml.v3's own decoding does.
func TestNumbersReadAsYAMLDoes(t *testing.T) {
	for _, src := range []string{
		"1", "0", "-0", "+5", "42", "1000", "-17", "3.5", "-0.25", ".5", "1.", "1e3", "1E-2", "-2.5e+3",
		"010", "007", "0x1F", "0o17", "1_000", ".inf", "-.inf", ".nan", "1e400", "9007199254740993", "true", "false", "True", "FALSE",
	} {
		t.Run(src, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte("v: "+src), &doc); err != nil {
				t.Fatal(err)
			}
			n := doc.Content[0].Content[1]
			d := newDecoder("t.yaml")

			var wantF float64
			wantOK := (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") && n.Decode(&wantF) == nil && wantF == wantF && wantF-wantF == 0
			gotF, gotOK := d.number(n, "v", "1")
			if gotOK != wantOK || (wantOK && gotF != wantF) {
				t.Errorf("number = %v, %v; yaml.v3 reads %v, %v", gotF, gotOK, wantF, wantOK)
			}

			var wantI int
			wantIOK := n.ShortTag() == "!!int" && n.Decode(&wantI) == nil
			gotI, gotIOK := d.integer(n, "v", "1")
			if gotIOK != wantIOK || (wantIOK && gotI != wantI) {
				t.Errorf("integer = %v, %v; yaml.v3 reads %v, %v", gotI, gotIOK, wantI, wantIOK)
			}

			if n.ShortTag() == "!!bool" {
				var wantB bool
				_ = n.Decode(&wantB)
				if gotB, ok := d.boolean(n, "v"); !ok || gotB != wantB {
					t.Errorf("boolean = %v, %v; yaml.v3 reads %v", gotB, ok, wantB)
				}
			}
		})
	}
}
