package deliverer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/delivery"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

func TestSettingChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		schema settings.Schema
		value  string
		want   string // "" for valid; else a part of the error
		stored string
	}{
		{"a rollout timeout", DeliverySchema, `{"rolloutTimeout":"10m"}`, "", `{"rolloutTimeout":"10m0s"}`},
		{"no duration", DeliverySchema, `{"rolloutTimeout":"soon"}`, `rolloutTimeout: "soon" is not a duration`, ""},
		{"a zero timeout", DeliverySchema, `{"rolloutTimeout":"0s"}`, "rolloutTimeout must be longer than 0", ""},
		{"too long", DeliverySchema, `{"rolloutTimeout":"3h"}`, "longer than the 1h0m0s allowed", ""},
		{"a misspelt field", DeliverySchema, `{"rolloutTimout":"1m"}`, "unknown field", ""},
		{"every test field", TestsSchema, `{"url":"http://carts.sockshop-staging:80","paths":"/,/health","requests":3,"rate":20,"duration":"1m","expectedStatus":200}`, "",
			`{"url":"http://carts.sockshop-staging:80","paths":"/,/health","requests":3,"rate":20,"duration":"1m0s","expectedStatus":200}`},
		{"a URL with credentials", TestsSchema, `{"url":"http://u:p@carts"}`, "carries credentials", ""},
		{"no http URL", TestsSchema, `{"url":"ftp://carts"}`, "is not an http(s) URL", ""},
		{"a relative path", TestsSchema, `{"paths":"/,health"}`, `paths: "health" does not start with /`, ""},
		{"no requests", TestsSchema, `{"requests":0}`, "requests must be 1 to 1000", ""},
		{"a huge rate", TestsSchema, `{"rate":100000}`, "rate must be 1 to 1000", ""},
		{"no status", TestsSchema, `{"expectedStatus":700}`, "expectedStatus must be an HTTP status", ""},
		{"every problem at once", TestsSchema, `{"requests":0,"rate":0}`, "requests must be 1 to 1000; rate must be", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.schema.Normalize([]byte(tc.value))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(out) != tc.stored {
					t.Errorf("stored %s, want %s", out, tc.stored)
				}
				return
			}
			if !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

// fakeGetter holds settings by scope and key.
type fakeGetter map[store.Scope]map[string]string

func (g fakeGetter) GetSetting(_ context.Context, sc store.Scope, key string) (store.Setting, error) {
	if v, ok := g[sc][key]; ok {
		return store.Setting{Scope: sc, Key: key, Value: []byte(v)}, nil
	}
	return store.Setting{}, store.ErrNotFound
}

func TestResolve(t *testing.T) {
	g := fakeGetter{
		{Project: "p"}:                           {"tests": `{"paths":"/a","requests":2}`, "delivery": `{"rolloutTimeout":"2m0s"}`},
		{Project: "p", Stage: "s", Service: "x"}: {"tests": `{"requests":5,"url":"http://override"}`},
	}
	req, err := checkRequest(context.Background(), g, delivery.Functional, "p", "s", "x", "http://deployed")
	if err != nil {
		t.Fatal(err)
	}
	if req.URL != "http://override" || len(req.Paths) != 1 || req.Paths[0] != "/a" || req.Requests != 5 || req.Rate != DefaultRate || req.Duration != DefaultDuration {
		t.Errorf("check %+v", req)
	}
	req, _ = checkRequest(context.Background(), g, delivery.Functional, "p", "other", "x", "http://deployed")
	if req.URL != "http://deployed" || req.Requests != 2 {
		t.Errorf("check of another stage %+v", req)
	}
	if d, _ := rolloutTimeout(context.Background(), g, "p", "s", "x"); d != 2*time.Minute {
		t.Errorf("rollout timeout %s", d)
	}
	if d, _ := rolloutTimeout(context.Background(), g, "q", "s", "x"); d != DefaultRolloutTimeout {
		t.Errorf("default rollout timeout %s", d)
	}
}

func FuzzTestsSetting(f *testing.F) {
	f.Add([]byte(`{"url":"http://carts:80","paths":"/,/health","requests":3,"rate":20,"duration":"1m","expectedStatus":200}`))
	f.Add([]byte(`{"paths":",,/ ,","duration":"-1s"}`))
	f.Fuzz(func(t *testing.T, value []byte) {
		out, err := TestsSchema.Normalize(value)
		if err != nil {
			return
		}
		// What was stored is stored again unchanged.
		again, err := TestsSchema.Normalize(out)
		if err != nil || string(again) != string(out) {
			t.Fatalf("normalized %s does not normalize to itself: %s %v", out, again, err)
		}
	})
}
