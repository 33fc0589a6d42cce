// Package yamlnodetest builds hostile YAML documents ("billion laughs")
// for the tests of every decoder that reads YAML from outside, so that each
// proves it refuses them through yamlnode's limits.
package yamlnodetest

import (
	"fmt"
	"strings"
)

// Nested returns top-level keys lol0 ... lol<levels-1>, each a list of width
// aliases of the one before, and the alias of the last, which expands to
// width^levels nodes. Nested(9, 10) is the classic billion laughs in about
// 500 bytes.
func Nested(levels, width int) (doc, alias string) {
	var b strings.Builder
	b.WriteString("lol0: &lol0 [" + strings.TrimSuffix(strings.Repeat("lol, ", width), ", ") + "]\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "lol%d: &lol%d [", i, i)
		for j := range width {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*lol%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String(), fmt.Sprintf("*lol%d", levels-1)
}

// Wide returns the shape of the file that issue 12 reports: a list of items
// scalars under the key big and a list of refs aliases of it under the key
// wide, and the alias of that list, which expands to items*refs nodes with
// no alias nested in another. Wide(10000, 4000) is 54 KB; tend's old budget
// counted its 4000 look-ups and accepted it after seconds and a gigabyte.
func Wide(items, refs int) (doc, alias string) {
	var b strings.Builder
	b.WriteString("big: &big [" + strings.TrimSuffix(strings.Repeat("x, ", items), ", ") + "]\n")
	b.WriteString("wide: &wide [" + strings.TrimSuffix(strings.Repeat("*big, ", refs), ", ") + "]\n")
	return b.String(), "*wide"
}
