package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
)

// seedSequence stores a started delivery of project in dev, as the runner
// would, and returns its Keptn context.
func seedSequence(t *testing.T, ts *testServer, project, kctx string) {
	t.Helper()
	sy, _ := spec.DecodeShipyard("shipyard.yaml", []byte(shipyardV02))
	ev, err := event.Parser{}.Parse([]byte(`{"specversion":"1.0","id":"t-` + project + `","source":"test","type":"sh.keptn.event.dev.delivery.triggered",
		"shkeptncontext":"` + kctx + `","data":{"project":"` + project + `","stage":"dev","service":"carts","configurationChange":{"values":{"image":"carts:1"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s, err := sequence.New(sy, ev, now, sequence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Step(now, sequence.InputStart, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = ts.Store.WithTx(ctx, func(tx store.Tx) error {
		_, err := tx.CreateSequence(ctx, store.SequenceRecord{ID: s.ID, KeptnContext: kctx, Project: project, Stage: "dev", Service: "carts",
			Name: "delivery", State: string(out.Sequence.State), Active: true, Doc: out.Sequence.Encode()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSequenceRoutes(t *testing.T) {
	ts := startServer(t, sqliteBackend)
	ts.createProject(t, "alpha", "carts")
	ts.createProject(t, "beta", "carts")
	const ka, kb = "7c1e5a3a-1f0e-4d6a-9c55-3f2b7d7a9e0a", "7c1e5a3a-1f0e-4d6a-9c55-3f2b7d7a9e0b"
	seedSequence(t, ts, "alpha", ka)
	seedSequence(t, ts, "beta", kb)
	alpha := ts.mint(t, "alpha-writer", "write", "alpha")

	t.Run("Keptn's shape", func(t *testing.T) {
		raw := ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/sequence/alpha", alpha, nil)
		var out apitypes.KeptnSequenceStates
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		if out.TotalCount != 1 || len(out.States) != 1 {
			t.Fatalf("list %s", raw)
		}
		s := out.States[0]
		if s.Name != "delivery" || s.Service != "carts" || s.Project != "alpha" || s.KeptnContext != ka || s.State != "started" || s.Time == "" {
			t.Errorf("state %+v", s)
		}
		st := s.Stages[0]
		if st.Name != "dev" || st.Image != "carts:1" || st.State != "started" || st.LatestEvent == nil ||
			st.LatestEvent.Type != "sh.keptn.event.deployment.triggered" || st.CurrentTask != "deployment" {
			t.Errorf("stage %+v", st)
		}
		for _, q := range []string{"?state=started", "?name=delivery", "?keptnContext=" + ka, "?stage=dev&service=carts"} {
			if !strings.Contains(string(ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/sequence/alpha"+q, alpha, nil)), ka) {
				t.Errorf("%s does not find the sequence", q)
			}
		}
		for _, q := range []string{"?state=finished", "?name=rollback", "?fromTime=2999-01-01T00:00:00Z"} {
			if strings.Contains(string(ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/sequence/alpha"+q, alpha, nil)), ka) {
				t.Errorf("%s finds the sequence", q)
			}
		}
		ts.wantStatus(t, http.StatusBadRequest, "GET", "/api/controlPlane/v1/sequence/alpha?state=dancing", alpha, nil)
		ts.wantStatus(t, http.StatusBadRequest, "GET", "/api/controlPlane/v1/sequence/alpha?fromTime=yesterday", alpha, nil)
	})

	t.Run("a project's token never sees another's sequences", func(t *testing.T) {
		for _, f := range []struct{ method, path, body string }{
			{"GET", "/api/controlPlane/v1/sequence/beta", ""},
			{"GET", "/api/controlPlane/v1/sequence/beta?keptnContext=" + kb, ""},
			{"POST", "/api/controlPlane/v1/sequence/beta/" + kb + "/control", `{"state":"abort"}`},
		} {
			var body any
			if f.body != "" {
				body = f.body
			}
			code, _, out := ts.do(t, f.method, f.path, alpha, body)
			if code != http.StatusForbidden || strings.Contains(string(out), kb) {
				t.Errorf("%s %s = %d %s; want 403 without beta's context", f.method, f.path, code, out)
			}
		}
		if strings.Contains(string(ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/sequence/alpha?keptnContext="+kb, alpha, nil)), kb) {
			t.Error("alpha's list shows beta's sequence")
		}
		reader := ts.mint(t, "alpha-reader", "read", "alpha")
		ts.wantStatus(t, http.StatusForbidden, "POST", "/api/controlPlane/v1/sequence/alpha/"+ka+"/control", reader, `{"state":"pause"}`)
	})

	t.Run("control", func(t *testing.T) {
		raw := ts.wantStatus(t, http.StatusOK, "POST", "/api/controlPlane/v1/sequence/alpha/"+ka+"/control", alpha, `{"state":"pause","stage":"dev"}`)
		if !strings.Contains(string(raw), sequence.ID(ka, "dev", "delivery")) {
			t.Errorf("pause answer %s", raw)
		}
		ts.wantStatus(t, http.StatusBadRequest, "POST", "/api/controlPlane/v1/sequence/alpha/"+ka+"/control", alpha, `{"state":"stop"}`)
		ts.wantStatus(t, http.StatusNotFound, "POST", "/api/controlPlane/v1/sequence/alpha/"+ka+"/control", alpha, `{"state":"pause","stage":"production"}`)
		ts.wantStatus(t, http.StatusNotFound, "POST", "/api/controlPlane/v1/sequence/alpha/"+kb+"/control", alpha, `{"state":"pause"}`)
		// The control became a job for the runner.
		jobs, err := ts.Store.ClaimJobs(context.Background(), store.Claim{Kinds: []string{sequence.JobInput}, Limit: 10})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("control jobs %v %v", jobs, err)
		}
	})

	t.Run("triggers and answers are stored with their job", func(t *testing.T) {
		ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", alpha, strings.Replace(eventJSON("sh.keptn.event.dev.delivery.triggered", "alpha", ""), `"stage":"production"`, `"stage":"dev"`, 1))
		ans := `{"specversion":"1.0","source":"executor","type":"sh.keptn.event.deployment.finished","shkeptncontext":"` + ka +
			`","triggeredid":"x","data":{"project":"alpha","stage":"dev","service":"carts","result":"pass","status":"succeeded"}}`
		ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", alpha, ans)
		// The remediation sequence stays with the self-healing loop.
		ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", alpha, eventJSON("sh.keptn.event.production.remediation.triggered", "alpha", ""))
		ctx := context.Background()
		starts, err := ts.Store.ClaimJobs(ctx, store.Claim{Kinds: []string{sequence.JobStart}, Limit: 10})
		if err != nil || len(starts) != 1 {
			t.Errorf("start jobs %d %v; want 1 (the delivery)", len(starts), err)
		}
		answers, err := ts.Store.ClaimJobs(ctx, store.Claim{Kinds: []string{sequence.JobAnswer}, Limit: 10})
		if err != nil || len(answers) != 1 {
			t.Errorf("answer jobs %d %v; want 1", len(answers), err)
		}
	})
}
