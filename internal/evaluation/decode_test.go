package evaluation

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/slo"
	"github.com/tendhq/tend/internal/spec"
)

// afterBegin returns the state StepStart hands on, read back from its job
// payload as the next step reads it.
func afterBegin(t *testing.T, in StartInput) State {
	t.Helper()
	st, err := DecodeState(request(t).Job.Payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := st.Begin(now, in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Next == nil {
		t.Fatalf("begin finished the evaluation: %s", out.Events[len(out.Events)-1].Data)
	}
	if st, err = DecodeState(out.Next.Payload()); err != nil {
		t.Fatal(err)
	}
	return st
}

// finishFrom runs the steps after StepStart and returns the last outcome.
func finishFrom(t *testing.T, st State) Outcome {
	t.Helper()
	out, err := st.SLIsFetched(now, goodValues)
	if err != nil {
		t.Fatal(err)
	}
	if st, err = DecodeState(out.Next.Payload()); err != nil {
		t.Fatal(err)
	}
	if c := st.Comparison(); c.IncludeResults != slo.IncludePass {
		t.Errorf("Comparison = %+v; want the SLO's own (include_result_with_score: pass)", c)
	}
	if out, err = st.Evaluate(now, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSLODecodedOnce: StepStart decodes slo.yaml, through the cache it is
// given, and the later steps read the decoded SLO from their state, also
// after it went through the job payload; they never decode the file again.
func TestSLODecodedOnce(t *testing.T) {
	specs := spec.NewCache(4)
	st := afterBegin(t, StartInput{SLO: []byte(testSLO), SLOVersion: "abc", Provider: "prometheus", Specs: specs})
	if st.Objective == nil {
		t.Fatal("the state after StepStart carries no decoded SLO")
	}
	// Bytes no decoder reads: a later step that decoded the file again
	// would fail the evaluation.
	st.SLO = []byte("objectives: [")
	out := finishFrom(t, st)
	if out.Result == nil || out.Result.Result != slo.Pass {
		t.Fatalf("result = %+v; want a pass scored from the decoded SLO", out.Result)
	}
	if n := specs.Decoded(spec.KindSLO); n != 1 {
		t.Errorf("slo.yaml decoded %d times; want once", n)
	}
	// A second evaluation of the same file version decodes nothing.
	afterBegin(t, StartInput{SLO: []byte(testSLO), Provider: "prometheus", Specs: specs})
	if n := specs.Decoded(spec.KindSLO); n != 1 {
		t.Errorf("slo.yaml decoded %d times over two evaluations of one version; want once", n)
	}
}

// TestStateStoredBeforeObjective: a state stored before the decoded SLO was
// kept in it (a job enqueued by an older tend) decodes the file again and
// finishes exactly as a current state does.
func TestStateStoredBeforeObjective(t *testing.T) {
	st := afterBegin(t, StartInput{SLO: []byte(testSLO), SLOVersion: "abc", Provider: "prometheus"})
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(st.Payload(), &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["objective"]; !ok {
		t.Fatalf("payload %s has no objective", st.Payload())
	}
	delete(fields, "objective")
	old, _ := json.Marshal(fields)
	oldSt, err := DecodeState(old)
	if err != nil {
		t.Fatal(err)
	}
	if oldSt.Objective != nil {
		t.Fatal("the old payload still carries the decoded SLO")
	}
	got, want := finishFrom(t, oldSt), finishFrom(t, st)
	if !reflect.DeepEqual(got.Result, want.Result) {
		t.Errorf("old state's result = %+v\nwant %+v", got.Result, want.Result)
	}
	for i := range want.Events {
		if string(got.Events[i].Data) != string(want.Events[i].Data) {
			t.Errorf("%s data differs:\n%s\nwant\n%s", want.Events[i].Type, got.Events[i].Data, want.Events[i].Data)
		}
	}
}

// TestOutcomeCarriesTheResult: the step that finishes an evaluation hands
// its result on as a value, equal to what evaluation.finished carries,
// whether the evaluation ran or could not.
func TestOutcomeCarriesTheResult(t *testing.T) {
	st, err := DecodeState(request(t).Job.Payload)
	if err != nil {
		t.Fatal(err)
	}
	noSLO, err := st.Begin(now, StartInput{})
	if err != nil {
		t.Fatal(err)
	}
	noProvider, err := st.Begin(now, StartInput{SLO: []byte(testSLO)})
	if err != nil {
		t.Fatal(err)
	}
	ran := finishFrom(t, afterBegin(t, StartInput{SLO: []byte(testSLO), Provider: "prometheus"}))
	for name, out := range map[string]Outcome{"no SLO": noSLO, "no provider": noProvider, "ran": ran} {
		t.Run(name, func(t *testing.T) {
			if out.Next != nil || out.Result == nil {
				t.Fatalf("outcome = next %v, result %v; want the finished evaluation's result", out.Next, out.Result)
			}
			var fin *event.Event
			for _, e := range out.Events {
				if e.Type == event.TypeEvaluationFinished {
					fin = e
				}
			}
			if fin == nil {
				t.Fatal("no evaluation.finished")
			}
			// Compared as JSON: what the event carries is the result marshalled.
			got, _ := json.Marshal(out.Result)
			want, _ := json.Marshal(finishedData(t, fin).Evaluation.Evaluation)
			if string(got) != string(want) {
				t.Errorf("result = %s\nevent carries %s", got, want)
			}
		})
	}
	if out, err := st.Begin(now, StartInput{SLO: []byte(testSLO), Provider: "prometheus"}); err != nil || out.Result != nil {
		t.Errorf("a step that did not finish has result %+v (%v)", out.Result, err)
	}
}
