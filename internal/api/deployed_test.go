package api_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
)

// TestChartResources checks that every resource route validates a
// helm/<name>.tgz with the chart loader: Keptn's own archives are stored
// byte for byte, a broken one is refused with 400 naming it and its
// problem, and nothing of the request is written.
func TestChartResources(t *testing.T) {
	examples := testenv.KeptnExamples(t)
	carts, err := os.ReadFile(filepath.Join(examples, "examples/0.11.0/onboarding-carts/carts.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, sqliteBackend)
	ts.createProject(t, "sockshop", "carts")
	b64 := base64.StdEncoding.EncodeToString
	tendPath := "/api/v1/project/sockshop/stage/dev/service/carts/resource"
	keptnPath := "/api/resource-service/v1/project/sockshop/stage/dev/service/carts/resource"

	for _, tc := range []struct {
		name, method, path string
		body               func(content []byte) any
	}{
		{"tend POST", "POST", tendPath, func(c []byte) any {
			return apitypes.PutResourcesRequest{Resources: []apitypes.Resource{
				{ResourceURI: "notes.txt", ResourceContent: b64([]byte("x"))}, {ResourceURI: "helm/carts.tgz", ResourceContent: b64(c)}}}
		}},
		{"Keptn POST", "POST", keptnPath, func(c []byte) any {
			return apitypes.KeptnResources{Resources: []apitypes.KeptnResource{
				{ResourceURI: "notes.txt", ResourceContent: b64([]byte("x"))}, {ResourceURI: "helm/carts.tgz", ResourceContent: b64(c)}}}
		}},
		{"Keptn PUT one", "PUT", keptnPath + "/helm%2Fcarts.tgz", func(c []byte) any {
			return apitypes.KeptnResource{ResourceContent: b64(c)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, bad := range []struct {
				content []byte
				problem string
			}{
				{[]byte("not a chart"), "chart archive is not gzip-compressed"},
				{carts[:len(carts)/2], "unexpected EOF"},
			} {
				_, _, raw := ts.do(t, tc.method, tc.path, ts.Admin, tc.body(bad.content))
				msg := wantError(t, http.StatusBadRequest, raw)
				if !strings.Contains(msg, "helm/carts.tgz: not a Helm chart archive tend can deploy: ") || !strings.Contains(msg, bad.problem) {
					t.Errorf("message %q", msg)
				}
			}
			if _, err := ts.Client.GetResource(t.Context(), client.ResourceRef{Project: "sockshop", Stage: "dev", Service: "carts"}, "notes.txt", ""); err == nil && tc.method == "POST" {
				t.Error("a refused write stored notes.txt")
			}
			status := http.StatusCreated
			if tc.method == "PUT" {
				status = http.StatusOK
			}
			ts.wantStatus(t, status, tc.method, tc.path, ts.Admin, tc.body(carts))
			rf, err := ts.Client.GetResource(t.Context(), client.ResourceRef{Project: "sockshop", Stage: "dev", Service: "carts"}, "helm/carts.tgz", "")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rf.Content, carts) {
				t.Error("the stored chart differs from what was sent")
			}
			if _, err := chart.Load(rf.Content); err != nil {
				t.Errorf("the stored chart does not load: %v", err)
			}
			// Clean up so the next case's refusal is seen on an empty level.
			ts.wantStatus(t, http.StatusOK, "DELETE", tendPath+"/helm%2Fcarts.tgz", ts.Admin, nil)
			if tc.method == "POST" {
				ts.wantStatus(t, http.StatusOK, "DELETE", tendPath+"/notes.txt", ts.Admin, nil)
			}
		})
	}
	// Other .tgz files are not charts tend deploys: stored as they are.
	ts.wantStatus(t, http.StatusCreated, "POST", tendPath, ts.Admin, putBody(map[string]string{"backup/carts.tgz": "anything", "helm/notes.txt": "x"}))
}

// TestDeployedImages checks what tend's and Keptn's service routes and
// the sequence states say a service runs, and that a token of one
// project sees nothing of another's.
func TestDeployedImages(t *testing.T) {
	ts := startServer(t, sqliteBackend)
	ts.createProject(t, "alpha", "carts")
	ts.createProject(t, "beta", "carts")
	const ka, kb = "7c1e5a3a-1f0e-4d6a-9c55-3f2b7d7a9e1a", "7c1e5a3a-1f0e-4d6a-9c55-3f2b7d7a9e1b"
	seedSequence(t, ts, "alpha", ka)
	seedSequence(t, ts, "beta", kb)
	post := func(id, project, kctx, typ, data string) {
		t.Helper()
		ts.wantStatus(t, http.StatusOK, "POST", "/api/v1/event", ts.Admin, `{"specversion":"1.0","source":"helm-service","id":"`+id+`","type":"`+typ+
			`","shkeptncontext":"`+kctx+`","data":{"project":"`+project+`","stage":"dev","service":"carts",`+data+`}}`)
	}
	post("a1", "alpha", ka, "sh.keptn.event.deployment.finished", `"result":"pass","deployment":{"image":"alpha/carts:1"}`)
	post("b1", "beta", kb, "sh.keptn.event.deployment.finished", `"result":"pass","deployment":{"image":"beta/carts:secret"}`)
	alpha := ts.mint(t, "alpha-reader", "read", "alpha")

	sv := decode[apitypes.Service](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/alpha/service/carts", alpha, nil))
	if len(sv.Stages) != 2 || sv.Stages[0].StageName != "dev" || sv.Stages[0].DeployedImage != "alpha/carts:1" || sv.Stages[0].KeptnContext != ka ||
		sv.Stages[0].DeployedAt == nil || sv.Stages[1].StageName != "production" || sv.Stages[1].DeployedImage != "" {
		t.Errorf("service answer %+v", sv)
	}
	list := decode[apitypes.ServiceList](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/alpha/service", alpha, nil))
	if len(list.Services) != 1 || len(list.Services[0].Stages) != 2 || list.Services[0].Stages[0].DeployedImage != "alpha/carts:1" {
		t.Errorf("service list %+v", list)
	}
	ks := decode[apitypes.KeptnService](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/project/alpha/stage/dev/service/carts", alpha, nil))
	if ks.DeployedImage != "alpha/carts:1" {
		t.Errorf("Keptn service %+v", ks)
	}
	kp := decode[apitypes.KeptnProject](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/project/alpha", alpha, nil))
	if kp.Stages[0].Services[0].DeployedImage != "alpha/carts:1" || kp.Stages[1].Services[0].DeployedImage != "" {
		t.Errorf("Keptn project %+v", kp.Stages)
	}
	states := decode[apitypes.KeptnSequenceStates](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/sequence/alpha", alpha, nil))
	if len(states.States) != 1 || states.States[0].Stages[0].Image != "alpha/carts:1" {
		t.Errorf("sequence states %+v", states)
	}

	// The trigger's image stands until the context deployed one.
	post("a2", "alpha", ka, "sh.keptn.event.rollback.finished", `"result":"pass"`)
	states = decode[apitypes.KeptnSequenceStates](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/controlPlane/v1/sequence/alpha", alpha, nil))
	if got := states.States[0].Stages[0].Image; got != "carts:1" {
		t.Errorf("after a rollback without image the stage shows %q, want the trigger's carts:1", got)
	}

	// A token of alpha reads nothing of beta, however it asks.
	for _, p := range []string{
		"/api/v1/project/beta/service",
		"/api/v1/project/beta/service/carts",
		"/api/controlPlane/v1/project/beta",
		"/api/controlPlane/v1/project/beta/stage/dev/service",
		"/api/controlPlane/v1/project/beta/stage/dev/service/carts",
		"/api/controlPlane/v1/sequence/beta",
	} {
		code, _, raw := ts.do(t, "GET", p, alpha, nil)
		if code != http.StatusForbidden || strings.Contains(string(raw), "beta/carts:secret") {
			t.Errorf("GET %s with alpha's token = %d %s", p, code, raw)
		}
	}
	for _, p := range []string{"/api/v1/project/alpha/service", "/api/controlPlane/v1/project/alpha", "/api/controlPlane/v1/sequence/alpha"} {
		if raw := ts.wantStatus(t, http.StatusOK, "GET", p, alpha, nil); strings.Contains(string(raw), "secret") {
			t.Errorf("GET %s shows beta's image: %s", p, raw)
		}
	}
	if raw := ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/beta/service/carts", ts.Admin, nil); !strings.Contains(string(raw), "beta/carts:secret") {
		t.Errorf("the admin does not see beta's image: %s", raw)
	}
}
