package event

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse measures Parse on a large real event (a Dynatrace problem
// notification of about 3 KB) and on a minimal one; the API parses every
// event it ingests.
func BenchmarkParse(b *testing.B) {
	inputs := map[string][]byte{"minimal": []byte(minimal)}
	root := examplesRoot(b)
	big, err := os.ReadFile(filepath.Join(root, "dynatrace-service/0.27.2/internal/problem/testdata/closed_problem/received_ce.json"))
	if err != nil {
		b.Fatal(err)
	}
	inputs["dynatrace"] = big
	for name, in := range inputs {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMarshal measures MarshalJSON of a parsed event.
func BenchmarkMarshal(b *testing.B) {
	e, err := Parse([]byte(minimal))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
