package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/tendhq/tend/internal/action"
	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/event"
	"github.com/tendhq/tend/internal/remediation"
	"github.com/tendhq/tend/internal/remediator"
	"github.com/tendhq/tend/internal/store"
)

// remediationRoutes are the routes of issue 5's remediation loop: the
// scoped settings it reads (limits, Kubernetes and Unleash targets,
// webhook secrets) and pausing and resuming it.
func (s *Server) remediationRoutes() []route {
	scope := []param{
		{name: "stage", desc: "Apply to this stage only."},
		{name: "service", desc: "Apply to this service only (in every stage unless stage is given too)."},
	}
	cfg := "/api/v1/project/{project}/config/"
	var rs []route
	for _, c := range []struct {
		key, what string
		body      any
		handler   http.HandlerFunc
	}{
		{remediator.KeyRemediation, "the remediation limits and timing (maxReplicas, cooldown, maxActionsPerHour, dryRun, settling); fields left out come from a less specific scope, else tend.yaml",
			apitypes.RemediationConfig{}, s.putRemediationConfig},
		{remediator.KeyKubernetes, "where scaling acts (namespace, deployment, fallbackDeployment, or an HTTP scaleURL)",
			apitypes.KubernetesConfig{}, s.putKubernetesConfig},
		{remediator.KeyUnleash, "the Unleash that feature toggle actions switch (url, token, project, environment); the answer masks the token",
			apitypes.UnleashConfig{}, s.putUnleashConfig},
	} {
		key := c.key
		rs = append(rs,
			route{method: http.MethodPut, path: cfg + key, access: accessAction, action: auth.ActionWriteProject, tag: "config", op: "put" + titleWord(key) + "Config",
				summary: "Set " + c.what + ", for the project, a stage, a service or a service in a stage.",
				query:   scope, request: c.body, response: apitypes.ConfigSetting{}, status: http.StatusOK, handler: c.handler},
			route{method: http.MethodDelete, path: cfg + key, access: accessAction, action: auth.ActionWriteProject, tag: "config", op: "delete" + titleWord(key) + "Config",
				summary: "Remove the " + key + " settings of a scope.", query: scope, status: http.StatusNoContent,
				handler: func(w http.ResponseWriter, r *http.Request) { s.deleteScopedSetting(w, r, key) }},
		)
	}
	return append(rs,
		route{method: http.MethodPut, path: cfg + "secret/{name}", access: accessAction, action: auth.ActionWriteProject, tag: "config", op: "putSecret",
			summary: "Set a secret of the project that webhook actions reference as {{ .Secrets.name }}. It is never shown again.",
			request: apitypes.SecretConfig{}, response: apitypes.ConfigSetting{}, status: http.StatusOK, handler: s.putSecret},
		route{method: http.MethodDelete, path: cfg + "secret/{name}", access: accessAction, action: auth.ActionWriteProject, tag: "config", op: "deleteSecret",
			summary: "Remove a secret of the project.", status: http.StatusNoContent, handler: s.deleteSecret},
		route{method: http.MethodPost, path: "/api/v1/project/{project}/remediation/pause", access: accessAction, action: auth.ActionWriteProject, tag: "problems", op: "pauseRemediation",
			summary: "Pause remediation for the project or one service: running remediations stop after their current step, new problems are recorded but not acted on.",
			request: apitypes.PauseRequest{}, response: apitypes.PauseAnswer{}, status: http.StatusOK, handler: func(w http.ResponseWriter, r *http.Request) { s.setPause(w, r, true) }},
		route{method: http.MethodPost, path: "/api/v1/project/{project}/remediation/resume", access: accessAction, action: auth.ActionWriteProject, tag: "problems", op: "resumeRemediation",
			summary: "Resume remediation for the project or one service: paused remediations go on with their next step.",
			request: apitypes.PauseRequest{}, response: apitypes.PauseAnswer{}, status: http.StatusOK, handler: func(w http.ResponseWriter, r *http.Request) { s.setPause(w, r, false) }},
	)
}

func titleWord(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// putScopedSetting validates nothing itself: it checks the scope, stores
// value under key and answers the stored setting masked.
func (s *Server) putScopedSetting(w http.ResponseWriter, r *http.Request, key, bodyStage, bodyService string, value any) {
	sc, err := settingScope(r, bodyStage, bodyService)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if err := s.checkScope(ctx, sc.Project, sc.Stage, sc.Service); err != nil {
		s.writeError(w, r, err)
		return
	}
	b, err := json.Marshal(value)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.store.PutSetting(ctx, store.Setting{Scope: sc, Key: key, Value: b}); err != nil {
		s.writeError(w, r, err)
		return
	}
	stored, err := s.store.GetSetting(ctx, sc, key)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, maskedSetting(stored))
}

func (s *Server) deleteScopedSetting(w http.ResponseWriter, r *http.Request, key string) {
	sc, err := settingScope(r, "", "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	err = s.store.DeleteSetting(r.Context(), sc, key)
	if errors.Is(err, store.ErrNotFound) {
		err = errorf(http.StatusNotFound, "no %s settings are set for %s", key, scopeText(sc))
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func parseSettingDuration(name, v string) (*remediator.Duration, error) {
	if v == "" {
		return nil, nil
	}
	var d remediator.Duration
	b, _ := json.Marshal(v)
	if err := d.UnmarshalJSON(b); err != nil {
		return nil, errorf(http.StatusBadRequest, "%s: %v", name, err)
	}
	if d < 0 {
		return nil, errorf(http.StatusBadRequest, "%s %q is negative; want e.g. 15m", name, v)
	}
	return &d, nil
}

func (s *Server) putRemediationConfig(w http.ResponseWriter, r *http.Request) {
	var req apitypes.RemediationConfig
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p := remediator.Policy{MaxReplicas: req.MaxReplicas, MaxActionsPerHour: req.MaxActionsPerHour, DryRun: req.DryRun}
	var err error
	if p.Cooldown, err = parseSettingDuration("cooldown", req.Cooldown); err != nil {
		s.writeError(w, r, err)
		return
	}
	if p.Settling, err = parseSettingDuration("settling", req.Settling); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := p.Validate(); err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if p == (remediator.Policy{}) {
		s.writeError(w, r, errorf(http.StatusBadRequest, "nothing to set: give at least one of maxReplicas, cooldown, maxActionsPerHour, dryRun, settling"))
		return
	}
	s.putScopedSetting(w, r, remediator.KeyRemediation, req.Stage, req.Service, p)
}

func (s *Server) putKubernetesConfig(w http.ResponseWriter, r *http.Request) {
	var req apitypes.KubernetesConfig
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	k := remediator.KubernetesSettings{Namespace: req.Namespace, Deployment: req.Deployment, FallbackDeployment: req.FallbackDeployment, ScaleURL: req.ScaleURL}
	if err := k.Validate(); err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if k == (remediator.KubernetesSettings{}) {
		s.writeError(w, r, errorf(http.StatusBadRequest, "nothing to set: give namespace, deployment, fallbackDeployment or scaleURL"))
		return
	}
	s.putScopedSetting(w, r, remediator.KeyKubernetes, req.Stage, req.Service, k)
}

func (s *Server) putUnleashConfig(w http.ResponseWriter, r *http.Request) {
	var req apitypes.UnleashConfig
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	u := remediator.UnleashSettings{URL: req.URL, Token: req.Token, Project: req.Project, Environment: req.Environment}
	if err := u.Validate(); err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	if u == (remediator.UnleashSettings{}) {
		s.writeError(w, r, errorf(http.StatusBadRequest, "nothing to set: give url, token, project or environment"))
		return
	}
	s.putScopedSetting(w, r, remediator.KeyUnleash, req.Stage, req.Service, u)
}

func (s *Server) putSecret(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := remediator.CheckSecretName(name); err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	var req apitypes.SecretConfig
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Value == "" {
		s.writeError(w, r, errorf(http.StatusBadRequest, "value is empty; give the secret's value"))
		return
	}
	if r.URL.Query().Get("stage") != "" || r.URL.Query().Get("service") != "" {
		s.writeError(w, r, errorf(http.StatusBadRequest, "secrets belong to a project; leave out stage and service"))
		return
	}
	s.putScopedSetting(w, r, remediator.KeySecretPrefix+name, "", "", remediator.Secret{Secret: req.Value})
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := remediator.CheckSecretName(name); err != nil {
		s.writeError(w, r, errorf(http.StatusBadRequest, "%v", err))
		return
	}
	s.deleteScopedSetting(w, r, remediator.KeySecretPrefix+name)
}

// setPause pauses or resumes remediation of a project or service. The
// setting is written first and the running remediations listed after, so
// that a remediation created in between reads the pause when it starts.
func (s *Server) setPause(w http.ResponseWriter, r *http.Request, pause bool) {
	var req apitypes.PauseRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	project := r.PathValue("project")
	ctx := r.Context()
	if err := s.checkScope(ctx, project, "", req.Service); err != nil {
		s.writeError(w, r, err)
		return
	}
	sc := store.Scope{Project: project, Service: req.Service}
	if pause {
		b, _ := json.Marshal(remediator.Pause{Reason: req.Reason, Since: s.now().UTC()})
		if err := s.store.PutSetting(ctx, store.Setting{Scope: sc, Key: remediator.KeyPaused, Value: b}); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else {
		if req.Service != "" {
			if _, err := s.store.GetSetting(ctx, store.Scope{Project: project}, remediator.KeyPaused); err == nil {
				s.writeError(w, r, errorf(http.StatusConflict, "remediation is paused for the whole project %s; resume the project (without service)", project))
				return
			}
		}
		if err := s.store.DeleteSetting(ctx, sc, remediator.KeyPaused); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.writeError(w, r, err)
			return
		}
	}
	ids, err := s.tellRunning(ctx, project, req.Service, pause, req.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.PauseAnswer{Project: project, Service: req.Service, Paused: pause, Remediations: ids})
}

// tellRunning enqueues a pause or resume job for every running
// remediation of the project (or service).
func (s *Server) tellRunning(ctx context.Context, project, service string, pause bool, reason string) ([]string, error) {
	ids := []string{}
	var jobs []store.JobSpec
	nonce := event.NewUUID()
	f := store.RemediationFilter{Project: project, Service: service, RunningOnly: true, PageSize: store.MaxPageSize}
	for {
		pg, err := s.store.ListRemediations(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("list running remediations: %w", err)
		}
		for _, rec := range pg.Remediations {
			ids = append(ids, rec.ID)
			if pause {
				jobs = append(jobs, remediationJob(remediation.PauseJob(rec.ID, reason, nonce)))
			} else {
				jobs = append(jobs, remediationJob(remediation.ResumeJob(rec.ID, nonce)))
			}
		}
		if pg.NextPageKey == "" {
			break
		}
		f.PageKey = pg.NextPageKey
	}
	if len(jobs) == 0 {
		return ids, nil
	}
	err := s.store.WithTx(ctx, func(tx store.Tx) error {
		_, err := tx.EnqueueJobs(ctx, jobs...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("tell running remediations: %w", err)
	}
	return ids, nil
}

// appendAnswer stores an external executor's action.finished together
// with the remediation step it causes, so the remediation hears of every
// stored answer (the outbox).
func (s *Server) appendAnswer(ctx context.Context, rec store.EventRecord, ev *event.Event) error {
	jobs, err := s.answers.AnswerJobs(ctx, ev)
	if err != nil {
		return err
	}
	return s.store.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.AppendEvents(ctx, rec); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		if len(jobs) > 0 {
			if _, err := tx.EnqueueJobs(ctx, jobs...); err != nil {
				return fmt.Errorf("enqueue remediation step: %w", err)
			}
		}
		return nil
	})
}

// remediationJob wraps a job of the remediation package into the store's.
func remediationJob(j remediation.Job) store.JobSpec {
	return store.JobSpec{Kind: j.Kind, Payload: j.Payload, UniqueKey: j.UniqueKey, MaxAttempts: j.MaxAttempts}
}

// actionDetails adds what an action changed (or would change), its result
// and its times to its answer.
func actionDetails(out *apitypes.RemediationAction, a remediation.ActionRecord) {
	changes := func(cs []action.Change) {
		for _, c := range cs {
			out.Changes = append(out.Changes, apitypes.ActionChange{Target: c.Target, From: c.From, To: c.To})
		}
	}
	switch {
	case a.Result != nil && len(a.Result.Changes) > 0:
		changes(a.Result.Changes)
	case a.Plan != nil:
		changes(a.Plan.Changes)
	}
	if a.Result != nil {
		out.Result = a.Result.Message
	}
	out.External = a.External
	if !a.StartedAt.IsZero() {
		t := a.StartedAt
		out.StartedAt = &t
	}
	if !a.FinishedAt.IsZero() {
		t := a.FinishedAt
		out.FinishedAt = &t
	}
}
