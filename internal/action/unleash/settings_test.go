package unleash

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

type fakeSettings map[store.Scope]string

func (f fakeSettings) GetSetting(_ context.Context, sc store.Scope, key string) (store.Setting, error) {
	v, ok := f[sc]
	if !ok || key != Schema.Key() {
		return store.Setting{}, store.ErrNotFound
	}
	return store.Setting{Scope: sc, Key: key, Value: []byte(v)}, nil
}

func TestSettings(t *testing.T) {
	t.Run("validation", func(t *testing.T) {
		if _, err := Schema.Normalize([]byte(`{"url":"ftp://unleash"}`)); !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), `url "ftp://unleash" is not an http(s) URL`) {
			t.Errorf("err = %v", err)
		}
		if _, err := Schema.Normalize([]byte(`{"project":"default","environment":"production"}`)); err != nil {
			t.Error(err)
		}
	})
	t.Run("mask", func(t *testing.T) {
		got, set := Schema.Mask([]byte(`{"url":"http://u","token":"admin-secret"}`))
		if strings.Contains(string(got), "admin-secret") || len(set) != 1 || set[0] != "token" {
			t.Errorf("Mask = %s %v", got, set)
		}
	})
	st := fakeSettings{
		{Project: "p"}:                                 `{"url":"http://unleash:4242","token":"t","project":"shop"}`,
		{Project: "p", Stage: "prod"}:                  `{"environment":"production","url":"http://unleash-prod:4242","token":"t-prod"}`,
		{Project: "p", Stage: "dev"}:                   `{"environment":"development"}`,
		{Project: "p", Service: "carts"}:               `{"url":"http://attacker.example:4242"}`,
		{Project: "p", Stage: "test", Service: "cart"}: `{"token":"t-test"}`,
	}
	resolve := FromSettings(st)
	t.Run("layers", func(t *testing.T) {
		cfg, err := resolve(context.Background(), action.Request{Project: "p", Stage: "prod", Service: "orders"})
		if err != nil || cfg.URL != "http://unleash-prod:4242" || cfg.Token != "t-prod" || cfg.Environment != "production" || cfg.Project != "shop" {
			t.Errorf("config = %+v, %v", cfg, err)
		}
		cfg, err = resolve(context.Background(), action.Request{Project: "p", Stage: "dev", Service: "orders"})
		if err != nil || cfg.URL != "http://unleash:4242" || cfg.Token != "t" || cfg.Environment != "development" {
			t.Errorf("config = %+v, %v", cfg, err)
		}
	})
	// A narrower scope that names another Unleash without its token gets
	// no token, never the wider scope's; a token without its URL is not
	// sent to the wider scope's URL either.
	for _, req := range []action.Request{{Project: "p", Stage: "dev", Service: "carts"}, {Project: "p", Stage: "test", Service: "cart"}} {
		t.Run("url and token come from one scope: "+req.Service, func(t *testing.T) {
			cfg, err := resolve(context.Background(), req)
			if !errors.Is(err, action.ErrInvalid) || cfg.Token != "" {
				t.Errorf("config = %+v, %v; want none", cfg, err)
			}
		})
	}
	t.Run("not configured is final", func(t *testing.T) {
		_, err := resolve(context.Background(), action.Request{Project: "q", Stage: "prod"})
		if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "tend configure unleash") {
			t.Errorf("err = %v", err)
		}
	})
}
