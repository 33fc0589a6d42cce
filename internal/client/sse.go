package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// maxEventSize bounds one line and one event's data of the stream: an event
// larger than that cannot be read, and reconnecting would only read it
// again, so the stream ends with an error.
const maxEventSize = 16 << 20

// maxRetryFactor caps the reconnect delay's doubling.
const maxRetryFactor = 30

// maxServerRetry bounds the delay a server's "retry:" field may ask for.
const maxServerRetry = 5 * time.Minute

// StreamEvents reads the live event stream (GET /api/v1/event/stream) and
// calls fn with each event's id, type and data (a CloudEvent's JSON), in
// order. project "" streams every project the token may see. lastEventID
// resumes after an event seen earlier; "" starts with new events.
//
// When the connection ends after it was established (a server restart, a
// proxy timeout), StreamEvents reconnects and sends the id of the last
// complete event as Last-Event-ID, so the server resumes right after it; an
// event cut off by the break is asked for again. It waits between attempts (WithStreamRetry or
// the server's "retry:" field, doubling while attempts fail). It returns
// when ctx ends (ctx.Err()), when fn returns an error (that error,
// unchanged), when the server answers 204 No Content (nil), and with an
// error when the first connection fails or the server refuses the request
// (401, 403, 404): those would not heal by retrying, and the CLI should
// say so at once.
func (c *Client) StreamEvents(ctx context.Context, project, lastEventID string, fn func(id, typ string, data []byte) error) error {
	p := &sseParser{lastID: lastEventID}
	connected := false
	failures := 0
	for {
		opened, err := c.streamOnce(ctx, project, p, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if cbErr, ok := errors.AsType[*callbackError](err); ok {
			return cbErr.err
		}
		if errors.Is(err, errStreamDone) {
			return nil
		}
		if err != nil && (!connected && !opened || permanentStreamError(err)) {
			return fmt.Errorf("stream events: %w", err)
		}
		if opened {
			connected = true
			failures = 0
		} else {
			failures++
		}
		base := c.streamRetry
		if p.retrySet {
			base = p.retry
		}
		delay := base
		for i := 0; i < failures && delay < base*maxRetryFactor; i++ {
			delay *= 2
		}
		delay = min(delay, base*maxRetryFactor, max(base, time.Minute))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// errStreamDone is the server's 204 No Content: stop, do not reconnect.
var errStreamDone = errors.New("stream closed by the server")

// callbackError carries fn's error through the reconnect loop.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// permanentStreamError says whether reconnecting is pointless: the server
// refused the request itself, or sent something that is not a stream.
func permanentStreamError(err error) bool {
	if ae, ok := errors.AsType[*APIError](err); ok {
		return ae.Status < 500 && ae.Status != http.StatusRequestTimeout && ae.Status != http.StatusTooManyRequests
	}
	_, bad := errors.AsType[*badAnswerError](err)
	return bad
}

// streamOnce makes one connection and reads it to its end. opened reports
// whether the server accepted the stream.
func (c *Client) streamOnce(ctx context.Context, project string, p *sseParser, fn func(id, typ string, data []byte) error) (opened bool, err error) {
	var q url.Values
	if project != "" {
		q = url.Values{"project": {project}}
	}
	u, err := c.url(PathEventStream, q)
	if err != nil {
		return false, err
	}
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(connCtx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, fmt.Errorf("build request: %w", err)
	}
	req.URL = u
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if p.lastID != "" {
		req.Header.Set("Last-Event-ID", p.lastID)
	}
	c.decorate(req, true)

	// The per-call timeout covers waiting for the answer's headers; the
	// stream itself may stay quiet for as long as nothing happens.
	var timedOut atomic.Bool
	var timer *time.Timer
	if c.timeout > 0 {
		timer = time.AfterFunc(c.timeout, func() { timedOut.Store(true); cancel() })
	}
	resp, err := c.hc.Do(req)
	if timer != nil {
		timer.Stop()
	}
	if err != nil {
		timeout := time.Duration(0)
		if timedOut.Load() {
			timeout = c.timeout
		}
		return false, c.networkError(ctx, err, timeout)
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusNoContent:
		return false, errStreamDone
	case resp.StatusCode != http.StatusOK:
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return false, decodeAPIError(resp.StatusCode, data, c.token)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return false, &badAnswerError{what: fmt.Sprintf("content type %q is not text/event-stream", resp.Header.Get("Content-Type"))}
	}
	err = readSSE(resp.Body, p, func(ev sseEvent) error {
		if err := fn(ev.id, ev.typ, ev.data); err != nil {
			return &callbackError{err: err}
		}
		return nil
	})
	if err != nil && !isCallbackOrBad(err) {
		err = c.networkError(ctx, err, 0)
	}
	return true, err
}

func isCallbackOrBad(err error) bool {
	if _, ok := errors.AsType[*callbackError](err); ok {
		return true
	}
	_, ok := errors.AsType[*badAnswerError](err)
	return ok
}

// sseEvent is one dispatched Server-Sent Event.
type sseEvent struct {
	id   string
	typ  string
	data []byte
}

// sseParser holds the state the SSE specification (WHATWG HTML, "event
// stream interpretation") keeps between lines. lastID and retry outlive a
// connection; the event buffers are reset by every new connection.
type sseParser struct {
	// lastID is the id of the last event ended by a blank line; it is sent
	// as Last-Event-ID on reconnect. idBuf is what "id:" lines set; it
	// becomes lastID only when the event is complete, so an event cut off by
	// a broken connection is asked for again.
	lastID   string
	idBuf    string
	retry    time.Duration
	retrySet bool

	typ  string
	data []byte
}

// reset drops a half-received event when a connection starts or ends: the
// specification discards events not ended by a blank line.
func (p *sseParser) reset() {
	p.idBuf = p.lastID
	p.typ = ""
	p.data = p.data[:0]
}

// line interprets one line without its terminator and reports an event
// when the line ends one.
func (p *sseParser) line(l []byte) (sseEvent, bool, error) {
	if len(l) == 0 {
		p.lastID = p.idBuf
		if len(p.data) == 0 {
			p.typ = ""
			return sseEvent{}, false, nil
		}
		ev := sseEvent{id: p.lastID, typ: p.typ, data: bytes.Clone(p.data[:len(p.data)-1])}
		if ev.typ == "" {
			ev.typ = "message"
		}
		p.reset()
		return ev, true, nil
	}
	if l[0] == ':' {
		return sseEvent{}, false, nil // a comment, servers' keep-alive
	}
	field, value := l, []byte(nil)
	if i := bytes.IndexByte(l, ':'); i >= 0 {
		field, value = l[:i], l[i+1:]
		value = bytes.TrimPrefix(value, []byte(" "))
	}
	switch string(field) {
	case "event":
		p.typ = string(value)
	case "data":
		if len(p.data)+len(value)+1 > maxEventSize {
			return sseEvent{}, false, &badAnswerError{what: fmt.Sprintf("an event is larger than %d bytes", maxEventSize)}
		}
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.idBuf = string(value)
		}
	case "retry":
		// Only ASCII digits count; 0 would reconnect in a tight loop and
		// huge values would stall the stream, so both are bounded.
		if ms, err := strconv.ParseUint(string(value), 10, 64); err == nil {
			p.retry = min(time.Duration(min(ms, uint64(maxServerRetry/time.Millisecond)))*time.Millisecond, maxServerRetry)
			p.retrySet = ms > 0
		}
	}
	return sseEvent{}, false, nil
}

// readSSE feeds the lines of r to p and calls fn for each event. It
// returns nil at the end of r, fn's error, or a read error.
func readSSE(r io.Reader, p *sseParser, fn func(sseEvent) error) error {
	p.reset()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4<<10), maxEventSize)
	sc.Split(scanSSELines)
	first := true
	for sc.Scan() {
		l := sc.Bytes()
		if first {
			l = bytes.TrimPrefix(l, []byte("\xEF\xBB\xBF"))
			first = false
		}
		ev, ok, err := p.line(l)
		if err != nil {
			return err
		}
		if ok {
			if err := fn(ev); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &badAnswerError{what: fmt.Sprintf("a stream line is longer than %d bytes", maxEventSize)}
		}
		return err
	}
	p.reset()
	return nil
}

// scanSSELines splits at CRLF, LF or CR, the three line ends the SSE
// specification allows. A CR at the end of the buffered input waits for
// more, in case an LF follows.
func scanSSELines(data []byte, atEOF bool) (int, []byte, error) {
	i := bytes.IndexAny(data, "\r\n")
	switch {
	case i < 0:
		if atEOF && len(data) > 0 {
			// A line cut off by the end of the stream is no line: its
			// field may be truncated (an "id: 57" read as "id: 5").
			return len(data), nil, nil
		}
		return 0, nil, nil
	case data[i] == '\n':
		return i + 1, data[:i], nil
	case i+1 < len(data):
		if data[i+1] == '\n' {
			return i + 2, data[:i], nil
		}
		return i + 1, data[:i], nil
	case atEOF:
		return i + 1, data[:i], nil
	default:
		return 0, nil, nil // CR last: wait for a possible LF
	}
}
