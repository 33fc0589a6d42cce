package remediation

import (
	"reflect"
	"strings"
	"testing"
)

func TestProblemDetailsRoundTrip(t *testing.T) {
	d := ProblemDetails{RootCause: "high_latency", URL: "http://am/alerts", Entity: "carts", EventID: "e1",
		Labels: map[string]string{"service": "carts"}, Annotations: map[string]string{"summary": "slow"}}
	if got := DecodeProblemDetails(d.Encode()); !reflect.DeepEqual(got, d) {
		t.Errorf("round trip changed the details:\n got %+v\nwant %+v", got, d)
	}
	for _, doc := range []string{"", "{", "null", "[]"} {
		t.Run("unreadable "+doc, func(t *testing.T) {
			if got := DecodeProblemDetails([]byte(doc)); !reflect.DeepEqual(got, ProblemDetails{}) {
				t.Errorf("DecodeProblemDetails(%q) = %+v, want empty details", doc, got)
			}
		})
	}
}

func TestDecodeNamesTheRemediation(t *testing.T) {
	if _, err := Decode("r9", []byte("{")); err == nil || !strings.HasPrefix(err.Error(), "read remediation r9: ") {
		t.Errorf("Decode error = %v, want it to name remediation r9", err)
	}
}
