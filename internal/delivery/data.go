package delivery

import (
	"time"
)

// DeploymentData is the deployment object of a deployment, release or
// rollback task's .finished data, in Keptn's shape (deploymentNames,
// deploymentURIsLocal, deploymentURIsPublic, deploymentstrategy, gitCommit)
// plus tend's image, the image that serves the traffic now. gitCommit is ""
// for release and rollback, which read no chart.
func DeploymentData(d Deployed, gitCommit string) map[string]any {
	kind := d.Kind
	if kind == "" {
		kind = DeployKind(d.Strategy)
	}
	m := map[string]any{
		"deploymentNames":     []string{kind},
		"deploymentURIsLocal": nonNil(d.URIsLocal),
		"deploymentstrategy":  string(d.Strategy),
		"image":               d.Image,
	}
	if gitCommit != "" {
		m["gitCommit"] = gitCommit
	}
	return map[string]any{"deployment": m}
}

// TestData is the test object of a test task's .finished data: Keptn's
// start and end (RFC 3339), which the evaluation that follows takes as its
// window, and what the check measured. A real-user test reports no window,
// so the evaluation takes its default one.
func TestData(req CheckRequest, r CheckReport) map[string]any {
	m := map[string]any{"teststrategy": string(req.Kind)}
	if req.Kind == RealUser {
		return map[string]any{"test": m}
	}
	m["start"] = r.Start.UTC().Format(time.RFC3339Nano)
	m["end"] = r.End.UTC().Format(time.RFC3339Nano)
	m["url"] = req.URL
	m["requests"] = r.Requests
	m["failures"] = r.Failures
	m["latencyP90Ms"] = millis(r.P90)
	m["latencyP95Ms"] = millis(r.P95)
	if len(r.Problems) > 0 {
		m["problems"] = r.Problems
	}
	return map[string]any{"test": m}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
