package ui

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/store"
)

// stream tells a timeline page, as Server-Sent Events, that its keptn
// context has new events; the page then re-fetches the timeline fragment
// (static/tend.js). It sends no event data: the fragment is rendered with
// the session's rights like any page. It resumes after the Last-Event-ID
// header, or the after query parameter of the first connection (the last
// event the page shows). Without either it starts at the newest event of
// the log: a page that does not say what it has seen gets what comes next,
// never a replay of the whole history.
func (u *UI) stream(w http.ResponseWriter, r *http.Request) {
	kctx := event.ContextFor(r.PathValue("keptnContext"))
	p := principal(r)
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if err != nil || after <= 0 {
		after = -1
	}
	if v, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && v > 0 {
		after = v
	}
	ctx := r.Context()
	// Subscribe before the first read, so nothing committed in between is
	// missed.
	sub := u.store.SubscribeEvents(ctx)
	if after < 0 {
		// Only a sequence number is read, so the principal's project
		// does not matter here.
		pg, err := u.store.ListEvents(ctx, store.EventFilter{PageSize: 1})
		if err != nil {
			u.log.WarnContext(ctx, "ui_stream_read_failed", "err", err)
			http.Error(w, "the event log cannot be read", http.StatusServiceUnavailable)
			return
		}
		after = 0
		if len(pg.Events) > 0 {
			after = pg.Events[0].Seq
		}
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	keep := time.NewTicker(u.keepAlive)
	defer keep.Stop()
	for {
		// Catch up: everything after the last event seen.
		for {
			evs, err := u.store.EventsSince(ctx, p.Project, after, 500)
			if err != nil {
				u.log.WarnContext(ctx, "ui_stream_read_failed", "err", err)
				return
			}
			for _, e := range evs {
				after = e.Seq
				if e.KeptnContext != kctx {
					continue
				}
				if _, err := fmt.Fprintf(w, "id: %d\nevent: change\ndata: %s\n\n", e.Seq, e.Type); err != nil {
					return
				}
			}
			if len(evs) < 500 {
				break
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-u.closing:
			return
		case _, ok := <-sub:
			if !ok {
				return
			}
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
	}
}
