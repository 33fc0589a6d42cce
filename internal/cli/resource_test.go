package cli

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cartsLevel = "/api/v1/project/sockshop/stage/production/service/carts"

// putBody is the request body of writing one resource.
func putBody(uri string, content []byte) string {
	return `{"resources":[{"resourceURI":"` + uri + `","resourceContent":"` + base64.StdEncoding.EncodeToString(content) + `"}]}`
}

func TestAddResource(t *testing.T) {
	sloPath, slo := exampleFile(t, "slo.yaml")
	sliPath, sli := exampleFile(t, filepath.Join("prometheus", "sli.yaml"))
	commit := `{"commitID":"1f0c3a7e9b"}`

	tests := []struct {
		name    string
		args    []string
		path    string // the level's resource route
		uri     string
		content []byte
	}{
		{"service level with --resourceUri", []string{"--stage", "production", "--service", "carts", "--resource", sloPath, "--resourceUri", "slo.yaml"}, cartsLevel + "/resource", "slo.yaml", slo},
		{"kebab-case --resource-uri", []string{"--stage", "production", "--service", "carts", "--resource", sliPath, "--resource-uri", "prometheus/sli.yaml"}, cartsLevel + "/resource", "prometheus/sli.yaml", sli},
		{"stage level", []string{"--stage", "production", "--resource", sliPath, "--resourceUri", "/prometheus/sli.yaml"}, "/api/v1/project/sockshop/stage/production/resource", "prometheus/sli.yaml", sli},
		{"project level", []string{"--resource", sloPath, "--resourceUri", "docs/notes.txt"}, "/api/v1/project/sockshop/resource", "docs/notes.txt", slo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, exchange{method: "POST", path: tt.path, status: 201, body: putBody(tt.uri, tt.content), answer: commit})
			useConfig(t, srv.url)
			r := runOnline(t, "", append([]string{"add-resource", "--project", "sockshop"}, tt.args...)...)
			wantExit(t, r, ExitOK)
			if !strings.HasPrefix(r.stdout, "Resource "+tt.uri+" added to project sockshop") || !strings.HasSuffix(r.stdout, ": commit 1f0c3a7e9b\n") {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}

	t.Run("the URI defaults to the local path", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "prometheus"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "prometheus", "sli.yaml"), sli, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		srv := newFakeServer(t, exchange{method: "POST", path: cartsLevel + "/resource", status: 201, body: putBody("prometheus/sli.yaml", sli), answer: commit})
		useConfig(t, srv.url)
		r := runOnline(t, "", "add-resource", "--project", "sockshop", "--stage", "production", "--service", "carts", "--resource", "./prometheus/sli.yaml")
		wantExit(t, r, ExitOK)
	})

	t.Run("a failed push is reported with exit 3", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "POST", path: cartsLevel + "/resource", status: 201, body: putBody("slo.yaml", slo),
			answer: `{"commitID":"1f0c3a7e9b","pushError":"remote rejected: permission denied"}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "add-resource", "--project", "sockshop", "--stage", "production", "--service", "carts", "--resource", sloPath, "--resourceUri", "slo.yaml")
		wantExit(t, r, ExitServer)
		if !strings.Contains(r.stdout, "commit 1f0c3a7e9b") {
			t.Errorf("stdout %q should still name the stored commit", r.stdout)
		}
		if !strings.Contains(r.stderr, "Error: commit 1f0c3a7e9b is stored") || !strings.Contains(r.stderr, "remote rejected: permission denied") {
			t.Errorf("stderr %q does not report the push failure", r.stderr)
		}
	})

	t.Run("invalid spec files are refused before sending", func(t *testing.T) {
		badSLO := "spec_version: \"1.0\"\nobjectives:\n  - sli: x\n    pass:\n      - criteria: [\"=>5\"]\ntotal_score: {pass: \"90%\"}\n"
		cases := []struct {
			name, file, content, uri, want string
		}{
			{"slo by URI", "my-slo.yaml", badSLO, "slo.yaml", ":5:20: invalid criterion \"=>5\""},
			{"shipyard", "s.yaml", badShipyard, "shipyard.yaml", ":6:11: spec.stages must be a list"},
			{"sli in a provider folder", "x.yaml", "indicators: 5\n", "prometheus/sli.yaml", ":1:13:"},
			{"remediation", "r.yaml", "remediations: 5\n", "remediation.yaml", ":1:15:"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				useConfig(t, closedEndpoint(t)) // nothing may be sent
				path := writeFile(t, c.file, c.content)
				r := runOnline(t, "", "add-resource", "--project", "sockshop", "--stage", "production", "--service", "carts", "--resource", path, "--resourceUri", c.uri)
				wantExit(t, r, ExitBadInput)
				if !strings.Contains(r.stderr, path+c.want) {
					t.Errorf("stderr %q lacks %q", r.stderr, path+c.want)
				}
				if !strings.Contains(r.stderr, "it was not added") {
					t.Errorf("stderr %q", r.stderr)
				}
			})
		}
	})

	t.Run("other files are not validated", func(t *testing.T) {
		path := writeFile(t, "notes.yaml", "objectives: 5\n")
		srv := newFakeServer(t, exchange{method: "POST", path: "/api/v1/project/sockshop/resource", status: 201, body: putBody("notes.yaml", []byte("objectives: 5\n")), answer: commit})
		useConfig(t, srv.url)
		r := runOnline(t, "", "add-resource", "--project", "sockshop", "--resource", path, "--resourceUri", "notes.yaml")
		wantExit(t, r, ExitOK)
	})

	t.Run("usage errors", func(t *testing.T) {
		useConfig(t, "")
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"service without stage", []string{"--project", "sockshop", "--service", "carts", "--resource", sloPath}, "--service carts needs --stage"},
			{"no resource", []string{"--project", "sockshop"}, `required flag(s) "resource" not set`},
			{"no project", []string{"--resource", sloPath}, `required flag(s) "project" not set`},
			{"dot-dot in the default URI", []string{"--project", "sockshop", "--resource", sloPath}, `must not contain ".."`},
			{"stdin without a URI", []string{"--project", "sockshop", "--resource", "-"}, "--resource - needs --resourceUri"},
			{"missing file", []string{"--project", "sockshop", "--resource", "/nonexistent/slo.yaml", "--resourceUri", "slo.yaml"}, "no such file"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := runOnline(t, "", append([]string{"add-resource"}, tt.args...)...)
				wantExit(t, r, ExitBadInput)
				if !strings.Contains(r.stderr, tt.want) {
					t.Errorf("stderr %q lacks %q", r.stderr, tt.want)
				}
			})
		}
	})
}

func TestGetResource(t *testing.T) {
	content := "spec_version: \"1.0\"\nindicators:\n  throughput: sum(rate(x[1m]))\n"
	answer := `{"resourceURI":"prometheus/sli.yaml","resourceContent":"` + base64.StdEncoding.EncodeToString([]byte(content)) + `","version":"abc123"}`
	one := cartsLevel + "/resource/prometheus%2Fsli.yaml"
	base := []string{"get", "resource", "prometheus/sli.yaml", "--project", "sockshop", "--stage", "production", "--service", "carts"}

	t.Run("raw content", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: one, answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", base...)
		wantExit(t, r, ExitOK)
		if r.stdout != content {
			t.Errorf("stdout %q, want the content unchanged %q", r.stdout, content)
		}
	})
	t.Run("at a version", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: one, query: "gitCommitID=abc123", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", append(base, "--version", "abc123")...)
		wantExit(t, r, ExitOK)
		if r.stdout != content {
			t.Errorf("stdout %q", r.stdout)
		}
	})
	t.Run("json unchanged", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: one, query: "gitCommitID=abc123", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", append(base, "--version", "abc123", "-o", "json")...)
		wantExit(t, r, ExitOK)
		if got := compactJSON(t, r.stdout); got != answer {
			t.Errorf("got %s", got)
		}
	})
	history := `{"resourceURI":"prometheus/sli.yaml","commits":[{"commitID":"def456","message":"update prometheus/sli.yaml\n\nmore","author":"tend","time":"2024-05-02T10:00:00Z"},` +
		`{"commitID":"abc123","message":"add prometheus/sli.yaml","author":"tend","time":"2024-05-01T10:00:00Z"}]}`
	t.Run("history", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: one + "/history", answer: history})
		useConfig(t, srv.url)
		r := runOnline(t, "", append(base, "--history")...)
		wantExit(t, r, ExitOK)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "COMMIT") ||
			!strings.HasPrefix(lines[1], "def456") || !strings.HasSuffix(lines[1], "tend    update prometheus/sli.yaml") ||
			!strings.HasPrefix(lines[2], "abc123") {
			t.Errorf("history table:\n%s", r.stdout)
		}
	})
	t.Run("history json unchanged", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: one + "/history", answer: history})
		useConfig(t, srv.url)
		r := runOnline(t, "", append(base, "--history", "-o", "json")...)
		wantExit(t, r, ExitOK)
		if got := compactJSON(t, r.stdout); got != history {
			t.Errorf("got %s", got)
		}
	})
	t.Run("not found", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: one, status: 404, answer: `{"code":404,"message":"resource prometheus/sli.yaml not found"}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", base...)
		wantExit(t, r, ExitBadInput)
	})
	t.Run("usage errors", func(t *testing.T) {
		useConfig(t, "")
		for _, args := range [][]string{
			{"get", "resource", "slo.yaml", "--project", "sockshop", "--service", "carts"},
			append(append([]string{}, base...), "--history", "--version", "abc"),
			{"get", "resource", "../x", "--project", "sockshop"},
			{"get", "resource", "--project", "sockshop"},
		} {
			r := runOnline(t, "", args...)
			wantExit(t, r, ExitBadInput)
		}
	})
}

func TestGetResources(t *testing.T) {
	answer := `{"resources":[{"resourceURI":"slo.yaml","version":"abc123"},{"resourceURI":"prometheus/sli.yaml","version":"def456"}],"totalCount":2}`
	t.Run("table", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: cartsLevel + "/resource", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "resources", "--project", "sockshop", "--stage", "production", "--service", "carts")
		wantExit(t, r, ExitOK)
		want := "URI                  VERSION\nslo.yaml             abc123\nprometheus/sli.yaml  def456\n"
		if r.stdout != want {
			t.Errorf("got\n%s\nwant\n%s", r.stdout, want)
		}
	})
	t.Run("json unchanged", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "GET", path: cartsLevel + "/resource", answer: answer})
		useConfig(t, srv.url)
		r := runOnline(t, "", "get", "resources", "--project", "sockshop", "--stage", "production", "--service", "carts", "-o", "json")
		wantExit(t, r, ExitOK)
		if got := compactJSON(t, r.stdout); got != answer {
			t.Errorf("got %s", got)
		}
	})
	t.Run("service without stage", func(t *testing.T) {
		useConfig(t, "")
		r := runOnline(t, "", "get", "resources", "--project", "sockshop", "--service", "carts")
		wantExit(t, r, ExitBadInput)
	})
}

func TestDeleteResource(t *testing.T) {
	t.Run("deleted", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "DELETE", path: cartsLevel + "/resource/remediation.yaml", answer: `{"commitID":"fed987"}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "delete", "resource", "remediation.yaml", "--project", "sockshop", "--stage", "production", "--service", "carts")
		wantExit(t, r, ExitOK)
		if r.stdout != "Resource remediation.yaml deleted from project sockshop, stage production, service carts: commit fed987\n" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
	t.Run("push failure", func(t *testing.T) {
		srv := newFakeServer(t, exchange{method: "DELETE", path: "/api/v1/project/sockshop/resource/shipyard.yaml", answer: `{"commitID":"fed987","pushError":"timeout"}`})
		useConfig(t, srv.url)
		r := runOnline(t, "", "delete", "resource", "shipyard.yaml", "--project", "sockshop")
		wantExit(t, r, ExitServer)
		if !strings.Contains(r.stderr, "pushing it to the project's upstream Git repository failed: timeout") {
			t.Errorf("stderr %q", r.stderr)
		}
	})
}

func TestResourceURI(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"slo.yaml", "slo.yaml", false},
		{"./slo.yaml", "slo.yaml", false},
		{"/prometheus/sli.yaml", "prometheus/sli.yaml", false},
		{"prometheus//sli.yaml", "prometheus/sli.yaml", false},
		{"a/../slo.yaml", "slo.yaml", false},
		{"../slo.yaml", "", true},
		{".", "", true},
		{"/", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := resourceURI("--resourceUri", tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("resourceURI(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzResourceURI(f *testing.F) {
	for _, s := range []string{"slo.yaml", "../x", "/a/b", "a/./b/..", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := resourceURI("--resourceUri", in)
		if err != nil {
			return
		}
		if got == "" || strings.HasPrefix(got, "/") {
			t.Errorf("resourceURI(%q) = %q: empty or absolute", in, got)
		}
		for _, seg := range strings.Split(got, "/") {
			if seg == ".." || seg == "." || seg == "" {
				t.Errorf("resourceURI(%q) = %q: segment %q", in, got, seg)
			}
		}
	})
}
