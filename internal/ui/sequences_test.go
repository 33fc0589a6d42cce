package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

// The sequence tests run the fixture's delivery: staging deploys (answered
// by a test executor registered as helm-service), waits for a manual
// approval, releases; production follows with deployment and release.

// executor is the test's helm-service: it answers tasks through the API as
// a Keptn integration does.
type executor struct {
	f  *fixture
	id string
}

func newExecutor(t testing.TB, f *fixture) *executor {
	t.Helper()
	body := `{"name":"helm-service","metadata":{"hostname":"node-1","integrationversion":"1.4.5","kubernetesmetadata":{"namespace":"keptn"}},` +
		`"subscriptions":[{"event":"sh.keptn.event.deployment.triggered"},{"event":"sh.keptn.event.release.triggered"}]}`
	code, out, err := f.client.Raw(context.Background(), http.MethodPost, "/api/controlPlane/v1/uniform/registration", nil, []byte(body))
	if err != nil || code != http.StatusOK {
		t.Fatalf("register: %d %s %v", code, out, err)
	}
	var reg struct{ ID string }
	_ = json.Unmarshal(out, &reg)
	return &executor{f: f, id: reg.ID}
}

// deliveredImage is the image the test's deliveries deploy.
const deliveredImage = "docker.io/keptnexamples/carts:0.13.2"

// startDelivery triggers the staging delivery and returns its keptn
// context.
func startDelivery(t testing.TB, f *fixture) string {
	t.Helper()
	kctx := event.NewUUID()
	f.send(t, cloudEvent(event.NewUUID(), event.SequenceType("staging", "delivery", "triggered"), "test", kctx, "", time.Now().UTC(),
		map[string]any{"project": project, "stage": "staging", "service": service,
			"configurationChange": map[string]any{"values": map[string]any{"image": deliveredImage}}}))
	return kctx
}

// waitOpen waits until a .triggered event of task is open in stage and
// returns it. The deadline guards against a hang; it measures nothing.
func waitOpen(t testing.TB, f *fixture, task, stg string) map[string]any {
	t.Helper()
	q := url.Values{"project": {project}, "stage": {stg}}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, out, err := f.client.Raw(context.Background(), http.MethodGet, "/api/controlPlane/v1/event/triggered/"+event.TaskType(task, event.PhaseTriggered), q, nil)
		if err != nil {
			t.Fatal(err)
		}
		var list apitypes.TriggeredEventList
		if err := json.Unmarshal(out, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Events) > 0 {
			var ev map[string]any
			_ = json.Unmarshal(list.Events[0], &ev)
			return ev
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s.triggered opened in stage %s", task, stg)
	return nil
}

// answer starts and finishes the open task of stg with result pass, and
// logs a line about it.
func (x *executor) answer(t testing.TB, task, stg string) {
	t.Helper()
	trig := waitOpen(t, x.f, task, stg)
	id, kctx := trig["id"].(string), trig["shkeptncontext"].(string)
	data := map[string]any{"project": project, "stage": stg, "service": service}
	x.f.send(t, cloudEvent(event.NewUUID(), event.TaskType(task, event.PhaseStarted), "helm-service", kctx, id, time.Now().UTC(), data))
	logs := `{"logs":[{"integrationid":"` + x.id + `","shkeptncontext":"` + kctx + `","triggeredid":"` + id + `","task":"` + task + `","message":"` + task + ` of carts in ` + stg + ` done"}]}`
	if code, out, err := x.f.client.Raw(context.Background(), http.MethodPost, "/api/controlPlane/v1/log", nil, []byte(logs)); err != nil || code != http.StatusOK {
		t.Fatalf("log: %d %s %v", code, out, err)
	}
	fin := map[string]any{"result": "pass", "status": "succeeded"}
	for k, v := range data {
		fin[k] = v
	}
	if task == "deployment" || task == "release" {
		// As tend's executors report it.
		fin["deployment"] = map[string]any{"image": deliveredImage, "deploymentstrategy": "blue_green_service"}
	}
	x.f.send(t, cloudEvent(event.NewUUID(), event.TaskType(task, event.PhaseFinished), "helm-service", kctx, id, time.Now().UTC(), fin))
}

// waitPage polls a page until it contains want.
func waitPage(t testing.TB, b *browser, target, want string) page {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var p page
	for time.Now().Before(deadline) {
		if p = b.get(target); strings.Contains(p.body, want) {
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never showed %q:\n%s", target, want, p.body)
	return p
}

// approvalFormRE finds the approval form's action.
func approvalAction(t testing.TB, body string) string {
	t.Helper()
	i := strings.Index(body, `/approvals/`)
	if i < 0 {
		t.Fatalf("no approval form:\n%s", body)
	}
	start := strings.LastIndex(body[:i], `action="`) + len(`action="`)
	end := start + strings.Index(body[start:], `"`)
	return body[start:end]
}

func TestSequencePages(t *testing.T) {
	f := newFixture(t, 0)
	x := newExecutor(t, f)
	kctx := startDelivery(t, f)
	x.answer(t, "deployment", "staging")
	approval := waitOpen(t, f, event.TaskApproval, "staging")
	seqPath := "/projects/" + project + "/sequences/" + kctx

	admin := newBrowser(t, f)
	admin.mustLogin(f.admin)

	t.Run("list, linked from the board and the nav", func(t *testing.T) {
		if p := admin.get("/projects/" + project); !strings.Contains(p.body, `href="/projects/sockshop/sequences"`) || !strings.Contains(p.body, `href="/sequences"`) {
			t.Errorf("board does not link the sequences:\n%s", p.body)
		}
		for _, target := range []string{"/projects/sockshop/sequences", "/sequences", "/projects/sockshop/sequences?state=started"} {
			p := admin.get(target)
			if p.status != http.StatusOK || !strings.Contains(p.body, `href="`+seqPath+`"`) || !strings.Contains(p.body, "delivery") {
				t.Errorf("%s: %d without the sequence:\n%s", target, p.status, p.body)
			}
		}
		if p := admin.get("/projects/sockshop/sequences?state=finished"); strings.Contains(p.body, seqPath) {
			t.Errorf("the finished filter shows the running sequence")
		}
		if p := admin.get("/projects/sockshop/sequences?state=bogus"); p.status != http.StatusBadRequest {
			t.Errorf("unknown state: %d", p.status)
		}
	})

	t.Run("page shows lanes, answers, logs and the waiting approval", func(t *testing.T) {
		p := admin.get(seqPath)
		if p.status != http.StatusOK {
			t.Fatalf("sequence page %d:\n%s", p.status, p.body)
		}
		for _, want := range []string{`id="lane-staging"`, "deployment", `<a href="/integrations">helm-service</a>`,
			"deployment of carts in staging done", "approval waiting", ">Approve<", ">Decline<", "svg class=\"lanechart\"",
			`data-live-stream="/contexts/` + kctx + `/stream?after=`, `data-live-src="` + seqPath + `/body"`, ">Pause<", ">Abort<"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		if frag := admin.get(seqPath + "/body"); frag.status != http.StatusOK || strings.Contains(frag.body, "<html") || !strings.Contains(frag.body, `id="sequence"`) {
			t.Errorf("fragment %d:\n%s", frag.status, frag.body)
		}
		if p := admin.get("/projects/sockshop/sequences/" + event.NewUUID()); p.status != http.StatusNotFound {
			t.Errorf("unknown context: %d", p.status)
		}
	})

	action := approvalAction(t, admin.get(seqPath).body)
	if !strings.HasSuffix(action, "/approvals/"+approval["id"].(string)) {
		t.Fatalf("approval form posts to %s; want the waiting approval.triggered %s", action, approval["id"])
	}

	t.Run("read token sees no buttons and is refused", func(t *testing.T) {
		b := newBrowser(t, f)
		b.mustLogin(f.newToken(t, "reader", apitypes.ScopeRead, ""))
		b.get("/")
		p := b.get(seqPath)
		if p.status != http.StatusOK || strings.Contains(p.body, ">Approve<") || strings.Contains(p.body, ">Pause<") {
			t.Errorf("read token's page %d has buttons:\n%s", p.status, p.body)
		}
		if p := b.do(http.MethodPost, action, url.Values{"csrf": {b.csrf}, "answer": {"approve"}}); p.status != http.StatusForbidden {
			t.Errorf("read token's approve: %d", p.status)
		}
		if p := b.do(http.MethodPost, seqPath+"/control", url.Values{"csrf": {b.csrf}, "state": {"abort"}}); p.status != http.StatusForbidden {
			t.Errorf("read token's abort: %d", p.status)
		}
	})

	t.Run("token of another project can neither see nor act", func(t *testing.T) {
		if _, err := f.client.CreateProject(context.Background(), apitypes.CreateProjectRequest{Name: "other", Shipyard: shipyard}); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, f)
		b.mustLogin(f.newToken(t, "other-writer", apitypes.ScopeWrite, "other"))
		b.get("/")
		if p := b.get(seqPath); p.status != http.StatusNotFound || strings.Contains(p.body, "helm-service") {
			t.Errorf("other project's token sees the sequence: %d", p.status)
		}
		if p := b.get("/sequences"); strings.Contains(p.body, kctx) {
			t.Errorf("other project's token lists the sequence")
		}
		if p := b.do(http.MethodPost, action, url.Values{"csrf": {b.csrf}, "answer": {"approve"}}); p.status != http.StatusNotFound {
			t.Errorf("other project's approve: %d", p.status)
		}
	})

	t.Run("POST without the CSRF token is refused", func(t *testing.T) {
		if p := admin.do(http.MethodPost, action, url.Values{"answer": {"approve"}}); p.status != http.StatusForbidden {
			t.Errorf("approve without csrf: %d", p.status)
		}
		if p := admin.do(http.MethodPost, action, url.Values{"csrf": {"forged"}, "answer": {"approve"}}); p.status != http.StatusForbidden {
			t.Errorf("approve with a forged csrf: %d", p.status)
		}
		if p := admin.get(seqPath); !strings.Contains(p.body, ">Approve<") {
			t.Errorf("after refused posts the approval no longer waits")
		}
	})

	t.Run("approve stores approval.finished for the waiting approval", func(t *testing.T) {
		p := admin.do(http.MethodPost, action, url.Values{"csrf": {admin.csrf}, "answer": {"approve"}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != seqPath+"?done=approve" {
			t.Fatalf("approve: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
		}
		pg, err := f.app.Store().ListEvents(context.Background(), store.EventFilter{KeptnContext: kctx, Type: event.TaskType(event.TaskApproval, event.PhaseFinished), PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		var answers []map[string]any
		for _, e := range pg.Events {
			var ev map[string]any
			_ = json.Unmarshal(e.JSON, &ev)
			if ev["source"] != "tend" {
				answers = append(answers, ev)
			}
		}
		if len(answers) != 1 {
			t.Fatalf("%d approval answers stored; want 1", len(answers))
		}
		a := answers[0]
		d, _ := a["data"].(map[string]any)
		if a["triggeredid"] != approval["id"] || d["result"] != "pass" || d["status"] != "succeeded" || d["stage"] != "staging" || d["service"] != service {
			t.Errorf("approval answer: %v", a)
		}
		// A second click finds nothing waiting.
		if p := admin.do(http.MethodPost, action, url.Values{"csrf": {admin.csrf}, "answer": {"approve"}}); p.status != http.StatusConflict {
			t.Errorf("second approve: %d", p.status)
		}
		x.answer(t, "release", "staging")
		x.answer(t, "deployment", "production")
		x.answer(t, "release", "production")
		p = waitPage(t, admin, seqPath, `data-state="finished"`)
		if !strings.Contains(p.body, `id="lane-production"`) || !strings.Contains(p.body, `data-ended="true"`) {
			t.Errorf("the finished sequence:\n%s", p.body)
		}
		// Each stage shows what the delivery released there, each
		// deployment and release task the image it reported.
		if n := strings.Count(p.body, `<span class="muted">released</span> <code>`+deliveredImage+`</code>`); n != 2 {
			t.Errorf("%d stages show the released image, want 2:\n%s", n, p.body)
		}
		if n := strings.Count(p.body, `<p class="small task-image"><code>`+deliveredImage+`</code>`); n != 4 {
			t.Errorf("%d tasks show the image, want 4", n)
		}
		board := admin.get("/projects/" + project)
		if n := strings.Count(board.body, `<code>`+deliveredImage+`</code>`); n != 2 || !strings.Contains(board.body, `class="deployed" href="/contexts/`+kctx+`"`) {
			t.Errorf("the board shows the image in %d cells, want 2 linked to the delivery:\n%s", n, board.body)
		}
		svc := admin.get("/projects/" + project + "/stages/production/services/" + service)
		if !strings.Contains(svc.body, `Deployed: <code>`+deliveredImage+`</code>`) || !strings.Contains(svc.body, "released") {
			t.Errorf("the service page does not show the deployed image:\n%s", svc.body)
		}
		if list := admin.get("/projects/" + project + "/sequences"); !strings.Contains(list.body, `<code class="small">`+deliveredImage+`</code>`) {
			t.Errorf("the sequence list does not show the image")
		}
		// A token of another project sees none of it.
		other := newBrowser(t, f)
		other.mustLogin(f.newToken(t, "other-reader", apitypes.ScopeRead, "other"))
		for _, target := range []string{"/projects/" + project, "/projects/" + project + "/stages/production/services/" + service, seqPath, "/sequences", "/"} {
			if p := other.get(target); strings.Contains(p.body, deliveredImage) {
				t.Errorf("%s shows another project's image to a token of project other (%d)", target, p.status)
			}
		}
		if p := admin.do(http.MethodPost, seqPath+"/control", url.Values{"csrf": {admin.csrf}, "state": {"pause"}}); p.status != http.StatusConflict {
			t.Errorf("pausing a finished sequence: %d", p.status)
		}
	})
}

func TestSequenceDeclineAndControls(t *testing.T) {
	f := newFixture(t, 0)
	x := newExecutor(t, f)
	kctx := startDelivery(t, f)
	x.answer(t, "deployment", "staging")
	waitOpen(t, f, event.TaskApproval, "staging")
	seqPath := "/projects/" + project + "/sequences/" + kctx
	b := newBrowser(t, f)
	b.mustLogin(f.newToken(t, "writer", apitypes.ScopeWrite, project))
	b.get(seqPath)

	p := b.do(http.MethodPost, seqPath+"/control", url.Values{"csrf": {b.csrf}, "state": {"pause"}, "stage": {"staging"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("pause: %d\n%s", p.status, p.body)
	}
	waitPage(t, b, seqPath, `data-state="paused"`)
	if p := b.do(http.MethodPost, seqPath+"/control", url.Values{"csrf": {b.csrf}, "state": {"explode"}}); p.status != http.StatusBadRequest {
		t.Errorf("unknown control: %d", p.status)
	}
	if p := b.do(http.MethodPost, seqPath+"/control", url.Values{"csrf": {b.csrf}, "state": {"resume"}, "stage": {"staging"}}); p.status != http.StatusSeeOther {
		t.Fatalf("resume: %d", p.status)
	}
	p = waitPage(t, b, seqPath, `data-state="started"`)
	p = b.do(http.MethodPost, approvalAction(t, p.body), url.Values{"csrf": {b.csrf}, "answer": {"decline"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("decline: %d\n%s", p.status, p.body)
	}
	p = waitPage(t, b, seqPath, `data-state="finished"`)
	if !strings.Contains(p.body, `badge status-fail">fail<`) || strings.Contains(p.body, `id="lane-production"`) {
		t.Errorf("a declined delivery ends fail in staging:\n%s", p.body)
	}
}

// TestSequenceLiveStream follows the stream a sequence page listens to:
// answering the approval in the UI is the change it reports.
func TestSequenceLiveStream(t *testing.T) {
	f := newFixture(t, 0)
	x := newExecutor(t, f)
	kctx := startDelivery(t, f)
	x.answer(t, "deployment", "staging")
	waitOpen(t, f, event.TaskApproval, "staging")
	seqPath := "/projects/" + project + "/sequences/" + kctx
	b := newBrowser(t, f)
	b.mustLogin(f.admin)
	pg := b.get(seqPath)
	i := strings.Index(pg.body, `data-live-stream="`)
	if i < 0 {
		t.Fatalf("no live stream on the page:\n%s", pg.body)
	}
	streamURL := pg.body[i+len(`data-live-stream="`):]
	streamURL = strings.ReplaceAll(streamURL[:strings.Index(streamURL, `"`)], "&amp;", "&")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.app.URL()+streamURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("stream answered %d", res.StatusCode)
	}
	if p := b.do(http.MethodPost, approvalAction(t, pg.body), url.Values{"csrf": {b.csrf}, "answer": {"approve"}}); p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d", p.status)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if want := event.TaskType(event.TaskApproval, event.PhaseFinished); data != want {
			t.Fatalf("the stream's first change is %q, want %q", data, want)
		}
		return
	}
	t.Fatalf("the stream ended without a change: %v", sc.Err())
}
