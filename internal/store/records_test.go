package store

import (
	"errors"
	"testing"
	"time"
)

func TestPageKeyRoundTrip(t *testing.T) {
	for _, seq := range []int64{1, 42, 1 << 40} {
		got, err := DecodePageKey(EncodePageKey(seq))
		if err != nil || got != seq {
			t.Errorf("DecodePageKey(EncodePageKey(%d)) = %d, %v", seq, got, err)
		}
	}
}

func TestDecodePageKeyRejects(t *testing.T) {
	tests := []struct{ name, key string }{
		{"not base64", "!!!"},
		{"wrong prefix", EncodePageKeyRaw("x12")},
		{"no number", EncodePageKeyRaw("s")},
		{"negative", EncodePageKeyRaw("s-5")},
		{"zero", EncodePageKeyRaw("s0")},
		{"overflow", EncodePageKeyRaw("s99999999999999999999")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := DecodePageKey(tt.key); !errors.Is(err, ErrInvalid) {
				t.Errorf("DecodePageKey(%q) error = %v, want ErrInvalid", tt.key, err)
			}
		})
	}
	if n, err := DecodePageKey(""); n != 0 || err != nil {
		t.Errorf("empty key = %d, %v; want the first page", n, err)
	}
}

func FuzzDecodePageKey(f *testing.F) {
	f.Add("")
	f.Add(EncodePageKey(7))
	f.Add("czEyMw")
	f.Fuzz(func(t *testing.T, key string) {
		n, err := DecodePageKey(key)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if key != "" && n <= 0 {
			t.Fatalf("accepted %q as sequence %d", key, n)
		}
	})
}

func TestEffectivePageSize(t *testing.T) {
	tests := []struct{ in, want int }{{0, DefaultPageSize}, {-3, DefaultPageSize}, {7, 7}, {MaxPageSize + 1, MaxPageSize}}
	for _, tt := range tests {
		if got := (EventFilter{PageSize: tt.in}).EffectivePageSize(); got != tt.want {
			t.Errorf("page size %d -> %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestRetryDelayGrows(t *testing.T) {
	prev := time.Duration(0)
	for a := 1; a < 30; a++ {
		d := RetryDelay(a)
		if d < prev || d > time.Hour {
			t.Fatalf("RetryDelay(%d) = %v after %v", a, d, prev)
		}
		prev = d
	}
}

// TestPrunedExhausted checks that every kind, sequences and log lines
// included, keeps the pruning job going while it fills a batch.
func TestPrunedExhausted(t *testing.T) {
	tests := []struct {
		name string
		p    Pruned
		want bool
	}{
		{"nothing", Pruned{}, true},
		{"all below the limit", Pruned{Events: 9, Jobs: 9, Problems: 9, Remediations: 9, Sequences: 9, Logs: 9}, true},
		{"events full", Pruned{Events: 10}, false},
		{"jobs full", Pruned{Jobs: 10}, false},
		{"problems full", Pruned{Problems: 10}, false},
		{"remediations full", Pruned{Remediations: 10}, false},
		{"sequences full", Pruned{Sequences: 10}, false},
		{"logs full", Pruned{Logs: 10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Exhausted(10); got != tt.want {
				t.Errorf("%+v.Exhausted(10) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
	sum := Pruned{Events: 1, Logs: 2}.Add(Pruned{Events: 3, Sequences: 4})
	if sum != (Pruned{Events: 4, Sequences: 4, Logs: 2}) || sum.Total() != 10 {
		t.Errorf("Add = %+v (total %d)", sum, sum.Total())
	}
}
