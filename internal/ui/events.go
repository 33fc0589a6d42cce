package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

type eventsData struct {
	pageBase
	KeptnContext string
	Events       []eventView
	NextHref     string
	TimelineHref string
	// Logs are the integrations' log lines about the context.
	Logs []logView
}

type eventView struct {
	Seq                                  int64
	ID, Type, Source, TriggeredID, Stage string
	Service                              string
	Time                                 time.Time
	JSON                                 string
	Anchor                               string
}

// contextEvents lists a page of a context's events that the session may
// read: all of them for an unrestricted token, its project's otherwise.
func (u *UI) contextEvents(ctx context.Context, p auth.Principal, kctx, pageKey string) (store.EventPage, error) {
	return u.store.ListEvents(ctx, store.EventFilter{KeptnContext: event.ContextFor(kctx), Project: p.Project, PageSize: store.MaxPageSize, PageKey: pageKey})
}

func (u *UI) eventsPage(w http.ResponseWriter, r *http.Request) {
	kctx := r.PathValue("keptnContext")
	pg, err := u.contextEvents(r.Context(), principal(r), kctx, r.URL.Query().Get("page"))
	if errors.Is(err, store.ErrInvalid) {
		u.renderError(w, r, http.StatusBadRequest, "The page link is not valid; start from the first page.")
		return
	}
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	if len(pg.Events) == 0 {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("No events of keptn context %s were found that your token may read.", kctx))
		return
	}
	d := eventsData{pageBase: base(sess(r), "Events of "+kctx, crumb{"Projects", "/"}, crumb{Label: "Keptn context " + kctx}), KeptnContext: kctx}
	for i := len(pg.Events) - 1; i >= 0; i-- {
		e := pg.Events[i]
		d.Events = append(d.Events, eventView{Seq: e.Seq, ID: e.ID, Type: e.Type, Source: e.Source, TriggeredID: e.TriggeredID,
			Stage: e.Stage, Service: e.Service, Time: e.Time, JSON: indentJSON(e.JSON), Anchor: "event-" + strconv.FormatInt(e.Seq, 10)})
		if t, ok := event.ParseType(e.Type); ok && t.IsSequence() && t.Task == event.SequenceRemediation {
			d.TimelineHref = remediationURL(kctx)
		}
	}
	if pg.NextPageKey != "" {
		d.NextHref = contextURL(kctx) + "?page=" + url.QueryEscape(pg.NextPageKey)
	}
	d.Logs = u.contextLogs(r, kctx)
	u.render(w, r, http.StatusOK, "events", d)
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}
