package secret_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tendhq/tend/internal/secret"
	"github.com/tendhq/tend/internal/store/sqlite"
)

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(secret.Create(ctx, st, secret.Secret{Name: "slack", Scope: secret.WebhookScope, Data: map[string]string{"url": "https://hooks.example/a", secret.BoundURLKey: "https://hooks.example/"}}))
	must(secret.Create(ctx, st, secret.Secret{Name: "dt", Scope: "dynatrace-service", Data: map[string]string{"token": "x"}}))
	must(secret.Create(ctx, st, secret.Secret{Name: "plain", Data: map[string]string{"k": "v"}}))
	if err := secret.Create(ctx, st, secret.Secret{Name: "slack", Data: map[string]string{"k": "v"}}); !errors.Is(err, secret.ErrExists) {
		t.Errorf("second create: %v", err)
	}

	tests := []struct {
		ref, want, bound string
		err              error
	}{
		{"slack.url", "https://hooks.example/a", "https://hooks.example/", nil},
		{"plain.k", "v", "", nil},
		{"slack.nope", "", "", secret.ErrNotFound},
		{"dt.token", "", "", secret.ErrNotFound},
		{"missing.k", "", "", secret.ErrNotFound},
		{"slack.", "", "", secret.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, bound, err := secret.Resolve(ctx, st, tt.ref)
			if got != tt.want || bound != tt.bound || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("Resolve = %q, %q, %v; want %q, %q, %v", got, bound, err, tt.want, tt.bound, tt.err)
			}
		})
	}

	infos, err := secret.List(ctx, st)
	must(err)
	if len(infos) != 3 || infos[0].Name != "dt" || infos[2].Keys[1] != "url" {
		t.Errorf("List = %+v", infos)
	}
	if err := secret.Delete(ctx, st, "slack", ""); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("delete in the wrong scope: %v", err)
	}
	must(secret.Delete(ctx, st, "slack", secret.WebhookScope))
	if _, _, err := secret.Resolve(ctx, st, "slack.url"); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
