// Package eventlog turns CloudEvents into the records of tend's event log
// (store.EventRecord). The API's intake, the problem intake, the evaluation
// runner and the remediation loop all append events; one conversion keeps
// the columns the log is queried by (context, triggered id, project, stage,
// service) filled the same way whichever of them wrote the event.
package eventlog

import (
	"fmt"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

// Record returns the event log's record of ev. The stored JSON is the
// event as tend marshals it (ids, time and context as filled in on intake);
// project, stage and service come from the event's data, as Keptn's
// services read them. Seq is left 0 for the store to assign. It fails only
// when the event cannot be marshalled (an invalid extension or data).
func Record(ev *event.Event) (store.EventRecord, error) {
	// MarshalJSON builds compact, valid JSON from checked parts; going
	// through json.Marshal would only validate and compact it once more,
	// which for a large data object was most of the cost.
	b, err := ev.MarshalJSON()
	if err != nil {
		return store.EventRecord{}, fmt.Errorf("encode %s event: %w", ev.Type, err)
	}
	c, _ := ev.Common() // data without the common fields leaves them ""
	return store.EventRecord{
		ID:           ev.ID,
		Source:       ev.Source,
		Type:         ev.Type,
		Time:         ev.Time,
		SpecVersion:  ev.SpecVersion,
		KeptnContext: ev.KeptnContext,
		TriggeredID:  ev.TriggeredID,
		Project:      c.Project,
		Stage:        c.Stage,
		Service:      c.Service,
		JSON:         b,
	}, nil
}

// Records returns the records of evs in order, failing on the first event
// that cannot be marshalled.
func Records(evs []*event.Event) ([]store.EventRecord, error) {
	out := make([]store.EventRecord, 0, len(evs))
	for _, ev := range evs {
		rec, err := Record(ev)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}
