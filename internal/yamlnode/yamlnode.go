// Package yamlnode is the YAML core that tend's decoders of outside input
// share: spec (Keptn's SLO, SLI, remediation and shipyard files) and config
// (tend.yaml). It parses documents as yaml.v3 nodes within limits on the
// input's size and on the nodes the document expands to through its
// aliases, and it holds what every node decoder needs alike: positions as
// FILE:LINE:COL, descriptions of what a node holds, and the one rule that
// suggests a known key for a misspelt one. NewBlockDecoder adds a fast
// path for the block YAML Keptn's files are written in (fast.go), which
// builds the same nodes and leaves everything else to yaml.v3.
package yamlnode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The limits every YAML document tend reads from outside is held to. Keptn's
// files are a few kilobytes; the limits leave a hundred times that and keep
// one hostile file from costing more than milliseconds and megabytes.
const (
	// MaxBytes bounds the input. yaml.v3 builds a node of some 200 bytes
	// for every scalar before anything can be checked, so the input's size
	// is what bounds the parser's own time and memory.
	MaxBytes = 1 << 20
	// MaxNodes bounds the nodes of one document counted with every alias
	// expanded: what a decoder that follows aliases visits and what a
	// conversion to Go values allocates. Counting alias look-ups instead
	// is not enough: in a "billion laughs" file each look-up names a
	// subtree of thousands of nodes.
	MaxNodes = 100_000
)

// Limits are the budget of one decoder; NewDecoder uses MaxBytes and
// MaxNodes, and tests use smaller ones.
type Limits struct {
	Bytes int
	Nodes int
}

// ErrLimit is matched by every error about a document over a limit.
var ErrLimit = errors.New("YAML document over tend's limits")

// LimitError says which limit a document went over and, when a node is to
// blame, where.
type LimitError struct {
	// Line and Column locate the node at which the limit was passed; 0
	// when the input as a whole is too large.
	Line, Column int
	// Message names the limit and says what would be accepted.
	Message string
}

// Error gives the message, after the position when there is one.
func (e *LimitError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
	}
	return e.Message
}

// Unwrap makes every LimitError match ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Decoder reads the documents of one input as nodes, within its limits.
type Decoder struct {
	data   []byte
	limits Limits
	dec    *yaml.Decoder
	// fast is set by NewBlockDecoder; fastRead once the fast path read
	// the input's only document, so the next Decode is io.EOF.
	fast, fastRead bool
}

// NewDecoder returns a decoder of data held to MaxBytes and MaxNodes.
func NewDecoder(data []byte) *Decoder {
	return NewDecoderLimits(data, Limits{Bytes: MaxBytes, Nodes: MaxNodes})
}

// NewDecoderLimits returns a decoder of data held to lim.
func NewDecoderLimits(data []byte, lim Limits) *Decoder {
	return &Decoder{data: data, limits: lim}
}

// NewBlockDecoder is NewDecoder with a fast path for the block YAML of
// Keptn's files (see parseFast): the input is read in one pass when it is
// a single document in that subset, and by yaml.v3 otherwise, so every
// error is still yaml.v3's. The nodes are those yaml.v3 would build,
// except that comments are not kept.
func NewBlockDecoder(data []byte) *Decoder {
	d := NewDecoder(data)
	d.fast = true
	return d
}

// Decode returns the next document node. It returns io.EOF when there is
// none, yaml.v3's error for a syntax error, and a *LimitError when the
// input is larger than the limit (before parsing anything) or the document
// expands to more nodes than the limit (before any caller walks it).
func (d *Decoder) Decode() (*yaml.Node, error) {
	if len(d.data) > d.limits.Bytes {
		return nil, &LimitError{Message: fmt.Sprintf("the input is %d bytes, over tend's limit of %d bytes per YAML file; a Keptn file or tend.yaml is a few kilobytes, so split or shorten it", len(d.data), d.limits.Bytes)}
	}
	if d.fastRead {
		return nil, io.EOF
	}
	if d.fast && d.dec == nil {
		if doc, ok := parseFast(d.data); ok && CheckExpansion(doc, d.limits.Nodes) == nil {
			d.fastRead = true
			return doc, nil
		}
	}
	if d.dec == nil {
		d.dec = yaml.NewDecoder(bytes.NewReader(d.data))
	}
	var doc yaml.Node
	if err := d.dec.Decode(&doc); err != nil {
		return nil, err
	}
	if err := CheckExpansion(&doc, d.limits.Nodes); err != nil {
		return nil, err
	}
	return &doc, nil
}

// CheckExpansion returns a *LimitError when n, with every alias expanded,
// has more than limit nodes, or when an alias refers to a node that contains
// it (yaml.v3 parses `a: &a [*a]` into a cycle). It visits every distinct
// node once, so it refuses a billion laughs in the time the parser took.
func CheckExpansion(n *yaml.Node, limit int) error {
	c := counter{limit: limit}
	if c.size(n) <= limit {
		return nil
	}
	if c.cycle != nil {
		return &LimitError{Line: c.cycle.Line, Column: c.cycle.Column, Message: fmt.Sprintf(
			"the alias *%s refers to a node that contains it, so the document never ends, over tend's limit of %d YAML nodes per document with aliases expanded; write the values out", c.cycle.Value, limit)}
	}
	var line, col int
	if c.over != nil {
		line, col = c.over.Line, c.over.Column
	}
	if c.aliased {
		return &LimitError{Line: line, Column: col, Message: fmt.Sprintf(
			"the document's aliases expand it to more than %d YAML nodes, over tend's limit of %d nodes per document; write the values out instead of nesting aliases", limit, limit)}
	}
	return &LimitError{Line: line, Column: col, Message: fmt.Sprintf(
		"the document has more than %d YAML nodes, over tend's limit of %d nodes per document; split it", limit, limit)}
}

// Size returns how many nodes n stands for with every alias expanded,
// counting no further than limit+1, which it returns for a cycle too.
func Size(n *yaml.Node, limit int) int {
	c := counter{limit: limit}
	return c.size(n)
}

// counter counts expanded nodes. Only anchored nodes can be reached twice
// (through their aliases), so only they are remembered.
type counter struct {
	limit int
	// sizes holds the expanded size of each anchored node counted; -1
	// while the node is being counted, so reaching it again is a cycle.
	sizes map[*yaml.Node]int
	// over is the node at which the count first passed the limit, cycle
	// the alias that closed a cycle; aliased tells whether an alias was
	// followed at all, for the message.
	over, cycle *yaml.Node
	aliased     bool
}

func (c *counter) size(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 1
		}
		c.aliased = true
		if s, seen := c.sizes[n.Alias]; seen && s < 0 {
			if c.cycle == nil {
				c.cycle = n
			}
			return c.limit + 1
		}
		return c.size(n.Alias)
	}
	if n.Anchor != "" {
		if s, seen := c.sizes[n]; seen && s >= 0 {
			return s
		}
		if c.sizes == nil {
			c.sizes = map[*yaml.Node]int{}
		}
		c.sizes[n] = -1
	}
	total := 1
	if n.Kind == yaml.DocumentNode {
		total = 0 // the document node is the file, not a value in it
	}
	for _, child := range n.Content {
		total += c.size(child)
		if total > c.limit {
			if c.over == nil {
				c.over = child
			}
			total = c.limit + 1
			break
		}
	}
	if n.Anchor != "" {
		c.sizes[n] = total
	}
	return total
}

// Resolve follows aliases to the node they name. Decoder has checked that
// no alias is part of a cycle, so following them ends.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Pairs yields the keys of a mapping with their values, aliases in values
// resolved. A node that is not a mapping yields nothing.
func Pairs(n *yaml.Node) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(*yaml.Node, *yaml.Node) bool) {
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !yield(n.Content[i], Resolve(n.Content[i+1])) {
				return
			}
		}
	}
}

// IsNull reports whether n is absent or YAML's null (~, null, nothing).
func IsNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// Describe names what a node holds, for "must be X, not Y" messages.
func Describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "empty"
		case "!!bool":
			return "the boolean " + n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		}
		return fmt.Sprintf("the string %q", n.Value)
	}
	return "an unexpected YAML node"
}

// Where formats a position as FILE:LINE:COL, or FILE alone when line is 0
// (a problem of the whole file). A column of 0 (unknown) is shown as 1.
func Where(file string, line, col int) string {
	if line <= 0 {
		return file
	}
	return file + ":" + strconv.Itoa(line) + ":" + strconv.Itoa(max(col, 1))
}

// At is Where for a node; a nil node or one without a line is the whole
// file.
func At(file string, n *yaml.Node) string {
	if n == nil {
		return file
	}
	return Where(file, n.Line, n.Column)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// SyntaxError splits an error of yaml.v3's parser into the line it names
// (0 when it names none) and its message without the "yaml: line N: "
// prefix.
func SyntaxError(err error) (line int, msg string) {
	msg = err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, msg[len(m[0]):]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// Suggest returns the known key closest to key when it is close enough to
// be a typo: the same letters ignoring case, '-', '_' and spaces, or within
// an edit distance that grows with the key's length (1 below 5 bytes, 2
// below 10, 3 from 10). It returns "" when no key is that close. This is
// the one "did you mean" rule of every file tend reads.
func Suggest(key string, known []string) string {
	norm := func(s string) string {
		return strings.NewReplacer("-", "", "_", "", " ", "").Replace(strings.ToLower(s))
	}
	nk := norm(key)
	best, bestDist := "", math.MaxInt
	for _, k := range known {
		if norm(k) == nk {
			return k
		}
		dist := editDistance(strings.ToLower(key), strings.ToLower(k))
		if dist < bestDist {
			best, bestDist = k, dist
		}
	}
	limit := 1
	if len(key) >= 5 {
		limit = 2
	}
	if len(key) >= 10 {
		limit = 3
	}
	if bestDist <= limit {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes each cost 1.
// Keys longer than 64 bytes are no typo of a known key, and skipping them
// keeps a hostile key from costing quadratic time.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, rows[i-2][j-2]+1)
			}
			rows[i][j] = v
		}
	}
	return rows[len(a)][len(b)]
}
