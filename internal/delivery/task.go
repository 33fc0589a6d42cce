package delivery

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/tendhq/tend/internal/event"
)

// JobKind is the job of the built-in delivery executors (internal/deliverer):
// one per deployment, test, release or rollback task the sequence engine
// triggers, enqueued in the transaction that emits the task's .triggered.
const JobKind = "delivery.task"

// MaxAttempts bounds the attempts of a delivery job: a cluster that stays
// unreachable errors the task after them rather than keep it open.
const MaxAttempts = 8

// Tasks are the tasks tend's delivery executors may carry out.
var Tasks = []string{event.TaskDeployment, event.TaskTest, event.TaskRelease, event.TaskRollback}

// IsTask reports whether a task is one of Tasks.
func IsTask(name string) bool {
	switch name {
	case event.TaskDeployment, event.TaskTest, event.TaskRelease, event.TaskRollback:
		return true
	}
	return false
}

// Job is a job for the store's outbox.
type Job struct {
	Kind      string
	Payload   []byte
	UniqueKey string
}

// Payload is a delivery job's payload: the task's .triggered event, and
// once the runner decided to carry the task out, its Plan (recorded with
// the task's .started before any effect, so that a run after a crash
// carries out exactly what was decided).
type Payload struct {
	Event *event.Event `json:"event"`
	Plan  *Plan        `json:"plan,omitempty"`
}

// TaskJob is the job of a task's .triggered event; one per event, however
// often the step that emits it runs.
func TaskJob(triggered *event.Event) Job {
	return Job{Kind: JobKind, Payload: Payload{Event: triggered}.Encode(), UniqueKey: JobKind + "/" + triggered.ID}
}

// Encode returns p as a job payload.
func (p Payload) Encode() []byte {
	b, err := json.Marshal(p)
	if err != nil {
		// Events hold parsed JSON and strings; plans plain values.
		panic(fmt.Sprintf("delivery: encode job: %v", err))
	}
	return b
}

// DecodePayload reads a delivery job's payload.
func DecodePayload(b []byte) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(b, &p); err != nil {
		return Payload{}, fmt.Errorf("decode delivery job: %w", err)
	}
	if p.Event == nil || p.Event.ID == "" {
		return Payload{}, fmt.Errorf("decode delivery job: no triggered event")
	}
	t, ok := event.ParseType(p.Event.Type)
	if !ok || t.Phase != event.PhaseTriggered || !IsTask(t.Task) {
		return Payload{}, fmt.Errorf("decode delivery job: %q is not a delivery task's triggered event", p.Event.Type)
	}
	return p, nil
}

// Task returns the task name of the payload's event.
func (p Payload) Task() string {
	t, _ := event.ParseType(p.Event.Type)
	return t.Task
}

// Plan is what the runner decided to do for one task.
type Plan struct {
	Task    string `json:"task"`
	Project string `json:"project"`
	Stage   string `json:"stage"`
	Service string `json:"service"`
	// Namespace is where the service runs.
	Namespace string `json:"namespace,omitempty"`
	// Strategy is the deployment strategy (deployment, release, rollback).
	Strategy Strategy `json:"strategy,omitempty"`
	// GitCommit is the stage's commit the chart was read from
	// (deployment); a run after a crash reads the chart at this commit.
	GitCommit string `json:"gitCommit,omitempty"`
	// Image is the image to deploy (deployment).
	Image string `json:"image,omitempty"`
	// Values are the chart values to set (deployment).
	Values map[string]any `json:"values,omitempty"`
	// Timeout bounds the rollout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// Check is the test to run (test).
	Check *CheckRequest `json:"check,omitempty"`
}

// Triggered is what the delivery executors read of a task's .triggered
// data.
type Triggered struct {
	ConfigurationChange struct {
		Values map[string]any `json:"values"`
	} `json:"configurationChange"`
	// Image and Tag are Keptn 0.6's new-artifact fields.
	Image string `json:"image"`
	Tag   string `json:"tag"`
	// Deployment carries the task's properties (deploymentstrategy) and,
	// for the tasks after a deployment, what its .finished reported.
	Deployment struct {
		Strategy    string   `json:"deploymentstrategy"`
		Names       []string `json:"deploymentNames"`
		URIsLocal   []string `json:"deploymentURIsLocal"`
		URIsPublic  []string `json:"deploymentURIsPublic"`
		Image       string   `json:"image"`
		GitCommitID string   `json:"gitCommit"`
	} `json:"deployment"`
	Test struct {
		Strategy string `json:"teststrategy"`
	} `json:"test"`
	// Release and Rollback carry those tasks' properties: a legacy
	// shipyard's rollback names the stage's deploymentstrategy.
	Release  taskStrategy `json:"release"`
	Rollback taskStrategy `json:"rollback"`
}

type taskStrategy struct {
	Strategy string `json:"deploymentstrategy"`
}

// StrategyOf returns the deploymentstrategy a task names: its own
// property, else the one the deployment carried.
func (t Triggered) StrategyOf(task string) string {
	switch {
	case task == event.TaskRelease && t.Release.Strategy != "":
		return t.Release.Strategy
	case task == event.TaskRollback && t.Rollback.Strategy != "":
		return t.Rollback.Strategy
	}
	return t.Deployment.Strategy
}

// DecodeTriggered reads a task's .triggered data. Fields of the wrong JSON
// type are an error that names them.
func DecodeTriggered(data json.RawMessage) (Triggered, error) {
	var t Triggered
	if len(data) == 0 {
		return t, nil
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return Triggered{}, fmt.Errorf("read the task's data: %w", err)
	}
	return t, nil
}

// ImageRef is the image a deployment task asks for: configurationChange's
// values.image (Keptn 0.8+), else Keptn 0.6's image with its tag
// (image:tag; a tag already in image is kept when tag is empty).
func (t Triggered) ImageRef() string {
	if img, ok := t.ConfigurationChange.Values["image"].(string); ok && img != "" {
		return img
	}
	img := strings.TrimSpace(t.Image)
	if img == "" || t.Tag == "" {
		return img
	}
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		img = img[:i] // image:old with tag new: the tag wins
	}
	return img + ":" + strings.TrimPrefix(t.Tag, ":")
}

// ChartValues are the values a deployment sets over the chart's own: the
// trigger's configurationChange.values, image, and keptn.project,
// keptn.stage, keptn.service and keptn.deployment (the deployment kind,
// canary or direct), which Keptn's charts read.
func (t Triggered) ChartValues(project, stage, service string, s Strategy) map[string]any {
	vals := maps.Clone(t.ConfigurationChange.Values)
	if vals == nil {
		vals = map[string]any{}
	}
	if img := t.ImageRef(); img != "" {
		vals["image"] = img
	}
	keptn, _ := vals["keptn"].(map[string]any)
	keptn = maps.Clone(keptn)
	if keptn == nil {
		keptn = map[string]any{}
	}
	keptn["project"], keptn["stage"], keptn["service"] = project, stage, service
	keptn["deployment"] = DeployKind(s)
	vals["keptn"] = keptn
	return vals
}

// DeployKind is the kind a deployment of strategy s leaves serving the new
// version: KindCanary for blue/green, else KindDirect.
func DeployKind(s Strategy) string {
	if s == BlueGreen {
		return KindCanary
	}
	return KindDirect
}

// TestKind is what the built-in test executor runs.
type TestKind string

// The test kinds.
const (
	// Functional sends a few requests to each path; each must answer the
	// expected status.
	Functional TestKind = "functional"
	// Performance sends requests at a rate for a duration and reports
	// their latency.
	Performance TestKind = "performance"
	// RealUser runs nothing: real users' traffic is what the evaluation
	// looks at, as Keptn 0.6's real-user strategy meant.
	RealUser TestKind = "real-user"
)

// ParseTestStrategy maps a teststrategy to the test tend runs: functional;
// performance and Keptn 0.6's performance_* variants (performance_light,
// performance_peak, performance_long, performance_10, ...) run the load
// test; real-user runs no requests. ok is false for anything else
// (including ""), which tend leaves to integrations.
func ParseTestStrategy(s string) (TestKind, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "functional":
		return Functional, true
	case s == "performance" || strings.HasPrefix(s, "performance_") || strings.HasPrefix(s, "performance-"):
		return Performance, true
	case s == "real-user" || s == "real_user":
		return RealUser, true
	}
	return "", false
}

// CheckRequest is one built-in test: what the HTTP checker
// (internal/action/httpcheck) runs.
type CheckRequest struct {
	Kind TestKind `json:"kind"`
	// URL is the service's base URL; Paths are appended to it.
	URL   string   `json:"url"`
	Paths []string `json:"paths"`
	// Requests is how many requests each path gets (Functional).
	Requests int `json:"requests,omitempty"`
	// Rate is requests per second and Duration how long (Performance).
	Rate     int           `json:"rate,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	// ExpectedStatus is the status every answer must have; 0 means any
	// 2xx.
	ExpectedStatus int `json:"expectedStatus,omitempty"`
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration `json:"requestTimeout,omitempty"`
}

// CheckReport is what a test measured.
type CheckReport struct {
	Start, End time.Time
	Requests   int
	// Failures are requests that failed or answered another status.
	Failures int
	// P90 and P95 are latency percentiles of all requests.
	P90, P95 time.Duration
	// Problems describe the first failures (at most a few).
	Problems []string
}
