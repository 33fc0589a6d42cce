package intake

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
)

// alert is a test alert; amBody wraps alerts in a version 4 message.
type alert map[string]any

func amBody(tb testing.TB, alerts ...any) []byte {
	tb.Helper()
	b, err := json.Marshal(map[string]any{
		"version": "4", "groupKey": `{}:{alertname="x"}`, "status": "firing", "receiver": "tend",
		"externalURL": "http://alertmanager:9093", "alerts": alerts,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func located(status, name string, extra map[string]string) alert {
	labels := map[string]string{"alertname": name, "project": "sockshop", "stage": "production", "service": "carts"}
	for k, v := range extra {
		if v == "" {
			delete(labels, k)
		} else {
			labels[k] = v
		}
	}
	return alert{
		"status": status, "labels": labels,
		"annotations":  map[string]string{"summary": name + " is bad", "description": "details of " + name},
		"startsAt":     "2024-05-06T07:00:00.5Z",
		"endsAt":       "0001-01-01T00:00:00Z",
		"generatorURL": "http://prometheus:9090/graph",
		"fingerprint":  "00000000000000a1",
	}
}

func TestParseAlertmanagerAlerts(t *testing.T) {
	withoutFP := located("firing", "cpu", nil)
	delete(withoutFP, "fingerprint")
	// The located alerts carry the forged fingerprint 00000000000000a1.
	cpuFP := Fingerprint(located("firing", "cpu", nil)["labels"].(map[string]string))
	offset := located("resolved", "cpu", nil)
	offset["startsAt"] = "2024-05-06T09:00:00.500+02:00"
	offset["endsAt"] = "2024-05-06T07:10:00Z"
	noSummary := located("firing", "disk", nil)
	noSummary["annotations"] = map[string]string{}

	tests := []struct {
		name  string
		alert any
		opts  AlertmanagerOptions
		check func(t *testing.T, n Notification)
	}{
		{"firing opens with labels as location", located("firing", "cpu", map[string]string{"root_cause": "cpu_saturation"}), AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			want := Notification{Source: SourceAlertmanager, State: StateOpen, Project: "sockshop", Stage: "production", Service: "carts",
				Title: "cpu is bad", RootCause: "cpu_saturation", Details: "details of cpu", URL: "http://prometheus:9090/graph",
				Key: "alertmanager/sockshop/" + Fingerprint(n.Labels) + "/2024-05-06T07:00:00.5Z", Origin: "http://alertmanager:9093"}
			if n.Source != want.Source || n.State != want.State || n.Project != want.Project || n.Stage != want.Stage ||
				n.Service != want.Service || n.Title != want.Title || n.RootCause != want.RootCause || n.Details != want.Details ||
				n.URL != want.URL || n.Key != want.Key || n.Origin != want.Origin || n.Unmatched != "" {
				t.Errorf("got %+v\nwant %+v", n, want)
			}
			if !n.EndsAt.IsZero() {
				t.Errorf("EndsAt = %v, want zero for Go's zero time", n.EndsAt)
			}
		}},
		{"resolved closes the same key, whatever the offset", offset, AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			if n.State != StateClosed || n.Key != "alertmanager/sockshop/"+cpuFP+"/2024-05-06T07:00:00.5Z" {
				t.Errorf("state %s key %s", n.State, n.Key)
			}
			if n.EndsAt.IsZero() {
				t.Error("EndsAt is zero for a resolved alert with endsAt")
			}
		}},
		{"no fingerprint: computed from the labels", withoutFP, AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			ls := model.LabelSet{}
			for k, v := range withoutFP["labels"].(map[string]string) {
				ls[model.LabelName(k)] = model.LabelValue(v)
			}
			want := "alertmanager/sockshop/" + ls.Fingerprint().String() + "/2024-05-06T07:00:00.5Z"
			if n.Key != want {
				t.Errorf("Key = %s, want %s (Alertmanager's fingerprint)", n.Key, want)
			}
		}},
		{"a sent fingerprint is not trusted: the key has the labels' own", located("firing", "cpu", nil), AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			if strings.Contains(n.Key, "00000000000000a1") || n.Key != "alertmanager/sockshop/"+cpuFP+"/2024-05-06T07:00:00.5Z" {
				t.Errorf("Key = %s, want the fingerprint of the labels (%s), not the one sent", n.Key, cpuFP)
			}
		}},
		{"the key names the project", located("firing", "cpu", map[string]string{"project": "other"}), AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			if !strings.HasPrefix(n.Key, "alertmanager/other/") {
				t.Errorf("Key = %s, want it to start alertmanager/other/", n.Key)
			}
		}},
		{"no summary: the alert name is the title", noSummary, AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			if n.Title != "disk" {
				t.Errorf("Title = %q", n.Title)
			}
		}},
		{"configured label names", located("firing", "cpu", map[string]string{"project": "", "stage": "", "service": "", "team": "sockshop", "env": "production", "app": "carts", "cause": "x"}),
			AlertmanagerOptions{ProjectLabel: "team", StageLabel: "env", ServiceLabel: "app", RootCauseLabel: "cause"}, func(t *testing.T, n Notification) {
				if n.Unmatched != "" || n.Project != "sockshop" || n.Stage != "production" || n.Service != "carts" || n.RootCause != "x" {
					t.Errorf("got %+v", n)
				}
			}},
		{"missing service label: unmatched", located("firing", "cpu", map[string]string{"service": ""}), AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			wantReason(t, n, `no service`, `"service" label`, "alert 0 (cpu is bad)")
		}},
		{"project that is not a Keptn name: unmatched", located("firing", "cpu", map[string]string{"project": "Sock Shop"}), AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			wantReason(t, n, `project "Sock Shop" is not a valid Keptn name`)
		}},
		{"unknown status: unmatched", located("pending", "cpu", nil), AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			wantReason(t, n, `status "pending" is neither firing nor resolved`)
		}},
		{"bad startsAt: unmatched", alert{"status": "firing", "labels": map[string]string{"a": "b"}, "startsAt": "yesterday"}, AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			wantReason(t, n, `startsAt "yesterday" is not an RFC 3339 time`)
		}},
		{"label of the wrong type: unmatched", alert{"status": "firing", "labels": map[string]any{"a": 1}}, AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			wantReason(t, n, "alert 0 cannot be read")
			if !strings.HasPrefix(n.Key, "alertmanager/unreadable/") {
				t.Errorf("Key = %s", n.Key)
			}
		}},
		{"alert that is not an object: unmatched", "firing", AlertmanagerOptions{}, func(t *testing.T, n Notification) {
			wantReason(t, n, "alert 0 cannot be read")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseAlertmanager(amBody(t, tt.alert), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Notifications) != 1 {
				t.Fatalf("got %d notifications", len(m.Notifications))
			}
			n := m.Notifications[0]
			if n.Key == "" || n.KeptnContext == "" {
				t.Errorf("Key %q, KeptnContext %q: both must be set", n.Key, n.KeptnContext)
			}
			tt.check(t, n)
		})
	}
}

func wantReason(tb testing.TB, n Notification, parts ...string) {
	tb.Helper()
	if n.Matched() {
		tb.Fatalf("matched, want unmatched: %+v", n)
	}
	for _, p := range parts {
		if !strings.Contains(n.Unmatched, p) {
			tb.Errorf("reason %q does not contain %q", n.Unmatched, p)
		}
	}
}

// TestParseAlertmanagerMixed checks that every alert of a message is
// returned in order, firing and resolved mixed, matched or not.
func TestParseAlertmanagerMixed(t *testing.T) {
	a := located("firing", "cpu", nil)
	b := located("resolved", "mem", nil)
	b["fingerprint"] = "00000000000000b2"
	c := located("firing", "disk", map[string]string{"stage": ""})
	c["fingerprint"] = "00000000000000c3"
	m, err := ParseAlertmanager(amBody(t, a, b, c), AlertmanagerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range m.Notifications {
		got = append(got, fmt.Sprintf("%s %s matched=%t", n.Title, n.State, n.Matched()))
	}
	want := []string{"cpu is bad open matched=true", "mem is bad closed matched=true", "disk is bad open matched=false"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if u := m.Unmatched(); len(u) != 1 || u[0].Title != "disk is bad" {
		t.Errorf("Unmatched() = %+v", u)
	}
	if m.Receiver != "tend" || m.Version != "4" || m.GroupKey == "" {
		t.Errorf("envelope: %+v", m)
	}
}

func TestParseAlertmanagerRefuses(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty body", "", "JSON object"},
		{"not JSON", "alert!", "JSON object"},
		{"an array", `[{"status":"firing"}]`, "JSON object"},
		{"broken JSON", `{"alerts": [`, "unexpected end"},
		{"version 3", `{"version":"3","alerts":[]}`, `version is "3"`},
		{"version as a number", `{"version":4,"alerts":[]}`, "version is 4"},
		{"no alerts", `{"version":"4"}`, `missing "alerts"`},
		{"null alerts", `{"version":"4","alerts":null}`, `missing "alerts"`},
		{"alerts not an array", `{"version":"4","alerts":{}}`, "array of alert objects"},
		{"receiver not a string", `{"version":"4","receiver":5,"alerts":[]}`, "receiver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAlertmanager([]byte(tt.body), AlertmanagerOptions{})
			if !errors.Is(err, ErrNotAlertmanager) {
				t.Fatalf("err = %v, want ErrNotAlertmanager", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseAlertmanagerAccepts(t *testing.T) {
	for _, body := range []string{
		`{"alerts":[]}`,
		`{"version":null,"alerts":[]}`,
		` {"version":"4","alerts":[],"unknownField":{"x":1}} `,
	} {
		t.Run(body, func(t *testing.T) {
			m, err := ParseAlertmanager([]byte(body), AlertmanagerOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Notifications) != 0 {
				t.Errorf("got %d notifications", len(m.Notifications))
			}
		})
	}
}

func TestFingerprintMatchesPrometheus(t *testing.T) {
	for _, labels := range []map[string]string{
		{},
		{"alertname": "x"},
		{"alertname": "High Container CPU Usage", "severity": "webhook", "pod": "carts-ü"},
		{"a": "", "b": "\xff"},
	} {
		ls := model.LabelSet{}
		for k, v := range labels {
			ls[model.LabelName(k)] = model.LabelValue(v)
		}
		if got, want := Fingerprint(labels), ls.Fingerprint().String(); got != want {
			t.Errorf("Fingerprint(%v) = %s, want %s", labels, got, want)
		}
	}
}

func FuzzParseAlertmanager(f *testing.F) {
	f.Add(amBody(f, located("firing", "cpu", nil), located("resolved", "mem", map[string]string{"service": ""})))
	f.Add([]byte(`{"alerts":[{"status":"firing","labels":{"project":"a","stage":"b","service":"c"}}]}`))
	f.Add([]byte(`{"version":"4","alerts":[1,"x",null,{}]}`))
	f.Add([]byte(`{"version":4}`))
	for rel := range problemExamples {
		if strings.HasPrefix(rel, "prometheus-service/0.") && strings.Contains(rel, "alert") {
			if examplesRootOrEmpty() != "" {
				f.Add(readExample(f, rel))
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseAlertmanager(body, AlertmanagerOptions{})
		if err != nil {
			if !errors.Is(err, ErrNotAlertmanager) {
				t.Fatalf("error does not match ErrNotAlertmanager: %v", err)
			}
			return
		}
		again, _ := ParseAlertmanager(body, AlertmanagerOptions{})
		for i, n := range m.Notifications {
			if n.Key == "" || n.KeptnContext == "" {
				t.Fatalf("alert %d: empty key or context", i)
			}
			if n.State != StateOpen && n.State != StateClosed {
				t.Fatalf("alert %d: state %q", i, n.State)
			}
			if n.Matched() && (n.Project == "" || n.Stage == "" || n.Service == "") {
				t.Fatalf("alert %d matched without a location: %+v", i, n)
			}
			if again.Notifications[i].Key != n.Key {
				t.Fatalf("alert %d: key differs between two parses", i)
			}
			// The identity is the labels' own, never a sent fingerprint,
			// and it names the project the alert is located in.
			if !strings.HasPrefix(n.Key, "alertmanager/unreadable/") {
				if fp := KeyFingerprint(n.Key); fp != Fingerprint(n.Labels) {
					t.Fatalf("alert %d: key %q has fingerprint %q, want the labels' %q", i, n.Key, fp, Fingerprint(n.Labels))
				}
				if !strings.HasPrefix(n.Key, "alertmanager/"+n.Project+"/") {
					t.Fatalf("alert %d: key %q does not name project %q", i, n.Key, n.Project)
				}
			}
		}
	})
}

// examplesRootOrEmpty is examplesRoot without skipping, for fuzz seeds.
func examplesRootOrEmpty() string {
	if _, err := os.Stat(examplesDir); err != nil {
		return ""
	}
	return examplesDir
}

func BenchmarkParseAlertmanager(b *testing.B) {
	alerts := make([]any, 10)
	for i := range alerts {
		a := located("firing", fmt.Sprintf("alert%d", i), map[string]string{"instance": fmt.Sprintf("10.0.0.%d:8080", i)})
		a["fingerprint"] = fmt.Sprintf("%016x", i+1)
		alerts[i] = a
	}
	body := amBody(b, alerts...)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := ParseAlertmanager(body, AlertmanagerOptions{})
		if err != nil || len(m.Notifications) != 10 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10, "ns/alert")
}
