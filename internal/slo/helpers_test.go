package slo

import (
	"strconv"
	"testing"
)

// mustCriterion parses a criteria string or stops the test.
func mustCriterion(tb testing.TB, s string) Criterion {
	tb.Helper()
	c, err := ParseCriterion(s)
	if err != nil {
		tb.Fatalf("ParseCriterion(%q): %v", s, err)
	}
	return c
}

// formatFloat writes v without an exponent, as criteria and messages do.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
