// Package restart tests that the real tend binary keeps everything it
// acknowledged across a restart: stopped gracefully with SIGTERM, and killed
// with SIGKILL right after its last answer or while writes are in flight. It
// runs `tend serve` as a subprocess on SQLite and, when the test PostgreSQL
// is available, on PostgreSQL, and drives it through the typed client.
package restart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/testenv"
	"github.com/tendhq/tend/internal/testenv/tendproc"
)

// tendBin is the tend binary TestMain builds once for every test.
var tendBin string

func TestMain(m *testing.M) { os.Exit(tendproc.Main(m, "restart", &tendBin)) }

// project is the project every test creates.
const project = "sockshop"

// backend is where a server keeps its state.
type backend struct {
	name string
	// database returns the --database value; "" is SQLite in the data
	// directory. It skips the test when the backend is not available.
	database func(t testing.TB) string
}

var backends = []backend{
	{name: "sqlite", database: func(testing.TB) string { return "" }},
	{name: "postgres", database: func(t testing.TB) string { return testenv.PostgresURL(t) }},
}

// server is one `tend serve` subprocess.
type server struct{ *tendproc.Proc }

// startServer runs `tend serve` on dataDir (and database, when not empty)
// on a port the server picks, and returns once /readyz answers. The
// process is killed when the test ends if it still runs.
func startServer(t testing.TB, dataDir, database string) *server {
	t.Helper()
	return &server{tendproc.Start(t, tendBin, tendproc.Options{DataDir: dataDir, Database: database})}
}

// stop ends the server: SIGTERM must end it with exit status 0; SIGKILL
// ends it at once.
func (s *server) stop(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := s.Signal(sig); err != nil {
		t.Fatalf("send %v to tend serve (pid %d): %v", sig, s.Pid(), err)
	}
	select {
	case <-s.Exited():
	case <-time.After(2 * time.Minute):
		t.Fatalf("tend serve did not exit within 2 minutes of %v", sig)
	}
	if sig == syscall.SIGTERM && s.Err() != nil {
		t.Fatalf("tend serve after SIGTERM: %v; want exit status 0; stderr:\n%s", s.Err(), s.Stderr)
	}
	if sig == syscall.SIGKILL {
		var ee *exec.ExitError
		if !errors.As(s.Err(), &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("tend serve after SIGKILL ended with %v; want killed by the signal", s.Err())
		}
	}
}

// adminClient reads the admin token from the data directory and returns a
// client that uses it.
func (s *server) adminClient(t testing.TB, dataDir string) (*client.Client, string) {
	t.Helper()
	tok := tendproc.AdminToken(t, dataDir)
	return tendproc.Client(t, s.URL, tok), tok
}

// write is one acknowledged resource write.
type write struct {
	ref     client.ResourceRef
	uri     string
	content []byte
	commit  string
}

// world is everything the test had acknowledged before the stop.
type world struct {
	writes []write
	// branchBase is the commit count of each stage branch before the
	// resource writes.
	branchBase map[string]int
	// events maps acknowledged event ids to their keptn context.
	events map[string]string
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// populate creates the project, its service, resources (each one write of
// its own) and events, and returns what the server acknowledged.
func populate(t testing.TB, c *client.Client, dataDir string, sqlite bool) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{branchBase: map[string]int{}, events: map[string]string{}}
	if _, err := c.CreateProject(ctx, apitypes.CreateProjectRequest{Name: project, Shipyard: string(readFile(t, "examples/shipyard.yaml"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateService(ctx, project, "carts"); err != nil {
		t.Fatal(err)
	}
	if sqlite {
		for _, stage := range []string{"staging", "production"} {
			w.branchBase[stage] = commitCount(t, dataDir, stage)
		}
	}
	proj := client.ResourceRef{Project: project}
	staging := client.ResourceRef{Project: project, Stage: "staging"}
	prodCarts := client.ResourceRef{Project: project, Stage: "production", Service: "carts"}
	stagingCarts := client.ResourceRef{Project: project, Stage: "staging", Service: "carts"}
	plan := []write{
		{ref: proj, uri: "README.md", content: []byte("sockshop resources\n")},
		{ref: staging, uri: "notes.txt", content: []byte("first\n")},
		{ref: stagingCarts, uri: "slo.yaml", content: readFile(t, "examples/slo.yaml")},
		{ref: prodCarts, uri: "slo.yaml", content: readFile(t, "examples/slo.yaml")},
		{ref: prodCarts, uri: "prometheus/sli.yaml", content: readFile(t, "examples/prometheus/sli.yaml")},
		{ref: prodCarts, uri: "remediation.yaml", content: readFile(t, "examples/remediation.yaml")},
		{ref: staging, uri: "notes.txt", content: []byte("second\n")},
		{ref: prodCarts, uri: "remediation.yaml", content: readFile(t, "examples/remediation-legacy.yaml")},
	}
	for i, wr := range plan {
		if i == len(plan)/2 {
			// Events between the resource writes, so the last
			// acknowledged write before the stop is a resource.
			sendEvents(t, c, w, 0, 10)
		}
		v, err := c.PutResources(ctx, wr.ref, []client.ResourceFile{{URI: wr.uri, Content: wr.content}})
		if err != nil {
			t.Fatal(err)
		}
		if v.PushError != "" || v.CommitID == "" {
			t.Fatalf("write %s to %s answered %+v; want a commit and no push error", wr.uri, wr.ref, v)
		}
		wr.commit = v.CommitID
		w.writes = append(w.writes, wr)
	}
	sendEvents(t, c, w, 10, 20)
	return w
}

// sendEvents sends events numbered from..to-1 and records them.
func sendEvents(t testing.TB, c *client.Client, w *world, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		id := fmt.Sprintf("restart-%03d", i)
		kctx, err := c.SendEvent(context.Background(), eventJSON(id, "restart-test", i))
		if err != nil {
			t.Fatal(err)
		}
		w.events[id] = kctx
	}
}

// eventJSON is a structured CloudEvent of project sockshop with a given id;
// every fourth one has no keptn context, so the server generates it.
func eventJSON(id, source string, i int) []byte {
	ctxAttr := ""
	if i%4 != 0 {
		ctxAttr = fmt.Sprintf(`"shkeptncontext":"%08d-0000-4000-8000-000000000000",`, i/4)
	}
	return fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"source":%q,"type":"sh.keptn.event.evaluation.finished",%s`+
		`"data":{"project":%q,"stage":"production","service":"carts","result":"pass","status":"succeeded","n":%d}}`,
		id, source, ctxAttr, project, i)
}

// commitCount counts the commits of a stage branch in the project's
// repository on disk (SQLite mode), with git itself.
func commitCount(t testing.TB, dataDir, branch string) int {
	t.Helper()
	gitDir := filepath.Join(dataDir, "projects", project+".git")
	out, err := exec.Command("git", "--git-dir", gitDir, "log", "--oneline", branch).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("git log %s: %v: %s", branch, err, ee.Stderr)
		}
		t.Fatalf("git log %s: %v", branch, err)
	}
	return strings.Count(string(out), "\n")
}

// verify checks that the restarted server has everything w acknowledged.
func verify(t testing.TB, c *client.Client, dataDir string, w *world) {
	t.Helper()
	ctx := context.Background()

	p, err := c.GetProject(ctx, project)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	var stages []string
	for _, st := range p.Stages {
		stages = append(stages, st.StageName)
		if len(st.Services) != 1 || st.Services[0].ServiceName != "carts" {
			t.Errorf("after restart, stage %s has services %+v; want carts", st.StageName, st.Services)
		}
	}
	if !slices.Equal(stages, []string{"staging", "production"}) {
		t.Errorf("after restart, stages %v; want [staging production]", stages)
	}
	if svc, err := c.GetService(ctx, project, "carts"); err != nil || svc.ServiceName != "carts" {
		t.Errorf("after restart, service carts: %+v, %v", svc, err)
	}

	// Each resource: the newest content, each version's content, and one
	// commit per write in its history.
	type key struct {
		ref client.ResourceRef
		uri string
	}
	perURI := map[key][]write{}
	var order []key
	lastOfBranch := map[string]write{}
	for _, wr := range w.writes {
		k := key{wr.ref, wr.uri}
		if perURI[k] == nil {
			order = append(order, k)
		}
		perURI[k] = append(perURI[k], wr)
		lastOfBranch[wr.ref.Stage] = wr
	}
	for _, k := range order {
		ws := perURI[k]
		last := ws[len(ws)-1]
		got, err := c.GetResource(ctx, k.ref, k.uri, "")
		if err != nil {
			t.Errorf("after restart: %v", err)
			continue
		}
		if !bytes.Equal(got.Content, last.content) {
			t.Errorf("after restart, %s in %s holds %q; want %q", k.uri, k.ref, got.Content, last.content)
		}
		if head := lastOfBranch[k.ref.Stage].commit; got.Version != head {
			t.Errorf("after restart, %s in %s is at version %s; want %s, the branch's last write", k.uri, k.ref, got.Version, head)
		}
		var wantCommits []string
		for _, wr := range ws {
			old, err := c.GetResource(ctx, k.ref, k.uri, wr.commit)
			if err != nil {
				t.Errorf("after restart, version %s: %v", wr.commit, err)
			} else if !bytes.Equal(old.Content, wr.content) {
				t.Errorf("after restart, %s in %s at %s holds %q; want %q", k.uri, k.ref, wr.commit, old.Content, wr.content)
			}
			wantCommits = append([]string{wr.commit}, wantCommits...) // newest first
		}
		h, err := c.ResourceHistory(ctx, k.ref, k.uri)
		if err != nil {
			t.Errorf("after restart: %v", err)
			continue
		}
		var gotCommits []string
		for _, cm := range h.Commits {
			gotCommits = append(gotCommits, cm.CommitID)
		}
		if !slices.Equal(gotCommits, wantCommits) {
			t.Errorf("after restart, history of %s in %s is %v; want one commit per write, %v", k.uri, k.ref, gotCommits, wantCommits)
		}
	}

	// The stage branches grew by exactly one commit per write (SQLite
	// keeps them on disk, where git can read them).
	for stage, base := range w.branchBase {
		writes := 0
		for _, wr := range w.writes {
			if wr.ref.Stage == stage {
				writes++
			}
		}
		if got := commitCount(t, dataDir, stage); got != base+writes {
			t.Errorf("after restart, git log --oneline %s shows %d commits; want %d before the writes + %d writes", stage, got, base, writes)
		}
	}

	checkEvents(t, c, w.events)
}

// checkEvents checks that every acknowledged event is in the project's log
// under the keptn context it was acknowledged with, and no id is there
// twice. Unacknowledged events (cut by a kill) may be there or not.
func checkEvents(t testing.TB, c *client.Client, acked map[string]string) {
	t.Helper()
	seen := map[string]int{}
	contexts := map[string]string{}
	for raw, err := range c.Events(context.Background(), client.EventFilter{Project: project, PageSize: 500}) {
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		var e struct {
			ID           string `json:"id"`
			KeptnContext string `json:"shkeptncontext"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("after restart, event %s: %v", raw, err)
		}
		seen[e.ID]++
		contexts[e.ID] = e.KeptnContext
	}
	missing := 0
	for id, kctx := range acked {
		switch {
		case seen[id] == 0:
			missing++
			if missing <= 5 {
				t.Errorf("after restart, acknowledged event %s is missing", id)
			}
		case contexts[id] != kctx:
			t.Errorf("after restart, event %s has keptn context %s; it was acknowledged with %s", id, contexts[id], kctx)
		}
	}
	if missing > 0 {
		t.Errorf("after restart, %d of %d acknowledged events are missing", missing, len(acked))
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("after restart, event %s is in the log %d times; want once", id, n)
		}
	}
}

// snapshotDir lists a data directory's top-level names.
func snapshotDir(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestRestartKeepsEverything(t *testing.T) {
	stops := []struct {
		name string
		sig  syscall.Signal
	}{
		{"graceful SIGTERM", syscall.SIGTERM},
		{"SIGKILL after the last answer", syscall.SIGKILL},
	}
	for _, b := range backends {
		for _, stop := range stops {
			t.Run(b.name+"/"+stop.name, func(t *testing.T) {
				database := b.database(t)
				dataDir := filepath.Join(t.TempDir(), "data")

				first := startServer(t, dataDir, database)
				c, tok := first.adminClient(t, dataDir)
				tokenFile, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
				if err != nil {
					t.Fatal(err)
				}
				w := populate(t, c, dataDir, database == "")
				before := snapshotDir(t, dataDir)
				first.stop(t, stop.sig)

				second := startServer(t, dataDir, database)
				after, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
				if err != nil || !bytes.Equal(after, tokenFile) {
					t.Errorf("after restart, admin-token holds %q (%v); want it unchanged", after, err)
				}
				if names := snapshotDir(t, dataDir); !slices.Equal(names, before) && !onlyWALFiles(before, names) {
					t.Errorf("after restart, the data directory holds %v; before it held %v", names, before)
				}
				if strings.Contains(second.Stderr.String(), "first start") {
					t.Errorf("the restarted server announced a first start; stderr:\n%s", second.Stderr)
				}
				c2, err := client.New(second.URL, tok)
				if err != nil {
					t.Fatal(err)
				}
				toks, err := c2.ListTokens(context.Background())
				if err != nil {
					t.Fatalf("after restart, the admin token does not work: %v", err)
				}
				if len(toks) != 1 || toks[0].Scope != apitypes.ScopeAdmin {
					t.Errorf("after restart, tokens %+v; want the one admin token", toks)
				}
				verify(t, c2, dataDir, w)
				second.stop(t, syscall.SIGTERM)
			})
		}
	}
}

// onlyWALFiles reports whether two listings differ only in SQLite's -wal
// and -shm files, which a graceful stop removes and a kill leaves.
func onlyWALFiles(a, b []string) bool {
	strip := func(names []string) []string {
		var out []string
		for _, n := range names {
			if !strings.HasSuffix(n, "-wal") && !strings.HasSuffix(n, "-shm") {
				out = append(out, n)
			}
		}
		return out
	}
	return slices.Equal(strip(a), strip(b))
}

// TestKillDuringWrites kills the server while several clients send events
// without pause: every event the server acknowledged with 200 before the
// kill must be in the log after the restart, once.
func TestKillDuringWrites(t *testing.T) {
	const (
		senders = 8
		// ackedBeforeKill is how many acknowledged events the test waits
		// for before the kill.
		ackedBeforeKill = 400
	)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			database := b.database(t)
			dataDir := filepath.Join(t.TempDir(), "data")
			first := startServer(t, dataDir, database)
			c, tok := first.adminClient(t, dataDir)
			if _, err := c.CreateProject(context.Background(), apitypes.CreateProjectRequest{Name: project, Shipyard: string(readFile(t, "examples/shipyard.yaml"))}); err != nil {
				t.Fatal(err)
			}

			var (
				mu      sync.Mutex
				acked   = map[string]string{}
				enough  = make(chan struct{})
				once    sync.Once
				stopped = make(chan struct{})
				wg      sync.WaitGroup
			)
			for g := range senders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stopped:
							return
						default:
						}
						id := "w" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
						kctx, err := c.SendEvent(context.Background(), eventJSON(id, "kill-test", i))
						if err != nil {
							// Refused or cut by the kill: not acknowledged.
							continue
						}
						mu.Lock()
						acked[id] = kctx
						n := len(acked)
						mu.Unlock()
						if n >= ackedBeforeKill {
							once.Do(func() { close(enough) })
						}
					}
				}()
			}
			<-enough
			first.stop(t, syscall.SIGKILL)
			close(stopped)
			wg.Wait()

			second := startServer(t, dataDir, database)
			c2, err := client.New(second.URL, tok)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%d events acknowledged before the kill", len(acked))
			checkEvents(t, c2, acked)
			second.stop(t, syscall.SIGTERM)
		})
	}
}
