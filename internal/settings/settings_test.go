package settings_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

// fakeStore holds settings by scope and key.
type fakeStore map[store.Scope]map[string]string

func (f fakeStore) put(sc store.Scope, key, value string) {
	if f[sc] == nil {
		f[sc] = map[string]string{}
	}
	f[sc][key] = value
}

func (f fakeStore) GetSetting(_ context.Context, sc store.Scope, key string) (store.Setting, error) {
	v, ok := f[sc][key]
	if !ok {
		return store.Setting{}, store.ErrNotFound
	}
	return store.Setting{Scope: sc, Key: key, Value: []byte(v)}, nil
}

// target is a test schema: merged field by field, with a secret bound to
// the endpoint name.
type target struct {
	Name  string `json:"name,omitempty"`
	Size  *int   `json:"size,omitempty"`
	Token string `json:"token,omitempty"`
}

var merged = settings.Define(settings.Spec[target]{
	Key: "target",
	Doc: settings.Doc{What: "target settings"},
	Fields: []settings.Field{
		{Name: "name", Endpoint: true}, {Name: "size", Kind: settings.Int}, {Name: "token", Secret: true},
	},
	Check: func(t *target) []string {
		var probs []string
		if t.Size != nil && *t.Size < 0 {
			probs = append(probs, "size must be 0 or more")
		}
		if strings.ContainsAny(t.Name, " ") {
			probs = append(probs, "name must not contain spaces")
		}
		return probs
	},
	Merge: func(dst *target, src target) {
		if src.Name != "" {
			dst.Name = src.Name
		}
		if src.Size != nil {
			dst.Size = src.Size
		}
		if src.Token != "" {
			dst.Token = src.Token
		}
	},
})

// whole is the same schema without Merge: the most specific value wins.
var whole = settings.Define(settings.Spec[target]{
	Key: "whole", Doc: settings.Doc{What: "whole settings"},
	Fields: []settings.Field{{Name: "name"}, {Name: "size", Kind: settings.Int}, {Name: "token", Secret: true}},
})

func TestResolveLayersProjectStageServiceMostSpecificLast(t *testing.T) {
	st := fakeStore{}
	for _, key := range []string{"target", "whole"} {
		st.put(store.Scope{Project: "p"}, key, `{"name":"project","size":1,"token":"t-project"}`)
		st.put(store.Scope{Project: "p", Stage: "prod"}, key, `{"size":2}`)
		st.put(store.Scope{Project: "p", Service: "carts"}, key, `{"name":"service"}`)
		st.put(store.Scope{Project: "p", Stage: "prod", Service: "carts"}, key, `{"token":"t-service-in-stage"}`)
	}
	tests := []struct {
		name, stage, service  string
		wantMerged, wantWhole target
	}{
		// The endpoint and its secret come from one scope: the service
		// sets name without token, so the project's token is dropped;
		// the service in the stage sets token without name, so the
		// service's name is.
		{"service in stage: every level", "prod", "carts",
			target{Size: ptr(2), Token: "t-service-in-stage"}, target{Token: "t-service-in-stage"}},
		{"service in another stage: no stage level", "dev", "carts",
			target{Name: "service", Size: ptr(1)}, target{Name: "service"}},
		{"another service in the stage", "prod", "orders",
			target{Name: "project", Size: ptr(2), Token: "t-project"}, target{Size: ptr(2)}},
		{"project only", "dev", "orders",
			target{Name: "project", Size: ptr(1), Token: "t-project"}, target{Name: "project", Size: ptr(1), Token: "t-project"}},
		{"no stage and no service", "", "",
			target{Name: "project", Size: ptr(1), Token: "t-project"}, target{Name: "project", Size: ptr(1), Token: "t-project"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := merged.Resolve(context.Background(), st, "p", tt.stage, tt.service)
			if err != nil || !found || !equal(got, tt.wantMerged) {
				t.Errorf("merged = %+v, %v, %v; want %+v", show(got), found, err, show(tt.wantMerged))
			}
			got, found, err = whole.Resolve(context.Background(), st, "p", tt.stage, tt.service)
			if err != nil || !found || !equal(got, tt.wantWhole) {
				t.Errorf("whole = %+v, %v, %v; want %+v", show(got), found, err, show(tt.wantWhole))
			}
		})
	}
	t.Run("nothing stored", func(t *testing.T) {
		got, found, err := merged.Resolve(context.Background(), st, "other", "prod", "carts")
		if err != nil || found || !equal(got, target{}) {
			t.Errorf("Resolve = %+v, %v, %v; want zero, not found", got, found, err)
		}
	})
	t.Run("a stored value that does not decode", func(t *testing.T) {
		st.put(store.Scope{Project: "broken"}, "target", `{"size":"many"}`)
		_, _, err := merged.Resolve(context.Background(), st, "broken", "prod", "carts")
		if !errors.Is(err, settings.ErrCorrupt) || !strings.Contains(err.Error(), "project broken") {
			t.Errorf("err = %v; want ErrCorrupt naming the scope", err)
		}
	})
}

// TestSecretsStayWithTheirEndpoint: whoever may write a narrower scope
// cannot have a wider scope's secret sent to an endpoint of their choice.
func TestSecretsStayWithTheirEndpoint(t *testing.T) {
	st := fakeStore{}
	st.put(store.Scope{Project: "p"}, "target", `{"name":"https://real.example","size":1,"token":"project-secret"}`)
	st.put(store.Scope{Project: "p", Service: "carts"}, "target", `{"name":"https://attacker.example"}`)
	st.put(store.Scope{Project: "p", Service: "orders"}, "target", `{"size":3}`)
	st.put(store.Scope{Project: "p", Stage: "prod", Service: "orders"}, "target", `{"name":"https://other.example","token":"own-secret"}`)
	tests := []struct {
		name, stage, service string
		want                 target
	}{
		{"a narrower endpoint without a secret has none", "prod", "carts", target{Name: "https://attacker.example", Size: ptr(1)}},
		{"fields other than endpoint and secret still merge", "dev", "orders", target{Name: "https://real.example", Size: ptr(3), Token: "project-secret"}},
		{"a narrower endpoint with its own secret", "prod", "orders", target{Name: "https://other.example", Size: ptr(3), Token: "own-secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := merged.Resolve(context.Background(), st, "p", tt.stage, tt.service)
			if err != nil || !equal(got, tt.want) {
				t.Errorf("Resolve = %s, %v; want %s", show(got), err, show(tt.want))
			}
		})
	}
	t.Run("a merged schema with secrets must mark its endpoint", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("Define accepted a merged schema with a secret and no endpoint")
			}
		}()
		settings.Define(settings.Spec[target]{
			Key: "unbound", Doc: settings.Doc{What: "unbound"},
			Fields: []settings.Field{{Name: "name"}, {Name: "token", Secret: true}},
			Merge:  func(*target, target) {},
		})
	})
}

func TestNormalizeNamesTheField(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"valid", `{"name":"a","size":3}`, ""},
		{"all problems at once", `{"name":"a b","size":-1}`, "size must be 0 or more; name must not contain spaces"},
		{"misspelt field", `{"nmae":"a"}`, `unknown field "nmae"; the fields are name, size, token`},
		{"wrong type", `{"size":"3"}`, "size must be a whole number, not string"},
		{"not an object", `[1]`, "must be a JSON object, not array"},
		{"not JSON", `{"size":`, "not JSON"},
		{"trailing data", `{"size":1} {}`, "data after"},
		{"empty", ``, "empty"},
		{"null", `null`, "empty"},
		{"nothing set", `{}`, "nothing to set: give at least one of name, size, token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := merged.Normalize([]byte(tt.value))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want ErrInvalid containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "invalid target settings: ") {
				t.Errorf("err = %q; want it to name the setting", err)
			}
		})
	}
}

func TestMaskNeverReturnsASecret(t *testing.T) {
	const secret = "s3cr3t-never-shown"
	tests := []struct {
		name, value, want string
		set               []string
	}{
		{"secret set", `{"name":"a","token":"` + secret + `"}`, `{"name":"a","token":"****"}`, []string{"token"}},
		{"secret of the wrong type", `{"token":12345}`, `{"token":"****"}`, []string{"token"}},
		{"empty secret is not set", `{"name":"a","token":""}`, `{"name":"a","token":""}`, nil},
		{"not JSON", secret, `"****"`, []string{"(value)"}},
		{"not an object", `"` + secret + `"`, `"****"`, []string{"(value)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, set := merged.Mask([]byte(tt.value))
			if string(got) != tt.want || strings.Join(set, ",") != strings.Join(tt.set, ",") {
				t.Errorf("Mask = %s %v; want %s %v", got, set, tt.want, tt.set)
			}
		})
	}
	t.Run("unknown keys are masked by name", func(t *testing.T) {
		r, err := settings.NewRegistry(merged)
		if err != nil {
			t.Fatal(err)
		}
		got, set := r.Mask("other-component", []byte(`{"unleash":{"apiToken":"`+secret+`"},"hooks":[{"Secret":"`+secret+`"}],"count":2}`))
		if strings.Contains(string(got), secret) || strings.Join(set, ",") != "hooks[0].Secret,unleash.apiToken" {
			t.Errorf("Mask = %s %v", got, set)
		}
		got, _ = r.Mask("target", []byte(`{"token":"`+secret+`"}`))
		if strings.Contains(string(got), secret) {
			t.Errorf("registered key: %s", got)
		}
	})
}

func TestRegistry(t *testing.T) {
	family := settings.Define(settings.Spec[target]{Key: "fam/", Doc: settings.Doc{What: "x"}, CheckName: func(string) error { return nil }})
	r, err := settings.NewRegistry(merged, family)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := r.Lookup("fam/one"); !ok || s != settings.Schema(family) {
		t.Error("a family member is not found by its key")
	}
	if _, ok := r.Lookup("famous"); ok {
		t.Error("a key that only shares a prefix with a family was found")
	}
	if _, err := settings.NewRegistry(merged, merged); err == nil {
		t.Error("two schemas with one key were accepted")
	}
}

func TestChoice(t *testing.T) {
	a := settings.Define(settings.Spec[target]{Key: "a", Doc: settings.Doc{What: "a settings"},
		Fields: []settings.Field{{Name: "name", Required: true}, {Name: "token", Secret: true}}})
	b := settings.Define(settings.Spec[struct {
		Name string `json:"name"`
		Key  string `json:"key,omitempty"`
	}]{Key: "b", Doc: settings.Doc{What: "b settings"},
		Fields: []settings.Field{{Name: "name", Required: true}, {Name: "key", Secret: true, Required: true}}})
	c := settings.NewChoice("conn", "kind", settings.Doc{What: "connection"}, a, b)

	t.Run("fields", func(t *testing.T) {
		var got []string
		for _, f := range c.Fields() {
			got = append(got, f.Name+map[bool]string{true: "!"}[f.Required]+map[bool]string{true: "*"}[f.Secret])
		}
		if strings.Join(got, " ") != "kind! name! token* key*" {
			t.Errorf("fields = %v", got)
		}
	})
	t.Run("normalize", func(t *testing.T) {
		for _, tt := range []struct{ value, want string }{
			{`{"kind":"a","name":"x"}`, `{"kind":"a","name":"x"}`},
			{`{"kind":"b","name":"x","key":"k"}`, `{"kind":"b","name":"x","key":"k"}`},
			{`{"name":"x"}`, "invalid connection: kind is missing; want one of a, b"},
			{`{"kind":"c","name":"x"}`, `invalid connection: kind "c" is unknown; want one of a, b`},
			{`{"kind":"b","name":"x"}`, "invalid connection: key is missing"},
			{`{"kind":"a","name":"x","key":"k"}`, `invalid connection: unknown field "key"`},
		} {
			got, err := c.Normalize([]byte(tt.value))
			if err != nil {
				got = []byte(err.Error())
			}
			if !strings.HasPrefix(string(got), tt.want) {
				t.Errorf("Normalize(%s) = %s; want %s", tt.value, got, tt.want)
			}
		}
	})
	t.Run("most specific wins whole", func(t *testing.T) {
		st := fakeStore{}
		st.put(store.Scope{Project: "p"}, "conn", `{"kind":"a","name":"project","token":"t"}`)
		st.put(store.Scope{Project: "p", Service: "carts"}, "conn", `{"kind":"b","name":"service","key":"k"}`)
		sel, err := c.Resolve(context.Background(), st, "p", "prod", "carts")
		if err != nil || sel.Variant != "b" || string(sel.Value) != `{"key":"k","name":"service"}` || sel.Scope != (store.Scope{Project: "p", Service: "carts"}) {
			t.Errorf("Resolve = %+v %s, %v", sel, sel.Value, err)
		}
		if err := c.Check(sel); err != nil {
			t.Errorf("Check: %v", err)
		}
		if _, err := c.Resolve(context.Background(), st, "q", "prod", "carts"); !errors.Is(err, settings.ErrNotSet) {
			t.Errorf("nothing stored: err = %v; want ErrNotSet", err)
		}
	})
	t.Run("mask by the value's variant", func(t *testing.T) {
		got, set := c.Mask([]byte(`{"kind":"b","name":"x","key":"k","token":"t"}`))
		// token is not b's, so b's mask leaves it; an unknown kind masks all.
		if string(got) != `{"key":"****","kind":"b","name":"x","token":"t"}` || strings.Join(set, ",") != "key" {
			t.Errorf("Mask = %s %v", got, set)
		}
		got, _ = c.Mask([]byte(`{"kind":"z","key":"k","token":"t"}`))
		if strings.Contains(string(got), `"k"`) || strings.Contains(string(got), `"t"`) {
			t.Errorf("unknown variant: %s", got)
		}
	})
}

func TestPolicy(t *testing.T) {
	t.Run("validation", func(t *testing.T) {
		for _, tt := range []struct{ value, want string }{
			{`{"cooldown":"30m","settling":"90s"}`, `{"cooldown":"30m0s","settling":"1m30s"}`},
			{`{"cooldown":"0"}`, `{"cooldown":"0s"}`},
			{`{"maxReplicas":0,"dryRun":false}`, `{"maxReplicas":0,"dryRun":false}`},
			{`{"cooldown":"soon"}`, `cooldown: "soon" is not a duration`},
			{`{"cooldown":"-5m"}`, `cooldown "-5m" is negative`},
			{`{"settling":"0"}`, "settling must be longer than 0"},
			{`{"maxReplicas":-1,"maxActionsPerHour":-2}`, "maxReplicas must be 0 (no limit) or more; maxActionsPerHour must be 0 (no limit) or more"},
			{`{"dryRun":"yes"}`, "dryRun must be true or false, not string"},
		} {
			got, err := settings.PolicySchema.Normalize([]byte(tt.value))
			if err != nil {
				got = []byte(err.Error())
			}
			if !strings.Contains(string(got), tt.want) {
				t.Errorf("Normalize(%s) = %s; want %s", tt.value, got, tt.want)
			}
		}
	})
	t.Run("layers over the defaults", func(t *testing.T) {
		st := fakeStore{}
		st.put(store.Scope{Project: "p"}, "remediation", `{"maxReplicas":5,"cooldown":"1m0s"}`)
		st.put(store.Scope{Project: "p", Stage: "prod"}, "remediation", `{"maxActionsPerHour":2}`)
		st.put(store.Scope{Project: "p", Service: "carts"}, "remediation", `{"maxReplicas":7}`)
		st.put(store.Scope{Project: "p", Stage: "prod", Service: "carts"}, "remediation", `{"dryRun":true,"settling":"1s"}`)
		d := settings.Defaults{Limits: remediation.DefaultLimits(), Settling: 10 * time.Minute}
		got, err := settings.ResolvePolicy(context.Background(), st, d, "p", "prod", "carts")
		want := settings.EffectivePolicy{Limits: remediation.Limits{MaxReplicas: 7, Cooldown: time.Minute, MaxActionsPerHour: 2, DryRun: true}, Settling: time.Second, SettlingSet: true}
		if err != nil || got != want {
			t.Errorf("ResolvePolicy = %+v, %v; want %+v", got, err, want)
		}
		other, _ := settings.ResolvePolicy(context.Background(), st, d, "p", "dev", "orders")
		if other.Limits != (remediation.Limits{MaxReplicas: 5, Cooldown: time.Minute, MaxActionsPerHour: 6}) || other.Settling != 10*time.Minute || other.SettlingSet {
			t.Errorf("another service = %+v", other)
		}
	})
}

func TestPaused(t *testing.T) {
	st := fakeStore{}
	st.put(store.Scope{Project: "p", Service: "carts"}, "remediation-paused", `{"reason":"freeze","since":"2024-05-01T10:00:00Z"}`)
	st.put(store.Scope{Project: "q"}, "remediation-paused", `not json`)
	for _, tt := range []struct {
		project, service string
		want             bool
		why              string
	}{
		{"p", "carts", true, "remediation is paused for service carts: freeze"},
		{"p", "orders", false, ""},
		{"q", "orders", true, "remediation is paused for project q"},
	} {
		paused, why, err := settings.Paused(context.Background(), st, tt.project, tt.service)
		if err != nil || paused != tt.want || why != tt.why {
			t.Errorf("Paused(%s, %s) = %v %q %v; want %v %q", tt.project, tt.service, paused, why, err, tt.want, tt.why)
		}
	}
}

// FuzzNormalize feeds outside input (API bodies) to the decoders: they
// must never panic, must accept only what re-normalizes to itself, and
// what they store must mask without leaking a secret.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{`{"name":"a","size":3,"token":"x"}`, `{"size":-1}`, `{}`, `null`, `[`, `{"token":7}`,
		`{"cooldown":"30m","maxReplicas":2,"dryRun":true}`, `{"settling":"0"}`, `{"name":"a"}{}`} {
		f.Add([]byte(s))
	}
	schemas := []settings.Schema{merged, whole, settings.PolicySchema}
	f.Fuzz(func(t *testing.T, value []byte) {
		for _, sc := range schemas {
			out, err := sc.Normalize(value)
			if err != nil {
				if !errors.Is(err, settings.ErrInvalid) {
					t.Fatalf("%s: error %v does not wrap ErrInvalid", sc.Key(), err)
				}
				continue
			}
			again, err := sc.Normalize(out)
			if err != nil || string(again) != string(out) {
				t.Fatalf("%s: stored %s normalizes to %s, %v", sc.Key(), out, again, err)
			}
			masked, _ := sc.Mask(out)
			var stored, shown map[string]any
			_ = json.Unmarshal(out, &stored)
			if err := json.Unmarshal(masked, &shown); err != nil {
				t.Fatalf("%s: mask of %s is not an object: %s", sc.Key(), out, masked)
			}
			if tok, ok := stored["token"]; ok && tok != "" && shown["token"] != settings.Masked {
				t.Fatalf("%s: mask of %s shows the token: %s", sc.Key(), out, masked)
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

func equal(a, b target) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func show(t target) string {
	b, _ := json.Marshal(t)
	return string(b)
}
