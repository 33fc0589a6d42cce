package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Builder makes the events tend emits. Its zero value is ready to use; tests
// set Now and NewID to get fixed times and ids.
type Builder struct {
	// Source is the CloudEvents source; DefaultSource when "".
	Source string
	// Now stamps each event; time.Now when nil.
	Now func() time.Time
	// NewID returns each event's id, and the Keptn context of an event
	// given none; NewUUID when nil.
	NewID func() string
}

// New builds an event with the default Builder.
func New(typ, keptnContext, triggeredID string, data any) (*Event, error) {
	return Builder{}.New(typ, keptnContext, triggeredID, data)
}

// New builds an event of type typ in the Keptn context keptnContext
// (generated when "", mapped by ContextFor's rules when not a UUID),
// answering the triggered event triggeredID ("" for none). data is
// marshalled with encoding/json and must become a JSON object; nil gives {}.
// The result passes the same checks Parse applies, so whatever tend emits it
// would also accept.
func (b Builder) New(typ, keptnContext, triggeredID string, data any) (*Event, error) {
	if typ == "" {
		return nil, errors.New("build event: the type is empty")
	}
	raw := json.RawMessage("{}")
	if data != nil {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return nil, fmt.Errorf("build event %s: marshal data: %w", typ, err)
		}
	}
	var probs problems
	raw = checkData(raw, &probs)
	if len(probs) > 0 {
		return nil, fmt.Errorf("build event %s: %w", typ, probs.err())
	}
	p := Parser{Now: b.Now, NewID: b.NewID}
	id := p.newID() // before the context, in the order Parse draws ids
	ctx := keptnContext
	if ctx == "" {
		ctx = p.newID()
	} else {
		ctx = mapContext(ctx)
	}
	source := b.Source
	if source == "" {
		source = DefaultSource
	}
	return &Event{
		ID:              id,
		Source:          source,
		Type:            typ,
		SpecVersion:     SpecVersion,
		Time:            p.now().UTC(),
		DataContentType: JSONContentType,
		KeptnContext:    ctx,
		TriggeredID:     triggeredID,
		Data:            raw,
	}, nil
}

// Reply builds the answer to an event of Keptn's task or sequence grammar:
// the same task or sequence in phase p, in the same Keptn context, with
// triggeredid pointing at the .triggered event (to itself when it is the
// .triggered event, else to its own triggeredid). It carries over the
// event's gitcommitid, as Keptn's services do.
func (b Builder) Reply(to *Event, p Phase, data any) (*Event, error) {
	t, ok := ParseType(to.Type)
	if !ok || t.Legacy {
		return nil, fmt.Errorf("build reply to %q: not a Keptn task or sequence event type", to.Type)
	}
	triggeredID := to.TriggeredID
	if t.Phase == PhaseTriggered {
		triggeredID = to.ID
	}
	e, err := b.New(t.WithPhase(p).String(), to.KeptnContext, triggeredID, data)
	if err != nil {
		return nil, err
	}
	e.GitCommitID = to.GitCommitID
	return e, nil
}
