package remediation

import (
	"errors"
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

// TestFoldJoinsIsApply checks that folding joins into a stored document
// gives what applying ProblemJoined for each would have: in every state,
// with and without a pending stop, with a join of a problem already there
// and one joining twice.
func TestFoldJoinsIsApply(t *testing.T) {
	joins := []PendingJoin{{"p2", at(20)}, {"p1", at(21)}, {"p3", at(22)}, {"p2", at(23)}}
	for _, s := range []State{StateWaiting, StatePreparing, StateApplying, StateSettling, StateVerifying, StatePaused,
		StateResolved, StateEscalated, StateStopped} {
		for _, stop := range []string{"", "asked to stop"} {
			t.Run(string(s)+"/stop "+stop, func(t *testing.T) {
				r := inState(t, s)
				r.StopPending = stop
				doc := r.Encode()
				var applyErr error
				for _, j := range joins {
					if _, applyErr = r.Apply(ProblemJoined{ProblemID: j.ProblemID}, j.At); applyErr != nil {
						break
					}
				}
				got, err := FoldJoins(r.ID, doc, joins)
				if (err != nil) != (applyErr != nil) {
					t.Fatalf("FoldJoins error %v, Apply error %v", err, applyErr)
				}
				if err != nil {
					if !errors.Is(err, ErrIllegal) {
						t.Errorf("FoldJoins error %v does not match ErrIllegal", err)
					}
					return
				}
				want, _ := Decode(r.ID, r.Encode())
				folded, err := Decode(r.ID, got)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(folded, want) {
					t.Errorf("folded:\n%+v\napplied:\n%+v", folded, want)
				}
			})
		}
	}
	if doc, err := FoldJoins("r1", []byte("{"), nil); err != nil || string(doc) != "{" {
		t.Errorf("FoldJoins without joins = %q, %v; want the document unchanged", doc, err)
	}
	if _, err := FoldJoins("r1", newTest().Encode(), []PendingJoin{{"", at(1)}}); !errors.Is(err, ErrIllegal) {
		t.Errorf("FoldJoins of a join without a problem id = %v, want ErrIllegal", err)
	}
}

func TestJoinsInPlace(t *testing.T) {
	for _, s := range []State{StateWaiting, StatePreparing, StateApplying, StateSettling, StateVerifying, StatePaused,
		StateResolved, StateEscalated, StateStopped} {
		r := inState(t, s)
		if got := r.JoinsInPlace(); got == s.Terminal() {
			t.Errorf("%s: JoinsInPlace = %v", s, got)
		}
		r.StopPending = "asked to stop"
		if r.JoinsInPlace() {
			t.Errorf("%s with a stop pending: JoinsInPlace = true, want false (a join clears the stop)", s)
		}
	}
}
