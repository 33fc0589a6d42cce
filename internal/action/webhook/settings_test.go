package webhook

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

type fakeSettings map[string]string

func (f fakeSettings) GetSetting(_ context.Context, sc store.Scope, key string) (store.Setting, error) {
	v, ok := f[key]
	if !ok || sc != (store.Scope{Project: "p"}) {
		return store.Setting{}, store.ErrNotFound
	}
	return store.Setting{Scope: sc, Key: key, Value: []byte(v)}, nil
}

func TestSecretSettings(t *testing.T) {
	t.Run("the value is stored as secret", func(t *testing.T) {
		out, err := SecretSchema.Normalize([]byte(`{"value":"s3cr3t"}`))
		if err != nil || string(out) != `{"secret":"s3cr3t"}` {
			t.Errorf("Normalize = %s, %v", out, err)
		}
		got, set := SecretSchema.Mask(out)
		if string(got) != `{"secret":"****"}` || len(set) != 1 {
			t.Errorf("Mask = %s %v", got, set)
		}
	})
	for _, tt := range []struct{ value, want string }{
		{`{"value":""}`, "value is missing"},
		{`{}`, "value is missing"},
		{`{"valeu":"x"}`, `unknown field "valeu"; the fields are value`},
	} {
		if _, err := SecretSchema.Normalize([]byte(tt.value)); !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Normalize(%s) = %v; want %q", tt.value, err, tt.want)
		}
	}
	for _, name := range []string{"", "1abc", "a b", strings.Repeat("a", 64)} {
		if err := SecretSchema.CheckName(name); !errors.Is(err, settings.ErrInvalid) {
			t.Errorf("CheckName(%q) = %v; want ErrInvalid", name, err)
		}
	}
	resolve := FromSettings(fakeSettings{"secret/token": `{"secret":"v"}`, "secret/broken": `{`})
	if v, err := resolve(context.Background(), "p", "token"); err != nil || v != "v" {
		t.Errorf("token = %q, %v", v, err)
	}
	for _, name := range []string{"missing", "broken"} {
		if _, err := resolve(context.Background(), "p", name); !errors.Is(err, action.ErrInvalid) {
			t.Errorf("%s: err = %v; want action.ErrInvalid (final)", name, err)
		}
	}
}
