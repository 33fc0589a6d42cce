package ui

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tendhq/tend/internal/resource"
)

type resourcesData struct {
	pageBase
	Project, Stage, Service string
	ServiceHref             string
	Files                   []resourceFile
	// Shown is a historic version asked for with ?uri=&version=.
	Shown *resourceFile
}

type resourceFile struct {
	URI, Version, Kind string
	Content            string
	Binary             bool
	History            []commitView
	Anchor             string
}

type commitView struct {
	ID, Message, Author, Href string
	Time                      time.Time
}

// maxShownBytes bounds a resource shown on a page.
const maxShownBytes = 256 << 10

// resourceKind names the files the UI knows.
func resourceKind(uri string) string {
	switch {
	case uri == "slo.yaml":
		return "SLO"
	case strings.HasSuffix(uri, "/sli.yaml") || uri == "sli.yaml":
		return "SLI"
	case uri == "remediation.yaml":
		return "Remediation"
	}
	return "Other"
}

func (u *UI) resourcesPage(w http.ResponseWriter, r *http.Request) {
	project, stage, service, ok := u.pathService(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	ref := resource.Ref{Project: project, Stage: stage, Service: service}
	list, err := u.res.List(ctx, ref)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	self := serviceURL(project, stage, service) + "/resources"
	d := resourcesData{
		pageBase: base(sess(r), "Resources of "+service+" in "+stage, crumb{"Projects", "/"}, crumb{project, projectURL(project)},
			crumb{stage + " / " + service, serviceURL(project, stage, service)}, crumb{Label: "Resources"}),
		Project: project, Stage: stage, Service: service, ServiceHref: serviceURL(project, stage, service),
	}
	view := func(uri, version string) (resourceFile, error) {
		f := resourceFile{URI: uri, Kind: resourceKind(uri), Anchor: "file-" + anchor(uri)}
		content, v, err := u.res.Get(ctx, ref, uri, version)
		if err != nil {
			return f, err
		}
		f.Version = v
		if len(content) > maxShownBytes || !utf8.Valid(content) || bytes.IndexByte(content, 0) >= 0 {
			f.Binary = true
		} else {
			f.Content = string(content)
		}
		hist, err := u.res.History(ctx, ref, uri)
		if err != nil {
			return f, err
		}
		for _, c := range hist {
			f.History = append(f.History, commitView{ID: c.ID, Message: c.Message, Author: c.Author.Name, Time: c.Time,
				Href: self + "?uri=" + url.QueryEscape(uri) + "&version=" + url.QueryEscape(c.ID) + "#shown"})
		}
		return f, nil
	}
	for _, res := range list {
		f, err := view(res.URI, "")
		if err != nil {
			u.internalError(w, r, err)
			return
		}
		d.Files = append(d.Files, f)
	}
	sort.SliceStable(d.Files, func(i, j int) bool { return kindOrder(d.Files[i].Kind) < kindOrder(d.Files[j].Kind) })
	if uri, version := r.URL.Query().Get("uri"), r.URL.Query().Get("version"); uri != "" && version != "" {
		f, err := view(uri, version)
		if err != nil {
			u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Resource %s has no version %s in %s.", uri, version, ref))
			return
		}
		d.Shown = &f
	}
	u.render(w, r, http.StatusOK, "resources", d)
}

func kindOrder(k string) int {
	return map[string]int{"SLO": 0, "SLI": 1, "Remediation": 2}[k] + map[bool]int{true: 3}[k == "Other"]
}

// anchor turns a URI into an id attribute value.
func anchor(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
