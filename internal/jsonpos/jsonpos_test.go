package jsonpos

import (
	"bytes"
	"testing"
)

func TestLineCol(t *testing.T) {
	data := []byte("{\n  \"a\": x\n}")
	tests := []struct {
		name      string
		off       int64
		line, col int
	}{
		{"start", 0, 1, 1},
		{"end of the first line", 1, 1, 2},
		{"after a newline", 2, 2, 1},
		{"inside the second line", 9, 2, 8},
		{"last byte", 11, 3, 1},
		{"end of input", 12, 3, 2},
		{"past the end", 100, 3, 2},
		{"negative", -5, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if line, col := LineCol(data, tt.off); line != tt.line || col != tt.col {
				t.Errorf("LineCol(%d) = %d:%d, want %d:%d", tt.off, line, col, tt.line, tt.col)
			}
		})
	}
}

// FuzzLineCol checks that the position found leads back to the offset.
func FuzzLineCol(f *testing.F) {
	f.Add([]byte("{\n\"a\": 1}\n"), int64(4))
	f.Add([]byte(""), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, off int64) {
		line, col := LineCol(data, off)
		if line < 1 || col < 1 {
			t.Fatalf("LineCol(%d) = %d:%d", off, line, col)
		}
		lines := bytes.SplitAfter(data, []byte{'\n'})
		back := int64(col - 1)
		for _, l := range lines[:line-1] {
			back += int64(len(l))
		}
		if want := min(max(off, 0), int64(len(data))); back != want {
			t.Fatalf("LineCol(%d) = %d:%d leads back to %d", off, line, col, back)
		}
	})
}
