package slo

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// ParseCriterion parses one criteria string as Keptn did: spaces are removed,
// the operator is the first matching prefix of <=, <, =, >=, >, and the rest is
// a number that is relative to the baseline when it carries a sign or ends in
// '%'. Anything else is an error whose message says what would be right.
func ParseCriterion(s string) (Criterion, error) {
	c := Criterion{Raw: s}
	rest := removeSpaces(s)
	switch {
	case strings.HasPrefix(rest, "<="):
		c.Op = OpLessEqual
	case strings.HasPrefix(rest, "<"):
		c.Op = OpLess
	case strings.HasPrefix(rest, "="):
		c.Op = OpEqual
	case strings.HasPrefix(rest, ">="):
		c.Op = OpGreaterEqual
	case strings.HasPrefix(rest, ">"):
		c.Op = OpGreater
	default:
		return Criterion{}, fmt.Errorf("criterion %q: must start with one of <=, <, =, >=, > (for example \"<=800\" or \"<=+10%%\")", s)
	}
	rest = rest[len(c.Op):]
	if strings.HasSuffix(rest, "%") {
		c.Relative, c.Percent = true, true
		rest = rest[:len(rest)-1]
	}
	switch {
	case strings.HasPrefix(rest, "+"):
		c.Relative = true
		rest = rest[1:]
	case strings.HasPrefix(rest, "-"):
		c.Relative, c.Decrease = true, true
		rest = rest[1:]
	}
	if rest == "" || !isDecimal(rest) {
		return Criterion{}, fmt.Errorf("criterion %q: %q after the operator is not a number (write e.g. \"%s800\", \"%s+10%%\" or \"%s-5\")", s, rest, c.Op, c.Op, c.Op)
	}
	v, err := strconv.ParseFloat(rest, 64)
	if err != nil {
		return Criterion{}, fmt.Errorf("criterion %q: %q is not a number", s, rest)
	}
	c.Amount = v
	return c, nil
}

// removeSpaces drops every white-space character, as Keptn removed spaces
// anywhere in a criterion ("<= +10 %"). The common case has none and costs no
// allocation.
func removeSpaces(s string) string {
	if strings.IndexFunc(s, unicode.IsSpace) < 0 {
		return s
	}
	return strings.Join(strings.Fields(s), "")
}

// isDecimal reports whether s is digits with at most one decimal point: no
// exponent, sign, hex, Inf or NaN, which strconv would otherwise accept.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// Target returns the value the criterion compares against. For a relative
// criterion baseline is the aggregated earlier value; it is ignored otherwise.
func (c Criterion) Target(baseline float64) float64 {
	if !c.Relative {
		return c.Amount
	}
	switch {
	case c.Percent && c.Decrease:
		return baseline * (100 - c.Amount) / 100
	case c.Percent:
		return baseline * (100 + c.Amount) / 100
	case c.Decrease:
		return baseline - c.Amount
	default:
		return baseline + c.Amount
	}
}

// Holds reports whether value satisfies the criterion against target.
func (c Criterion) Holds(value, target float64) bool {
	switch c.Op {
	case OpLessEqual:
		return value <= target
	case OpLess:
		return value < target
	case OpEqual:
		return value == target
	case OpGreaterEqual:
		return value >= target
	case OpGreater:
		return value > target
	}
	return false
}
