package app

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/secret"
	"github.com/tendhq/tend/internal/store/sqlite"
)

// TestKeptnSecretsStayWithTheirReceiver: a server-wide secret made with
// keptn create secret reaches a webhook only at the URL prefix its creator
// bound it to, so that a project's remediation.yaml cannot route it to a
// host of its own choosing; an unbound one is sent nowhere.
func TestKeptnSecretsStayWithTheirReceiver(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := secret.Create(ctx, st, secret.Secret{Name: "slack", Scope: secret.WebhookScope,
		Data: map[string]string{"token": "s3cret", secret.BoundURLKey: "https://hooks.example/services/"}}); err != nil {
		t.Fatal(err)
	}
	if err := secret.Create(ctx, st, secret.Secret{Name: "loose", Scope: secret.WebhookScope,
		Data: map[string]string{"token": "s3cret"}}); err != nil {
		t.Fatal(err)
	}
	resolve := webhookSecrets(st)
	tests := []struct {
		ref, target string
		ok          bool
	}{
		{"slack.token", "https://hooks.example/services/T1/B2", true},
		{"slack.token", "https://evil.example/services/T1", false},
		{"slack.token", "https://hooks.example/other", false},
		{"slack.token", "http://hooks.example/services/T1", false},
		{"loose.token", "https://hooks.example/services/T1", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref+" to "+tt.target, func(t *testing.T) {
			u, err := url.Parse(tt.target)
			if err != nil {
				t.Fatal(err)
			}
			v, err := resolve(ctx, "sockshop", tt.ref, u)
			if tt.ok {
				if err != nil || v != "s3cret" {
					t.Fatalf("resolve = %q, %v; want the secret", v, err)
				}
				return
			}
			if !errors.Is(err, action.ErrInvalid) || v != "" {
				t.Fatalf("resolve = %q, %v; want a final refusal and no value", v, err)
			}
		})
	}
}
