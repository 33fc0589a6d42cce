package sequence

import (
	"encoding/json"
	"testing"

	"github.com/tendhq/tend/internal/event"
)

// FuzzAnswer feeds executors' answers with arbitrary data to a running
// sequence: the engine must never panic, and must end in a known state
// with a result it knows.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte(`{"result":"pass","status":"succeeded"}`))
	f.Add([]byte(`{"result":"fail","deployment":{"uri":"http://x"},"labels":{"a":"b"}}`))
	f.Add([]byte(`{"result":7,"status":null,"evaluation":{"score":"high"}}`))
	f.Add([]byte(`{"configurationChange":[1,2],"test":{"start":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			return
		}
		s, err := New(shipyard(t, carts), trigger(t, "dev", "delivery", cartsData), t0, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s = step(t, s, t0, InputStart, nil).Sequence
		for i := 0; i < 6 && s.State == Started; i++ {
			ev := answer(t, s, "fuzz", event.PhaseFinished, "", "")
			ev.Data = data
			o, err := s.Step(t0, InputTaskFinished, ev)
			if err != nil {
				return // an event the builder refuses (data not an object of Keptn's shape)
			}
			if !o.Changed {
				return
			}
			s = o.Sequence
		}
		if _, ok := transitions[s.State]; !ok {
			t.Fatalf("unknown state %q", s.State)
		}
		if s.State.Ended() {
			if _, ok := resultRank[s.Result]; !ok {
				t.Fatalf("result %q", s.Result)
			}
		}
		if _, err := Decode(s.Encode()); err != nil {
			t.Fatal(err)
		}
	})
}
