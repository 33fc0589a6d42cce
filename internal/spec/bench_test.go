package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDecodeSLO parses the self-healing tutorial's SLO, the typical
// file (target: under 50 µs per parse).
func BenchmarkDecodeSLO(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "slo.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if s, diags := DecodeSLO("slo.yaml", data); s == nil {
			b.Fatal(diags)
		}
	}
}
