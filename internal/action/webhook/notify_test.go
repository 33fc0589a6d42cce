package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/action"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// slackPath is an incoming-webhook path: the path is the credential.
const slackPath = "/services/T000/B000/XXXXsecretpath"

func testEscalation() action.Escalation {
	return action.Escalation{
		Key:           "rem-1/escalate",
		RemediationID: "rem-1",
		Project:       "sockshop",
		Stage:         "production",
		Service:       "carts",
		Problem: action.Problem{
			ID: "p-42", Title: "Response time degradation <p90> & \"more\"\nsecond line", State: "OPEN",
			RootCause: "EnablePromotion", URL: "https://monitoring.example/problems/42?x=1&y=2",
		},
		Reason: "all 2 action(s) were tried and the problem was not resolved",
		Actions: []action.EscalationAttempt{
			{Name: "Scale up", Action: "scaling", Message: "scaled deployment sockshop-production/carts-primary from 1 to 2 replicas",
				Changes: []action.Change{{Target: "deployment/sockshop-production/carts-primary replicas", From: "1", To: "2"}}},
			{Name: "Toggle feature flag", Action: "toggle-feature", Failed: true, Message: "unleash: feature EnablePromotion does not exist"},
		},
		LastEvaluation: &action.EscalationEvaluation{Result: "fail", Score: 33.333333},
	}
}

func TestBuildMessageGolden(t *testing.T) {
	tests := []struct {
		name  string
		esc   action.Escalation
		uiURL string
	}{
		{name: "full", esc: testEscalation(), uiURL: "https://tend.example/"},
		{name: "problem link without UI", esc: testEscalation()},
		{name: "nothing tried", esc: action.Escalation{Project: "sockshop", Stage: "production", Service: "carts", Problem: action.Problem{Title: "Error rate"}, Reason: "no remediation action for the problem", Message: "Call the on-call DBA"}},
	}
	var got bytes.Buffer
	for _, tt := range tests {
		// Without HTML escaping, so the golden file shows the mrkdwn as
		// a receiver reads it.
		enc := json.NewEncoder(&got)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"case": tt.name, "payload": BuildMessage(tt.esc, tt.uiURL)}); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "escalation.golden.json", got.Bytes())
}

func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; got:\n%s\nwant:\n%s\n(run go test -update to accept)", path, got, want)
	}
}

func TestBuildMessageFlattensAndBounds(t *testing.T) {
	esc := testEscalation()
	esc.Problem.Title = strings.Repeat("x", 5000) + "\n*"
	for range 50 {
		esc.Actions = append(esc.Actions, action.EscalationAttempt{Action: "scaling"})
	}
	text := BuildMessage(esc, "").Text
	first, _, _ := strings.Cut(text, "\n")
	if len(first) > 2*maxLine {
		t.Errorf("first line is %d bytes, want the title shortened", len(first))
	}
	if !strings.Contains(text, "• … and 32 more") {
		t.Errorf("message does not cap the list of actions:\n%s", text)
	}
}

func TestNotify(t *testing.T) {
	rcv := newReceiver(t)
	cfg := NotifyConfig{URL: rcv.srv.URL + slackPath, Headers: map[string]string{"Authorization": "Bearer " + secretValue}, UIURL: "https://tend.example"}
	n := NewNotifier(StaticNotify(cfg), nil, Options{Version: "1.2.3"})
	esc := testEscalation()
	if err := n.Notify(context.Background(), esc); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	calls := rcv.recorded()
	if len(calls) != 1 {
		t.Fatalf("receiver got %d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Method != "POST" || c.Path != slackPath {
		t.Errorf("call = %s %s, want POST %s", c.Method, c.Path, slackPath)
	}
	for name, want := range map[string]string{
		"Authorization": "Bearer " + secretValue, "Idempotency-Key": "rem-1/escalate",
		"User-Agent": "tend/1.2.3", "Content-Type": "application/json",
	} {
		if got := c.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	var msg SlackMessage
	if err := json.Unmarshal([]byte(c.Body), &msg); err != nil {
		t.Fatalf("body %q is not JSON: %v", c.Body, err)
	}
	if want := BuildMessage(esc, cfg.UIURL); msg != want {
		t.Errorf("body = %+v, want %+v", msg, want)
	}
}

func TestNotifyFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		final  bool
	}{
		{name: "server error is retried", status: 500},
		{name: "rate limit is retried", status: 429},
		{name: "not found is final", status: 404, final: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := newReceiver(t, tt.status)
			rcv.set("no_service "+secretValue+" at "+slackPath, false)
			cfg := NotifyConfig{URL: rcv.srv.URL + slackPath + "?token=" + querySecret, Headers: map[string]string{"X-Token": secretValue}}
			err := NewNotifier(StaticNotify(cfg), nil, Options{}).Notify(context.Background(), testEscalation())
			if err == nil || errors.Is(err, action.ErrInvalid) != tt.final {
				t.Fatalf("Notify error = %v, want final = %v", err, tt.final)
			}
			checkRedacted(t, err.Error())
			if strings.Contains(err.Error(), "XXXXsecretpath") {
				t.Errorf("error %q shows the webhook URL's path", err)
			}
		})
	}
}

func TestNotifyNotConfigured(t *testing.T) {
	for name, n := range map[string]*Notifier{
		"nil resolver": NewNotifier(nil, nil, Options{}),
		"empty URL":    NewNotifier(StaticNotify(NotifyConfig{}), nil, Options{}),
	} {
		t.Run(name, func(t *testing.T) {
			err := n.Notify(context.Background(), testEscalation())
			if !errors.Is(err, action.ErrNotConfigured) || !errors.Is(err, action.ErrInvalid) {
				t.Fatalf("Notify error = %v, want action.ErrNotConfigured", err)
			}
			_, err = n.Prepare(context.Background(), testRequest(nil))
			if !errors.Is(err, action.ErrNotConfigured) {
				t.Fatalf("Prepare error = %v, want action.ErrNotConfigured", err)
			}
		})
	}
	err := NewNotifier(StaticNotify(NotifyConfig{URL: "https://u:" + secretValue + "@hooks.example" + slackPath}), nil, Options{}).Notify(context.Background(), testEscalation())
	if err == nil || !errors.Is(err, action.ErrInvalid) {
		t.Fatalf("Notify with credentials in the URL: error = %v, want a final one", err)
	}
	checkRedacted(t, err.Error())
}

func TestEscalateAction(t *testing.T) {
	rcv := newReceiver(t, http.StatusBadGateway)
	var gotReq action.Request
	history := func(_ context.Context, req action.Request) (action.Escalation, error) {
		gotReq = req
		esc := testEscalation()
		esc.Key, esc.Project, esc.Message = "ignored", "ignored", "ignored"
		esc.Reason = ""
		return esc, nil
	}
	n := NewNotifier(StaticNotify(NotifyConfig{URL: rcv.srv.URL + slackPath}), history, Options{})
	req := testRequest("Call the on-call DBA")
	req.Action, req.Name = ActionEscalate, "Page a human"
	plan, err := n.Prepare(context.Background(), req)
	if err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if !reflect.DeepEqual(gotReq, req) {
		t.Errorf("history got %+v, want the request", gotReq)
	}
	host := strings.TrimPrefix(rcv.srv.URL, "http://")
	if want := "send the escalation notification to " + rcv.srv.URL; plan.Summary != want {
		t.Errorf("summary = %q, want %q", plan.Summary, want)
	}
	if want := []action.Change{{Target: "escalation " + host, To: "sent"}}; !reflect.DeepEqual(plan.Changes, want) {
		t.Errorf("changes = %v, want %v", plan.Changes, want)
	}
	raw, _ := json.Marshal(plan)
	if strings.Contains(string(raw), "XXXXsecretpath") {
		t.Errorf("plan %s shows the webhook URL's path", raw)
	}
	if len(rcv.recorded()) != 0 {
		t.Fatal("Prepare sent the notification")
	}

	// The first Apply meets a 502 and is retried with the same key.
	if _, err := n.Apply(context.Background(), req, plan); err == nil || errors.Is(err, action.ErrInvalid) {
		t.Fatalf("Apply on 502: error = %v, want a retryable one", err)
	}
	res, err := n.Apply(context.Background(), req, plan)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !strings.HasPrefix(res.Message, "escalation sent to "+rcv.srv.URL+", which answered 200 OK") {
		t.Errorf("result message = %q", res.Message)
	}
	calls := rcv.recorded()
	if len(calls) != 2 || calls[0].Header.Get("Idempotency-Key") != "rem-1/2" || calls[1].Header.Get("Idempotency-Key") != "rem-1/2" || calls[0].Body != calls[1].Body {
		t.Fatalf("calls = %+v, want two identical ones keyed rem-1/2", calls)
	}
	var msg SlackMessage
	if err := json.Unmarshal([]byte(calls[1].Body), &msg); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"*Response time degradation* in sockshop / production / carts",
		`Why: the remediation reached its escalate action "Page a human"`,
		"• Scale up (scaling): done, deployment/sockshop-production/carts-primary replicas 1 → 2",
		"• Toggle feature flag (toggle-feature): failed: unleash: feature EnablePromotion does not exist",
		"Last evaluation: fail, score 33.33",
		"Note: Call the on-call DBA",
		"Details: https://monitoring.example/problems/42",
	} {
		if !strings.Contains(msg.Text, want) {
			t.Errorf("message lacks %q:\n%s", want, msg.Text)
		}
	}
}

func TestEscalateActionValue(t *testing.T) {
	n := NewNotifier(StaticNotify(NotifyConfig{URL: "https://hooks.example/x"}), nil, Options{})
	for name, tc := range map[string]struct {
		value   any
		wantErr bool
	}{
		"none":         {value: nil},
		"text":         {value: "page the DBA"},
		"message map":  {value: map[string]any{"message": "page the DBA"}},
		"list refused": {value: []any{"a"}, wantErr: true},
		"other map":    {value: map[string]any{"url": "x"}, wantErr: true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := n.Prepare(context.Background(), testRequest(tc.value))
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, action.ErrInvalid)) {
				t.Fatalf("Prepare(%#v) error = %v, want error %v (final)", tc.value, err, tc.wantErr)
			}
		})
	}
}

func TestFormatScore(t *testing.T) {
	for in, want := range map[float64]string{100: "100", 0: "0", 33.333333: "33.33", 90.5: "90.5", 40.004: "40"} {
		if got := formatScore(in); got != want {
			t.Errorf("formatScore(%v) = %q, want %q", in, got, want)
		}
	}
}
