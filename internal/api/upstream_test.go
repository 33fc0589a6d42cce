package api_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tendhq/tend/internal/api"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/outbound"
)

func gitCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestUpstreamPush creates a project with a local bare repository as its
// upstream: writes are pushed, and a failed push is reported in the answer
// (201 with pushError) while the commit is kept.
func TestUpstreamPush(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	up := filepath.Join(t.TempDir(), "upstream.git")
	gitCmd(t, "init", "--quiet", "--bare", up)
	ts := startServer(t, sqliteBackend, withFileUpstreams(t))
	b := ts.wantStatus(t, http.StatusCreated, "POST", "/api/v1/project", ts.Admin,
		apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyardV02, GitRemoteURL: up, GitUser: "me", GitToken: "s3cret-upstream-token"})
	if strings.Contains(string(b), "s3cret") {
		t.Errorf("answer leaks the upstream token: %s", b)
	}
	p := decode[apitypes.Project](t, ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop", ts.Admin, nil))
	if p.GitRemoteURL != up || p.GitUser != "me" {
		t.Errorf("project upstream = %q %q", p.GitRemoteURL, p.GitUser)
	}
	ts.createProject(t, "other") // no upstream
	ts.wantStatus(t, http.StatusCreated, "POST", "/api/v1/project/sockshop/service", ts.Admin, apitypes.CreateServiceRequest{ServiceName: "carts"})
	v := decode[apitypes.Version](t, ts.wantStatus(t, http.StatusCreated, "POST",
		"/api/v1/project/sockshop/stage/production/service/carts/resource", ts.Admin, putBody(map[string]string{"slo.yaml": sloYAML})))
	if v.PushError != "" {
		t.Fatalf("push failed: %s", v.PushError)
	}
	if head := gitCmd(t, "--git-dir", up, "rev-parse", "production"); head != v.CommitID {
		t.Errorf("upstream production = %s; want %s", head, v.CommitID)
	}

	// The upstream goes away: the write is kept and the failure reported.
	if err := os.RemoveAll(up); err != nil {
		t.Fatal(err)
	}
	v2 := decode[apitypes.Version](t, ts.wantStatus(t, http.StatusCreated, "POST",
		"/api/v1/project/sockshop/stage/production/service/carts/resource", ts.Admin, putBody(map[string]string{"notes.txt": "x"})))
	if v2.PushError == "" || v2.CommitID == "" || v2.CommitID == v.CommitID {
		t.Fatalf("version after failed push = %+v; want a new commit with pushError", v2)
	}
	if strings.Contains(v2.PushError, "s3cret") {
		t.Errorf("push error leaks the token: %s", v2.PushError)
	}
	ts.wantStatus(t, http.StatusOK, "GET", "/api/v1/project/sockshop/stage/production/service/carts/resource/notes.txt", ts.Admin, nil)
	// Service creation reports it in a header, since Service has no field.
	_, h, _ := ts.do(t, "POST", "/api/v1/project/sockshop/service", ts.Admin, apitypes.CreateServiceRequest{ServiceName: "orders"})
	if h.Get("Tend-Push-Error") == "" {
		t.Error("no Tend-Push-Error header after a failed push")
	}

	// A non-empty upstream is refused and nothing is created.
	full := filepath.Join(t.TempDir(), "full.git")
	gitCmd(t, "init", "--quiet", "--bare", full)
	src := t.TempDir()
	gitCmd(t, "-C", src, "init", "--quiet")
	gitCmd(t, "-C", src, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "--allow-empty", "-m", "x")
	gitCmd(t, "-C", src, "push", "--quiet", full, "HEAD:refs/heads/master")
	code, _, body := ts.do(t, "POST", "/api/v1/project", ts.Admin, apitypes.CreateProjectRequest{Name: "third", Shipyard: shipyardV02, GitRemoteURL: full})
	if code != http.StatusConflict {
		t.Errorf("non-empty upstream: %d %s; want 409", code, body)
	}
	ts.wantStatus(t, http.StatusNotFound, "GET", "/api/v1/project/third", ts.Admin, nil)
}

// withFileUpstreams opts a test server into local upstreams, as tend.yaml's
// outbound.allowFileUpstreams does for tests.
func withFileUpstreams(t testing.TB) serverOption {
	t.Helper()
	p, err := outbound.New(outbound.Options{AllowFileUpstreams: true})
	if err != nil {
		t.Fatal(err)
	}
	return func(o *api.Options) { o.Outbound = p }
}

// TestUpstreamPolicy: by default a Git upstream must be https or ssh; a
// local path or file:// URL would make tend write on its own host.
func TestUpstreamPolicy(t *testing.T) {
	ts := startServer(t, sqliteBackend)
	local := filepath.Join(t.TempDir(), "upstream.git")
	for _, tt := range []struct{ name, url, want string }{
		{"local path", local, "is a local path or file:// URL"},
		{"file URL", "file://" + local, "is a local path or file:// URL"},
		{"plain http", "http://git.example/r.git", "is not allowed for Git upstreams"},
		{"metadata host", "https://169.254.169.254/r.git", "cloud metadata"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := ts.do(t, "POST", "/api/v1/project", ts.Admin, apitypes.CreateProjectRequest{Name: "sockshop", Shipyard: shipyardV02, GitRemoteURL: tt.url})
			if code != http.StatusBadRequest || !strings.Contains(string(body), tt.want) || !strings.Contains(string(body), "gitRemoteURL") {
				t.Errorf("POST project with upstream %s = %d %s; want 400 naming gitRemoteURL and %q", tt.url, code, body, tt.want)
			}
		})
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("the local upstream was created: %v", err)
	}
	ts.wantStatus(t, http.StatusNotFound, "GET", "/api/v1/project/sockshop", ts.Admin, nil)
}
