package app

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/store"
	"github.com/tendhq/tend/internal/store/sqlite"
	"github.com/tendhq/tend/internal/testenv"
)

const shipyard = "stages:\n  - name: dev\n  - name: production\n    remediation_strategy: automated\n"

func newApp(t testing.TB, opts Options) *App {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	a, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func TestFirstStartCreatesAdminToken(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	a := newApp(t, Options{DataDir: dataDir})
	tok := a.AdminToken()
	if err := auth.CheckFormat(tok); err != nil {
		t.Fatalf("admin token %q: %v", tok, err)
	}
	file := filepath.Join(dataDir, AdminTokenFile)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("admin-token mode %v; want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(file); string(b) != tok+"\n" {
		t.Errorf("admin-token holds %q; want the token and a newline", b)
	}
	if d, _ := os.Stat(dataDir); d.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v; want 0700", d.Mode().Perm())
	}
	stored, err := a.Store().GetToken(context.Background(), AdminTokenName)
	if err != nil || stored.Scope != "admin" || !bytes.Equal(stored.Hash, auth.Sum(tok)) {
		t.Errorf("stored admin token = %+v, %v; want scope admin with the token's hash", stored, err)
	}
	// The token works.
	c, _ := client.New(a.URL(), tok)
	a.Start()
	if _, err := c.ListTokens(context.Background()); err != nil {
		t.Errorf("list tokens with the admin token: %v", err)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Only the hash is in the database files.
	filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == file {
			return err
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(tok)) {
			t.Errorf("%s contains the plain admin token", p)
		}
		return nil
	})

	// A later start keeps it and prints nothing, even when the file is gone.
	b := newApp(t, Options{DataDir: dataDir})
	if b.AdminToken() != "" {
		t.Error("second start created another admin token")
	}
	b.Close()
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	c2 := newApp(t, Options{DataDir: dataDir})
	if c2.AdminToken() != "" {
		t.Error("start after the file was deleted created another admin token")
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("admin-token file regenerated: %v", err)
	}
}

func TestAdminTokenNameTaken(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "tend.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Someone else took the name first: a replica's admin token, or (as
	// here) any token called admin. The loser writes no file.
	if _, err := st.CreateToken(context.Background(), store.NewToken{Name: AdminTokenName, Scope: "read", Hash: auth.Sum("tend_other-token-0123456789abcdef0123456789")}); err != nil {
		t.Fatal(err)
	}
	tok, err := ensureAdminToken(context.Background(), st, dir, slog.New(slog.DiscardHandler))
	if err != nil || tok != "" {
		t.Errorf("ensureAdminToken = %q, %v; want nothing", tok, err)
	}
	if _, err := os.Stat(filepath.Join(dir, AdminTokenFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("admin-token written by the loser: %v", err)
	}
}

// TestRunRestart serves, stops on context cancellation, and starts again on
// the same data directory with everything still there.
func TestRunRestart(t *testing.T) {
	dataDir := t.TempDir()
	a := newApp(t, Options{DataDir: dataDir})
	tok := a.AdminToken()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, 10*time.Second) }()

	c, _ := client.New(a.URL(), tok)
	bg := context.Background()
	waitReady(t, c)
	if _, err := c.CreateProject(bg, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateService(bg, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	v, err := c.PutResources(bg, ref, []client.ResourceFile{{URI: "notes.txt", Content: []byte("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := c.SendEvent(bg, []byte(`{"specversion":"1.0","source":"t","type":"sh.keptn.event.evaluation.triggered","data":{"project":"sockshop"}}`))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v; want nil", err)
	}
	if err := c.Health(bg); err == nil {
		t.Error("server still answers after Run returned")
	}

	b := newApp(t, Options{DataDir: dataDir})
	b.Start()
	c, _ = client.New(b.URL(), tok)
	waitReady(t, c)
	p, err := c.GetProject(bg, "sockshop")
	if err != nil || len(p.Stages) != 2 || len(p.Stages[0].Services) != 1 {
		t.Fatalf("project after restart = %+v, %v", p, err)
	}
	r, err := c.GetResource(bg, ref, "notes.txt", "")
	if err != nil || string(r.Content) != "hello" || r.Version != v.CommitID {
		t.Errorf("resource after restart = %+v, %v", r, err)
	}
	evs, err := c.ListEvents(bg, client.EventFilter{KeptnContext: kc})
	if err != nil || len(evs.Events) != 1 {
		t.Errorf("events after restart = %+v, %v", evs, err)
	}
}

func waitReady(t testing.TB, c *client.Client) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for c.Ready(context.Background()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("server never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTwoInstancesInOneProcess shows there is no global state: two servers
// with their own data directories and registries run side by side.
func TestTwoInstancesInOneProcess(t *testing.T) {
	var apps []*App
	for range 2 {
		a := newApp(t, Options{DataDir: t.TempDir()})
		a.Start()
		apps = append(apps, a)
	}
	for i, a := range apps {
		c, _ := client.New(a.URL(), a.AdminToken())
		waitReady(t, c)
		if _, err := c.CreateProject(context.Background(), apitypes.CreateProjectRequest{Name: "p" + string(rune('a'+i)), Shipyard: shipyard}); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range apps {
		c, _ := client.New(a.URL(), a.AdminToken())
		ps, err := c.ListProjects(context.Background())
		if err != nil || len(ps) != 1 || ps[0].ProjectName != "p"+string(rune('a'+i)) {
			t.Errorf("instance %d sees %+v, %v", i, ps, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"unknown database", Options{Database: "mysql://x"}},
		{"bad listen address", Options{Listen: "256.0.0.1:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.DataDir = t.TempDir()
			if _, err := New(context.Background(), tt.opts); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}

// TestPostgresReplicas runs two servers on one PostgreSQL database: one
// admin token between them, and each sees the other's projects, resources
// and events.
func TestPostgresReplicas(t *testing.T) {
	url := testenv.PostgresURL(t)
	apps := make([]*App, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			apps[i], errs[i] = New(context.Background(), Options{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Database: url})
		}()
	}
	wg.Wait()
	for i, a := range apps {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		t.Cleanup(func() { a.Close() })
		a.Start()
	}
	tok := apps[0].AdminToken() + apps[1].AdminToken()
	if apps[0].AdminToken() != "" && apps[1].AdminToken() != "" {
		t.Fatal("both replicas created an admin token")
	}
	if tok == "" {
		t.Fatal("no replica created the admin token")
	}
	ca, _ := client.New(apps[0].URL(), tok)
	cb, _ := client.New(apps[1].URL(), tok)
	waitReady(t, ca)
	waitReady(t, cb)
	bg := context.Background()
	if _, err := ca.CreateProject(bg, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyard}); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.CreateService(bg, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	ref := client.ResourceRef{Project: "sockshop", Stage: "production", Service: "carts"}
	v, err := cb.PutResources(bg, ref, []client.ResourceFile{{URI: "notes.txt", Content: []byte("from b")}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := ca.GetResource(bg, ref, "notes.txt", "")
	if err != nil || string(r.Content) != "from b" || r.Version != v.CommitID {
		t.Errorf("replica a reads %+v, %v", r, err)
	}
	kc, err := ca.SendEvent(bg, []byte(`{"specversion":"1.0","source":"t","type":"sh.keptn.event.evaluation.triggered","data":{"project":"sockshop"}}`))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := cb.ListEvents(bg, client.EventFilter{KeptnContext: kc})
	if err != nil || len(evs.Events) != 1 {
		t.Errorf("replica b sees events %+v, %v", evs, err)
	}
}
