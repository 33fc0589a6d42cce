package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const badShipyard = "apiVersion: spec.keptn.sh/0.2.3\nkind: Shipyard\nmetadata:\n  name: x\nspec:\n  stages: 5\n"

const projectAnswer = `{"projectName":"sockshop","creationDate":"2024-05-01T10:00:00Z","shipyardVersion":"spec.keptn.sh/0.2.2",` +
	`"gitRemoteURL":"https://git.example/sockshop.git","gitUser":"me","future":{"x":1},` +
	`"stages":[{"stageName":"staging","services":[{"serviceName":"carts","creationDate":"2024-05-01T10:01:00Z"}],"remediationEnabled":false},` +
	`{"stageName":"production","services":[{"serviceName":"carts","creationDate":"2024-05-01T10:01:00Z"}],"remediationEnabled":true}]}`

// exampleFile is a file of the repository's examples/ directory.
func exampleFile(t testing.TB, name string) (string, []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "examples", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

func TestCreateProject(t *testing.T) {
	shipyardPath, shipyard := exampleFile(t, "shipyard.yaml")
	body := func(extra map[string]string) string {
		m := map[string]string{"name": "sockshop", "shipyard": string(shipyard)}
		for k, v := range extra {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}

	t.Run("plain", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/project", status: 201, body: body(nil), answer: projectAnswer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "create", "project", "sockshop", "--shipyard", shipyardPath)
		wantExit(t, r, ExitOK)
		if r.stdout != "Project sockshop created with stages staging, production\n" {
			t.Errorf("stdout %q", r.stdout)
		}
		if !strings.Contains(r.stderr, "Creating project sockshop...") {
			t.Errorf("stderr %q lacks progress", r.stderr)
		}
	})
	t.Run("upstream with the git token from the environment", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/project", status: 201,
			body:   body(map[string]string{"gitRemoteURL": "https://git.example/sockshop.git", "gitUser": "me", "gitToken": "ghp_secret"}),
			answer: projectAnswer})
		useConfig(t, srv.url)
		t.Setenv("GIT_TOKEN", "ghp_secret")
		r := runOnline(t, "", "create", "project", "sockshop", "--shipyard", shipyardPath,
			"--git-remote-url", "https://git.example/sockshop.git", "--git-user", "me", "--git-token", "env:GIT_TOKEN")
		wantExit(t, r, ExitOK)
		if strings.Contains(r.stdout+r.stderr, "ghp_secret") {
			t.Errorf("the git token was printed")
		}
	})
	t.Run("shipyard from stdin", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/project", status: 201, body: body(nil), answer: projectAnswer})
		useConfig(t, srv.url)
		r := runOnline(t, string(shipyard), "create", "project", "sockshop", "--shipyard", "-")
		wantExit(t, r, ExitOK)
	})
	t.Run("invalid shipyard is refused before sending", func(t *testing.T) {
		useConfig(t, closedEndpoint(t)) // nothing may be sent
		path := writeFile(t, "shipyard.yaml", badShipyard)
		r := runOnline(t, "", "create", "project", "sockshop", "--shipyard", path)
		wantExit(t, r, ExitBadInput)
		if want := path + ":6:11: spec.stages must be a list"; !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q lacks %q", r.stderr, want)
		}
		if !strings.Contains(r.stderr, "Error: shipyard "+path+" is invalid; project sockshop was not created") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("server refusal", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/project", status: 409, body: body(nil),
			answer: `{"code":409,"message":"project sockshop exists"}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "create", "project", "sockshop", "--shipyard", shipyardPath)
		wantExit(t, r, ExitBadInput)
		if !strings.Contains(r.stderr, "project sockshop exists") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		useConfig(t, "")
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"no shipyard", []string{"create", "project", "sockshop"}, `required flag(s) "shipyard" not set`},
			{"git user without remote", []string{"create", "project", "sockshop", "--shipyard", shipyardPath, "--git-user", "me"}, "need --git-remote-url"},
			{"missing shipyard file", []string{"create", "project", "sockshop", "--shipyard", "/nonexistent.yaml"}, "no such file"},
			{"no name", []string{"create", "project", "--shipyard", shipyardPath}, "accepts 1 arg"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := runOnline(t, "", tt.args...)
				wantExit(t, r, ExitBadInput)
				if !strings.Contains(r.stderr, tt.want) {
					t.Errorf("stderr %q lacks %q", r.stderr, tt.want)
				}
			})
		}
	})
}

func TestGetProjects(t *testing.T) {
	answer := `{"projects":[` + projectAnswer + `],"totalCount":1}`
	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "projects")
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME      STAGES") ||
			!strings.HasPrefix(lines[1], "sockshop  staging, production  carts") {
			t.Errorf("table:\n%s", r.stdout)
		}
	})
	t.Run("json unchanged", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "projects", "-o", "json")
		wantExit(t, r, ExitOK)
		if got := compactJSON(t, r.stdout); got != answer {
			t.Errorf("got %s\nwant %s", got, answer)
		}
	})
}

func TestGetProject(t *testing.T) {
	t.Run("table of stages and services", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop", answer: projectAnswer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "project", "sockshop")
		wantExit(t, r, ExitOK)
		for _, want := range []string{
			"Project:  sockshop\n", "Shipyard: spec.keptn.sh/0.2.2\n",
			"Upstream: https://git.example/sockshop.git (user me)\n",
			"STAGE       SELF-HEALING  SERVICES\nstaging     off           carts\nproduction  on            carts\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
			}
		}
	})
	for _, format := range []string{"json", "yaml"} {
		t.Run(format+" is the answer unchanged", func(t *testing.T) {
			srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/sockshop", answer: projectAnswer})
			useConfig(t, srv.url)
			r := runOnline(t, "", "get", "project", "sockshop", "-o", format)
			wantExit(t, r, ExitOK)
			got := r.stdout
			if format == "yaml" {
				y, err := jsonToYAML([]byte(projectAnswer))
				if err != nil {
					t.Fatal(err)
				}
				if got != string(y) {
					t.Errorf("got\n%s\nwant\n%s", got, y)
				}
				return
			}
			if compactJSON(t, got) != projectAnswer {
				t.Errorf("got %s\nwant %s", got, projectAnswer)
			}
		})
	}
	t.Run("unknown project", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: "/api/v1/project/nope", status: 404, answer: `{"code":404,"message":"project nope not found"}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "project", "nope", "-o", "json")
		wantExit(t, r, ExitBadInput)
		if r.stdout != "" {
			t.Errorf("stdout %q should be empty on an error", r.stdout)
		}
	})
}

func TestDeleteProject(t *testing.T) {
	srv := newFakeServer(t, exchange{method: "DELETE", path: "/api/v1/project/sockshop", status: 204})
	useConfig(t, srv.url)
	r := runOnline(t, "", "delete", "project", "sockshop")
	wantExit(t, r, ExitOK)
	if r.stdout != "Project sockshop deleted\n" {
		t.Errorf("stdout %q", r.stdout)
	}
}
