package evaluator

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/tendhq/tend/internal/evaluation"
	"github.com/tendhq/tend/internal/store"
)

func finishedRecord(seq int64, id string) store.EventRecord {
	return store.EventRecord{Seq: seq, Source: "tend", ID: id, JSON: []byte(`{"id":"` + id + `","shkeptncontext":"c","triggeredid":"t-` + id +
		`","data":{"status":"succeeded","result":"pass","evaluation":{"result":"warning","indicatorResults":[{"value":{"metric":"m","value":1,"success":true}}]}}}`)}
}

// TestFinishedCacheDecodesOnce checks that the cache answers an event it
// decoded before from memory, as DecodeFinished did, and an event of
// another identity afresh.
func TestFinishedCacheDecodesOnce(t *testing.T) {
	c := newFinishedCache()
	e := finishedRecord(7, "a")
	want := evaluation.DecodeFinished(e.JSON)
	if got := c.decode(e); !reflect.DeepEqual(got, want) {
		t.Fatalf("first decode = %+v; want %+v", got, want)
	}
	e.JSON = []byte("not json") // the same event, known by seq, source and id
	if got := c.decode(e); !reflect.DeepEqual(got, want) {
		t.Errorf("second decode = %+v; want the first one's %+v", got, want)
	}
	other := finishedRecord(7, "b") // same seq, another event
	if got := c.decode(other); !reflect.DeepEqual(got, evaluation.DecodeFinished(other.JSON)) || reflect.DeepEqual(got, want) {
		t.Errorf("another event with the same seq = %+v; want its own decoding", got)
	}
	if prev := evaluation.BaselineOf([]evaluation.Finished{c.decode(finishedRecord(7, "a"))}, nil); len(prev) != 1 || prev[0].ID != "a" || prev[0].Result != "warning" {
		t.Errorf("baseline of the cached event = %+v; want a, warning", prev)
	}
}

// TestFinishedCacheIsBounded checks the cache keeps at most
// finishedCacheSize events.
func TestFinishedCacheIsBounded(t *testing.T) {
	c := newFinishedCache()
	for i := range finishedCacheSize + 50 {
		c.decode(finishedRecord(int64(i), fmt.Sprint("e", i)))
	}
	if n := len(c.m); n != finishedCacheSize {
		t.Errorf("the cache holds %d events; want %d", n, finishedCacheSize)
	}
}
