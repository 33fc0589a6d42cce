package app

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/sli"
	"github.com/tendhq/tend/internal/spec"
)

// decodes are the server's decodes of stored shipyards and SLO files so
// far, counted by the one cache that app hands to every reader.
func (ta *testApp) decodes() (shipyards, slos int) {
	return ta.specs.Decoded(spec.KindShipyard), ta.specs.Decoded(spec.KindSLO)
}

// TestDecodeOncePerVersion follows evaluations asked for through the API,
// from POST .../evaluation to evaluation.finished: the project's shipyard
// and the service's slo.yaml are each decoded once per version, however
// many evaluations read them (before the cache: one shipyard and three SLO
// decodes per evaluation).
func TestDecodeOncePerVersion(t *testing.T) {
	ta := startTestApp(t, Options{SLIProviders: func(settings.Selection) (sli.Provider, error) { return instantProvider{}, nil }})
	ta.setup(t, "http://prometheus.invalid:9090", apitypes.MonitoringConfig{})
	const n = 5
	for range n {
		if f := ta.waitFinished(t, ta.trigger(t)); f.Data.Result != "pass" {
			t.Fatalf("evaluation = %s (%s)", f.Data.Result, f.Data.Message)
		}
	}
	// Counted from the server's start: the set-up's reads of the stored
	// shipyard (checking the scope of its requests) share the one decode.
	sy, slos := ta.decodes()
	if sy != 1 || slos != 1 {
		t.Errorf("set-up and %d evaluations decoded the stored shipyard %d times and slo.yaml %d times; want once each", n, sy, slos)
	}

	// A new version of slo.yaml is decoded once more.
	ref := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	edited := strings.Replace(evalSLO, `"90%"`, `"80%"`, 1)
	if _, err := ta.c.PutResources(context.Background(), ref, []client.ResourceFile{{URI: "slo.yaml", Content: []byte(edited)}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ta.waitFinished(t, ta.trigger(t))
	}
	if _, got := ta.decodes(); got-slos != 1 {
		t.Errorf("two evaluations of the edited slo.yaml decoded it %d times; want once", got-slos)
	}
}

// TestRemediationDecodesOnce follows a remediation from the Alertmanager
// notification through the scale call and the verifying evaluation: the
// shipyard and slo.yaml are decoded at most once each (before: once and
// three times).
func TestRemediationDecodesOnce(t *testing.T) {
	var replicas, puts atomic.Int32
	replicas.Store(1)
	scale := newScaleTarget(t, &replicas, &puts)
	ta := healApp(t, Options{}, healRemediation("        - {name: Scale up, action: scaling, value: \"+1\"}\n"),
		func() float64 {
			if replicas.Load() >= 2 {
				return 500
			}
			return 1500
		})
	if _, err := ta.c.PutSetting(context.Background(), "sockshop", "kubernetes", apitypes.KubernetesConfig{ScaleURL: scale, Service: "carts"}); err != nil {
		t.Fatal(err)
	}
	sy0, slo0 := ta.decodes()
	r := ta.waitRemediation(t, ta.fire(t, "decode-1"), ended)
	if r.State != "resolved" || len(r.Evaluations) != 1 {
		t.Fatalf("remediation %s (%s) with %d evaluations; want resolved after one", r.State, r.Reason, len(r.Evaluations))
	}
	if sy, slos := ta.decodes(); sy-sy0 > 1 || slos-slo0 > 1 {
		t.Errorf("the remediation decoded the shipyard %d times and slo.yaml %d times; want at most once each", sy-sy0, slos-slo0)
	}
}
