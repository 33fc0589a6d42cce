package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/settings"
	"github.com/tendhq/tend/internal/store"
)

// The settings routes: one PUT and one DELETE per schema of
// Options.Settings, served by the same two handlers, and the listing of a
// project's settings. The schemas say what is valid and what is secret;
// these handlers only check the scope, store and mask.

var scopeParams = []param{
	{name: "stage", desc: "Apply to this stage only."},
	{name: "service", desc: "Apply to this service only (in every stage unless stage is given too)."},
}

// settingsRoutes are the configure routes of every registered schema that
// has an operation name (Doc.Op), in registration order.
func (s *Server) settingsRoutes() []route {
	cfg := "/api/v1/project/{project}/config/"
	rs := []route{{method: http.MethodGet, path: "/api/v1/project/{project}/config", access: accessAction, action: auth.ActionReadProject, tag: "config", op: "getConfig",
		summary:  "Every setting of a project at every level, secrets masked as \"****\" and listed under secrets with set: true.",
		response: apitypes.ProjectConfig{}, status: http.StatusOK, handler: s.getConfig}}
	if s.settings == nil {
		return rs
	}
	for _, sc := range s.settings.Schemas() {
		doc := sc.Doc()
		if doc.Op == "" {
			continue
		}
		path, query := cfg+sc.Key(), scopeParams
		if strings.HasSuffix(sc.Key(), "/") {
			path += "{name}"
		}
		if sc.Scoping() == settings.ProjectScope {
			query = nil
		}
		del := doc.DeleteSummary
		if del == "" {
			del = "Remove the " + sc.Key() + " settings of a scope."
		}
		rs = append(rs,
			route{method: http.MethodPut, path: path, access: accessAction, action: auth.ActionWriteProject, tag: "config", op: "put" + doc.Op,
				summary: doc.Summary, query: query, requestDoc: settingBody(sc), response: apitypes.ConfigSetting{}, status: http.StatusOK,
				handler: func(w http.ResponseWriter, r *http.Request) { s.putSetting(w, r, sc) }},
			route{method: http.MethodDelete, path: path, access: accessAction, action: auth.ActionWriteProject, tag: "config", op: "delete" + doc.Op,
				summary: del, query: query, status: http.StatusNoContent,
				handler: func(w http.ResponseWriter, r *http.Request) { s.deleteSetting(w, r, sc) }},
		)
	}
	return rs
}

// settingBody documents a schema's request body: its fields, and stage and
// service unless it belongs to a project only.
func settingBody(sc settings.Schema) *bodyDoc {
	b := &bodyDoc{name: sc.Doc().Body}
	for _, f := range sc.Fields() {
		if !f.Stored {
			b.fields = append(b.fields, f)
		}
	}
	if sc.Scoping() == settings.AnyScope {
		b.fields = append(b.fields, settings.Field{Name: "stage"}, settings.Field{Name: "service"})
	}
	return b
}

// putSetting stores the value of a schema at a scope and answers it
// masked. The body is the value's JSON object; for settings of any scope
// it may also carry stage and service, as the query may.
func (s *Server) putSetting(w http.ResponseWriter, r *http.Request, sc settings.Schema) {
	name, err := settingName(r, sc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var members map[string]json.RawMessage
	if err := unmarshalStrict(body, &members); err != nil {
		s.writeError(w, r, err)
		return
	}
	if members == nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "the body must be a JSON object"))
		return
	}
	var bodyStage, bodyService string
	if sc.Scoping() == settings.AnyScope {
		for _, f := range []struct {
			name string
			dst  *string
		}{{"stage", &bodyStage}, {"service", &bodyService}} {
			raw, ok := members[f.name]
			if !ok {
				continue
			}
			if err := json.Unmarshal(raw, f.dst); err != nil {
				s.writeError(w, r, errorf(http.StatusBadRequest, "%s must be a string", f.name))
				return
			}
			delete(members, f.name)
		}
	}
	scope, err := settingScope(r, sc, bodyStage, bodyService)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rest, err := json.Marshal(members)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	value, err := sc.Normalize(rest)
	if errors.Is(err, settings.ErrInvalid) {
		err = errorf(http.StatusBadRequest, "%v", err)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.checkEndpoints(sc, value); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if err := s.checkScope(ctx, scope.Project, scope.Stage, scope.Service); err != nil {
		s.writeError(w, r, err)
		return
	}
	key := sc.Key() + name
	if err := s.guardSetting(r, key, scope, value); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.PutSetting(ctx, store.Setting{Scope: scope, Key: key, Value: value}); err != nil {
		s.writeError(w, r, err)
		return
	}
	stored, err := s.store.GetSetting(ctx, scope, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.maskedSetting(stored))
}

// deleteSetting removes the value of a schema at a scope.
func (s *Server) deleteSetting(w http.ResponseWriter, r *http.Request, sc settings.Schema) {
	name, err := settingName(r, sc)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	scope, err := settingScope(r, sc, "", "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	err = s.store.DeleteSetting(r.Context(), scope, sc.Key()+name)
	if errors.Is(err, store.ErrNotFound) {
		what := sc.Doc().What
		if name != "" {
			what += " " + name
		}
		err = errorf(http.StatusNotFound, "no %s set for %s", what, settings.ScopeText(scope))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// settingName reads and checks the {name} of a key family's route; ""
// for other schemas.
func settingName(r *http.Request, sc settings.Schema) (string, error) {
	if !strings.HasSuffix(sc.Key(), "/") {
		return "", nil
	}
	name := r.PathValue("name")
	if err := sc.CheckName(name); err != nil {
		return "", errorf(http.StatusBadRequest, "%v", err)
	}
	return name, nil
}

// settingScope reads the stage and service a config route applies to:
// the query parameters, or the body's fields; both must agree.
func settingScope(r *http.Request, sc settings.Schema, bodyStage, bodyService string) (store.Scope, error) {
	q := r.URL.Query()
	scope := store.Scope{Project: r.PathValue("project"), Stage: q.Get("stage"), Service: q.Get("service")}
	if sc.Scoping() == settings.ProjectScope {
		if scope.Stage != "" || scope.Service != "" {
			return store.Scope{}, errorf(http.StatusBadRequest, "a %s belongs to a project; leave out stage and service", sc.Doc().What)
		}
		return scope, nil
	}
	for _, f := range []struct {
		name     string
		query    *string
		fromBody string
	}{{"stage", &scope.Stage, bodyStage}, {"service", &scope.Service, bodyService}} {
		switch {
		case f.fromBody == "":
		case *f.query == "":
			*f.query = f.fromBody
		case *f.query != f.fromBody:
			return store.Scope{}, errorf(http.StatusBadRequest, "%s %q in the query differs from %q in the body; give it once", f.name, *f.query, f.fromBody)
		}
	}
	return scope, nil
}

// checkScope answers 404 unless the project exists, the stage (when given)
// is one of its shipyard's stages and the service (when given) is one of
// its services.
func (s *Server) checkScope(ctx context.Context, project, stage, service string) error {
	p, err := s.store.GetProject(ctx, project)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "project %q does not exist", project)
	}
	if err != nil {
		return err
	}
	if stage != "" {
		sy, _ := s.specs.Shipyard("shipyard.yaml", p.Shipyard)
		if sy == nil || !slices.Contains(sy.StageNames(), stage) {
			var names []string
			if sy != nil {
				names = sy.StageNames()
			}
			return errorf(http.StatusNotFound, "stage %q is not a stage of project %q (its stages: %v)", stage, project, names)
		}
	}
	if service != "" {
		_, err := s.store.GetService(ctx, project, service)
		if errors.Is(err, store.ErrNotFound) {
			return errorf(http.StatusNotFound, "service %q does not exist in project %q; create it with tend create service", service, project)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// getConfig lists every setting of a project with secrets masked.
func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	ctx := r.Context()
	if err := s.checkScope(ctx, project, "", ""); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.store.ListSettings(ctx, project)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.ProjectConfig{Project: project, Settings: make([]apitypes.ConfigSetting, 0, len(list))}
	for _, st := range list {
		out.Settings = append(out.Settings, s.maskedSetting(st))
	}
	writeJSON(w, http.StatusOK, out)
}

// maskedSetting is a setting as an answer may show it: never a secret.
func (s *Server) maskedSetting(st store.Setting) apitypes.ConfigSetting {
	value, set := s.settings.Mask(st.Key, st.Value)
	out := apitypes.ConfigSetting{Stage: st.Stage, Service: st.Service, Key: st.Key, Value: value, UpdatedAt: st.UpdatedAt}
	if len(set) > 0 {
		out.Secrets = make(map[string]apitypes.SecretState, len(set))
		for _, name := range set {
			out.Secrets[name] = apitypes.SecretState{Set: true}
		}
	}
	return out
}
