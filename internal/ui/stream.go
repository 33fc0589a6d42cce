package ui

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// stream tells a timeline page, as Server-Sent Events, that its keptn
// context has new events; the page then re-fetches the timeline fragment
// (static/tend.js). It sends no event data: the fragment is rendered with
// the session's rights like any page. It resumes after the Last-Event-ID
// header, or the after query parameter of the first connection.
func (u *UI) stream(w http.ResponseWriter, r *http.Request) {
	kctx := event.ContextFor(r.PathValue("keptnContext"))
	p := principal(r)
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if v, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil {
		after = v
	}
	ctx := r.Context()
	// Subscribe before the first read, so nothing committed in between is
	// missed.
	sub := u.store.SubscribeEvents(ctx)
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
