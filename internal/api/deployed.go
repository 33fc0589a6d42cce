package api

import (
	"context"
	"encoding/json"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/store"
)

// place is a service in a stage.
type place struct{ stage, service string }

// deployedImages reads what the services of a project run, by stage and
// service. The caller has checked the principal's access to f.Project.
func (s *Server) deployedImages(ctx context.Context, f store.DeployedFilter) (map[place]store.DeployedImage, error) {
	list, err := s.store.DeployedImages(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make(map[place]store.DeployedImage, len(list))
	for _, d := range list {
		out[place{d.Stage, d.Service}] = d
	}
	return out, nil
}

// serviceAnswers builds the answers of a project's services with what
// each runs in every stage of the project's shipyard.
func (s *Server) serviceAnswers(ctx context.Context, project string, svcs []store.Service, only string) ([]apitypes.Service, error) {
	p, err := s.store.GetProject(ctx, project)
	if err != nil {
		return nil, err
	}
	var stages []string
	if sy, diags := s.specs.Shipyard("shipyard.yaml", p.Shipyard); sy != nil {
		stages = sy.StageNames()
	} else {
		s.log.WarnContext(ctx, "stored_shipyard_invalid", "project", project, "err", diags.Error())
	}
	images, err := s.deployedImages(ctx, store.DeployedFilter{Project: project, Service: only})
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.Service, 0, len(svcs))
	for _, sv := range svcs {
		a := apitypes.Service{ServiceName: sv.Name, CreationDate: sv.CreatedAt, Stages: make([]apitypes.ServiceStage, 0, len(stages))}
		for _, st := range stages {
			ss := apitypes.ServiceStage{StageName: st}
			if d, ok := images[place{st, sv.Name}]; ok {
				at := d.Time
				ss.DeployedImage, ss.DeployedAt, ss.KeptnContext, ss.EventType = d.Image, &at, d.KeptnContext, d.EventType
			}
			a.Stages = append(a.Stages, ss)
		}
		out = append(out, a)
	}
	return out, nil
}

// carriedImage is the image a sequence run delivers, read from the data
// it carries (its trigger's and its finished tasks'), as ImageOf reads a
// finished event: deployment.image, configurationChange.values.image,
// legacy image and tag.
func carriedImage(run sequence.Sequence) string {
	data, err := json.Marshal(run.Data)
	if err != nil {
		return run.Image()
	}
	img, _ := store.ImageOfData(data)
	return img
}

// fillDeployedImages sets each stage's image of a sequence state to what
// its Keptn context deployed there, as its delivery events say; a stage
// without such an event keeps the image its run carries.
func (s *Server) fillDeployedImages(ctx context.Context, st *apitypes.KeptnSequenceState) error {
	images, err := s.deployedImages(ctx, store.DeployedFilter{Project: st.Project, Service: st.Service, KeptnContext: st.KeptnContext})
	if err != nil {
		return err
	}
	for i := range st.Stages {
		if d, ok := images[place{st.Stages[i].Name, st.Service}]; ok {
			st.Stages[i].Image = d.Image
		}
	}
	return nil
}
