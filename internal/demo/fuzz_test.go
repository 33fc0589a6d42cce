package demo

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// FuzzDecodeItem feeds DecodeItem arbitrary bodies: it must never panic,
// and whatever it accepts must be within the service's limits and survive
// a JSON round trip unchanged.
func FuzzDecodeItem(f *testing.F) {
	for _, seed := range []string{
		`{"itemId":"sock","quantity":2,"unitPrice":1.5}`,
		`{"itemId":"sock"}`,
		`{"itemId":"","quantity":1}`,
		`{"itemId":"a","quantity":-1}`,
		`{"itemId":"a","quantity":1e3}`,
		`{"itemId":"a","unitPrice":-0}`,
		`{"itemId":"a","unitPrice":1e400}`,
		`{"itemId":"a"} {"itemId":"b"}`,
		`{"itemId":null}`,
		`[]`,
		``,
		`{"itemId":"` + strings.Repeat("x", 101) + `"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		it, err := DecodeItem(strings.NewReader(string(body)))
		if err != nil {
			if it != (Item{}) {
				t.Errorf("error %v with a non-zero item %+v", err, it)
			}
			return
		}
		if it.ItemID == "" || len(it.ItemID) > maxIDLen {
			t.Errorf("accepted item id %q", it.ItemID)
		}
		if it.Quantity < 1 || it.Quantity > maxQuantity {
			t.Errorf("accepted quantity %d", it.Quantity)
		}
		if it.UnitPrice < 0 || math.IsNaN(it.UnitPrice) || math.IsInf(it.UnitPrice, 0) {
			t.Errorf("accepted price %v", it.UnitPrice)
		}
		again, err := json.Marshal(it)
		if err != nil {
			t.Fatalf("marshal accepted item: %v", err)
		}
		back, err := DecodeItem(strings.NewReader(string(again)))
		if err != nil || back != it {
			t.Errorf("round trip of %+v gave %+v, %v", it, back, err)
		}
	})
}
