package kubernetes

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tendhq/tend/internal/action"
)

// maxDelta bounds the size of one scaling step, so a typo such as
// "+1000000" is refused instead of being clamped silently to the limit.
const maxDelta = 1000

// ParseDelta reads a scaling action's value as the change in replicas it
// asks for. Keptn's remediation files write it as "+1", "1" or "-1", and
// YAML turns an unquoted +1 into the integer 1; a value without a sign adds
// replicas, like Keptn's own executor did. Zero, fractions and anything
// else are refused with an error wrapping action.ErrInvalid.
func ParseDelta(v any) (int32, error) {
	var n int64
	switch x := v.(type) {
	case nil:
		return 0, fmt.Errorf("%w: scaling needs a value such as \"+1\" or \"-1\", got none", action.ErrInvalid)
	case string:
		s := strings.TrimSpace(x)
		digits := s
		if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
			digits = s[1:]
		}
		if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
			return 0, fmt.Errorf("%w: scaling value %q is not a whole number of replicas; write \"+1\" to add one replica or \"-1\" to remove one", action.ErrInvalid, x)
		}
		parsed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: scaling value %q is too large; write a small step such as \"+1\"", action.ErrInvalid, x)
		}
		n = parsed
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%w: scaling value %d is too large; write a small step such as \"+1\"", action.ErrInvalid, x)
		}
		n = int64(x)
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > maxDelta {
			return 0, fmt.Errorf("%w: scaling value %v is not a whole number of replicas; write \"+1\" or \"-1\"", action.ErrInvalid, x)
		}
		n = int64(x)
	case json.Number:
		return ParseDelta(x.String())
	default:
		return 0, fmt.Errorf("%w: scaling value must be a number of replicas such as \"+1\" or \"-1\", got a %T", action.ErrInvalid, v)
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: scaling value %v changes nothing; write \"+1\" to add one replica or \"-1\" to remove one", action.ErrInvalid, v)
	}
	if n > maxDelta || n < -maxDelta {
		return 0, fmt.Errorf("%w: scaling value %v is a step of more than %d replicas; write a small step such as \"+1\"", action.ErrInvalid, v, maxDelta)
	}
	return int32(n), nil
}

// limits is the range a scaling step may move within.
type limits struct {
	min, max int32
	// what names the maximum in messages ("the limit", "the HPA's maxReplicas").
	what string
}

// step computes the absolute target for moving current by delta within
// l. It refuses a step that cannot move in the asked direction, so an
// action at the limit fails visibly instead of succeeding without effect.
func step(current, delta int32, l limits) (int32, error) {
	if delta > 0 {
		if current >= l.max {
			return 0, fmt.Errorf("%w: already at %s of %d replicas (now %d); raise the limit or remediate differently", action.ErrInvalid, l.what, l.max, current)
		}
		// current < max, so current+delta cannot overflow meaningfully:
		// both are bounded (delta by maxDelta).
		return min(current+delta, l.max), nil
	}
	if current <= l.min {
		return 0, fmt.Errorf("%w: already at the minimum of %d replicas (now %d); scaling down further is not allowed", action.ErrInvalid, l.min, current)
	}
	return max(current+delta, l.min), nil
}
