package resource_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/tendhq/tend/internal/resource"
)

// backend builds a fresh, empty Storage for one test. Calling it twice in
// one test gives two Storage values over the same repositories, as two tend
// replicas would have.
type backend struct {
	name string
	// new returns a function making Storage values over one shared place.
	new func(t testing.TB) func() resource.Storage
}

func newRepos(t testing.TB, st resource.Storage, opts resource.Options) *resource.Repos {
	t.Helper()
	opts.Storage = st
	r, err := resource.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const shipyard = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: shipyard-sockshop\nspec:\n  stages:\n    - name: dev\n    - name: production\n"

func createProject(t testing.TB, r *resource.Repos, project string) {
	t.Helper()
	err := r.Create(context.Background(), project, resource.InitOptions{
		Shipyard: []byte(shipyard),
		Stages:   []string{"dev", "production"},
		Author:   resource.Author{Name: "tester", Email: "tester@example.com"},
	})
	if err != nil {
		t.Fatalf("create project %s: %v", project, err)
	}
}

// countCommits counts the commits reachable from a branch along first
// parents.
func countCommits(t testing.TB, st resource.Storage, project, branch string) int {
	t.Helper()
	s, err := st.Open(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.Reference(plumbing.NewBranchReferenceName(branch))
	if err != nil {
		t.Fatalf("branch %s: %v", branch, err)
	}
	n := 0
	for h := ref.Hash(); ; {
		c, err := object.GetCommit(s, h)
		if err != nil {
			t.Fatalf("commit %s: %v", h, err)
		}
		n++
		if len(c.ParentHashes) == 0 {
			return n
		}
		h = c.ParentHashes[0]
	}
}

func mustPut(t testing.TB, r *resource.Repos, ref resource.Ref, uri, content string) string {
	t.Helper()
	v, err := r.Put(context.Background(), ref, uri, []byte(content), "")
	if err != nil {
		t.Fatalf("put %s %s: %v", ref, uri, err)
	}
	if len(v) != 40 {
		t.Fatalf("put %s %s: version %q is not a commit id", ref, uri, v)
	}
	return v
}

func runSuite(t *testing.T, b backend) {
	ctx := context.Background()
	project := "sockshop"
	proj := resource.Ref{Project: project}
	dev := resource.Ref{Project: project, Stage: "dev"}
	carts := resource.Ref{Project: project, Stage: "dev", Service: "carts"}

	t.Run("GetLevels answers as a Get per level", func(t *testing.T) {
		r := newRepos(t, b.new(t)(), resource.Options{})
		// Each case's levels, as Get answers them, before and after writes.
		check := func(t *testing.T, ref resource.Ref, uri string) {
			t.Helper()
			got := r.GetLevels(ctx, ref, uri)
			levels := []resource.Ref{{Project: ref.Project}, {Project: ref.Project, Stage: ref.Stage}, ref}
			for i, l := range levels {
				data, v, err := r.Get(ctx, l, uri, "")
				if !bytes.Equal(got[i].Data, data) || got[i].Version != v || fmt.Sprint(got[i].Err) != fmt.Sprint(err) {
					t.Errorf("level %d (%s) of %s: GetLevels = %q at %q, %v; Get = %q at %q, %v", i, l, uri, got[i].Data, got[i].Version, got[i].Err, data, v, err)
				}
			}
		}
		check(t, carts, "prometheus/sli.yaml") // no project
		createProject(t, r, project)
		check(t, carts, "prometheus/sli.yaml") // no files
		mustPut(t, r, proj, "prometheus/sli.yaml", "project")
		mustPut(t, r, carts, "prometheus/sli.yaml", "service")
		check(t, carts, "prometheus/sli.yaml") // project and service, not stage
		check(t, carts, "/prometheus/sli.yaml")
		mustPut(t, r, dev, "prometheus/sli.yaml", "stage")
		check(t, carts, "prometheus/sli.yaml") // all three
		if got := r.GetLevels(ctx, carts, "prometheus/sli.yaml"); string(got[0].Data) != "project" || string(got[1].Data) != "stage" || string(got[2].Data) != "service" {
			t.Errorf("GetLevels = %q, %q, %q; want project, stage, service", got[0].Data, got[1].Data, got[2].Data)
		}
		check(t, resource.Ref{Project: project, Stage: "staging", Service: "carts"}, "prometheus/sli.yaml") // no such stage
		check(t, resource.Ref{Project: project, Stage: "dev", Service: "../carts"}, "prometheus/sli.yaml")
		check(t, carts, "../sli.yaml")
		check(t, resource.Ref{Project: "Bad Name", Stage: "dev", Service: "carts"}, "../sli.yaml")
	})

	t.Run("cached reads follow the head across replicas", func(t *testing.T) {
		place := b.new(t)
		a := newRepos(t, place(), resource.Options{})
		other := newRepos(t, place(), resource.Options{})
		createProject(t, a, project)
		get := func(ref resource.Ref, uri, version string) (string, string, error) {
			t.Helper()
			data, v, err := a.Get(ctx, ref, uri, version)
			return string(data), v, err
		}
		if _, _, err := get(dev, "slo.yaml", ""); !errors.Is(err, resource.ErrResourceNotFound) {
			t.Fatalf("before any write: err = %v, want ErrResourceNotFound", err)
		}
		v1 := mustPut(t, other, dev, "slo.yaml", "one")
		for range 2 {
			if got, v, err := get(dev, "slo.yaml", ""); err != nil || got != "one" || v != v1 {
				t.Fatalf("after the other replica's write: %q at %s, %v; want \"one\" at %s", got, v, err, v1)
			}
		}
		data, _, _ := a.Get(ctx, dev, "slo.yaml", "")
		data[0] = 'X' // a caller changing what it got must not change the cache
		v2 := mustPut(t, other, dev, "slo.yaml", "two")
		if got, v, err := get(dev, "slo.yaml", ""); err != nil || got != "two" || v != v2 {
			t.Fatalf("after a second write: %q at %s, %v; want \"two\" at %s", got, v, err, v2)
		}
		for range 2 {
			if got, _, err := get(dev, "slo.yaml", v1); err != nil || got != "one" {
				t.Fatalf("at the first version: %q, %v; want \"one\"", got, err)
			}
		}
		if err := other.Delete(ctx, project); err != nil {
			t.Fatal(err)
		}
		if _, _, err := get(dev, "slo.yaml", ""); !errors.Is(err, resource.ErrProjectNotFound) {
			t.Fatalf("after the other replica deleted the project: err = %v, want ErrProjectNotFound", err)
		}
		createProject(t, other, project)
		if _, _, err := get(dev, "slo.yaml", ""); !errors.Is(err, resource.ErrResourceNotFound) {
			t.Fatalf("in the new project: err = %v, want ErrResourceNotFound", err)
		}
	})

	t.Run("put get list at every level", func(t *testing.T) {
		st := b.new(t)()
		r := newRepos(t, st, resource.Options{})
		createProject(t, r, project)
		if err := r.EnsureService(ctx, project, "carts"); err != nil {
			t.Fatal(err)
		}
		writes := []struct {
			ref          resource.Ref
			uri, content string
		}{
			{proj, "/notes.md", "project notes"},
			{dev, "stage.yaml", "stage file"},
			{dev, "helm/values.yaml", "stage folder file"},
			{carts, "slo.yaml", "slo"},
			{carts, "prometheus/sli.yaml", "sli"},
		}
		versions := map[string]string{}
		for _, w := range writes {
			versions[w.ref.String()+w.uri] = mustPut(t, r, w.ref, w.uri, w.content)
		}
		for _, w := range writes {
			t.Run(w.ref.String()+" "+w.uri, func(t *testing.T) {
				got, v, err := r.Get(ctx, w.ref, w.uri, "")
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != w.content {
					t.Errorf("content = %q, want %q", got, w.content)
				}
				if v == "" {
					t.Error("empty version")
				}
			})
		}
		lists := []struct {
			ref  resource.Ref
			want []string
		}{
			{proj, []string{"notes.md", "shipyard.yaml"}},
			{dev, []string{"helm/values.yaml", "stage.yaml"}},
			{carts, []string{"metadata.yaml", "prometheus/sli.yaml", "slo.yaml"}},
			{resource.Ref{Project: project, Stage: "production"}, nil},
			{resource.Ref{Project: project, Stage: "production", Service: "carts"}, []string{"metadata.yaml"}},
			{resource.Ref{Project: project, Stage: "dev", Service: "orders"}, nil},
		}
		for _, l := range lists {
			t.Run("list "+l.ref.String(), func(t *testing.T) {
				got, err := r.List(ctx, l.ref)
				if err != nil {
					t.Fatal(err)
				}
				var uris []string
				for _, g := range got {
					uris = append(uris, g.URI)
					if want, ok := versions[l.ref.String()+g.URI]; ok && g.Version != want {
						t.Errorf("%s: version %s, want the commit that wrote it, %s", g.URI, g.Version, want)
					}
					if len(g.Version) != 40 {
						t.Errorf("%s: version %q", g.URI, g.Version)
					}
				}
				if strings.Join(uris, ",") != strings.Join(l.want, ",") {
					t.Errorf("uris = %q, want %q", uris, l.want)
				}
			})
		}
	})

	t.Run("historic versions and history", func(t *testing.T) {
		st := b.new(t)()
		r := newRepos(t, st, resource.Options{})
		createProject(t, r, project)
		v1 := mustPut(t, r, carts, "slo.yaml", "one")
		mustPut(t, r, carts, "other.yaml", "unrelated")
		v2 := mustPut(t, r, carts, "slo.yaml", "two")
		for _, tc := range []struct{ version, want string }{{v1, "one"}, {v2, "two"}, {"", "two"}} {
			got, v, err := r.Get(ctx, carts, "slo.yaml", tc.version)
			if err != nil {
				t.Fatalf("get at %q: %v", tc.version, err)
			}
			if string(got) != tc.want || (tc.version != "" && v != tc.version) || (tc.version == "" && v != v2) {
				t.Errorf("get at %q = %q version %s, want %q", tc.version, got, v, tc.want)
			}
		}
		rv, err := r.Remove(ctx, carts, "slo.yaml")
		if err != nil {
			t.Fatal(err)
		}
		hist, err := r.History(ctx, carts, "slo.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range hist {
			ids = append(ids, h.ID)
		}
		if want := []string{rv, v2, v1}; strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("history = %v, want %v", ids, want)
		}
		if hist[2].Author.Name != "tend" || hist[2].Time.IsZero() || !strings.Contains(hist[2].Message, "slo.yaml") {
			t.Errorf("history entry = %+v", hist[2])
		}
		if _, _, err := r.Get(ctx, carts, "slo.yaml", ""); !errors.Is(err, resource.ErrResourceNotFound) {
			t.Errorf("get removed: %v, want ErrResourceNotFound", err)
		}
		if got, _, err := r.Get(ctx, carts, "slo.yaml", v1); err != nil || string(got) != "one" {
			t.Errorf("get removed at old version = %q, %v", got, err)
		}
	})

	t.Run("one commit per write", func(t *testing.T) {
		st := b.new(t)()
		r := newRepos(t, st, resource.Options{})
		createProject(t, r, project)
		before := countCommits(t, st, project, "dev")
		mustPut(t, r, dev, "a.yaml", "1")
		mustPut(t, r, dev, "a.yaml", "2")
		mustPut(t, r, carts, "slo.yaml", "3")
		if _, err := r.PutMany(ctx, carts, []resource.File{{URI: "x", Content: []byte("x")}, {URI: "y/z", Content: []byte("z")}}, "two files"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Remove(ctx, dev, "a.yaml"); err != nil {
			t.Fatal(err)
		}
		if got := countCommits(t, st, project, "dev") - before; got != 5 {
			t.Errorf("5 writes made %d commits", got)
		}
		v := mustPut(t, r, carts, "x", "x")
		if got := countCommits(t, st, project, "dev") - before; got != 5 {
			t.Errorf("an unchanged write made a commit (%d commits)", got)
		}
		if list, _ := r.List(ctx, carts); len(list) == 0 || v == "" {
			t.Errorf("list after unchanged write: %v", list)
		}
		if got := countCommits(t, st, project, resource.DefaultBranch); got != 1 {
			t.Errorf("default branch has %d commits, want 1", got)
		}
	})

	t.Run("errors", func(t *testing.T) {
		st := b.new(t)()
		r := newRepos(t, st, resource.Options{})
		createProject(t, r, project)
		v := mustPut(t, r, dev, "a.yaml", "1")
		mustPut(t, r, carts, "prometheus/sli.yaml", "s")
		cases := []struct {
			name string
			do   func() error
			want error
			text string
		}{
			{"unknown project", func() error { _, _, err := r.Get(ctx, resource.Ref{Project: "nope"}, "a", ""); return err }, resource.ErrProjectNotFound, "nope"},
			{"unknown project put", func() error {
				_, err := r.Put(ctx, resource.Ref{Project: "nope", Stage: "dev"}, "a", nil, "")
				return err
			}, resource.ErrProjectNotFound, "nope"},
			{"unknown stage", func() error {
				_, err := r.Put(ctx, resource.Ref{Project: project, Stage: "qa"}, "a", nil, "")
				return err
			}, resource.ErrStageNotFound, "qa"},
			{"unknown stage list", func() error { _, err := r.List(ctx, resource.Ref{Project: project, Stage: "qa"}); return err }, resource.ErrStageNotFound, "qa"},
			{"missing resource", func() error { _, _, err := r.Get(ctx, dev, "b.yaml", ""); return err }, resource.ErrResourceNotFound, "b.yaml"},
			{"remove missing", func() error { _, err := r.Remove(ctx, dev, "b.yaml"); return err }, resource.ErrResourceNotFound, "b.yaml"},
			{"remove missing nested", func() error { _, err := r.Remove(ctx, carts, "p/sli.yaml"); return err }, resource.ErrResourceNotFound, "p/sli.yaml"},
			{"history missing", func() error { _, err := r.History(ctx, dev, "b.yaml"); return err }, resource.ErrResourceNotFound, "b.yaml"},
			{"short version", func() error { _, _, err := r.Get(ctx, dev, "a.yaml", v[:7]); return err }, resource.ErrVersionNotFound, "40-character"},
			{"unknown version", func() error { _, _, err := r.Get(ctx, dev, "a.yaml", strings.Repeat("ab", 20)); return err }, resource.ErrVersionNotFound, "abab"},
			{"version is not a commit", func() error {
				_, _, err := r.Get(ctx, dev, "a.yaml", plumbing.ComputeHash(plumbing.BlobObject, []byte("1")).String())
				return err
			}, resource.ErrVersionNotFound, ""},
			{"service without stage", func() error { _, err := r.List(ctx, resource.Ref{Project: project, Service: "carts"}); return err }, resource.ErrInvalidName, "needs a stage"},
			{"bad project name", func() error { _, err := r.List(ctx, resource.Ref{Project: "../etc"}); return err }, resource.ErrInvalidName, "../etc"},
			{"reserved stage name", func() error { return r.EnsureStage(ctx, project, "master") }, resource.ErrInvalidName, "reserved"},
			{"create twice", func() error {
				return r.Create(ctx, project, resource.InitOptions{Shipyard: []byte(shipyard)})
			}, resource.ErrProjectExists, project},
			{"file over folder", func() error { _, err := r.Put(ctx, carts, "prometheus", []byte("x"), ""); return err }, nil, `"prometheus" is a folder`},
			{"folder below file", func() error { _, err := r.Put(ctx, carts, "prometheus/sli.yaml/x", []byte("x"), ""); return err }, nil, `"sli.yaml" is a file`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.do()
				if err == nil {
					t.Fatal("no error")
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("error %q is not %q", err, tc.want)
				}
				if !strings.Contains(err.Error(), tc.text) {
					t.Errorf("error %q does not mention %q", err, tc.text)
				}
			})
		}
	})

	t.Run("bad URIs", func(t *testing.T) {
		st := b.new(t)()
		r := newRepos(t, st, resource.Options{})
		createProject(t, r, project)
		for _, tc := range []struct{ uri, why string }{
			{"", "empty"},
			{"/", "empty"},
			{"//etc/passwd", "absolute"},
			{"../shipyard.yaml", `".."`},
			{"a/../../b", `".."`},
			{"./a", `"."`},
			{"a//b", "empty path component"},
			{"dir/", "folder"},
			{".git/config", ".git"},
			{"a/.GIT/hooks", ".git"},
			{`a\b`, "separator"},
			{"a\x00b", "control"},
		} {
			t.Run(fmt.Sprintf("%q", tc.uri), func(t *testing.T) {
				_, err := r.Put(ctx, dev, tc.uri, []byte("x"), "")
				if !errors.Is(err, resource.ErrInvalidURI) {
					t.Fatalf("put: %v, want ErrInvalidURI", err)
				}
				if !strings.Contains(err.Error(), tc.why) {
					t.Errorf("error %q does not say %q", err, tc.why)
				}
				if _, _, err := r.Get(ctx, dev, tc.uri, ""); !errors.Is(err, resource.ErrInvalidURI) {
					t.Errorf("get: %v, want ErrInvalidURI", err)
				}
			})
		}
	})

	t.Run("services and stages", func(t *testing.T) {
		st := b.new(t)()
		r := newRepos(t, st, resource.Options{})
		createProject(t, r, project)
		for range 2 { // idempotent
			if err := r.EnsureService(ctx, project, "carts"); err != nil {
				t.Fatal(err)
			}
		}
		if got := countCommits(t, st, project, "production"); got != 2 {
			t.Errorf("production has %d commits after EnsureService twice, want 2", got)
		}
		if err := r.EnsureStage(ctx, project, "qa"); err != nil {
			t.Fatal(err)
		}
		if err := r.EnsureStage(ctx, project, "qa"); err != nil {
			t.Fatal(err)
		}
		stages, err := r.Stages(ctx, project)
		if err != nil || strings.Join(stages, ",") != "dev,production,qa" {
			t.Errorf("stages = %v, %v", stages, err)
		}
		mustPut(t, r, resource.Ref{Project: project, Stage: "qa", Service: "orders"}, "slo.yaml", "x")
		if got, err := r.List(ctx, resource.Ref{Project: project, Stage: "qa"}); err != nil || len(got) != 0 {
			t.Errorf("a service written without EnsureService shows at stage level: %v %v", got, err)
		}
		if err := r.DeleteService(ctx, project, "carts"); err != nil {
			t.Fatal(err)
		}
		if got, err := r.List(ctx, carts); err != nil || len(got) != 0 {
			t.Errorf("list of deleted service = %v, %v", got, err)
		}
	})

	t.Run("delete project", func(t *testing.T) {
		st := b.new(t)()
		r := newRepos(t, st, resource.Options{})
		createProject(t, r, project)
		if err := r.Delete(ctx, project); err != nil {
			t.Fatal(err)
		}
		if _, err := r.List(ctx, proj); !errors.Is(err, resource.ErrProjectNotFound) {
			t.Errorf("list after delete: %v", err)
		}
		if err := r.Delete(ctx, project); !errors.Is(err, resource.ErrProjectNotFound) {
			t.Errorf("second delete: %v", err)
		}
		createProject(t, r, project)
		if got, err := r.List(ctx, dev); err != nil || len(got) != 0 {
			t.Errorf("recreated project lists %v, %v", got, err)
		}
	})

	t.Run("concurrent puts from two replicas all land", func(t *testing.T) {
		newStorage := b.new(t)
		st := newStorage()
		replicas := []*resource.Repos{newRepos(t, st, resource.Options{}), newRepos(t, newStorage(), resource.Options{})}
		createProject(t, replicas[0], project)
		before := countCommits(t, st, project, "dev")
		const writers, each = 8, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := replicas[w%2]
				for i := range each {
					ref := dev
					if i%2 == 1 {
						ref = carts
					}
					uri := fmt.Sprintf("w%d/f%d.yaml", w, i)
					if _, err := r.Put(ctx, ref, uri, []byte(uri), ""); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := countCommits(t, st, project, "dev") - before; got != writers*each {
			t.Errorf("%d writes made %d commits", writers*each, got)
		}
		n := 0
		for _, ref := range []resource.Ref{dev, carts} {
			list, err := replicas[1].List(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range list {
				if strings.HasPrefix(l.URI, "w") {
					n++
				}
			}
		}
		if n != writers*each {
			t.Errorf("%d files listed, want %d", n, writers*each)
		}
	})

	t.Run("upstream", func(t *testing.T) {
		runUpstream(t, b)
	})
}

func requireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("the git CLI is not installed; upstream and CLI checks need it")
	}
}

func git(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out.String()
}

func bareRepo(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "upstream.git")
	git(t, "init", "--quiet", "--bare", dir)
	return dir
}

// lines counts the non-empty lines of a command's output.
func lines(s string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

func runUpstream(t *testing.T, b backend) {
	requireGit(t)
	ctx := context.Background()
	dev := resource.Ref{Project: "sockshop", Stage: "dev"}

	t.Run("create and writes are pushed", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			url  func(dir string) string
		}{
			{"local path", func(dir string) string { return dir }},
			{"file URL", func(dir string) string { return "file://" + dir }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				up := bareRepo(t)
				url := tc.url(up)
				st := b.new(t)()
				upstream := &resource.Upstream{URL: url}
				r := newRepos(t, st, resource.Options{Upstream: func(context.Context, string) (*resource.Upstream, error) { return upstream, nil }})
				err := r.Create(ctx, "sockshop", resource.InitOptions{Shipyard: []byte(shipyard), Stages: []string{"dev", "production"}, Upstream: upstream})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 3 {
					mustPut(t, r, dev, "slo.yaml", fmt.Sprint(i))
				}
				v := mustPut(t, r, resource.Ref{Project: "sockshop", Stage: "dev", Service: "carts"}, "slo.yaml", "carts")
				if got := lines(git(t, "--git-dir", up, "log", "--format=%H", "dev")); got != 5 {
					t.Errorf("upstream dev has %d commits, want 5 (stage creation + 4 writes)", got)
				}
				if got := strings.TrimSpace(git(t, "--git-dir", up, "rev-parse", "dev")); got != v {
					t.Errorf("upstream dev at %s, want %s", got, v)
				}
				if got := git(t, "--git-dir", up, "show", "master:shipyard.yaml"); got != shipyard {
					t.Errorf("upstream shipyard = %q", got)
				}
				if got := git(t, "--git-dir", up, "show", "dev:carts/slo.yaml"); got != "carts" {
					t.Errorf("upstream dev:carts/slo.yaml = %q", got)
				}
				git(t, "--git-dir", up, "rev-parse", "--verify", "production")
			})
		}
	})

	t.Run("non-empty upstream is refused", func(t *testing.T) {
		up := bareRepo(t)
		st := b.new(t)()
		r := newRepos(t, st, resource.Options{})
		if err := r.Create(ctx, "first", resource.InitOptions{Shipyard: []byte(shipyard), Upstream: &resource.Upstream{URL: up}}); err != nil {
			t.Fatal(err)
		}
		err := r.Create(ctx, "second", resource.InitOptions{Shipyard: []byte(shipyard), Upstream: &resource.Upstream{URL: up}})
		if !errors.Is(err, resource.ErrUpstreamNotEmpty) || !strings.Contains(err.Error(), "master") {
			t.Fatalf("create on a used upstream: %v, want ErrUpstreamNotEmpty naming master", err)
		}
		if _, err := r.List(ctx, resource.Ref{Project: "second"}); !errors.Is(err, resource.ErrProjectNotFound) {
			t.Errorf("project created despite refused upstream: %v", err)
		}
		err = r.Create(ctx, "third", resource.InitOptions{Shipyard: []byte(shipyard), Upstream: &resource.Upstream{URL: filepath.Join(t.TempDir(), "missing.git")}})
		if !errors.Is(err, resource.ErrUpstreamUnreachable) {
			t.Errorf("create on a missing upstream: %v, want ErrUpstreamUnreachable", err)
		}
	})

	t.Run("failed push is a PushError and keeps the commit", func(t *testing.T) {
		const token = "s3cr3t-t0ken"
		cases := []struct {
			name string
			up   resource.Upstream
			hide []string
		}{
			{"missing local repository", resource.Upstream{URL: filepath.Join(t.TempDir(), "gone.git")}, nil},
			{"unreachable http with credentials", resource.Upstream{URL: "http://user:" + token + "@" + closedAddr(t) + "/repo.git?token=" + token, User: "user", Token: token}, []string{token, "user:"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				st := b.new(t)()
				r := newRepos(t, st, resource.Options{Upstream: func(context.Context, string) (*resource.Upstream, error) { return &tc.up, nil }})
				createProject(t, r, "sockshop")
				v, err := r.Put(ctx, dev, "slo.yaml", []byte("kept"), "")
				var pe *resource.PushError
				if !errors.As(err, &pe) {
					t.Fatalf("put: %v, want *PushError", err)
				}
				if v == "" || pe.Version != v {
					t.Errorf("version %q, PushError.Version %q", v, pe.Version)
				}
				t.Logf("push error: %v", err)
				for _, secret := range tc.hide {
					if strings.Contains(err.Error(), secret) || strings.Contains(pe.URL, secret) {
						t.Errorf("error leaks %q: %s", secret, err)
					}
				}
				got, gv, err := r.Get(ctx, dev, "slo.yaml", "")
				if err != nil || string(got) != "kept" || gv != v {
					t.Errorf("after failed push: %q %s %v", got, gv, err)
				}
			})
		}
	})
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		crashChild()
		return
	}
	os.Exit(m.Run())
}
