package ui

import (
	"net/http"

	"github.com/tendhq/tend/internal/auth"
)

type projectsData struct {
	pageBase
	Projects []projectItem
}

type projectItem struct {
	Name, Href string
	Stages     []string
	Services   int
}

func (u *UI) projectsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ps, err := u.store.ListProjects(ctx)
	if err != nil {
		u.internalError(w, r, err)
		return
	}
	d := projectsData{pageBase: base(sess(r), "Projects", crumb{Label: "Projects"})}
	for _, p := range ps {
		if principal(r).Can(auth.ActionReadProject, p.Name) != nil {
			continue
		}
		it := projectItem{Name: p.Name, Href: projectURL(p.Name), Stages: u.stageNames(p.Shipyard)}
		if svcs, err := u.store.ListServices(ctx, p.Name); err == nil {
			it.Services = len(svcs)
		}
		d.Projects = append(d.Projects, it)
	}
	u.render(w, r, http.StatusOK, "projects", d)
}

// stageNames reads the stages of a stored shipyard; a shipyard that no
// longer decodes yields none (it was validated when stored).
func (u *UI) stageNames(shipyard []byte) []string {
	sy, _ := u.specs.Shipyard("shipyard.yaml", shipyard)
	if sy == nil {
		return nil
	}
	return sy.StageNames()
}
