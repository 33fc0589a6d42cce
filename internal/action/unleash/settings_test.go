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
		{Project: "p"}:                `{"url":"http://unleash:4242","token":"t"}`,
		{Project: "p", Stage: "prod"}: `{"environment":"production","token":"t-prod"}`,
	}
	resolve := FromSettings(st)
	t.Run("layers", func(t *testing.T) {
		cfg, err := resolve(context.Background(), action.Request{Project: "p", Stage: "prod", Service: "carts"})
		if err != nil || cfg.URL != "http://unleash:4242" || cfg.Token != "t-prod" || cfg.Environment != "production" {
			t.Errorf("config = %+v, %v", cfg, err)
		}
	})
	t.Run("not configured is final", func(t *testing.T) {
		_, err := resolve(context.Background(), action.Request{Project: "q", Stage: "prod"})
		if !errors.Is(err, action.ErrInvalid) || !strings.Contains(err.Error(), "tend configure unleash") {
			t.Errorf("err = %v", err)
		}
	})
}
