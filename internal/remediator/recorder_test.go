package remediator

import (
	"context"
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
	rec := remediationRecord(rem, 3)
	if rec.ID != "r1" || rec.State != "waiting" || !rec.Running || rec.Version != 3 || rec.KeptnContext != "ctx" {
		t.Errorf("record %+v", rec)
	}
	back, err := decodeRemediation(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rem) {
		t.Errorf("round trip changed the remediation:\n got %+v\nwant %+v", back, rem)
	}
	if _, err := decodeRemediation(store.RemediationRecord{ID: "bad", Doc: []byte("{")}); err == nil {
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

func (c *conflictStore) GetPlacement(ctx context.Context, q store.PlacementQuery) (store.Placement, error) {
	p, _ := c.GetProject(ctx, q.Project)
	out := store.Placement{Project: p, Services: map[string]bool{}, Problems: map[string]store.ProblemRecord{}}
	for _, s := range q.Services {
		out.Services[s] = true
	}
	return out, nil
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
	r, err := NewRecorder(RecorderOptions{Store: st, Resources: noResources{}, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	n := intake.Notification{Source: intake.SourceAlertmanager, Key: "alertmanager/fp/t", State: intake.StateOpen,
		Project: "sockshop", Stage: "production", Service: "carts", Title: "x", KeptnContext: "ctx"}
	_, err = r.Record(context.Background(), intake.Batch{Notifications: []intake.Notification{n}})
	if !errors.Is(err, intake.ErrBusy) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("error %v, want ErrBusy wrapping ErrConflict", err)
	}
	if st.calls != 3 {
		t.Errorf("%d transactions, want 3", st.calls)
	}
}

func TestNewRecorderNeedsStoreAndResources(t *testing.T) {
	if _, err := NewRecorder(RecorderOptions{}); err == nil {
		t.Error("NewRecorder without a store succeeded")
	}
}
