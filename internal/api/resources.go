package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/chart"
	"github.com/tendhq/tend/internal/resource"
	"github.com/tendhq/tend/internal/spec"
)

// refOf reads the resource level from the path.
func refOf(r *http.Request) resource.Ref {
	return resource.Ref{Project: r.PathValue("project"), Stage: r.PathValue("stage"), Service: r.PathValue("service")}
}

// checkLevel answers 404 for a project or service the store does not know.
// Stages live in the repository; the resource store reports a missing one.
func (s *Server) checkLevel(ctx context.Context, ref resource.Ref) error {
	if _, err := s.store.GetProject(ctx, ref.Project); err != nil {
		return err
	}
	if ref.Service != "" {
		if _, err := s.store.GetService(ctx, ref.Project, ref.Service); err != nil {
			return err
		}
	}
	return nil
}

// specKind says which known spec file a resource URI names, so that it is
// validated before it is written: slo.yaml, remediation.yaml and
// shipyard.yaml at the level's root, sli.yaml at the root or in a
// provider's folder (prometheus/sli.yaml), and budget SLO files
// (slo/*.yaml). Other files are stored as they are.
func specKind(uri string) spec.Kind {
	switch uri {
	case "slo.yaml":
		return spec.KindSLO
	case "remediation.yaml":
		return spec.KindRemediation
	case "shipyard.yaml":
		return spec.KindShipyard
	}
	if path.Base(uri) == "sli.yaml" {
		return spec.KindSLI
	}
	if spec.IsBudgetPath(uri) {
		return spec.KindBudget
	}
	return ""
}

func (s *Server) listResources(w http.ResponseWriter, r *http.Request) {
	pg, err := s.levelResources(r, refOf(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := apitypes.ResourceList{Resources: []apitypes.Resource{}, NextPageKey: pg.next, TotalCount: pg.total}
	for _, res := range pg.items {
		out.Resources = append(out.Resources, apitypes.Resource{ResourceURI: res.URI, Version: res.Version})
	}
	writeJSON(w, http.StatusOK, out)
}

// levelResources reads the page the request asks for of the resources at
// ref; tend's and Keptn's resource lists share it.
func (s *Server) levelResources(r *http.Request, ref resource.Ref) (listPage[resource.Resource], error) {
	size, after, err := page(r)
	if err != nil {
		return listPage[resource.Resource]{}, err
	}
	if err := s.checkLevel(r.Context(), ref); err != nil {
		return listPage[resource.Resource]{}, err
	}
	all, err := s.res.List(r.Context(), ref)
	if err != nil {
		return listPage[resource.Resource]{}, err
	}
	return cutPage(all, func(res resource.Resource) string { return res.URI }, size, after), nil
}

// putResources writes every resource of the request in one commit. Known
// spec files and Helm charts (helm/<name>.tgz) are validated first and a
// bad one refuses the whole write with its FILE:LINE:COL diagnostics, or
// the chart's problem. A project-level shipyard.yaml also replaces
// the stored shipyard and creates the branches of new stages.
func (s *Server) putResources(w http.ResponseWriter, r *http.Request) {
	ref := refOf(r)
	var req apitypes.PutResourcesRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	version, pushMsg, err := s.writeResources(w, r, ref, req.Resources)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, apitypes.Version{CommitID: version, PushError: pushMsg})
}

// writeResources validates and writes resources to ref in one commit; tend's
// and Keptn's resource routes share it. It returns the commit and a push
// failure's message.
func (s *Server) writeResources(w http.ResponseWriter, r *http.Request, ref resource.Ref, resources []apitypes.Resource) (string, string, error) {
	req := apitypes.PutResourcesRequest{Resources: resources}
	if len(req.Resources) == 0 {
		return "", "", errorf(http.StatusBadRequest, "no resources given: send {\"resources\": [{\"resourceURI\": ..., \"resourceContent\": <base64>}]}")
	}
	files := make([]resource.File, 0, len(req.Resources))
	var problems []string
	var shipyard []byte
	for i, res := range req.Resources {
		uri, err := resource.CleanURI(res.ResourceURI)
		if err != nil {
			problems = append(problems, fmt.Sprintf("resources[%d]: %v", i, err))
			continue
		}
		content, err := base64.StdEncoding.DecodeString(res.ResourceContent)
		if err != nil {
			problems = append(problems, fmt.Sprintf("resources[%d] %s: resourceContent is not base64 (standard alphabet, padded): %v", i, uri, err))
			continue
		}
		if kind := specKind(uri); kind != "" {
			if _, diags := spec.Validate(uri, content, kind); diags.HasErrors() {
				problems = append(problems, diags.Error())
				continue
			}
		}
		if chart.IsChartURI(uri) {
			if _, err := chart.Load(content); err != nil {
				problems = append(problems, fmt.Sprintf("%s: not a Helm chart archive tend can deploy: %v", uri, err))
				continue
			}
		}
		if uri == "shipyard.yaml" && ref.Stage == "" {
			shipyard = content
		}
		files = append(files, resource.File{URI: uri, Content: content})
	}
	if len(problems) > 0 {
		return "", "", errorf(http.StatusBadRequest, "resources refused, nothing was written:\n%s", strings.Join(problems, "\n"))
	}
	ctx := r.Context()
	if err := s.checkLevel(ctx, ref); err != nil {
		return "", "", err
	}
	version, err := s.res.PutMany(resource.WithAuthor(ctx, author(r)), ref, files, "")
	pushMsg, err := s.reportPush(w, r, err)
	if err != nil {
		return "", "", err
	}
	if shipyard != nil {
		if msg, err := s.applyShipyard(w, r, ref.Project, shipyard); err != nil {
			return "", "", err
		} else if pushMsg == "" {
			pushMsg = msg
		}
	}
	return version, pushMsg, nil
}

// applyShipyard makes a new project shipyard take effect: the store's copy,
// which project answers and later sequences read, and a branch for every
// new stage. Stages removed from the shipyard keep their branch and files.
func (s *Server) applyShipyard(w http.ResponseWriter, r *http.Request, project string, data []byte) (string, error) {
	ctx := context.WithoutCancel(r.Context())
	sy, err := decodeShipyard(data)
	if err != nil {
		return "", err
	}
	if err := s.store.UpdateShipyard(ctx, project, data); err != nil {
		return "", fmt.Errorf("store the new shipyard of project %q: %w", project, err)
	}
	var pushMsg string
	for _, st := range sy.StageNames() {
		msg, err := s.reportPush(w, r, s.res.EnsureStage(resource.WithAuthor(ctx, author(r)), project, st))
		if err != nil {
			return "", fmt.Errorf("create the branch of stage %q of project %q: %w", st, project, err)
		}
		if pushMsg == "" {
			pushMsg = msg
		}
	}
	return pushMsg, nil
}

// resourceURI returns the resource URI of the path. The mux's {resourceURI...}
// wildcard takes both the escaped one-segment form and plain segments;
// with plain segments a trailing "/history" is the history route, which
// the escaped form reaches without ambiguity.
func resourceURI(r *http.Request) (uri string, history bool) {
	uri = r.PathValue("resourceURI")
	if r.Method == http.MethodGet && strings.HasSuffix(uri, "/history") && strings.HasSuffix(r.URL.EscapedPath(), "/history") {
		return strings.TrimSuffix(uri, "/history"), true
	}
	return uri, false
}

// readResource reads the resource uri at ref in version ("" for the
// newest) and returns its clean URI, its content and the commit it was read
// at; tend's and Keptn's get routes share it.
func (s *Server) readResource(ctx context.Context, ref resource.Ref, uri, version string) (clean string, content []byte, at string, err error) {
	if err := s.checkLevel(ctx, ref); err != nil {
		return "", nil, "", err
	}
	if content, at, err = s.res.Get(ctx, ref, uri, version); err != nil {
		return "", nil, "", err
	}
	clean, _ = resource.CleanURI(uri)
	return clean, content, at, nil
}

func (s *Server) getResource(w http.ResponseWriter, r *http.Request) {
	uri, history := resourceURI(r)
	if history {
		s.history(w, r, uri)
		return
	}
	ref := refOf(r)
	version := r.URL.Query().Get("gitCommitID")
	if version == "" {
		version = r.URL.Query().Get("version")
	}
	clean, content, at, err := s.readResource(r.Context(), ref, uri, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.Resource{
		ResourceURI:     clean,
		ResourceContent: base64.StdEncoding.EncodeToString(content),
		Version:         at,
	})
}

// removeResource deletes the resource of the path at ref in one commit and
// returns the commit and a push failure's message; tend's and Keptn's
// delete routes share it. A project's shipyard.yaml is refused.
func (s *Server) removeResource(w http.ResponseWriter, r *http.Request, ref resource.Ref) (version, pushMsg string, err error) {
	uri, _ := resourceURI(r)
	if clean, _ := resource.CleanURI(uri); clean == "shipyard.yaml" && ref.Stage == "" {
		return "", "", errorf(http.StatusBadRequest, "shipyard.yaml of project %q cannot be deleted: the project needs it; write a new one instead", ref.Project)
	}
	if err := s.checkLevel(r.Context(), ref); err != nil {
		return "", "", err
	}
	version, err = s.res.Remove(resource.WithAuthor(r.Context(), author(r)), ref, uri)
	if pushMsg, err = s.reportPush(w, r, err); err != nil {
		return "", "", err
	}
	return version, pushMsg, nil
}

func (s *Server) deleteResource(w http.ResponseWriter, r *http.Request) {
	ref := refOf(r)
	version, pushMsg, err := s.removeResource(w, r, ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.Version{CommitID: version, PushError: pushMsg})
}

func (s *Server) resourceHistory(w http.ResponseWriter, r *http.Request) {
	s.history(w, r, r.PathValue("resourceURI"))
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, uri string) {
	ref := refOf(r)
	if err := s.checkLevel(r.Context(), ref); err != nil {
		s.writeError(w, r, err)
		return
	}
	commits, err := s.res.History(r.Context(), ref, uri)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	clean, _ := resource.CleanURI(uri)
	out := apitypes.ResourceHistory{ResourceURI: clean, Commits: make([]apitypes.Commit, 0, len(commits))}
	for _, c := range commits {
		out.Commits = append(out.Commits, apitypes.Commit{CommitID: c.ID, Message: c.Message, Author: c.Author.Name, Time: c.Time})
	}
	writeJSON(w, http.StatusOK, out)
}
