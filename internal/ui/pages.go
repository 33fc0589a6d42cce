package ui

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/store"
)

// pageBase is what the layout needs on every page.
type pageBase struct {
	Title     string
	SignedIn  bool
	TokenName string
	Scope     string
	// Restricted is the project the session's token is limited to.
	Restricted string
	CSRF       string
	Crumbs     []crumb
}

type crumb struct{ Label, Href string }

func base(s *session, title string, crumbs ...crumb) pageBase {
	b := pageBase{Title: title, Crumbs: crumbs}
	if s != nil {
		b.SignedIn, b.TokenName, b.Scope, b.Restricted, b.CSRF = true, s.Principal.TokenName, string(s.Principal.Scope), s.Principal.Project, s.CSRF
	}
	return b
}

// URLs of the pages. Names are already restricted to URL-safe characters,
// but they are escaped all the same.
func projectURL(p string) string { return "/projects/" + url.PathEscape(p) }
func serviceURL(p, stage, svc string) string {
	return projectURL(p) + "/stages/" + url.PathEscape(stage) + "/services/" + url.PathEscape(svc)
}
func evaluationURL(p, stage, svc, id string) string {
	return serviceURL(p, stage, svc) + "?evaluation=" + url.QueryEscape(id)
}
func contextURL(kctx string) string     { return "/contexts/" + url.PathEscape(kctx) }
func remediationURL(kctx string) string { return contextURL(kctx) + "/remediation" }

var funcs = template.FuncMap{
	"time":        formatTime,
	"statusClass": statusClass,
	"isoTime": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"short": func(s string) string {
		if len(s) > 10 {
			return s[:10]
		}
		return s
	},
	"num":            formatNumber,
	"inc":            func(i int) int { return i + 1 },
	"contextURL":     contextURL,
	"remediationURL": remediationURL,
	"sequencesURL":   sequencesURL,
	"typeShort":      typeShort,
}

// typeShort says in words which delivery event reported an image:
// "deployed", "released", "rolled back".
func typeShort(typ string) string {
	switch typ {
	case store.TypeReleaseFinished:
		return "released"
	case store.TypeRollbackFinished:
		return "rolled back"
	}
	return "deployed"
}

// principal returns the request's principal; withSession guarantees one.
func principal(r *http.Request) auth.Principal {
	s, _ := sessionFrom(r.Context())
	return s.Principal
}

func sess(r *http.Request) *session {
	s, _ := sessionFrom(r.Context())
	return s
}

// canRead answers 404 when the session may not read project, so that a
// page never tells whether a project it may not see exists.
func (u *UI) canRead(w http.ResponseWriter, r *http.Request, project string) bool {
	if principal(r).Can(auth.ActionReadProject, project) != nil {
		u.renderError(w, r, http.StatusNotFound, fmt.Sprintf("Project %s was not found, or your token may not read it.", project))
		return false
	}
	return true
}
