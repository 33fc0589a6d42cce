package api

import (
	"errors"
	"net/http"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/store"
)

// createToken issues a token. Its secret is in this answer only; the store
// keeps the SHA-256. An admin token restricted to a project issues tokens
// of that project only.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := p.Can(auth.ActionManageTokens, p.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req apitypes.CreateTokenRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := auth.CheckName(req.Name); err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	var scope string
	if req.Scope == apitypes.ScopeIntake {
		// An intake token delivers problems for exactly one project.
		if req.Project == "" {
			s.writeError(w, r, errorf(http.StatusBadRequest, "an intake token belongs to one project: give the project (tend create token %s --scope intake --project P)", req.Name))
			return
		}
		scope = string(apitypes.ScopeIntake)
	} else {
		sc, err := auth.ParseScope(string(req.Scope))
		if err != nil {
			s.writeError(w, r, errorf(http.StatusBadRequest, "%v; or intake for a project's ingest-only token", err))
			return
		}
		scope = string(sc)
	}
	if err := p.Can(auth.ActionManageTokens, req.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Project != "" {
		if _, err := s.store.GetProject(r.Context(), req.Project); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	secret, err := auth.NewToken()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := s.store.CreateToken(r.Context(), store.NewToken{Name: req.Name, Scope: scope, Project: req.Project, Hash: auth.Sum(secret)})
	if errors.Is(err, store.ErrExists) {
		s.writeError(w, r, errorf(http.StatusConflict, "a token named %q already exists: pick another name, or delete that token first", req.Name))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, apitypes.CreatedToken{Name: t.Name, Scope: apitypes.Scope(t.Scope), Project: t.Project, Token: secret})
}

// listTokens lists the tokens the caller may manage, without secrets or
// hashes.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := p.Can(auth.ActionManageTokens, p.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	all, err := s.store.ListTokens(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.TokenList{Tokens: []apitypes.Token{}}
	for _, t := range all {
		if p.Can(auth.ActionManageTokens, t.Project) != nil {
			continue
		}
		out.Tokens = append(out.Tokens, apitypes.Token{Name: t.Name, Scope: apitypes.Scope(t.Scope), Project: t.Project, CreatedAt: t.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
}

// deleteToken revokes a token. Lookups are never cached, so the token stops
// working with the next request, on every replica. A token the caller may
// not manage answers 404 like a missing one, so a project's admin learns
// nothing about other projects' tokens.
func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := p.Can(auth.ActionManageTokens, p.Project); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := r.PathValue("name")
	t, err := s.store.GetToken(r.Context(), name)
	if err == nil && p.Can(auth.ActionManageTokens, t.Project) != nil {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, r, errorf(http.StatusNotFound, "token %q not found", name))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.DeleteToken(r.Context(), name); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "token_revoked", "token_name", name, "by", p.TokenName)
	w.WriteHeader(http.StatusNoContent)
}
