package dynatrace

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// FuzzDecode feeds the three response decoders arbitrary answers: none may
// panic, an accepted answer must come with a 2xx status and a finite value,
// and a rejected one carries no value and a documented error kind.
func FuzzDecode(f *testing.F) {
	for _, body := range []string{metricsAnswer("builtin:x", "[1]"), metricsAnswer("builtin:x", "[null]"), noSeries, twoSeries, twoMetrics, twoPoints, sloAnswer, sloFailed, problemsCount, err401, err400, "", "null", "{}", `{"error":null}`, `{"error":{}}`} {
		f.Add(200, []byte(body))
		f.Add(400, []byte(body))
	}
	decoders := map[string]func(int, []byte) (Value, error){"metrics": DecodeMetrics, "slo": DecodeSLO, "problems": DecodeProblems}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		for name, decode := range decoders {
			v, err := decode(status, body)
			if err != nil {
				if v.Value != 0 {
					t.Fatalf("%s: rejected answer carries value %v", name, v.Value)
				}
				var (
					api  *APIError
					sev  *SeveralError
					malf *MalformedError
				)
				if !errors.Is(err, ErrNoData) && !errors.As(err, &api) && !errors.As(err, &sev) && !errors.As(err, &malf) &&
					!strings.Contains(err.Error(), "could not evaluate SLO") {
					t.Fatalf("%s: undocumented error %T: %v", name, err, err)
				}
				continue
			}
			if status < 200 || status > 299 {
				t.Fatalf("%s: accepted an answer with HTTP status %d", name, status)
			}
			if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
				t.Fatalf("%s: accepted a non-finite value", name)
			}
		}
	})
}

// FuzzParseQuery checks that any sli.yaml query either parses into a
// request tend can send or is rejected with an error, without panicking.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{"builtin:x", "metricSelector=a&entitySelector=b", "MV2;Byte;metricSelector=a", "SLO;id", "PV2;status(open)", "PV2;problemSelector=a&entitySelector=b", "USQL;a;b;c", "x?scope=y", "metricSelector=a&to=1"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		parsed, err := ParseQuery(q)
		if err != nil {
			return
		}
		switch parsed.Kind {
		case KindSLO:
			if parsed.SLOID == "" {
				t.Fatalf("SLO query %q parsed without an id", q)
			}
		case KindMetrics:
			if parsed.Params.Get("metricSelector") == "" || parsed.Divisor <= 0 {
				t.Fatalf("metric query %q parsed as %+v", q, parsed)
			}
		case KindProblems:
			if len(parsed.Params) == 0 {
				t.Fatalf("problem query %q parsed without parameters", q)
			}
		default:
			t.Fatalf("query %q parsed into unknown kind %q", q, parsed.Kind)
		}
		for _, own := range tendParams {
			if parsed.Params.Has(own) {
				t.Fatalf("query %q sets %s, which belongs to tend", q, own)
			}
		}
	})
}
