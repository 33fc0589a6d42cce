package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/monitoring"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
)

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
		sy, _ := spec.DecodeShipyard("shipyard.yaml", p.Shipyard)
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

// settingScope reads the stage and service a config route applies to:
// the query parameters, or the body's fields; both must agree.
func settingScope(r *http.Request, bodyStage, bodyService string) (store.Scope, error) {
	q := r.URL.Query()
	sc := store.Scope{Project: r.PathValue("project"), Stage: q.Get("stage"), Service: q.Get("service")}
	for _, f := range []struct {
		name     string
		query    *string
		fromBody string
	}{{"stage", &sc.Stage, bodyStage}, {"service", &sc.Service, bodyService}} {
		switch {
		case f.fromBody == "":
		case *f.query == "":
			*f.query = f.fromBody
		case *f.query != f.fromBody:
			return store.Scope{}, errorf(http.StatusBadRequest, "%s %q in the query differs from %q in the body; give it once", f.name, *f.query, f.fromBody)
		}
	}
	return sc, nil
}

// putMonitoring stores the SLI provider configuration of a scope.
func (s *Server) putMonitoring(w http.ResponseWriter, r *http.Request) {
	var req apitypes.MonitoringConfig
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	sc, err := settingScope(r, req.Stage, req.Service)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cfg := monitoring.Config{Provider: req.Provider, URL: req.URL, User: req.User, Password: req.Password, BearerToken: req.BearerToken, Token: req.Token}
	if err := cfg.Validate(); err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	ctx := r.Context()
	if err := s.checkScope(ctx, sc.Project, sc.Stage, sc.Service); err != nil {
		s.writeError(w, r, err)
		return
	}
	value, err := json.Marshal(cfg)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.PutSetting(ctx, store.Setting{Scope: sc, Key: monitoring.SettingKey, Value: value}); err != nil {
		s.writeError(w, r, err)
		return
	}
	stored, err := s.store.GetSetting(ctx, sc, monitoring.SettingKey)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, maskedSetting(stored))
}

// deleteMonitoring removes the SLI provider configuration of a scope.
func (s *Server) deleteMonitoring(w http.ResponseWriter, r *http.Request) {
	sc, err := settingScope(r, "", "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	err = s.store.DeleteSetting(r.Context(), sc, monitoring.SettingKey)
	if errors.Is(err, store.ErrNotFound) {
		err = errorf(http.StatusNotFound, "no monitoring configuration is set for %s", scopeText(sc))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
		out.Settings = append(out.Settings, maskedSetting(st))
	}
	writeJSON(w, http.StatusOK, out)
}

// maskedSetting is a setting as an answer may show it: never a secret.
func maskedSetting(st store.Setting) apitypes.ConfigSetting {
	value, set := monitoring.Mask(st.Value)
	out := apitypes.ConfigSetting{Stage: st.Stage, Service: st.Service, Key: st.Key, Value: value, UpdatedAt: st.UpdatedAt}
	if len(set) > 0 {
		out.Secrets = make(map[string]apitypes.SecretState, len(set))
		for _, name := range set {
			out.Secrets[name] = apitypes.SecretState{Set: true}
		}
	}
	return out
}

func scopeText(sc store.Scope) string {
	t := "project " + sc.Project
	if sc.Stage != "" {
		t += ", stage " + sc.Stage
	}
	if sc.Service != "" {
		t += ", service " + sc.Service
		if sc.Stage == "" {
			t += " (every stage)"
		}
	}
	return t
}
