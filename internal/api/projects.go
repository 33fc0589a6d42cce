package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/spec"
	"github.com/tendhq/tend/internal/store"
)

// Keptn's name rules: lower-case letters, digits and dashes, starting with
// a letter and not ending with a dash; a project name has at most 200
// characters (Keptn's default limit), a service name at most 63 (a DNS
// label, as Keptn deployed services under their name).
// resource.ValidateName is checked too, so a name the store accepts is
// always usable as a Git branch or folder name.
var (
	projectNameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,198}[a-z0-9])?$`)
	serviceNameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

func checkProjectName(name string) error {
	if !projectNameRE.MatchString(name) || resource.ValidateName("project", name) != nil {
		return errorf(http.StatusBadRequest, "project name %q is invalid: use 1 to 200 lower-case letters, digits and dashes, starting with a letter and not ending with a dash", name)
	}
	return nil
}

func checkServiceName(name string) error {
	if !serviceNameRE.MatchString(name) || resource.ValidateName("service", name) != nil {
		return errorf(http.StatusBadRequest, "service name %q is invalid: use 1 to 63 lower-case letters, digits and dashes, starting with a letter and not ending with a dash", name)
	}
	return nil
}

// pushErrorHeader carries a failed upstream push on answers whose body type
// has no pushError field (project and service creation). Resource writes
// report it in apitypes.Version.PushError instead.
const pushErrorHeader = "Tend-Push-Error"

// reportPush logs a failed push and reports it on the answer; the write it
// followed is kept. Other errors are returned unchanged.
func (s *Server) reportPush(w http.ResponseWriter, r *http.Request, err error) (string, error) {
	var pe *resource.PushError
	if !errors.As(err, &pe) {
		return "", err
	}
	msg := pe.Error()
	s.log.WarnContext(r.Context(), "upstream_push_failed", "route", routeLabel(r), "version", pe.Version, "err", msg)
	w.Header().Set(pushErrorHeader, strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return ' '
		}
		return c
	}, msg))
	return msg, nil
}

// shipyardText returns the shipyard bytes of a CreateProjectRequest: the
// text itself, or its base64 decoding when the text is nothing but base64
// (as Keptn's API sent it). YAML text is never valid base64: a shipyard
// needs a ':'.
func shipyardText(text string) []byte {
	t := strings.TrimSpace(text)
	if t != "" && isBase64Text(t) {
		clean := strings.Map(func(c rune) rune {
			if c == '\n' || c == '\r' || c == ' ' || c == '\t' {
				return -1
			}
			return c
		}, t)
		if b, err := base64.StdEncoding.DecodeString(clean); err == nil && utf8.Valid(b) {
			return b
		}
	}
	return []byte(text)
}

func isBase64Text(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '+' || c == '/' || c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t'
		if !ok {
			return false
		}
	}
	return true
}

// decodeShipyard validates a shipyard and answers 400 with its diagnostics,
// one FILE:LINE:COL line each, when it has errors.
func decodeShipyard(data []byte) (*spec.Shipyard, error) {
	sy, diags := spec.DecodeShipyard("shipyard.yaml", data)
	if sy == nil || diags.HasErrors() {
		return nil, errorf(http.StatusBadRequest, "shipyard is invalid:\n%s", diags.Error())
	}
	return sy, nil
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request) {
	var req apitypes.CreateProjectRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.newProject(w, r, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeProject(s, w, r, http.StatusCreated, p, s.projectAnswer)
}

// newProject validates req and creates the project in the store and its
// repository; tend's and Keptn's create routes share it.
func (s *Server) newProject(w http.ResponseWriter, r *http.Request, req apitypes.CreateProjectRequest) (store.Project, error) {
	if err := checkProjectName(req.Name); err != nil {
		return store.Project{}, err
	}
	if strings.TrimSpace(req.Shipyard) == "" {
		return store.Project{}, errorf(http.StatusBadRequest, "shipyard is missing: send the shipyard file's YAML text (or its base64) as \"shipyard\"")
	}
	if req.GitRemoteURL == "" && (req.GitUser != "" || req.GitToken != "") {
		return store.Project{}, errorf(http.StatusBadRequest, "gitUser and gitToken need gitRemoteURL, the upstream repository's URL")
	}
	if err := s.checkUpstream(req.GitRemoteURL); err != nil {
		return store.Project{}, err
	}
	data := shipyardText(req.Shipyard)
	sy, err := decodeShipyard(data)
	if err != nil {
		return store.Project{}, err
	}
	ctx := r.Context()
	p, err := s.store.CreateProject(ctx, store.NewProject{
		Name: req.Name, Shipyard: data,
		UpstreamURL: req.GitRemoteURL, UpstreamUser: req.GitUser, UpstreamToken: req.GitToken,
	})
	if errors.Is(err, store.ErrExists) {
		return store.Project{}, errorf(http.StatusConflict, "project %q already exists", req.Name)
	}
	if err != nil {
		return store.Project{}, err
	}
	init := resource.InitOptions{Shipyard: data, Stages: sy.StageNames(), Author: author(r)}
	if req.GitRemoteURL != "" {
		init.Upstream = &resource.Upstream{URL: req.GitRemoteURL, User: req.GitUser, Token: req.GitToken}
	}
	err = s.res.Create(ctx, req.Name, init)
	if errors.Is(err, resource.ErrProjectExists) {
		// The store is the source of truth: a repository without a
		// project is what a crash in an earlier delete left behind.
		s.log.WarnContext(ctx, "stale_repository_replaced", "project", req.Name)
		if err = s.res.Delete(ctx, req.Name); err == nil {
			err = s.res.Create(ctx, req.Name, init)
		}
	}
	if _, err = s.reportPush(w, r, err); err != nil {
		if derr := s.store.DeleteProject(context.WithoutCancel(ctx), req.Name); derr != nil {
			s.log.ErrorContext(ctx, "project_rollback_failed", "project", req.Name, "err", derr)
		}
		return store.Project{}, fmt.Errorf("create repository of project %q: %w", req.Name, err)
	}
	return p, nil
}

// author attributes Git commits to the token that asked for them.
func author(r *http.Request) resource.Author {
	p := principalOf(r)
	if p.TokenName == "" {
		return resource.Author{}
	}
	return resource.Author{Name: "token " + p.TokenName, Email: "tend@localhost"}
}

// projectAnswer builds the API's view of a project: its stages from the
// stored shipyard, each with every service (services exist in every stage)
// and whether self-healing runs there.
func (s *Server) projectAnswer(ctx context.Context, p store.Project) (apitypes.Project, error) {
	out := apitypes.Project{
		ProjectName:  p.Name,
		CreationDate: p.CreatedAt,
		GitUser:      p.UpstreamUser,
		Stages:       []apitypes.Stage{},
	}
	if p.UpstreamURL != "" {
		out.GitRemoteURL = resource.Upstream{URL: p.UpstreamURL}.RedactedURL()
	}
	svcs, err := s.store.ListServices(ctx, p.Name)
	if err != nil {
		return out, err
	}
	services := make([]apitypes.Service, 0, len(svcs))
	for _, sv := range svcs {
		services = append(services, apitypes.Service{ServiceName: sv.Name, CreationDate: sv.CreatedAt})
	}
	sy, diags := s.specs.Shipyard("shipyard.yaml", p.Shipyard)
	if sy == nil {
		// Stored shipyards were validated on the way in; a shipyard that
		// no longer decodes means the validator grew stricter.
		s.log.WarnContext(ctx, "stored_shipyard_invalid", "project", p.Name, "err", diags.Error())
		return out, nil
	}
	out.ShipyardVersion = sy.APIVersion
	if out.ShipyardVersion == "" {
		out.ShipyardVersion = string(sy.Format)
	}
	for i := range sy.Stages {
		st := &sy.Stages[i]
		out.Stages = append(out.Stages, apitypes.Stage{
			StageName:          st.Name,
			Services:           services,
			RemediationEnabled: st.RemediationEnabled(),
		})
	}
	return out, nil
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) {
	pg, err := s.readableProjects(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	projects, err := answerEach(r.Context(), pg.items, s.projectAnswer)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.ProjectList{Projects: projects, NextPageKey: pg.next, TotalCount: pg.total})
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.GetProject(r.Context(), r.PathValue("project"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeProject(s, w, r, http.StatusOK, p, s.projectAnswer)
}

// readableProjects reads the page the request asks for of the projects its
// token may read (a project-restricted token sees only its own project);
// tend's and Keptn's project lists share it.
func (s *Server) readableProjects(r *http.Request) (listPage[store.Project], error) {
	p := principalOf(r)
	size, after, err := page(r)
	if err != nil {
		return listPage[store.Project]{}, err
	}
	all, err := s.store.ListProjects(r.Context())
	if err != nil {
		return listPage[store.Project]{}, err
	}
	visible := all[:0]
	for _, pr := range all {
		if p.Can(auth.ActionReadProject, pr.Name) == nil {
			visible = append(visible, pr)
		}
	}
	return cutPage(visible, func(pr store.Project) string { return pr.Name }, size, after), nil
}

// writeProject answers p with status in the view answer builds (tend's
// projectAnswer or Keptn's keptnProject); tend's and Keptn's project routes
// share it.
func writeProject[T any](s *Server, w http.ResponseWriter, r *http.Request, status int, p store.Project, answer func(context.Context, store.Project) (T, error)) {
	out, err := answer(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, status, out)
}

// deleteProject removes the project from the store first, so it is gone
// for every API call at once, then its repository. A repository left by a
// failure is logged and replaced when a project of that name is created
// again.
func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request) {
	if err := s.removeProject(r.Context(), r.PathValue("project")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// removeProject ends the project's work and removes its records
// (deleteProjectRecords), then its repository; tend's and Keptn's delete
// routes share it.
func (s *Server) removeProject(ctx context.Context, name string) error {
	if err := s.deleteProjectRecords(ctx, name); err != nil {
		return err
	}
	if err := s.res.Delete(context.WithoutCancel(ctx), name); err != nil && !errors.Is(err, resource.ErrProjectNotFound) {
		s.log.ErrorContext(ctx, "repository_delete_failed", "project", name, "err", err)
	}
	return nil
}

// createService stores the service and writes "<service>/metadata.yaml" into
// every stage branch, as Keptn did, so the repository shows the service
// before it has files.
func (s *Server) createService(w http.ResponseWriter, r *http.Request) {
	project := r.PathValue("project")
	var req apitypes.CreateServiceRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkServiceName(req.ServiceName); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	sv, err := s.store.CreateService(ctx, project, req.ServiceName)
	if errors.Is(err, store.ErrExists) {
		s.writeError(w, r, errorf(http.StatusConflict, "service %q already exists in project %q", req.ServiceName, project))
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	err = s.res.EnsureService(resource.WithAuthor(ctx, author(r)), project, req.ServiceName)
	if _, err = s.reportPush(w, r, err); err != nil {
		if derr := s.store.DeleteService(context.WithoutCancel(ctx), project, req.ServiceName); derr != nil {
			s.log.ErrorContext(ctx, "service_rollback_failed", "project", project, "service", req.ServiceName, "err", derr)
		}
		s.writeError(w, r, fmt.Errorf("create service %q in the repository of project %q: %w", req.ServiceName, project, err))
		return
	}
	writeJSON(w, http.StatusCreated, apitypes.Service{ServiceName: sv.Name, CreationDate: sv.CreatedAt})
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	svcs, err := s.store.ListServices(r.Context(), r.PathValue("project"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	services, err := s.serviceAnswers(r.Context(), r.PathValue("project"), svcs, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.ServiceList{Services: services})
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	sv, err := s.store.GetService(r.Context(), r.PathValue("project"), r.PathValue("service"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	services, err := s.serviceAnswers(r.Context(), r.PathValue("project"), []store.Service{sv}, sv.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, services[0])
}

// deleteService removes the service from the store, then its folder from
// every stage branch. A Git failure after the store delete is logged (the
// service is gone for the API) and a failed push is reported in the
// Tend-Push-Error header.
func (s *Server) deleteService(w http.ResponseWriter, r *http.Request) {
	if err := s.removeService(w, r, r.PathValue("project"), r.PathValue("service")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) removeService(w http.ResponseWriter, r *http.Request, project, service string) error {
	ctx := r.Context()
	if err := s.store.DeleteService(ctx, project, service); err != nil {
		return err
	}
	err := s.res.DeleteService(resource.WithAuthor(context.WithoutCancel(ctx), author(r)), project, service)
	if _, err = s.reportPush(w, r, err); err != nil {
		s.log.ErrorContext(ctx, "service_folder_delete_failed", "project", project, "service", service, "err", err)
	}
	return nil
}
