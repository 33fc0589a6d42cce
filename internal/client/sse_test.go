package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// parseAll reads a whole stream through r and returns its events.
func parseAll(r io.Reader, p *sseParser) ([]sseEvent, error) {
	var got []sseEvent
	err := readSSE(r, p, func(ev sseEvent) error {
		got = append(got, ev)
		return nil
	})
	return got, err
}

func TestSSEParser(t *testing.T) {
	tests := []struct {
		name      string
		stream    string
		lastID    string
		want      []sseEvent
		wantID    string // the parser's last event id afterwards
		wantRetry time.Duration
	}{
		{name: "one event", stream: "id: 1\nevent: sh.keptn.event.x\ndata: {\"a\":1}\n\n",
			want: []sseEvent{{id: "1", typ: "sh.keptn.event.x", data: []byte(`{"a":1}`)}}, wantID: "1"},
		{name: "multi-line data is joined by newlines", stream: "data: {\ndata:  \"a\": 1\ndata: }\n\n",
			want: []sseEvent{{typ: "message", data: []byte("{\n \"a\": 1\n}")}}},
		{name: "comments and keep-alives are skipped", stream: ": keep-alive\n\n:\n\nid: 2\n: between\ndata: x\n\n",
			want: []sseEvent{{id: "2", typ: "message", data: []byte("x")}}, wantID: "2"},
		{name: "CRLF line ends", stream: "id: 3\r\nevent: t\r\ndata: a\r\ndata: b\r\n\r\n",
			want: []sseEvent{{id: "3", typ: "t", data: []byte("a\nb")}}, wantID: "3"},
		{name: "CR line ends", stream: "id: 4\revent: t\rdata: a\r\r",
			want: []sseEvent{{id: "4", typ: "t", data: []byte("a")}}, wantID: "4"},
		{name: "value without a space", stream: "data:x\n\n", want: []sseEvent{{typ: "message", data: []byte("x")}}},
		{name: "only one space is stripped", stream: "data:  x\n\n", want: []sseEvent{{typ: "message", data: []byte(" x")}}},
		{name: "field without colon", stream: "data\n\n", want: []sseEvent{{typ: "message", data: []byte("")}}},
		{name: "colon inside the value", stream: "data: a: b\n\n", want: []sseEvent{{typ: "message", data: []byte("a: b")}}},
		{name: "id carries over to later events", stream: "id: 5\ndata: a\n\ndata: b\n\n",
			want: []sseEvent{{id: "5", typ: "message", data: []byte("a")}, {id: "5", typ: "message", data: []byte("b")}}, wantID: "5"},
		{name: "event type does not carry over", stream: "event: t\ndata: a\n\ndata: b\n\n",
			want: []sseEvent{{typ: "t", data: []byte("a")}, {typ: "message", data: []byte("b")}}},
		{name: "empty id resets", lastID: "9", stream: "id\ndata: a\n\n",
			want: []sseEvent{{typ: "message", data: []byte("a")}}},
		{name: "id with NUL is ignored", lastID: "9", stream: "id: 1\x002\ndata: a\n\n",
			want: []sseEvent{{id: "9", typ: "message", data: []byte("a")}}, wantID: "9"},
		{name: "id without data dispatches nothing but is kept", stream: "id: 7\n\n", wantID: "7"},
		{name: "event without data dispatches nothing", stream: "event: t\n\ndata: a\n\n",
			want: []sseEvent{{typ: "message", data: []byte("a")}}},
		{name: "unterminated last event is dropped", stream: "data: a\n\ndata: b\n",
			want: []sseEvent{{typ: "message", data: []byte("a")}}},
		{name: "cut-off last line is no line", stream: "id: 1\ndata: a\n\nid: 57", lastID: "",
			want: []sseEvent{{id: "1", typ: "message", data: []byte("a")}}, wantID: "1"},
		{name: "id of an unfinished event is not kept", stream: "id: 1\ndata: a\n\nid: 2\ndata: b\n",
			want: []sseEvent{{id: "1", typ: "message", data: []byte("a")}}, wantID: "1"},
		{name: "byte order mark at the start", stream: "\xEF\xBB\xBFdata: a\n\n", want: []sseEvent{{typ: "message", data: []byte("a")}}},
		{name: "unknown fields are ignored", stream: "foo: bar\ndata: a\nDATA: b\n\n", want: []sseEvent{{typ: "message", data: []byte("a")}}},
		{name: "retry sets the reconnect delay", stream: "retry: 2500\n\n", wantRetry: 2500 * time.Millisecond},
		{name: "retry with non-digits is ignored", stream: "retry: 25s\nretry: -1\n\n"},
		{name: "huge retry is bounded", stream: "retry: 99999999999999\n\n", wantRetry: maxServerRetry},
	}
	readers := map[string]func(string) io.Reader{
		"whole":        func(s string) io.Reader { return strings.NewReader(s) },
		"byte by byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
	}
	for _, tt := range tests {
		for rname, reader := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				p := &sseParser{lastID: tt.lastID}
				got, err := parseAll(reader(tt.stream), p)
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
					t.Errorf("events\n got %q\nwant %q", got, tt.want)
				}
				wantID := tt.wantID
				if wantID == "" && tt.name != "empty id resets" {
					wantID = tt.lastID
				}
				if p.lastID != wantID {
					t.Errorf("last event id %q, want %q", p.lastID, wantID)
				}
				if p.retry != tt.wantRetry {
					t.Errorf("retry %v, want %v", p.retry, tt.wantRetry)
				}
			})
		}
	}
}

func TestSSETooLarge(t *testing.T) {
	tests := map[string]string{
		"one long line": "data: " + strings.Repeat("x", maxEventSize) + "\n\n",
		"many lines":    strings.Repeat("data: "+strings.Repeat("x", 1<<20)+"\n", 17) + "\n",
	}
	for name, stream := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseAll(strings.NewReader(stream), &sseParser{})
			if err == nil || !IsServerFailure(err) {
				t.Errorf("error %v, want a server failure for an oversized event", err)
			}
		})
	}
}

// sseServer answers stream connections: connection n (from 0) is served
// by conns[n], the last one repeatedly.
func sseServer(t testing.TB, conns ...func(w http.ResponseWriter, r *http.Request)) (*Client, *recorder) {
	t.Helper()
	c, rec, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		conns[min(n, len(conns)-1)](w, r)
	}, WithStreamRetry(time.Millisecond))
	return c, rec
}

// sendEvents writes a stream of text and flushes it.
func sendEvents(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	_, _ = io.WriteString(w, text)
	w.(http.Flusher).Flush()
}

// holdOpen keeps a stream open until the client goes away.
func holdOpen(w http.ResponseWriter, r *http.Request, text string) {
	sendEvents(w, text)
	<-r.Context().Done()
}

// collector gathers events and cancels the stream after want of them.
type collector struct {
	mu     sync.Mutex
	got    []string
	want   int
	cancel context.CancelFunc
}

func (c *collector) fn(id, typ string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, id+" "+typ+" "+string(data))
	if len(c.got) == c.want {
		c.cancel()
	}
	return nil
}

func TestStreamEventsReconnectsWithLastEventID(t *testing.T) {
	c, rec := sseServer(t,
		func(w http.ResponseWriter, r *http.Request) {
			// The server ends the stream after two events.
			sendEvents(w, ": hello\n\nid: 11\nevent: sh.keptn.event.a\ndata: {\"n\":1}\n\nid: 12\nevent: sh.keptn.event.b\ndata: {\"n\":2}\n\n")
		},
		func(w http.ResponseWriter, r *http.Request) {
			holdOpen(w, r, "id: 13\nevent: sh.keptn.event.c\ndata: {\"n\":3}\n\n")
		},
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	col := &collector{want: 3, cancel: cancel}
	err := c.StreamEvents(ctx, "sockshop", "10", col.fn)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("StreamEvents returned %v, want context.Canceled", err)
	}
	want := []string{`11 sh.keptn.event.a {"n":1}`, `12 sh.keptn.event.b {"n":2}`, `13 sh.keptn.event.c {"n":3}`}
	if fmt.Sprint(col.got) != fmt.Sprint(want) {
		t.Errorf("events\n got %q\nwant %q", col.got, want)
	}
	reqs := rec.seen()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d connections, want 2", len(reqs))
	}
	for i, wantID := range []string{"10", "12"} {
		r := reqs[i]
		if r.URI != "/api/v1/event/stream?project=sockshop" || r.Token != testToken || r.LastEventID != wantID {
			t.Errorf("connection %d: %s token-ok=%v Last-Event-ID %q, want the stream route, the token and %q",
				i+1, r.URI, r.Token == testToken, r.LastEventID, wantID)
		}
	}
}

func TestStreamEventsRetriesServerErrors(t *testing.T) {
	c, rec := sseServer(t,
		func(w http.ResponseWriter, r *http.Request) { sendEvents(w, "id: 1\ndata: a\n\nid: 2\ndata: cut") },
		func(w http.ResponseWriter, r *http.Request) { answer(w, 503, `{"code":503,"message":"restarting"}`) },
		func(w http.ResponseWriter, r *http.Request) { answer(w, 502, "<html>bad gateway</html>") },
		func(w http.ResponseWriter, r *http.Request) { holdOpen(w, r, "id: 2\ndata: b\n\n") },
	)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	col := &collector{want: 2, cancel: cancel}
	if err := c.StreamEvents(ctx, "", "", col.fn); !errors.Is(err, context.Canceled) {
		t.Fatalf("StreamEvents returned %v, want context.Canceled", err)
	}
	if want := []string{"1 message a", "2 message b"}; fmt.Sprint(col.got) != fmt.Sprint(want) {
		t.Errorf("events %q, want %q", col.got, want)
	}
	var ids []string
	for _, r := range rec.seen() {
		ids = append(ids, r.LastEventID)
		if r.URI != "/api/v1/event/stream" {
			t.Errorf("request %s, want no project filter", r.URI)
		}
	}
	if want := []string{"", "1", "1", "1"}; fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Errorf("Last-Event-ID per connection %q, want %q", ids, want)
	}
}

func TestStreamEventsStops(t *testing.T) {
	errStop := errors.New("seen enough")
	tests := []struct {
		name      string
		conns     []func(w http.ResponseWriter, r *http.Request)
		endpoint  string // overrides the fake server
		check     func(error) bool
		wantConns int
	}{
		{
			name: "unauthorized at first",
			conns: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
				answer(w, 401, `{"code":401,"message":"missing API token"}`)
			}},
			check: IsUnauthorized, wantConns: 1,
		},
		{
			name: "forbidden after a reconnect",
			conns: []func(http.ResponseWriter, *http.Request){
				func(w http.ResponseWriter, r *http.Request) { sendEvents(w, "id: 1\ndata: a\n\n") },
				func(w http.ResponseWriter, r *http.Request) { answer(w, 403, `{"code":403,"message":"token revoked"}`) },
			},
			check: IsForbidden, wantConns: 2,
		},
		{
			name: "server failure at first",
			conns: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
				answer(w, 500, `{"code":500,"message":"boom"}`)
			}},
			check: IsServerFailure, wantConns: 1,
		},
		{
			name: "the callback's error",
			conns: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
				holdOpen(w, r, "data: a\n\n")
			}},
			check:     func(err error) bool { return err == errStop },
			wantConns: 1,
		},
		{
			name: "no content means done",
			conns: []func(http.ResponseWriter, *http.Request){
				func(w http.ResponseWriter, r *http.Request) { sendEvents(w, "id: 1\ndata: a\n\n") },
				func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) },
			},
			check: func(err error) bool { return err == nil }, wantConns: 2,
		},
		{
			name: "not an event stream",
			conns: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
				answer(w, 200, `{"events":[]}`)
			}},
			check: IsServerFailure, wantConns: 1,
		},
		{
			name:     "connection refused",
			endpoint: "refused",
			check: func(err error) bool {
				_, ok := errors.AsType[*UnreachableError](err)
				return ok
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *Client
			var rec *recorder
			if tt.endpoint != "" {
				var err error
				if c, err = New(refusedEndpoint(t), testToken); err != nil {
					t.Fatal(err)
				}
			} else {
				c, rec = sseServer(t, tt.conns...)
			}
			err := c.StreamEvents(t.Context(), "sockshop", "", func(id, typ string, data []byte) error {
				if string(data) == "a" && tt.name == "the callback's error" {
					return errStop
				}
				return nil
			})
			if !tt.check(err) {
				t.Errorf("StreamEvents returned %v (%T)", err, err)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q shows the token", err)
			}
			if rec != nil {
				if n := len(rec.seen()); n != tt.wantConns {
					t.Errorf("server saw %d connections, want %d", n, tt.wantConns)
				}
			}
		})
	}
}

// FuzzSSE feeds arbitrary bytes to the stream parser. Whatever a server
// sends, the parser must not panic, events must hold only what the stream
// held, and reading the stream byte by byte must give the same events as
// reading it at once (CR at a buffer's end is the tricky case).
func FuzzSSE(f *testing.F) {
	f.Add([]byte("id: 1\nevent: t\ndata: {}\n\n"))
	f.Add([]byte("data: a\r\ndata: b\r\r\n: c\n\nretry: 10\nid\x00: x\n\n"))
	f.Add([]byte("\xEF\xBB\xBFdata:\rdata\r\n\r"))
	f.Add([]byte("id: 1\x002\ndata: \xff\n\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		whole, err1 := parseAll(bytes.NewReader(stream), &sseParser{})
		split, err2 := parseAll(iotest.OneByteReader(bytes.NewReader(stream)), &sseParser{})
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("errors differ: %v and %v", err1, err2)
		}
		if fmt.Sprintf("%q", whole) != fmt.Sprintf("%q", split) {
			t.Fatalf("events differ by read size:\n%q\n%q", whole, split)
		}
		total := 0
		for _, ev := range whole {
			total += len(ev.data)
			if bytes.ContainsAny(ev.data, "\r") {
				t.Fatalf("data %q holds a CR", ev.data)
			}
			if strings.ContainsAny(ev.id, "\r\n\x00") || strings.ContainsAny(ev.typ, "\r\n") {
				t.Fatalf("id %q or type %q holds a line end or NUL", ev.id, ev.typ)
			}
			if ev.typ == "" {
				t.Fatal("event without a type")
			}
		}
		if total > len(stream) {
			t.Fatalf("events hold %d bytes of data from a %d-byte stream", total, len(stream))
		}
	})
}
