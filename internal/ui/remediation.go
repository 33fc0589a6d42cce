package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/store"
)

type timelineData struct {
	pageBase
	Timeline   timeline
	EventsHref string
	StreamHref string
	SourceHref string
}

// maxTimelineEvents bounds the events read for one timeline.
const maxTimelineEvents = 2000

func (u *UI) loadTimeline(ctx context.Context, p auth.Principal, kctx string) (timeline, bool, error) {
	var evs []seqEvent
	var first store.EventRecord
	pageKey := ""
	for len(evs) < maxTimelineEvents {
		pg, err := u.contextEvents(ctx, p, kctx, pageKey)
		if err != nil {
			return timeline{}, false, err
		}
		for _, e := range pg.Events {
			evs = append(evs, seqEvent{Seq: e.Seq, JSON: e.JSON})
			first = e
		}
		if pg.NextPageKey == "" {
			break
		}
		pageKey = pg.NextPageKey
	}
	if len(evs) == 0 {
		return timeline{}, false, nil
	}
	var rem *remediation.Remediation
	if first.Project != "" {
		f := store.RemediationFilter{Project: first.Project, Stage: first.Stage, Service: first.Service, PageSize: store.MaxPageSize}
		pg, err := u.store.ListRemediations(ctx, f)
		if err != nil {
			return timeline{}, false, fmt.Errorf("list remediations: %w", err)
		}
		for _, rec := range pg.Remediations {
			if rec.KeptnContext == event.ContextFor(kctx) {
				if rem, err = remediation.Decode(rec.ID, rec.Doc); err != nil {
					u.log.WarnContext(ctx, "ui_remediation_unreadable", "remediation_id", rec.ID, "err", err)
				}
				break
			}
		}
	}
	return buildTimeline(kctx, evs, rem, evaluationURL), true, nil
}

func (u *UI) timelineData(w http.ResponseWriter, r *http.Request) (timelineData, bool) {
	kctx := r.PathValue("keptnContext")
	tl, ok, err := u.loadTimeline(r.Context(), principal(r), kctx)
	if err != nil {
		u.internalError(w, r, err)
		return timelineData{}, false
	}
	if !ok {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("No events of keptn context %s were found that your token may read.", kctx))
		return timelineData{}, false
	}
	crumbs := []crumb{{"Projects", "/"}}
	if tl.Project != "" {
		crumbs = append(crumbs, crumb{tl.Project, projectURL(tl.Project)})
	}
	crumbs = append(crumbs, crumb{Label: "Remediation"})
	return timelineData{
		pageBase:   base(sess(r), "Remediation: "+tl.Title, crumbs...),
		Timeline:   tl,
		EventsHref: contextURL(kctx),
		StreamHref: contextURL(kctx) + "/stream?after=" + strconv.FormatInt(tl.LastSeq, 10),
		SourceHref: remediationURL(kctx) + "/timeline",
	}, true
}

func (u *UI) timelinePage(w http.ResponseWriter, r *http.Request) {
	if d, ok := u.timelineData(w, r); ok {
		u.render(w, r, http.StatusOK, "timeline", d)
	}
}

func (u *UI) timelineFragment(w http.ResponseWriter, r *http.Request) {
	if d, ok := u.timelineData(w, r); ok {
		u.renderFragment(w, r, "timeline", "timeline-body", d)
	}
}

// remediationRedirect serves the links of escalation messages
// (<ui>/remediations/<id>) with the remediation's timeline.
func (u *UI) remediationRedirect(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := u.store.GetRemediation(r.Context(), id)
	if err == nil && principal(r).Can(auth.ActionReadProject, rec.Project) != nil {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Remediation %s was not found, or your token may not read it.", id))
		return
	}
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, remediationURL(rec.KeptnContext), http.StatusSeeOther)
}
