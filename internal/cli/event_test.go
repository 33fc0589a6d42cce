package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/client"
)

const evalTriggered = `{"specversion":"1.0","id":"e1","source":"test","type":"sh.keptn.event.evaluation.triggered",` +
	`"shkeptncontext":"9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa","data":{"project":"sockshop","stage":"production","service":"carts"}}`

const evalFinished = `{"specversion":"1.0","id":"e2","source":"lighthouse","type":"sh.keptn.event.evaluation.finished",` +
	`"time":"2024-05-01T10:00:00Z","shkeptncontext":"9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa",` +
	`"data":{"project":"sockshop","stage":"production","service":"carts","result":"pass","status":"succeeded","evaluation":{"score":100}}}`

func TestSendEvent(t *testing.T) {
	post := exchange{method: "POST", path: "/api/v1/event", body: evalTriggered, answer: `{"keptnContext":"9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa"}`}
	t.Run("from a file", func(t *testing.T) {
		srv := newFakeServer(t, post)
		useConfig(t, srv.url)
		path := writeFile(t, "event.json", evalTriggered)
		r := runOnline(t, "", "send", "event", "--file", path)
		wantExit(t, r, ExitOK)
		if r.stdout != "ID of Keptn context: 9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa\n" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
	t.Run("from stdin as json", func(t *testing.T) {
		srv := newFakeServer(t, post)
		useConfig(t, srv.url)
		r := runOnline(t, evalTriggered, "send", "event", "-f", "-", "-o", "json")
		wantExit(t, r, ExitOK)
		if got := compactJSON(t, r.stdout); got != post.answer {
			t.Errorf("got %s", got)
		}
	})
	t.Run("server refuses the event", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/event", body: evalTriggered, status: 400,
			answer: `{"code":400,"message":"event: source is missing"}`})
		useConfig(t, srv.url)
		r := runOnline(t, evalTriggered, "send", "event", "--file", "-")
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, "source is missing") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("local checks", func(t *testing.T) {
		useConfig(t, closedEndpoint(t)) // nothing may be sent
		tests := []struct {
			name, content, want string
		}{
			{"not JSON", "{\n  \"type\": x\n}", "line 2, column 11: not valid JSON"},
			{"a list", `[1]`, "not a JSON object"},
			{"no type", `{"specversion":"1.0"}`, `has no "type"`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := writeFile(t, "event.json", tt.content)
				r := runOnline(t, "", "send", "event", "--file", path)
				wantExit(t, r, ExitBadInput)
				if !strings.Contains(r.stderr, tt.want) {
					t.Errorf("stderr %q lacks %q", r.stderr, tt.want)
				}
			})
		}
	})
	t.Run("no --file", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, "", "send", "event")
		wantExit(t, r, ExitBadInput)
	})
	t.Run("stdin for both the event and the token", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, evalTriggered, "send", "event", "--file", "-", "--api-token", "-", "--endpoint", "http://127.0.0.1:1")
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, "standard input is already read") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

func TestGetEvent(t *testing.T) {
	answer := `{"events":[` + evalFinished + `],"nextPageKey":"","pageSize":1,"totalCount":1}`
	query := "keptnContext=9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa&type=sh.keptn.event.evaluation.finished"
	for _, typ := range []string{"evaluation.finished", "sh.keptn.event.evaluation.finished"} {
		t.Run("json unchanged with type "+typ, func(t *testing.T) {
			srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/event", query: query, answer: answer})
			useConfig(t, srv.url)
			r := runOnline(t, "", "get", "event", typ, "--keptn-context", "9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa", "-o", "json")
			wantExit(t, r, ExitOK)
			if got := compactJSON(t, r.stdout); got != answer {
				t.Errorf("got %s\nwant %s", got, answer)
			}
		})
	}
	t.Run("table with filters and paging", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/event",
			query:  "keptnContext=ctx&nextPageKey=p1&pageSize=5&project=sockshop&service=carts&stage=production&type=sh.keptn.event.evaluation.finished",
			answer: `{"events":[` + evalFinished + `],"nextPageKey":"p2","pageSize":5,"totalCount":7}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "event", "evaluation.finished", "--keptn-context", "ctx", "--project", "sockshop",
			"--stage", "production", "--service", "carts", "--page-size", "5", "--next-page-key", "p1")
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "TIME") ||
			!strings.Contains(lines[1], "  evaluation.finished  9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa  sockshop/production/carts  pass    succeeded") {
			t.Errorf("table:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "--next-page-key p2") {
			t.Errorf("stderr %q lacks the paging hint", r.stderr)
		}
	})
	t.Run("nothing found", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/event", query: query, answer: `{"events":[],"pageSize":0,"totalCount":0}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "event", "evaluation.finished", "--keptn-context", "9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa")
		wantExit(t, r, ExitOK)
		if r.stdout != "" || !strings.Contains(r.stderr, "No events found") {
			t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		useConfig(t, "")
		for _, args := range [][]string{
			{"get", "event", "evaluation.finished"},
			{"get", "event", "--keptn-context", "x"},
			{"get", "event", "evaluation.finished", "--keptn-context", "x", "--page-size", "-1"},
		} {
			r := runOnline(t, "", args...)
			wantExit(t, r, ExitBadInput)
		}
	})
}

func TestGetEvents(t *testing.T) {
	answer := `{"events":[` + evalFinished + `,` + evalTriggered + `,{"type":5,"data":"odd"}],"pageSize":3,"totalCount":3}`
	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/event", query: "project=sockshop", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "events", "--project", "sockshop")
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 || !strings.Contains(lines[2], "evaluation.triggered") || !strings.HasPrefix(lines[3], "-") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})
	t.Run("yaml", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/event", query: "type=sh.keptn.event.evaluation.finished", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "events", "--type", "evaluation.finished", "-o", "yaml")
		wantExit(t, r, ExitOK)
		if !strings.HasPrefix(r.stdout, "events:\n  - specversion: \"1.0\"\n") {
			t.Errorf("yaml:\n%s", r.stdout)
		}
	})
	t.Run("watch with paging flags", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, "", "get", "events", "--watch", "--page-size", "3")
		wantExit(t, r, ExitBadInput)
	})
}

// sseServer serves the events on the stream route once and then holds the
// connection open until the client goes away.
func sseServer(t testing.TB, wantProject string, events ...string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/event/stream" || r.URL.Query().Get("project") != wantProject || r.Header.Get("x-token") != testToken {
			t.Errorf("stream request %s with token %q", r.URL, r.Header.Get("x-token"))
			http.Error(w, `{"code":400,"message":"bad stream request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i, ev := range events {
			fmt.Fprintf(w, "id: %d\nevent: x\ndata: %s\n\n", i+1, ev)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestGetEventsWatch(t *testing.T) {
	otherStage := strings.ReplaceAll(evalTriggered, `"stage":"production"`, `"stage":"staging"`)
	tests := []struct {
		name      string
		format    string
		wantLines int // lines of output after which the watch is ended
		want      []string
	}{
		{"table", "table", 3, []string{
			"TIME                 TYPE                      KEPTN CONTEXT                         PROJECT/STAGE/SERVICE             RESULT   STATUS\n",
			"\n-                    evaluation.triggered      9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa  sockshop/production/carts         -        -\n",
			"  evaluation.finished       9c7f0e9e-4e0c-4c39-9d51-46f3c1b5c0aa  sockshop/production/carts         pass     succeeded\n",
		}},
		{"json lines", "json", 2, []string{evalTriggered + "\n" + evalFinished + "\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := sseServer(t, "sockshop", evalTriggered, otherStage, evalFinished)
			useConfig(t, endpoint)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &cancelAfterLines{want: tt.wantLines, cancel: cancel}
			var errOut strings.Builder
			code := Run(ctx, []string{"get", "events", "--project", "sockshop", "--stage", "production", "--watch", "-o", tt.format},
				strings.NewReader(""), out, &errOut)
			r := result{stdout: out.String(), stderr: errOut.String(), code: code}
			checkNoToken(t, r)
			wantExit(t, r, ExitOK)
			for _, want := range tt.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
			if strings.Contains(r.stdout, "staging") {
				t.Errorf("the event of another stage was shown:\n%s", r.stdout)
			}
			if !strings.Contains(r.stderr, "Watching new events of project sockshop") {
				t.Errorf("stderr %q", r.stderr)
			}
		})
	}
	t.Run("refused token", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/event/stream", status: 401, answer: `{"code":401,"message":"unknown token"}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "events", "--watch")
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, "tend auth") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

func TestFullEventType(t *testing.T) {
	for in, want := range map[string]string{
		"evaluation.finished":                "sh.keptn.event.evaluation.finished",
		"sh.keptn.event.evaluation.finished": "sh.keptn.event.evaluation.finished",
		"sh.keptn.events.problem":            "sh.keptn.events.problem",
		"production.remediation.triggered":   "sh.keptn.event.production.remediation.triggered",
		"":                                   "",
	} {
		if got := fullEventType(in); got != want {
			t.Errorf("fullEventType(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSummarizeEvent feeds events as a server (or whoever sent them to it)
// might: every input yields a row, never a panic.
func FuzzSummarizeEvent(f *testing.F) {
	for _, s := range []string{evalFinished, evalTriggered, `{"data":5}`, `[]`, `null`, `{"time":"x","data":{"project":1}}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		row := summarizeEvent(data).row("\t")
		if strings.Count(row, "\t") < 5 {
			t.Errorf("row %q lacks columns", row)
		}
		_ = matchesEvent(data, client.EventFilter{Stage: "production", Type: "sh.keptn.event.x"})
		_ = checkEventJSON(data)
	})
}
