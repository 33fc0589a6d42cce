package problem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/intake"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/store"
)

func TestFingerprint(t *testing.T) {
	tests := []struct{ key, want string }{
		{"alertmanager/8dd2c31a47cf2e78/2021-11-26T10:57:14Z", "8dd2c31a47cf2e78"},
		{"alertmanager/unreadable/0123456789abcdef", "unreadable"},
		{"dynatrace/99999", "dynatrace/99999"},
		{"keptn/5f0c", "keptn/5f0c"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := Fingerprint(tt.key); got != tt.want {
				t.Errorf("Fingerprint(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func TestJobs(t *testing.T) {
	tests := []struct {
		name    string
		job     store.JobSpec
		payload StepPayload
		unique  string
	}{
		{"start", StartJob("r1"), StepPayload{RemediationID: "r1"}, "remediation/r1/start"},
		{"problem closed", ClosedJob("r1", "p2"), StepPayload{RemediationID: "r1", ProblemClosed: "p2"}, "remediation/r1/problem-closed/p2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got StepPayload
			if err := json.Unmarshal(tt.job.Payload, &got); err != nil {
				t.Fatal(err)
			}
			if tt.job.Kind != JobKind || got != tt.payload || tt.job.UniqueKey != tt.unique {
				t.Errorf("job %+v payload %+v", tt.job, got)
			}
		})
	}
}

// The remediation document survives the store unchanged, so the loop reads
// what the intake wrote.
func TestRemediationRoundTrip(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	p := remediation.Problem{ID: "p1", Key: "k", Project: "sockshop", Stage: "production", Service: "carts",
		Title: "response_time_p90", State: remediation.ProblemStateOpen, KeptnContext: "ctx", OpenedAt: now}
	rem := remediation.New("r1", p, []action.Request{
		{Action: "scaling", Name: "Scale up", Value: "1"},
		{Action: "toggle-feature", Value: map[string]any{"EnablePromotion": "off"}},
	}, remediation.Settings{Settling: 10 * time.Minute, TriggerEventID: "ev"}, now)
	if _, err := rem.Apply(remediation.ProblemJoined{ProblemID: "p2"}, now); err != nil {
		t.Fatal(err)
	}
	rec := EncodeRemediation(rem, 3)
	if rec.ID != "r1" || rec.State != "waiting" || !rec.Running || rec.Version != 3 || rec.KeptnContext != "ctx" {
		t.Errorf("record %+v", rec)
	}
	back, err := DecodeRemediation(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rem) {
		t.Errorf("round trip changed the remediation:\n got %+v\nwant %+v", back, rem)
	}
	if _, err := DecodeRemediation(store.RemediationRecord{ID: "bad", Doc: []byte("{")}); err == nil {
		t.Error("a broken document decoded")
	}
}

// conflictStore loses every transaction, as a replica would under a storm
// of concurrent writes to the same rows.
type conflictStore struct {
	calls int
}

func (c *conflictStore) GetProject(context.Context, string) (store.Project, error) {
	return store.Project{Name: "sockshop", Shipyard: []byte("stages:\n  - name: production\n    remediation_strategy: automated\n")}, nil
}

func (c *conflictStore) GetService(_ context.Context, project, name string) (store.Service, error) {
	return store.Service{Project: project, Name: name}, nil
}

func (c *conflictStore) WithTx(context.Context, func(store.Tx) error) error {
	c.calls++
	return fmt.Errorf("update remediation: %w", store.ErrConflict)
}

type noResources struct{}

func (noResources) Get(context.Context, resource.Ref, string, string) ([]byte, string, error) {
	return nil, "", resource.ErrResourceNotFound
}

func TestRecordGivesUpAfterMaxAttempts(t *testing.T) {
	st := &conflictStore{}
	r, err := New(Options{Store: st, Resources: noResources{}, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	n := intake.Notification{Source: intake.SourceAlertmanager, Key: "alertmanager/fp/t", State: intake.StateOpen,
		Project: "sockshop", Stage: "production", Service: "carts", Title: "x", KeptnContext: "ctx"}
	_, err = r.Record(context.Background(), Batch{Notifications: []intake.Notification{n}})
	if !errors.Is(err, ErrBusy) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("error %v, want ErrBusy wrapping ErrConflict", err)
	}
	if st.calls != 3 {
		t.Errorf("%d transactions, want 3", st.calls)
	}
}

func TestNewNeedsStoreAndResources(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}
