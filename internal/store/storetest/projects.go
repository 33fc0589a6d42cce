package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tendhq/tend/internal/store"
)

const shipyard = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\n"

func mustErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one wrapping %v", err, want)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testProjects(t *testing.T, h Harness) {
	s, clk := open(t, h)
	c := ctx(t)

	p, err := s.CreateProject(c, store.NewProject{
		Name: "sockshop", Shipyard: []byte(shipyard),
		UpstreamURL: "https://git.example.com/sockshop.git", UpstreamUser: "bot", UpstreamToken: "s3cret",
	})
	must(t, err)
	if !p.HasUpstreamToken || !p.CreatedAt.Equal(clk.Now()) {
		t.Errorf("created project = %+v, want HasUpstreamToken and CreatedAt %v", p, clk.Now())
	}
	_, err = s.CreateProject(c, store.NewProject{Name: "sockshop"})
	mustErr(t, err, store.ErrExists)
	_, err = s.CreateProject(c, store.NewProject{Name: ""})
	mustErr(t, err, store.ErrInvalid)
	_, err = s.CreateProject(c, store.NewProject{Name: "another", Shipyard: []byte(shipyard)})
	must(t, err)

	got, err := s.GetProject(c, "sockshop")
	must(t, err)
	if got.Name != "sockshop" || string(got.Shipyard) != shipyard || got.UpstreamURL != "https://git.example.com/sockshop.git" ||
		got.UpstreamUser != "bot" || !got.HasUpstreamToken {
		t.Errorf("GetProject = %+v", got)
	}
	if bytes.Contains(mustJSON(t, got), []byte("s3cret")) {
		t.Error("the upstream token appears in the Project record")
	}
	tok, err := s.ProjectUpstreamToken(c, "sockshop")
	must(t, err)
	if tok != "s3cret" {
		t.Errorf("ProjectUpstreamToken = %q, want s3cret", tok)
	}
	tok, err = s.ProjectUpstreamToken(c, "another")
	must(t, err)
	if tok != "" {
		t.Errorf("ProjectUpstreamToken without upstream = %q, want empty", tok)
	}
	_, err = s.ProjectUpstreamToken(c, "nope")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.GetProject(c, "nope")
	mustErr(t, err, store.ErrNotFound)

	list, err := s.ListProjects(c)
	must(t, err)
	if len(list) != 2 || list[0].Name != "another" || list[1].Name != "sockshop" {
		t.Errorf("ListProjects = %+v, want another, sockshop", names(list))
	}

	clk.Advance(1000)
	must(t, s.UpdateShipyard(c, "sockshop", []byte("new")))
	got, err = s.GetProject(c, "sockshop")
	must(t, err)
	if string(got.Shipyard) != "new" {
		t.Errorf("shipyard after update = %q", got.Shipyard)
	}
	mustErr(t, s.UpdateShipyard(c, "nope", nil), store.ErrNotFound)

	must(t, s.UpdateUpstream(c, "sockshop", "https://git.example/sockshop.git", "git-user", "upstream-secret"))
	got, err = s.GetProject(c, "sockshop")
	must(t, err)
	if got.UpstreamURL != "https://git.example/sockshop.git" || got.UpstreamUser != "git-user" || !got.HasUpstreamToken {
		t.Errorf("after UpdateUpstream: %+v", got)
	}
	if tok, err := s.ProjectUpstreamToken(c, "sockshop"); err != nil || tok != "upstream-secret" {
		t.Errorf("upstream token after update = %q, %v", tok, err)
	}
	must(t, s.UpdateUpstream(c, "sockshop", "", "", ""))
	if got, err = s.GetProject(c, "sockshop"); err != nil || got.UpstreamURL != "" || got.HasUpstreamToken {
		t.Errorf("after removing the upstream: %+v, %v", got, err)
	}
	mustErr(t, s.UpdateUpstream(c, "nope", "", "", ""), store.ErrNotFound)

	// Deleting cascades to services, settings and project tokens, and
	// leaves other projects alone.
	_, err = s.CreateService(c, "sockshop", "carts")
	must(t, err)
	_, err = s.CreateService(c, "another", "carts")
	must(t, err)
	must(t, s.PutSetting(c, store.Setting{Scope: store.Scope{Project: "sockshop", Stage: "prod"}, Key: "k", Value: json.RawMessage(`1`)}))
	_, err = s.CreateToken(c, store.NewToken{Name: "intake", Scope: "read", Project: "sockshop", Hash: hash("intake")})
	must(t, err)
	_, err = s.CreateToken(c, store.NewToken{Name: "admin", Scope: "admin", Hash: hash("admin")})
	must(t, err)

	must(t, s.DeleteProject(c, "sockshop"))
	mustErr(t, s.DeleteProject(c, "sockshop"), store.ErrNotFound)
	_, err = s.GetProject(c, "sockshop")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.GetService(c, "sockshop", "carts")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.GetSetting(c, store.Scope{Project: "sockshop", Stage: "prod"}, "k")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.TokenByHash(c, hash("intake"))
	mustErr(t, err, store.ErrNotFound)
	_, err = s.TokenByHash(c, hash("admin"))
	must(t, err)
	_, err = s.GetService(c, "another", "carts")
	must(t, err)

	// The name is free again, without the old services.
	_, err = s.CreateProject(c, store.NewProject{Name: "sockshop"})
	must(t, err)
	svcs, err := s.ListServices(c, "sockshop")
	must(t, err)
	if len(svcs) != 0 {
		t.Errorf("recreated project has services %+v", svcs)
	}
}

func testServices(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	_, err := s.CreateService(c, "sockshop", "carts")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.ListServices(c, "sockshop")
	mustErr(t, err, store.ErrNotFound)
	_, err = s.CreateProject(c, store.NewProject{Name: "sockshop"})
	must(t, err)
	for _, n := range []string{"orders", "carts"} {
		_, err := s.CreateService(c, "sockshop", n)
		must(t, err)
	}
	_, err = s.CreateService(c, "sockshop", "carts")
	mustErr(t, err, store.ErrExists)
	_, err = s.CreateService(c, "sockshop", "")
	mustErr(t, err, store.ErrInvalid)

	list, err := s.ListServices(c, "sockshop")
	must(t, err)
	if len(list) != 2 || list[0].Name != "carts" || list[1].Name != "orders" || list[0].Project != "sockshop" {
		t.Errorf("ListServices = %+v, want carts, orders", list)
	}
	got, err := s.GetService(c, "sockshop", "carts")
	must(t, err)
	if got.Name != "carts" || got.Project != "sockshop" {
		t.Errorf("GetService = %+v", got)
	}
	must(t, s.DeleteService(c, "sockshop", "carts"))
	mustErr(t, s.DeleteService(c, "sockshop", "carts"), store.ErrNotFound)
	_, err = s.GetService(c, "sockshop", "carts")
	mustErr(t, err, store.ErrNotFound)
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func testTokens(t *testing.T, h Harness) {
	s, _ := open(t, h)
	c := ctx(t)
	n, err := s.CountTokens(c, "admin")
	must(t, err)
	if n != 0 {
		t.Fatalf("a new store counts %d admin tokens", n)
	}
	for _, nt := range []store.NewToken{
		{Name: "admin", Scope: "admin", Hash: hash("a")},
		{Name: "ci", Scope: "write", Project: "sockshop", Hash: hash("b")},
		{Name: "dash", Scope: "read", Hash: hash("c")},
	} {
		_, err := s.CreateToken(c, nt)
		must(t, err)
	}
	tests := []struct {
		name string
		tok  store.NewToken
		want error
	}{
		{"duplicate name", store.NewToken{Name: "ci", Scope: "read", Hash: hash("z")}, store.ErrExists},
		{"duplicate hash", store.NewToken{Name: "other", Scope: "read", Hash: hash("b")}, store.ErrExists},
		{"no name", store.NewToken{Scope: "read", Hash: hash("y")}, store.ErrInvalid},
		{"no scope", store.NewToken{Name: "x", Hash: hash("y")}, store.ErrInvalid},
		{"no hash", store.NewToken{Name: "x", Scope: "read"}, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateToken(c, tt.tok)
			mustErr(t, err, tt.want)
		})
	}

	got, err := s.TokenByHash(c, hash("b"))
	must(t, err)
	if got.Name != "ci" || got.Scope != "write" || got.Project != "sockshop" || !bytes.Equal(got.Hash, hash("b")) {
		t.Errorf("TokenByHash = %+v", got)
	}
	_, err = s.TokenByHash(c, hash("unknown"))
	mustErr(t, err, store.ErrNotFound)
	list, err := s.ListTokens(c)
	must(t, err)
	if len(list) != 3 || list[0].Name != "admin" || list[2].Name != "dash" {
		t.Errorf("ListTokens = %+v", list)
	}
	for scope, want := range map[string]int{"admin": 1, "read": 1, "": 3, "none": 0} {
		n, err := s.CountTokens(c, scope)
		must(t, err)
		if n != want {
			t.Errorf("CountTokens(%q) = %d, want %d", scope, n, want)
		}
	}

	// Revocation takes effect at once.
	must(t, s.DeleteToken(c, "ci"))
	_, err = s.TokenByHash(c, hash("b"))
	mustErr(t, err, store.ErrNotFound)
	_, err = s.GetToken(c, "ci")
	mustErr(t, err, store.ErrNotFound)
	mustErr(t, s.DeleteToken(c, "ci"), store.ErrNotFound)
	_, err = s.GetToken(c, "dash")
	must(t, err)
}

func names(ps []store.Project) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}
