package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

// refuseOwnSource refuses an event from outside that claims tend's own
// source. tend trusts events of source event.DefaultSource: only they
// start no evaluation, only they count as the triggered event an
// executor's answer must match, and only they are taken as the loop's own
// history. A client that could post them could forge any of that, so the
// source is reserved for what tend writes itself, which never passes
// through this handler. The comparison ignores case and surrounding space
// so that "Tend " is refused too, though only the exact name is trusted.
func refuseOwnSource(ev *event.Event) error {
	if !strings.EqualFold(strings.TrimSpace(ev.Source), event.DefaultSource) {
		return nil
	}
	return errorf(http.StatusForbidden,
		"event source %q is reserved for the events tend emits itself; send the event with your tool's own source (for example %q)",
		ev.Source, "https://github.com/your-org/your-tool")
}

// storedDuplicate looks for an event already stored under ev's (source,
// id), which the event log keeps once. found is false when there is none.
// When there is one, visible says whether p may learn its Keptn context:
// an unrestricted token may; a project-restricted one only when the
// stored event is in its own project's current generation.
func (s *Server) storedDuplicate(ctx context.Context, p auth.Principal, ev *event.Event) (rec store.EventRecord, found, visible bool, err error) {
	lookup := func(project string) (store.EventRecord, bool, error) {
		pg, err := s.store.ListEvents(ctx, store.EventFilter{ID: ev.ID, Project: project, PageSize: store.MaxPageSize})
		if err != nil {
			return store.EventRecord{}, false, fmt.Errorf("look up event %s: %w", ev.ID, err)
		}
		for _, e := range pg.Events {
			if e.Source == ev.Source {
				return e, true, nil
			}
		}
		return store.EventRecord{}, false, nil
	}
	if rec, found, err = lookup(""); err != nil || !found {
		return rec, found, false, err
	}
	if p.Project == "" {
		return rec, true, true, nil
	}
	own, ok, err := lookup(p.Project)
	if err != nil || !ok {
		return rec, true, false, err
	}
	return own, true, true, nil
}

// answerDuplicate answers a post of an event whose (source, id) is already
// stored, and reports whether it did: with the stored event's Keptn
// context, storing nothing, so that a client retrying after a lost answer
// learns where its event went. When the stored event is one the sender may
// not see (another project, or a deleted generation of its own), the
// answer is a 409 that names no context: the sender learns only that the
// id is taken under that source, which it must know anyway to choose
// another, and nothing of the other project.
func (s *Server) answerDuplicate(w http.ResponseWriter, r *http.Request, ev *event.Event) bool {
	rec, found, visible, err := s.storedDuplicate(r.Context(), principalOf(r), ev)
	switch {
	case err != nil:
		s.writeError(w, r, err)
		return true
	case !found:
		return false
	case !visible:
		s.writeError(w, r, errorf(http.StatusConflict,
			"an event with source %q and id %q is already stored where this token cannot see it; send the event with a new id", ev.Source, ev.ID))
		return true
	}
	writeJSON(w, http.StatusOK, apitypes.EventContext{KeptnContext: rec.KeptnContext})
	return true
}
