package api

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/store"
)

// streamBatch is how many events one catch-up read fetches.
const streamBatch = 256

// streamEvents serves the event log as Server-Sent Events: "id: <seq>",
// "event: <type>", "data: <CloudEvent JSON>". With Last-Event-ID (the
// header, or the lastEventId query for clients that cannot set headers) it
// first sends every event after that id, then new events as they are
// committed, by this replica or (on PostgreSQL) any other. Without it, the
// stream starts with the next new event. A comment line every keep-alive
// interval keeps proxies from closing a quiet stream. The stream ends when
// the client goes away or the server shuts down.
func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request) {
	if s.closed() {
		s.writeError(w, r, errorf(http.StatusServiceUnavailable, "the server is shutting down; reconnect to another replica or later"))
		return
	}
	project, err := eventProject(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("lastEventId")
	}
	var after int64
	if last != "" {
		after, err = strconv.ParseInt(strings.TrimSpace(last), 10, 64)
		if err != nil || after < 0 {
			s.writeError(w, r, errorf(http.StatusBadRequest, "Last-Event-ID %q is not an event id of this stream: ids are the whole numbers sent in \"id:\" lines", last))
			return
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// Subscribe before the first read, so no commit falls between them.
	signals := s.store.SubscribeEvents(ctx)
	if last == "" {
		after, err = s.newestSeq(ctx, project)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}

	rc := http.NewResponseController(w)
	// A stream outlives any write timeout the server has.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	bw.WriteString("retry: 2000\n\n")
	if bw.Flush() != nil || rc.Flush() != nil {
		return
	}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	send := func() bool {
		for {
			evs, err := s.store.EventsSince(ctx, project, after, streamBatch)
			if err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "event_stream_read_failed", "err", err)
				}
				return false
			}
			for _, e := range evs {
				writeSSE(bw, e.Seq, e.Type, e.JSON)
				after = e.Seq
			}
			if bw.Flush() != nil || rc.Flush() != nil {
				return false
			}
			if len(evs) < streamBatch {
				return true
			}
		}
	}
	if !send() {
		return
	}
	tick := time.NewTicker(s.keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case _, ok := <-signals:
			if !ok || !send() {
				return
			}
		case <-tick.C:
			bw.WriteString(": keep-alive\n\n")
			if bw.Flush() != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// newestSeq returns the sequence number of the newest event of project (all
// projects for ""), 0 when there is none.
func (s *Server) newestSeq(ctx context.Context, project string) (int64, error) {
	pg, err := s.store.ListEvents(ctx, store.EventFilter{Project: project, PageSize: 1})
	if err != nil {
		return 0, err
	}
	if len(pg.Events) == 0 {
		return 0, nil
	}
	return pg.Events[0].Seq, nil
}

// writeSSE writes one event. The data is compact JSON, a single line; a
// newline in it would still be framed correctly as several data lines.
func writeSSE(bw *bufio.Writer, seq int64, typ string, data []byte) {
	bw.WriteString("id: ")
	bw.WriteString(strconv.FormatInt(seq, 10))
	bw.WriteString("\nevent: ")
	bw.WriteString(strings.Map(func(c rune) rune {
		if c == '\n' || c == '\r' {
			return ' '
		}
		return c
	}, typ))
	bw.WriteByte('\n')
	for _, line := range bytes.Split(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n")) {
		bw.WriteString("data: ")
		bw.Write(line)
		bw.WriteByte('\n')
	}
	bw.WriteByte('\n')
}
