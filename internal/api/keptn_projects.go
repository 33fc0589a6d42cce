package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/store"
)

// keptnAuth answers keptn auth: the middleware has checked the token.
func (s *Server) keptnAuth(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
}

func (s *Server) keptnMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, apitypes.KeptnMetadata{
		KeptnVersion:          "1.4.5",
		KeptnLabel:            "tend",
		BridgeVersion:         "tend",
		ShipyardVersion:       "spec.keptn.sh/0.2.4",
		Namespace:             "tend",
		AutomaticProvisioning: true,
	})
}

// nanos is Keptn's time format of projects and services.
func nanos(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

// decodeKeptnProject reads Keptn's project body and maps it to tend's
// create request. Upstream options tend cannot honour are refused, never
// ignored: a push that silently skipped a proxy or a certificate would
// fail later or go around the network's rules.
func decodeKeptnProject(body []byte) (apitypes.CreateProjectRequest, error) {
	var in apitypes.KeptnCreateProject
	if err := unmarshalStrict(body, &in); err != nil {
		return apitypes.CreateProjectRequest{}, err
	}
	out := apitypes.CreateProjectRequest{Name: in.Name, Shipyard: in.Shipyard}
	gc := in.GitCredentials
	if gc == nil {
		return out, nil
	}
	var probs []string
	if gc.RemoteURL == "" && (gc.User != "" || gc.HTTPS != nil || gc.SSH != nil) {
		probs = append(probs, "gitCredentials.remoteURL is missing: give the upstream repository's URL")
	}
	if gc.SSH != nil {
		probs = append(probs, "gitCredentials.ssh is not supported: tend pushes over HTTPS with a token (gitCredentials.https.token) or to a local path")
	}
	if h := gc.HTTPS; h != nil {
		if h.Certificate != "" {
			probs = append(probs, "gitCredentials.https.certificate is not supported: the upstream needs a certificate the server trusts")
		}
		if h.InsecureSkipTLS {
			probs = append(probs, "gitCredentials.https.insecureSkipTLS is not supported: tend verifies the upstream's certificate")
		}
		if h.Proxy != nil {
			probs = append(probs, "gitCredentials.https.proxy is not supported: set HTTPS_PROXY in tend's environment instead")
		}
		out.GitToken = h.Token
	}
	if len(probs) > 0 {
		return out, errorf(http.StatusBadRequest, "%s", strings.Join(probs, "; "))
	}
	out.GitRemoteURL, out.GitUser = gc.RemoteURL, gc.User
	return out, nil
}

// readKeptnProject reads the request's body as Keptn's project body
// (decodeKeptnProject).
func readKeptnProject(r *http.Request) (apitypes.CreateProjectRequest, error) {
	return readDecoded(r, decodeKeptnProject)
}

func (s *Server) keptnCreateProject(w http.ResponseWriter, r *http.Request) {
	req, err := readKeptnProject(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.newProject(w, r, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeProject(s, w, r, http.StatusCreated, p, s.keptnProject)
}

// keptnUpdateProject sets a new shipyard and/or a new upstream. A new
// upstream is pushed every branch before it is stored, so a bad URL or
// token is refused and the old upstream stays.
func (s *Server) keptnUpdateProject(w http.ResponseWriter, r *http.Request) {
	req, err := readKeptnProject(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := principalOf(r).Can(auth.ActionWriteProject, req.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	p, err := s.store.GetProject(ctx, req.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if strings.TrimSpace(req.Shipyard) != "" {
		data := shipyardText(req.Shipyard)
		if _, err := decodeShipyard(data); err != nil {
			s.writeError(w, r, err)
			return
		}
		res := []apitypes.Resource{{ResourceURI: "shipyard.yaml", ResourceContent: base64Std(data)}}
		if _, _, err := s.writeResources(w, r, resource.Ref{Project: p.Name}, res); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if req.GitRemoteURL != "" {
		if err := s.checkUpstream(req.GitRemoteURL); err != nil {
			s.writeError(w, r, err)
			return
		}
		up := resource.Upstream{URL: req.GitRemoteURL, User: req.GitUser, Token: req.GitToken}
		if err := s.res.Push(resource.WithAuthor(ctx, author(r)), p.Name, up); err != nil {
			s.writeError(w, r, errorf(http.StatusBadRequest, "the new upstream %s was not stored: pushing the project's branches to it failed: %v", up.RedactedURL(), err))
			return
		}
		if err := s.store.UpdateUpstream(ctx, p.Name, up.URL, up.User, up.Token); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if p, err = s.store.GetProject(ctx, p.Name); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeProject(s, w, r, http.StatusOK, p, s.keptnProject)
}

func (s *Server) keptnListProjects(w http.ResponseWriter, r *http.Request) {
	pg, err := s.readableProjects(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	projects, err := answerEach(r.Context(), pg.items, s.keptnProject)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnProjects{Projects: projects, NextPageKey: pg.next, PageSize: pg.size, TotalCount: pg.total})
}

func (s *Server) keptnGetProject(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.GetProject(r.Context(), r.PathValue("project"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeProject(s, w, r, http.StatusOK, p, s.keptnProject)
}

func (s *Server) keptnDeleteProject(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("project")
	if err := s.removeProject(r.Context(), name); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnMessage{Message: fmt.Sprintf("project %s deleted with its services and resources; its events stay in the event log", name)})
}

func (s *Server) keptnDeleteService(w http.ResponseWriter, r *http.Request) {
	project, service := r.PathValue("project"), r.PathValue("service")
	if err := s.removeService(w, r, project, service); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.KeptnMessage{Message: fmt.Sprintf("service %s deleted from project %s", service, project)})
}

// keptnProject builds Keptn's view of a project: stages from the stored
// shipyard, each with every service and its lastEventTypes.
func (s *Server) keptnProject(ctx context.Context, p store.Project) (apitypes.KeptnProject, error) {
	out := apitypes.KeptnProject{
		ProjectName:  p.Name,
		CreationDate: nanos(p.CreatedAt),
		Shipyard:     string(p.Shipyard),
		Stages:       []apitypes.KeptnStage{},
	}
	if p.UpstreamURL != "" {
		out.GitCredentials = &apitypes.KeptnGitCredentialsSecure{RemoteURL: resource.Upstream{URL: p.UpstreamURL}.RedactedURL(), User: p.UpstreamUser}
	}
	stages, version, err := s.keptnStages(ctx, p)
	if err != nil {
		return out, err
	}
	out.ShipyardVersion, out.Stages = version, stages
	return out, nil
}

// keptnStages returns the stages of a project's shipyard with their
// services, and the shipyard's version.
func (s *Server) keptnStages(ctx context.Context, p store.Project) ([]apitypes.KeptnStage, string, error) {
	sy, diags := s.specs.Shipyard("shipyard.yaml", p.Shipyard)
	if sy == nil {
		s.log.WarnContext(ctx, "stored_shipyard_invalid", "project", p.Name, "err", diags.Error())
		return []apitypes.KeptnStage{}, "", nil
	}
	version := sy.APIVersion
	if version == "" {
		version = string(sy.Format)
	}
	svcs, err := s.store.ListServices(ctx, p.Name)
	if err != nil {
		return nil, "", err
	}
	images, err := s.deployedImages(ctx, store.DeployedFilter{Project: p.Name})
	if err != nil {
		return nil, "", err
	}
	out := make([]apitypes.KeptnStage, 0, len(sy.Stages))
	for _, name := range sy.StageNames() {
		st := apitypes.KeptnStage{StageName: name, Services: make([]apitypes.KeptnService, 0, len(svcs))}
		for _, sv := range svcs {
			ks, err := s.keptnService(ctx, p.Name, name, sv)
			if err != nil {
				return nil, "", err
			}
			ks.DeployedImage = images[place{name, sv.Name}].Image
			st.Services = append(st.Services, ks)
		}
		out = append(out, st)
	}
	return out, version, nil
}

// lastEventScan bounds how many of a service's newest events are read to
// find the newest event of each type.
const lastEventScan = 100

// keptnService builds a service of a stage with the newest event of each
// type among its latest events.
func (s *Server) keptnService(ctx context.Context, project, stage string, sv store.Service) (apitypes.KeptnService, error) {
	out := apitypes.KeptnService{ServiceName: sv.Name, CreationDate: nanos(sv.CreatedAt), OpenRemediations: []json.RawMessage{}}
	pg, err := s.store.ListEvents(ctx, store.EventFilter{Project: project, Stage: stage, Service: sv.Name, PageSize: lastEventScan})
	if err != nil {
		return out, err
	}
	for _, e := range pg.Events {
		if out.LastEventTypes == nil {
			out.LastEventTypes = map[string]apitypes.KeptnEventContextInfo{}
		}
		if _, ok := out.LastEventTypes[e.Type]; !ok {
			out.LastEventTypes[e.Type] = apitypes.KeptnEventContextInfo{EventID: e.ID, KeptnContext: e.KeptnContext, Time: nanos(e.Time)}
		}
	}
	return out, nil
}

// projectStages loads the project of the path and its stages.
func (s *Server) projectStages(r *http.Request) ([]apitypes.KeptnStage, error) {
	p, err := s.store.GetProject(r.Context(), r.PathValue("project"))
	if err != nil {
		return nil, err
	}
	stages, _, err := s.keptnStages(r.Context(), p)
	return stages, err
}

// pathStage finds the stage of the path.
func (s *Server) pathStage(r *http.Request) (apitypes.KeptnStage, error) {
	stages, err := s.projectStages(r)
	if err != nil {
		return apitypes.KeptnStage{}, err
	}
	name := r.PathValue("stage")
	for _, st := range stages {
		if st.StageName == name {
			return st, nil
		}
	}
	e := errorf(http.StatusNotFound, "stage %q is not in the shipyard of project %q", name, r.PathValue("project"))
	e.err = store.ErrNotFound
	return apitypes.KeptnStage{}, e
}

func (s *Server) keptnListStages(w http.ResponseWriter, r *http.Request) {
	size, after, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	stages, err := s.projectStages(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Stages keep their shipyard order; the page key is the index.
	from, to, next := indexPage(len(stages), size, after)
	writeJSON(w, http.StatusOK, apitypes.KeptnStages{Stages: stages[from:to], NextPageKey: next, PageSize: size, TotalCount: len(stages)})
}

func (s *Server) keptnGetStage(w http.ResponseWriter, r *http.Request) {
	st, err := s.pathStage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) keptnListServices(w http.ResponseWriter, r *http.Request) {
	size, after, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	st, err := s.pathStage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pg := cutPage(st.Services, func(sv apitypes.KeptnService) string { return sv.ServiceName }, size, after)
	writeJSON(w, http.StatusOK, apitypes.KeptnServices{Services: pg.items, NextPageKey: pg.next, PageSize: pg.size, TotalCount: pg.total})
}

func (s *Server) keptnGetService(w http.ResponseWriter, r *http.Request) {
	st, err := s.pathStage(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	name := r.PathValue("service")
	for _, sv := range st.Services {
		if sv.ServiceName == name {
			writeJSON(w, http.StatusOK, sv)
			return
		}
	}
	s.writeError(w, r, fmt.Errorf("service %q of project %q: %w", name, r.PathValue("project"), store.ErrNotFound))
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// isCommitID reports whether v is a full Git commit id.
func isCommitID(v string) bool {
	if len(v) != 40 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
