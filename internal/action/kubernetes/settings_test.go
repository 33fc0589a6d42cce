package kubernetes

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

func TestSettingsValidation(t *testing.T) {
	for _, tt := range []struct{ name, value, wantErr string }{
		{"namespace and deployment", `{"namespace":"shop","deployment":"carts.v2"}`, ""},
		{"scale url", `{"scaleURL":"http://carts:8080/scale?x=1"}`, ""},
		{"bad namespace", `{"namespace":"Shop_1"}`, `namespace "Shop_1" is not a Kubernetes namespace name`},
		{"bad deployment", `{"fallbackDeployment":"-x"}`, `fallbackDeployment "-x" is not a Kubernetes deployment name`},
		{"scale url with credentials", `{"scaleURL":"http://u:p@carts/scale"}`, "scaleURL http://u:xxxxx@carts/scale carries credentials"},
		{"nothing", `{}`, "nothing to set"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Schema.Normalize([]byte(tt.value))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, settings.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func TestResolveTargetMergesScopesAndTheReplicaLimit(t *testing.T) {
	st := fakeSettings{
		{Project: "sockshop"}: `{"namespace":"shop"}`,
		{Project: "sockshop", Stage: "production", Service: "carts"}: `{"deployment":"carts-blue"}`,
		{Project: "sockshop", Service: "orders"}:                     `{"scaleURL":"http://orders/scale"}`,
	}
	req := action.Request{Project: "sockshop", Stage: "production", Service: "carts"}
	tg, err := ResolveTarget(context.Background(), st, req, 3)
	if err != nil || tg.MaxReplicas != 3 || tg.Deployment != "carts-blue" || tg.Namespace != "shop" || tg.HTTP != nil {
		t.Errorf("target = %+v, %v; want namespace shop, deployment carts-blue, max 3", tg, err)
	}
	req.Service = "orders"
	tg, err = ResolveTarget(context.Background(), st, req, 0)
	if err != nil || tg.HTTP == nil || tg.HTTP.URL != "http://orders/scale" || tg.MaxReplicas != 1<<30 {
		t.Errorf("target = %+v, %v; want the HTTP target and no limit", tg, err)
	}
}
