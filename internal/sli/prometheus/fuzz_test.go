package prometheus

import (
	"errors"
	"math"
	"testing"
)

// FuzzDecodeQuery feeds the decoder arbitrary answers: it must never panic,
// and whatever it accepts must be one finite number with no error, while
// everything it rejects must be one of its documented error kinds, so no
// answer can turn into a silent pass.
func FuzzDecodeQuery(f *testing.F) {
	for _, body := range []string{oneSample, scalar, emptyVector, twoSeries, nan, posInf, negInf, matrix, withWarning, badData, execution, "", "null", "{}", `{"status":"success"}`, `{"status":"success","data":null}`, `{"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}}`} {
		f.Add(200, []byte(body))
		f.Add(503, []byte(body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res, err := DecodeQuery(status, body)
		if err != nil {
			if res.Value != 0 {
				t.Fatalf("rejected answer carries value %v", res.Value)
			}
			var (
				api  *APIError
				sev  *SeveralSeriesError
				nf   *NotFiniteError
				malf *MalformedError
			)
			if !errors.Is(err, ErrNoData) && !errors.As(err, &api) && !errors.As(err, &sev) && !errors.As(err, &nf) && !errors.As(err, &malf) {
				t.Fatalf("undocumented error %T: %v", err, err)
			}
			_ = err.Error()
			return
		}
		if math.IsNaN(res.Value) || math.IsInf(res.Value, 0) {
			t.Fatalf("accepted a non-finite value %v from %q", res.Value, body)
		}
		if status < 200 || status > 299 {
			t.Fatalf("accepted an answer with HTTP status %d", status)
		}
	})
}
