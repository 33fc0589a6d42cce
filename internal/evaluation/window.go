package evaluation

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultTimeframe is the evaluation window when a trigger names neither a
// start nor a timeframe, as Keptn's API defaulted it.
const DefaultTimeframe = 5 * time.Minute

// ErrWindow marks an evaluation window that cannot be computed from the
// times given; the API answers 400 and the CLI exits 2 on it.
var ErrWindow = errors.New("invalid evaluation window")

// Window computes an evaluation window from Keptn's time inputs (docs/keptn.md,
// "SLO files and the evaluation"), with now as the end when none follows from them:
//
//	timeframe alone          now-timeframe .. now
//	start alone              start .. now
//	start and end            start .. end
//	start and timeframe      start .. start+timeframe
//	nothing                  now-DefaultTimeframe .. now
//
// start and end are RFC 3339 times; timeframe is a Go duration such as
// "5m" or "1h30m". end together with timeframe is an error, and so is an end
// without a start and an end that is not after its start. Errors wrap
// ErrWindow and name the input the way the API's body does (start, end,
// timeframe).
func Window(now time.Time, timeframe, start, end string) (time.Time, time.Time, error) {
	timeframe, start, end = strings.TrimSpace(timeframe), strings.TrimSpace(start), strings.TrimSpace(end)
	if end != "" && timeframe != "" {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: end and timeframe cannot be combined; give start and end, or start and timeframe, or timeframe alone", ErrWindow)
	}
	if end != "" && start == "" {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: end %q needs a start; give start too, or timeframe alone for a window ending now", ErrWindow, end)
	}
	var tf time.Duration
	if timeframe != "" {
		d, err := time.ParseDuration(timeframe)
		if err != nil || d <= 0 {
			return time.Time{}, time.Time{}, fmt.Errorf("%w: timeframe %q is not a positive duration; write e.g. 5m, 30s or 1h30m", ErrWindow, timeframe)
		}
		tf = d
	}
	if start == "" {
		if tf == 0 {
			tf = DefaultTimeframe
		}
		return now.Add(-tf).UTC(), now.UTC(), nil
	}
	s, err := parseTime("start", start)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	e := now
	switch {
	case end != "":
		if e, err = parseTime("end", end); err != nil {
			return time.Time{}, time.Time{}, err
		}
	case tf != 0:
		e = s.Add(tf)
	}
	if !e.After(s) {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: the end %s is not after the start %s", ErrWindow, e.UTC().Format(time.RFC3339), s.UTC().Format(time.RFC3339))
	}
	return s.UTC(), e.UTC(), nil
}

func parseTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not an RFC 3339 time; write e.g. 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00", ErrWindow, name, v)
	}
	return t, nil
}
