package api

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/secret"
	"github.com/tendhq/tend/internal/store"
)

// cleanKeptnPath removes doubled slashes from a Keptn resource-service
// path. The keptn CLI's project-level add-resource calls
// .../project/{p}//resource; ServeMux would answer that with a redirect,
// which a client does not follow for a POST, so the path is cleaned in
// place instead.
func cleanKeptnPath(r *http.Request) *http.Request {
	if !strings.HasPrefix(r.URL.Path, keptnResources+"/") || !strings.Contains(r.URL.Path, "//") {
		return r
	}
	r2 := r.Clone(r.Context())
	for strings.Contains(r2.URL.Path, "//") {
		r2.URL.Path = strings.ReplaceAll(r2.URL.Path, "//", "/")
	}
	for strings.Contains(r2.URL.RawPath, "//") {
		r2.URL.RawPath = strings.ReplaceAll(r2.URL.RawPath, "//", "/")
	}
	return r2
}

// keptnMeta describes where a version of ref lives.
func (s *Server) keptnMeta(ctx context.Context, ref resource.Ref, version string) apitypes.KeptnResourceMetadata {
	m := apitypes.KeptnResourceMetadata{Branch: ref.Stage, Version: version}
	if m.Branch == "" {
		m.Branch = resource.DefaultBranch
	}
	if p, err := s.store.GetProject(ctx, ref.Project); err == nil && p.UpstreamURL != "" {
		m.UpstreamURL = resource.Upstream{URL: p.UpstreamURL}.RedactedURL()
	}
	return m
}

// decodeKeptnResources reads Keptn's body of resource writes.
func decodeKeptnResources(body []byte) ([]apitypes.Resource, error) {
	var in apitypes.KeptnResources
	if err := unmarshalStrict(body, &in); err != nil {
		return nil, err
	}
	out := make([]apitypes.Resource, 0, len(in.Resources))
	for _, res := range in.Resources {
		out = append(out, apitypes.Resource{ResourceURI: res.ResourceURI, ResourceContent: res.ResourceContent})
	}
	return out, nil
}

func (s *Server) keptnWriteResources(w http.ResponseWriter, r *http.Request) {
	res, err := readDecoded(r, decodeKeptnResources)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.keptnWrite(w, r, res)
}

func (s *Server) keptnWrite(w http.ResponseWriter, r *http.Request, res []apitypes.Resource) {
	ref := refOf(r)
	version, pushMsg, err := s.writeResources(w, r, ref, res)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	writeJSON(w, status, apitypes.KeptnWriteResult{CommitID: version, Metadata: s.keptnMeta(r.Context(), ref, version), PushError: pushMsg})
}

// keptnPutResource writes one resource at the path's URI.
func (s *Server) keptnPutResource(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var in apitypes.KeptnResource
	if err := unmarshalStrict(body, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	uri, _ := resourceURI(r)
	s.keptnWrite(w, r, []apitypes.Resource{{ResourceURI: uri, ResourceContent: in.ResourceContent}})
}

func (s *Server) keptnListResources(w http.ResponseWriter, r *http.Request) {
	ref := refOf(r)
	pg, err := s.levelResources(r, ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.KeptnResources{Resources: []apitypes.KeptnResource{}, NextPageKey: pg.next, PageSize: pg.size, TotalCount: pg.total}
	for _, res := range pg.items {
		m := s.keptnMeta(r.Context(), ref, res.Version)
		out.Resources = append(out.Resources, apitypes.KeptnResource{ResourceURI: res.URI, Metadata: &m})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) keptnGetResource(w http.ResponseWriter, r *http.Request) {
	ref := refOf(r)
	uri, _ := resourceURI(r)
	clean, content, at, err := s.readResource(r.Context(), ref, uri, r.URL.Query().Get("gitCommitID"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m := s.keptnMeta(r.Context(), ref, at)
	writeJSON(w, http.StatusOK, apitypes.KeptnResource{ResourceURI: clean, ResourceContent: base64.StdEncoding.EncodeToString(content), Metadata: &m})
}

func (s *Server) keptnDeleteResource(w http.ResponseWriter, r *http.Request) {
	ref := refOf(r)
	version, pushMsg, err := s.removeResource(w, r, ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnWriteResult{CommitID: version, Metadata: s.keptnMeta(r.Context(), ref, version), PushError: pushMsg})
}

// Secrets. They are server-wide, so the routes need an unrestricted token
// (the route table checks the action against project ""): read scope to
// list names and keys, write scope to change them.

// decodeKeptnSecret reads Keptn's secret body.
func decodeKeptnSecret(body []byte) (secret.Secret, error) {
	var in apitypes.KeptnSecret
	if err := unmarshalStrict(body, &in); err != nil {
		return secret.Secret{}, err
	}
	out := secret.Secret{Name: in.Name, Scope: in.Scope, Data: in.Data}
	if err := secret.Validate(withDefaultScope(out)); err != nil {
		return out, err
	}
	return out, nil
}

func withDefaultScope(s secret.Secret) secret.Secret {
	if s.Scope == "" {
		s.Scope = secret.DefaultScope
	}
	return s
}

// secretError maps the secret package's errors to answers.
func secretError(err error) error {
	switch {
	case errors.Is(err, secret.ErrInvalid):
		return errorf(http.StatusBadRequest, "%v", err)
	case errors.Is(err, secret.ErrExists):
		return errorf(http.StatusConflict, "%v", err)
	case errors.Is(err, secret.ErrNotFound):
		e := errorf(http.StatusNotFound, "%v", err)
		e.err = store.ErrNotFound
		return e
	}
	return err
}

func secretInfo(s secret.Secret) apitypes.KeptnSecretInfo {
	s = withDefaultScope(s)
	info := apitypes.KeptnSecretInfo{Name: s.Name, Scope: s.Scope, Keys: []string{}}
	for k := range s.Data {
		info.Keys = append(info.Keys, k)
	}
	slices.Sort(info.Keys)
	return info
}

func (s *Server) keptnCreateSecret(w http.ResponseWriter, r *http.Request) {
	s.keptnSecretWrite(w, r, secret.Create, http.StatusCreated)
}

func (s *Server) keptnUpdateSecret(w http.ResponseWriter, r *http.Request) {
	s.keptnSecretWrite(w, r, secret.Update, http.StatusOK)
}

func (s *Server) keptnSecretWrite(w http.ResponseWriter, r *http.Request, op func(context.Context, secret.Settings, secret.Secret) error, status int) {
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sec, err := decodeKeptnSecret(body)
	if err != nil {
		s.writeError(w, r, secretError(err))
		return
	}
	if err := op(r.Context(), s.store, sec); err != nil {
		s.writeError(w, r, secretError(err))
		return
	}
	writeJSON(w, status, secretInfo(sec))
}

func (s *Server) keptnDeleteSecret(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		s.writeError(w, r, errorf(http.StatusBadRequest, "name is missing: DELETE %s/secret?name=NAME&scope=SCOPE", keptnSecrets))
		return
	}
	if err := secret.Delete(r.Context(), s.store, name, q.Get("scope")); err != nil {
		s.writeError(w, r, secretError(err))
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnMessage{Message: "secret " + name + " deleted"})
}

func (s *Server) keptnListSecrets(w http.ResponseWriter, r *http.Request) {
	infos, err := secret.List(r.Context(), s.store)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.KeptnSecretList{Secrets: make([]apitypes.KeptnSecretInfo, 0, len(infos))}
	for _, in := range infos {
		out.Secrets = append(out.Secrets, apitypes.KeptnSecretInfo{Name: in.Name, Scope: in.Scope, Keys: in.Keys})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) keptnSecretScopes(w http.ResponseWriter, r *http.Request) {
	scopes, err := secret.Scopes(r.Context(), s.store)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnScopeList{Scopes: scopes})
}
