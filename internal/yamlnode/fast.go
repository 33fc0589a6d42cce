package yamlnode

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// This file is a fast path for the block YAML that Keptn's files are
// written in: block mappings and sequences of single-line plain, single-
// or double-quoted scalars, with comments and blank lines. yaml.v3 spends
// most of an SLO file's decode building its node tree through a scanner,
// a parser and an event stream; parseFast builds the same tree (kinds,
// tags, styles, values, lines and columns; comments are not kept) in one
// pass over the lines. It refuses, and the caller falls back to yaml.v3,
// at anything outside that subset: flow collections, anchors, aliases,
// tags, block scalars, multi-line scalars, escapes, document markers,
// directives, tabs, non-ASCII bytes, empty values, and every construct it
// is not sure yaml.v3 reads the same way. Errors are always yaml.v3's: a
// document the fast path cannot read is read again by yaml.v3, which
// reports the problem. FuzzFastMatchesYAMLv3 checks that every document
// the fast path accepts is one yaml.v3 reads to the same tree.

// fastLine is one line with content: its number, its indent and its text
// after the indent. A sequence entry whose item is a mapping moves the
// line's indent and text to the item's first key.
type fastLine struct {
	num, ind int
	s        string
}

type fastParser struct {
	lines []fastLine
	i     int
	// slab hands out nodes a chunk at a time: one allocation for many
	// nodes, never moved once handed out.
	slab []yaml.Node
	// stack holds the children of the collections being read; each
	// collection's Content is then cut from kids, so no Content slice
	// grows by appending.
	stack, kids []*yaml.Node
}

// children moves the children above base on the stack into n.Content.
func (p *fastParser) children(n *yaml.Node, base int) {
	c := p.stack[base:]
	if len(p.kids)+len(c) > cap(p.kids) {
		p.kids = make([]*yaml.Node, 0, max(len(c), 64))
	}
	start := len(p.kids)
	p.kids = append(p.kids, c...)
	n.Content = p.kids[start:len(p.kids):len(p.kids)]
	p.stack = p.stack[:base]
}

// parseFast returns the document node of data when data is a single
// document in the subset described above, and ok false otherwise.
func parseFast(data []byte) (doc *yaml.Node, ok bool) {
	src := string(data)
	p := fastParser{lines: make([]fastLine, 0, strings.Count(src, "\n")+1)}
	num, nodes := 0, 2 // the document and the root
	for rest := src; rest != ""; {
		num++
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		for i := 0; i < len(line); i++ {
			if c := line[i]; c < 0x20 || c >= 0x7f {
				return nil, false // tabs, CR, control and non-ASCII bytes
			}
		}
		ind := 0
		for ind < len(line) && line[ind] == ' ' {
			ind++
		}
		text := strings.TrimRight(line[ind:], " ")
		if text == "" || text[0] == '#' {
			continue
		}
		if ind == 0 && (text[0] == '%' || strings.HasPrefix(text, "---") || strings.HasPrefix(text, "...")) {
			return nil, false
		}
		p.lines = append(p.lines, fastLine{num: num, ind: ind, s: text})
		// A line holds a scalar or key, at most one value or collection
		// after a ':', and a collection that starts with its '-'.
		nodes++
		if strings.IndexByte(text, ':') >= 0 {
			nodes++
		}
		if text[0] == '-' {
			nodes++
		}
	}
	if len(p.lines) == 0 {
		return nil, false
	}
	p.slab = make([]yaml.Node, 0, nodes)
	p.kids = make([]*yaml.Node, 0, nodes)
	p.stack = make([]*yaml.Node, 0, 64)
	root, ok := p.block(p.lines[0].ind)
	if !ok || p.i != len(p.lines) {
		return nil, false
	}
	doc = p.node(yaml.DocumentNode, "", "", 0, root.Line, root.Column)
	doc.Content = []*yaml.Node{root}
	return doc, true
}

func (p *fastParser) node(kind yaml.Kind, tag, value string, style yaml.Style, line, col int) *yaml.Node {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]yaml.Node, 0, 64)
	}
	// Setting the fields of the zeroed slot, rather than appending a
	// whole Node, avoids copying 160 bytes with their write barriers.
	p.slab = p.slab[:len(p.slab)+1]
	n := &p.slab[len(p.slab)-1]
	n.Kind, n.Tag, n.Value, n.Style, n.Line, n.Column = kind, tag, value, style, line, col
	return n
}

func isSeqEntry(s string) bool { return s == "-" || strings.HasPrefix(s, "- ") }

// block reads the mapping or sequence whose first line is the current one,
// at indent ind.
func (p *fastParser) block(ind int) (*yaml.Node, bool) {
	if isSeqEntry(p.lines[p.i].s) {
		return p.sequence(ind)
	}
	return p.mapping(ind)
}

// nested reads a value that starts on the line after its key or dash: a
// block more indented than ind, or (allowUnindented, for a mapping's
// value) a sequence at ind itself.
func (p *fastParser) nested(ind int, allowUnindented bool) (*yaml.Node, bool) {
	if p.i >= len(p.lines) {
		return nil, false // an empty value: yaml.v3 places its null
	}
	l := p.lines[p.i]
	if l.ind > ind || (allowUnindented && l.ind == ind && isSeqEntry(l.s)) {
		return p.block(l.ind)
	}
	return nil, false
}

func (p *fastParser) mapping(ind int) (*yaml.Node, bool) {
	first := p.lines[p.i]
	m := p.node(yaml.MappingNode, "!!map", "", 0, first.num, ind+1)
	base := len(p.stack)
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.ind < ind {
			break
		}
		if l.ind > ind || isSeqEntry(l.s) {
			return nil, false
		}
		key, end, ok := p.scalar(l, 0)
		if !ok || end >= len(l.s) || l.s[end] != ':' || len(l.s) > 1024 {
			return nil, false
		}
		end++
		if end < len(l.s) && l.s[end] != ' ' {
			return nil, false
		}
		var val *yaml.Node
		if at := skipSpaces(l.s, end); at == len(l.s) || l.s[at] == '#' {
			p.i++
			if val, ok = p.nested(ind, true); !ok {
				return nil, false
			}
		} else {
			if val, ok = p.lastScalar(l, at); !ok {
				return nil, false
			}
			p.i++
		}
		p.stack = append(p.stack, key, val)
	}
	p.children(m, base)
	return m, true
}

func (p *fastParser) sequence(ind int) (*yaml.Node, bool) {
	first := p.lines[p.i]
	s := p.node(yaml.SequenceNode, "!!seq", "", 0, first.num, ind+1)
	base := len(p.stack)
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.ind < ind || (l.ind == ind && !isSeqEntry(l.s)) {
			break
		}
		if l.ind > ind {
			return nil, false
		}
		at := skipSpaces(l.s, 1)
		var item *yaml.Node
		var ok bool
		switch {
		case at == len(l.s) || l.s[at] == '#':
			p.i++
			if item, ok = p.nested(ind, false); !ok {
				return nil, false
			}
		case isSeqEntry(l.s[at:]):
			return nil, false
		default:
			_, end, good := p.scalar(l, at)
			if !good {
				return nil, false
			}
			if end < len(l.s) && l.s[end] == ':' {
				// The item is a mapping whose first key is on this line.
				p.slab = p.slab[:len(p.slab)-1] // the key is read again
				p.lines[p.i] = fastLine{num: l.num, ind: l.ind + at, s: l.s[at:]}
				if item, ok = p.mapping(l.ind + at); !ok {
					return nil, false
				}
			} else {
				if item, ok = p.lastScalar(l, at); !ok {
					return nil, false
				}
				p.i++
			}
		}
		p.stack = append(p.stack, item)
	}
	p.children(s, base)
	return s, true
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// lastScalar reads the scalar at l.s[at:], which must end the line but for
// a comment.
func (p *fastParser) lastScalar(l fastLine, at int) (*yaml.Node, bool) {
	n, end, ok := p.scalar(l, at)
	if !ok {
		return nil, false
	}
	if end < len(l.s) {
		rest := skipSpaces(l.s, end)
		if rest == end || l.s[rest] != '#' {
			return nil, false
		}
	}
	return n, true
}

// scalar reads the scalar that starts at l.s[at]: quoted up to its closing
// quote, or plain up to a ':' that ends it, a comment or the end of the
// line. end is the offset just after it (before trailing spaces of a
// plain scalar).
func (p *fastParser) scalar(l fastLine, at int) (n *yaml.Node, end int, ok bool) {
	s := l.s
	line, col := l.num, l.ind+at+1
	switch c := s[at]; c {
	case '"', '\'':
		close := strings.IndexByte(s[at+1:], c)
		if close < 0 {
			return nil, 0, false
		}
		v := s[at+1 : at+1+close]
		end = at + 2 + close
		if (c == '"' && strings.IndexByte(v, '\\') >= 0) || (c == '\'' && end < len(s) && s[end] == '\'') {
			return nil, 0, false // escapes
		}
		style := yaml.DoubleQuotedStyle
		if c == '\'' {
			style = yaml.SingleQuotedStyle
		}
		return p.node(yaml.ScalarNode, "!!str", v, style, line, col), end, true
	case '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`':
		return nil, 0, false
	}
	end = at
	for end < len(s) {
		c := s[end]
		if c == ':' && (end+1 == len(s) || s[end+1] == ' ') {
			break
		}
		if c == '#' && s[end-1] == ' ' {
			break
		}
		switch c {
		case '[', ']', '{', '}', '"', '\'', '`':
			return nil, 0, false // allowed by YAML, not worth the doubt
		}
		end++
	}
	v := strings.TrimRight(s[at:end], " ")
	tag, ok := plainTag(v)
	if !ok {
		return nil, 0, false
	}
	return p.node(yaml.ScalarNode, tag, v, 0, line, col), at + len(v), true
}

// plainTag resolves a plain scalar as yaml.v3 does for the spellings that
// are certain; ok is false for the rest (octal, hexadecimal, underscores,
// timestamps, infinities, merge keys), which yaml.v3 resolves.
func plainTag(v string) (tag string, ok bool) {
	switch v {
	case "true", "True", "TRUE", "false", "False", "FALSE":
		return "!!bool", true
	case "~", "null", "Null", "NULL":
		return "!!null", true
	case "<<", "":
		return "", false
	}
	switch c := v[0]; {
	case c == '+' || c == '-' || c == '.' || (c >= '0' && c <= '9'):
		digits := v
		if c == '+' || c == '-' {
			digits = v[1:]
		}
		whole, frac, dot := strings.Cut(digits, ".")
		if !allDigits(whole) || (whole[0] == '0' && len(whole) > 1) {
			return "", false
		}
		if !dot {
			if len(whole) > 18 {
				return "", false
			}
			return "!!int", true
		}
		if !allDigits(frac) {
			return "", false
		}
		return "!!float", true
	}
	return "!!str", true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
