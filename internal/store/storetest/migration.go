package storetest

import (
	"context"
	"testing"

	"github.com/tendhq/tend/internal/store"
)

// LegacyRows are rows as tend wrote them before migration 0003 (problem
// keys without their project, no project UIDs), in SQL that both drivers
// run after their migrations 0001 and 0002.
const LegacyRows = `
INSERT INTO projects (name, shipyard, created_at, updated_at) VALUES ('sockshop', '', 1, 1);
INSERT INTO problems (id, problem_key, source, project, stage, service, state, title, remediation_id, shkeptncontext, reason,
	opened_at, closed_at, doc, version, created_at, updated_at) VALUES
	('p-am', 'alertmanager/8dd2c31a47cf2e78/2025-03-01T11:00:00Z', 'alertmanager', 'sockshop', 'production', 'carts', 'open', 't', 'r1', 'c', '', 1, 0, '', 1, 1, 1),
	('p-dt', 'dynatrace/P-42', 'dynatrace', 'sockshop', 'production', 'carts', 'open', 't', '', 'c', '', 1, 0, '', 1, 1, 1),
	('p-un', 'unmatched/alertmanager/0000/x', 'alertmanager', 'nowhere', '', '', 'unmatched', 't', '', 'c', 'r', 1, 0, '', 1, 1, 1);
INSERT INTO remediations (id, project, stage, service, state, running, shkeptncontext, doc, version, created_at, updated_at)
	VALUES ('r1', 'sockshop', 'production', 'carts', 'waiting', 1, 'c', '', 1, 1, 1);
INSERT INTO events (id, source, type, event_time, specversion, shkeptncontext, triggeredid, project, stage, service, body)
	VALUES ('e1', 'test', 'sh.keptn.event.x', 1, '1.0', 'c', '', 'sockshop', 'production', 'carts', '');
`

// CheckLegacyMigrated checks a store opened on LegacyRows: nothing that
// was accepted before the upgrade is lost. Problem keys now name their
// project, so the notifications that follow an old problem find it; the
// project has a UID that its old records carry.
func CheckLegacyMigrated(t *testing.T, s store.Store) {
	t.Helper()
	c := context.Background()
	p, err := s.GetProject(c, "sockshop")
	must(t, err)
	if p.UID == "" {
		t.Fatal("the migrated project has no UID")
	}
	for key, id := range map[string]string{
		"alertmanager/sockshop/8dd2c31a47cf2e78/2025-03-01T11:00:00Z": "p-am",
		"dynatrace/sockshop/P-42":                                     "p-dt",
		"unmatched/nowhere/alertmanager/0000/x":                       "p-un",
	} {
		got, err := s.GetProblemByKey(c, key)
		if err != nil || got.ID != id {
			t.Errorf("GetProblemByKey(%s) = %+v, %v; want %s", key, got, err, id)
		}
	}
	pp, err := s.ListProblems(c, store.ProblemFilter{Project: "sockshop"})
	must(t, err)
	rp, err := s.ListRemediations(c, store.RemediationFilter{Project: "sockshop", RunningOnly: true})
	must(t, err)
	ep, err := s.ListEvents(c, store.EventFilter{Project: "sockshop"})
	must(t, err)
	if len(pp.Problems) != 2 || len(rp.Remediations) != 1 || len(ep.Events) != 1 {
		t.Errorf("after the migration the project lists %d problems, %d running remediations, %d events; want 2, 1, 1",
			len(pp.Problems), len(rp.Remediations), len(ep.Events))
	}
	if len(rp.Remediations) == 1 && rp.Remediations[0].ProjectUID != p.UID {
		t.Errorf("migrated remediation has project UID %q, want %q", rp.Remediations[0].ProjectUID, p.UID)
	}
}
