package resource_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/resource/pgstorer"
	"github.com/tendhq/tend/internal/testenv"
)

var fsBackend = backend{name: "fs", new: func(t testing.TB) func() resource.Storage {
	dir := filepath.Join(t.TempDir(), "projects")
	return func() resource.Storage {
		st, err := resource.NewFSStorage(dir)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}}

var pgBackend = backend{name: "postgres", new: func(t testing.TB) func() resource.Storage {
	dbURL := testenv.PostgresURL(t)
	return func() resource.Storage {
		pool, err := pgxpool.New(context.Background(), dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		st := pgstorer.New(pool)
		if err := st.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return st
	}
}}

func listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func TestFS(t *testing.T) { runSuite(t, fsBackend) }

func TestPostgres(t *testing.T) {
	testenv.PostgresServerURL(t)
	runSuite(t, pgBackend)
}

// TestFSReadableByGit checks the repository with the git CLI: it is a valid
// bare repository, has one commit per write and the files in Keptn's layout.
func TestFSReadableByGit(t *testing.T) {
	requireGit(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "projects")
	st, err := resource.NewFSStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := newRepos(t, st, resource.Options{})
	createProject(t, r, "sockshop")
	carts := resource.Ref{Project: "sockshop", Stage: "production", Service: "carts"}
	const writes = 4
	for i := range writes {
		mustPut(t, r, carts, "slo.yaml", fmt.Sprintf("version %d", i))
	}
	gitDir := st.Path("sockshop")
	if got := lines(git(t, "--git-dir", gitDir, "log", "--oneline", "production")); got != writes+1 {
		t.Errorf("git log production shows %d commits, want %d (stage creation + one per write)", got, writes+1)
	}
	if got := git(t, "--git-dir", gitDir, "show", "production:carts/slo.yaml"); got != "version 3" {
		t.Errorf("git show = %q", got)
	}
	if got := strings.TrimSpace(git(t, "--git-dir", gitDir, "symbolic-ref", "HEAD")); got != "refs/heads/master" {
		t.Errorf("HEAD = %q", got)
	}
	if got := strings.TrimSpace(git(t, "--git-dir", gitDir, "rev-parse", "--is-bare-repository")); got != "true" {
		t.Errorf("bare = %q", got)
	}
	git(t, "--git-dir", gitDir, "fsck", "--strict", "--no-dangling")
	if err := r.EnsureService(ctx, "sockshop", "carts"); err != nil {
		t.Fatal(err)
	}
	git(t, "--git-dir", gitDir, "fsck", "--strict", "--no-dangling")
}

const crashEnv = "TEND_RESOURCE_CRASH_DIR"

// crashChild is the subprocess of TestPutSurvivesKill: it writes, reports
// the version and waits to be killed.
func crashChild() {
	st, err := resource.NewFSStorage(os.Getenv(crashEnv))
	if err == nil {
		var r *resource.Repos
		r, err = resource.New(resource.Options{Storage: st})
		if err == nil {
			var v string
			v, err = r.Put(context.Background(), resource.Ref{Project: "sockshop", Stage: "dev"}, "slo.yaml", []byte("survives"), "")
			if err == nil {
				fmt.Println(v)
				select {} // wait for SIGKILL
			}
		}
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// TestPutSurvivesKill kills a writer with SIGKILL right after Put returned
// and finds the write after reopening.
func TestPutSurvivesKill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "projects")
	st, err := resource.NewFSStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	createProject(t, newRepos(t, st, resource.Options{}), "sockshop")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	version, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}

	st2, err := resource.NewFSStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, v, err := newRepos(t, st2, resource.Options{}).Get(context.Background(), resource.Ref{Project: "sockshop", Stage: "dev"}, "slo.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "survives" || v != strings.TrimSpace(version) {
		t.Errorf("after kill: %q at %s, want %q at %s", got, v, "survives", version)
	}
}

func FuzzCleanURI(f *testing.F) {
	for _, s := range []string{"slo.yaml", "/prometheus/sli.yaml", "../x", "a//b", ".git", "a/./b", "", "/", "a\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		got, err := resource.CleanURI(uri)
		if err != nil {
			if !errors.Is(err, resource.ErrInvalidURI) {
				t.Fatalf("error %v is not ErrInvalidURI", err)
			}
			return
		}
		if strings.HasPrefix(got, "/") || got == "" {
			t.Fatalf("CleanURI(%q) = %q", uri, got)
		}
		for _, part := range strings.Split(got, "/") {
			if part == "" || part == "." || part == ".." || strings.EqualFold(part, ".git") {
				t.Fatalf("CleanURI(%q) = %q has component %q", uri, got, part)
			}
		}
		if again, err := resource.CleanURI(got); err != nil || again != got {
			t.Fatalf("CleanURI not idempotent on %q: %q, %v", got, again, err)
		}
	})
}

func BenchmarkPut(b *testing.B) {
	for _, be := range []backend{fsBackend, pgBackend} {
		b.Run(be.name, func(b *testing.B) {
			if be.name == "postgres" {
				testenv.PostgresServerURL(b)
			}
			st := be.new(b)()
			r := newRepos(b, st, resource.Options{})
			createProject(b, r, "bench")
			ref := resource.Ref{Project: "bench", Stage: "dev", Service: "carts"}
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if _, err := r.Put(ctx, ref, fmt.Sprintf("f%d.yaml", i%20), []byte(fmt.Sprint(i)), ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet is the evaluator's read of a service's slo.yaml at the
// stage's head, with and without the content cache; the head is read from
// the repository on every call either way.
func BenchmarkGet(b *testing.B) {
	for _, be := range []backend{fsBackend, pgBackend} {
		for _, cache := range []int{-1, 0} {
			name := be.name + "/cached"
			if cache < 0 {
				name = be.name + "/uncached"
			}
			b.Run(name, func(b *testing.B) {
				if be.name == "postgres" {
					testenv.PostgresServerURL(b)
				}
				st := be.new(b)()
				r := newRepos(b, st, resource.Options{ContentCacheBytes: cache})
				createProject(b, r, "bench")
				if err := r.EnsureService(context.Background(), "bench", "carts"); err != nil {
					b.Fatal(err)
				}
				ref := resource.Ref{Project: "bench", Stage: "dev", Service: "carts"}
				for i := range 20 {
					mustPut(b, r, ref, fmt.Sprintf("f%d.yaml", i), strings.Repeat("x", 2000))
				}
				mustPut(b, r, ref, "slo.yaml", strings.Repeat("objectives: []\n", 150))
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := r.Get(ctx, ref, "slo.yaml", ""); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
