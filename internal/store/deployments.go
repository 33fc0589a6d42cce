package store

import (
	"context"
	"encoding/json"
	"time"
)

// The finished events that say which image a service runs in a stage:
// those of the deployment, release and rollback tasks. tend's built-in
// delivery executors write them as any Keptn executor does.
const (
	TypeDeploymentFinished = "sh.keptn.event.deployment.finished"
	TypeReleaseFinished    = "sh.keptn.event.release.finished"
	TypeRollbackFinished   = "sh.keptn.event.rollback.finished"
)

// DeliveryFinishedTypes are the event types DeployedImages reads.
var DeliveryFinishedTypes = []string{TypeDeploymentFinished, TypeReleaseFinished, TypeRollbackFinished}

// Deployments reads from the event log what each service runs.
type Deployments interface {
	// DeployedImages returns, for each stage and service of f.Project
	// (narrowed by the filter's other fields), the image of the newest
	// deployment, release or rollback finished event with result pass or
	// warning that names an image (ImageOf). Events of earlier
	// generations of the project are not read. The answer is ordered by
	// stage and service. It is one query over the project's delivery
	// events, newest first; each stage and service is decoded until its
	// first usable event.
	DeployedImages(ctx context.Context, f DeployedFilter) ([]DeployedImage, error)
}

// DeployedFilter selects what DeployedImages reads. Project is required;
// the other fields narrow it when set.
type DeployedFilter struct {
	Project string
	Stage   string
	Service string
	// KeptnContext keeps the events of one Keptn context: what one
	// delivery deployed in each stage.
	KeptnContext string
}

// DeployedImage is the image a service runs in a stage, and the event
// that said so.
type DeployedImage struct {
	Project string
	Stage   string
	Service string
	Image   string
	// EventType is the finished event's type, EventID its id.
	EventType    string
	EventID      string
	KeptnContext string
	// Result is pass or warning.
	Result string
	Time   time.Time
}

// ImageOf reads a delivery finished event (the whole CloudEvent) and
// returns the image it reports and its result, as ImageOfData reads its
// data. A body that is not such JSON yields "".
func ImageOf(body []byte) (image, result string) {
	var ev struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || len(ev.Data) == 0 {
		return "", ""
	}
	return ImageOfData(ev.Data)
}

// ImageOfData reads the data of a delivery event and returns the image
// it names and its result. The image is deployment.image (tend's
// executors write it), else configurationChange.values.image (Keptn
// 0.8+), else the legacy image with ":"+tag appended when a tag is given
// (Keptn 0.6). Data that is not such JSON yields "".
func ImageOfData(data []byte) (image, result string) {
	var d struct {
		Result     any `json:"result"`
		Deployment struct {
			Image any `json:"image"`
		} `json:"deployment"`
		ConfigurationChange struct {
			Values struct {
				Image any `json:"image"`
			} `json:"values"`
		} `json:"configurationChange"`
		Image any `json:"image"`
		Tag   any `json:"tag"`
	}
	// Fields are read as any and those of an unexpected JSON type
	// ignored, so one odd field does not hide the others. An object of
	// the wrong type (deployment: 5) fails the whole decoding.
	if err := json.Unmarshal(data, &d); err != nil {
		return "", ""
	}
	result, _ = d.Result.(string)
	if img, ok := d.Deployment.Image.(string); ok && img != "" {
		return img, result
	}
	if img, ok := d.ConfigurationChange.Values.Image.(string); ok && img != "" {
		return img, result
	}
	if img, ok := d.Image.(string); ok && img != "" {
		if tag, ok := d.Tag.(string); ok && tag != "" {
			img += ":" + tag
		}
		return img, result
	}
	return "", result
}
