package sqlcore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tendhq/tend/internal/store"
)

// deliveryTypes is the predicate of the partial index events_delivery.
const deliveryTypes = `type IN ('` + store.TypeDeploymentFinished + `', '` + store.TypeReleaseFinished + `', '` + store.TypeRollbackFinished + `')`

// DeployedImages implements store.Deployments. The delivery events of the
// project are read newest first in one query; the JSON of an event is
// decoded only while its stage and service have no image yet. Which
// finished events count is decided here rather than in SQL, so both
// databases share one rule and no JSON function of either is needed.
func (c *Core) DeployedImages(ctx context.Context, f store.DeployedFilter) ([]store.DeployedImage, error) {
	if f.Project == "" {
		return nil, fmt.Errorf("deployed images: a project is required: %w", store.ErrInvalid)
	}
	// The types are literals, as in the predicate of the partial index
	// events_delivery (migration 0007): with parameters SQLite could not
	// tell that the query stays within the index. One Keptn context has
	// few events, and its index (events_context) serves it better than
	// all delivery events of the project: there the types are parameters.
	where := []string{"project = ?", "project_uid = " + currentUID, deliveryTypes}
	args := []any{f.Project, f.Project}
	if f.KeptnContext != "" {
		where[2] = "type IN (?, ?, ?)"
		args = append(args, store.TypeDeploymentFinished, store.TypeReleaseFinished, store.TypeRollbackFinished)
	}
	more, moreArgs := equalities([]colValue{{"stage", f.Stage}, {"service", f.Service}, {"shkeptncontext", f.KeptnContext}})
	where, args = append(where, more...), append(args, moreArgs...)
	rows, err := c.read.Query(ctx, `SELECT id, type, event_time, shkeptncontext, stage, service, body FROM events
		WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("deployed images of project %q: %w", f.Project, err)
	}
	defer rows.Close()
	type place struct{ stage, service string }
	found := map[place]store.DeployedImage{}
	// undone holds the contexts whose deployment a passing rollback
	// without an image of its own undid: their older events of that
	// stage and service do not say what runs.
	undone := map[place]map[string]bool{}
	for rows.Next() {
		var d store.DeployedImage
		var t int64
		var body []byte
		if err := rows.Scan(&d.EventID, &d.EventType, &t, &d.KeptnContext, &d.Stage, &d.Service, &body); err != nil {
			return nil, fmt.Errorf("deployed images of project %q: %w", f.Project, err)
		}
		at := place{d.Stage, d.Service}
		if _, ok := found[at]; ok || undone[at][d.KeptnContext] {
			continue
		}
		img, result := store.ImageOf(body)
		if result != "pass" && result != "warning" {
			continue
		}
		if img == "" {
			if d.EventType == store.TypeRollbackFinished {
				if undone[at] == nil {
					undone[at] = map[string]bool{}
				}
				undone[at][d.KeptnContext] = true
			}
			continue
		}
		d.Project, d.Image, d.Result, d.Time = f.Project, img, result, fromMicro(t)
		found[at] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deployed images of project %q: %w", f.Project, err)
	}
	out := make([]store.DeployedImage, 0, len(found))
	for _, d := range found {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b store.DeployedImage) int {
		if c := strings.Compare(a.Stage, b.Stage); c != 0 {
			return c
		}
		return strings.Compare(a.Service, b.Service)
	})
	return out, nil
}
