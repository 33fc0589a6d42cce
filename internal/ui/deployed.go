package ui

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tendhq/tend/internal/sequence"
	"github.com/tendhq/tend/internal/store"
)

// deployedImages reads what the services of a project run, keyed by
// stage and service; the caller has checked that the session may read
// f.Project.
func (u *UI) deployedImages(ctx context.Context, f store.DeployedFilter) (map[[2]string]store.DeployedImage, error) {
	list, err := u.store.DeployedImages(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("deployed images: %w", err)
	}
	out := make(map[[2]string]store.DeployedImage, len(list))
	for _, d := range list {
		out[[2]string{d.Stage, d.Service}] = d
	}
	return out, nil
}

// carriedImage is the image a sequence run delivers, from the data it
// carries (its trigger's and its finished tasks').
func carriedImage(run sequence.Sequence) string {
	data, err := json.Marshal(run.Data)
	if err != nil {
		return run.Image()
	}
	img, _ := store.ImageOfData(data)
	return img
}
