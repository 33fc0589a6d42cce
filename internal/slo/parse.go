package slo

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseScore parses a total_score threshold such as "90%", "90" or "90.5%".
// Keptn wrote thresholds as percent strings but accepted them without the
// sign, so the '%' is optional. Surrounding spaces are ignored. The number
// must be a plain decimal between 0 and 100: an exponent, a sign, NaN or Inf
// is rejected because a threshold outside that range could never be met or
// always would be, which is surely a typo.
func ParseScore(s string) (float64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "%")
	t = strings.TrimSpace(t)
	if !isDecimal(t) {
		return 0, fmt.Errorf("score %q: not a percentage (write e.g. \"90%%\" or \"90\")", s)
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, fmt.Errorf("score %q: %w", s, err)
	}
	if v > 100 {
		return 0, fmt.Errorf("score %q: must be between 0%% and 100%%", s)
	}
	return v, nil
}

// ParseAggregate maps an aggregate_function value (avg, p50, p90, p95) to its
// Aggregate. The match is exact, as in Keptn; ok is false for anything else so
// the caller can report the file position.
func ParseAggregate(s string) (Aggregate, bool) {
	switch a := Aggregate(s); a {
	case AggregateAvg, AggregateP50, AggregateP90, AggregateP95:
		return a, true
	}
	return "", false
}

// ParseCompareWith maps a compare_with value (single_result, several_results)
// to its CompareWith; ok is false for anything else.
func ParseCompareWith(s string) (CompareWith, bool) {
	switch c := CompareWith(s); c {
	case SingleResult, SeveralResults:
		return c, true
	}
	return "", false
}

// ParseIncludeResults maps an include_result_with_score value (pass,
// pass_or_warn, all) to its IncludeResults; ok is false for anything else.
func ParseIncludeResults(s string) (IncludeResults, bool) {
	switch i := IncludeResults(s); i {
	case IncludePass, IncludePassOrWarn, IncludeAll:
		return i, true
	}
	return "", false
}
