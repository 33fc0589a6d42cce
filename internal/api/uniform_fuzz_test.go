package api

import (
	"errors"
	"net/http"
	"testing"
)

// The uniform API's body parsers never panic, refuse with a 400, and what
// they accept holds the checked invariants.

func wantBadRequest(t *testing.T, err error) {
	t.Helper()
	var he *httpError
	if !errors.As(err, &he) || he.status != http.StatusBadRequest {
		t.Fatalf("error %v is not a 400", err)
	}
}

func FuzzDecodeRegistration(f *testing.F) {
	f.Add(`{"name":"hello","metadata":{"hostname":"n","kubernetesmetadata":{"namespace":"keptn"}},"subscriptions":[{"event":"sh.keptn.event.hello.triggered","filter":{"projects":null}}]}`)
	f.Add(`{"name":"old","subscription":{"topics":["a","b"],"filter":{"project":"p"}}}`)
	f.Add(`{"name":"","subscriptions":[{"event":"a b"}]}`)
	f.Add(`{"name":"x","metadata":{"lastseen":"0001-01-01T00:00:00Z"}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, body string) {
		reg, err := decodeRegistration([]byte(body))
		if err != nil {
			wantBadRequest(t, err)
			return
		}
		if reg.Name == "" || len(reg.Subscriptions) > maxSubscriptions {
			t.Fatalf("accepted %+v", reg)
		}
		for _, s := range reg.Subscriptions {
			if s.Event == "" {
				t.Fatalf("accepted a subscription without event: %+v", reg)
			}
		}
	})
}

func FuzzDecodeSubscription(f *testing.F) {
	f.Add(`{"event":"sh.keptn.event.test.triggered","filter":{"projects":["a"],"stages":["dev"],"services":[]}}`)
	f.Add(`{"id":"x","event":""}`)
	f.Add(`{"event":"e","filter":{"projects":[""]}}`)
	f.Fuzz(func(t *testing.T, body string) {
		sub, err := decodeSubscription([]byte(body))
		if err != nil {
			wantBadRequest(t, err)
			return
		}
		if sub.Event == "" {
			t.Fatalf("accepted %+v", sub)
		}
		for _, names := range [][]string{sub.Filter.Projects, sub.Filter.Stages, sub.Filter.Services} {
			for _, n := range names {
				if n == "" {
					t.Fatalf("accepted an empty filter name: %+v", sub)
				}
			}
		}
	})
}

func FuzzDecodeLogs(f *testing.F) {
	f.Add(`{"logs":[{"integrationid":"i","shkeptncontext":"c","triggeredid":"t","task":"hello","message":"m"}]}`)
	f.Add(`{"logs":[{"integrationid":"","message":"m","time":"2026-01-02T03:04:05Z"}]}`)
	f.Add(`{"logs":null}`)
	f.Fuzz(func(t *testing.T, body string) {
		in, err := decodeLogs([]byte(body))
		if err != nil {
			wantBadRequest(t, err)
			return
		}
		if len(in.Logs) > maxLogEntries {
			t.Fatalf("accepted %d entries", len(in.Logs))
		}
		for _, l := range in.Logs {
			if l.IntegrationID == "" || len(l.Message) > maxLogMessage {
				t.Fatalf("accepted %+v", l)
			}
		}
	})
}
