// Package jsonpos locates byte offsets of JSON input as the line and column
// people read in an editor, for error messages about events, SLI values and
// request bodies. encoding/json reports only offsets.
package jsonpos

import "bytes"

// LineCol returns the 1-based line and column of byte offset off in data.
// Columns count bytes, as encoding/json's offsets do. An offset outside
// data is clamped to it, so the end of the input is the position after its
// last byte.
func LineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
