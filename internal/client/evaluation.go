package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tendhq/tend/internal/apitypes"
)

// ConfigPath is GET /api/v1/project/{project}/config.
func ConfigPath(project string) string { return ProjectPath(project) + "/config" }

// MonitoringConfigPath is the route of a project's SLI provider
// configuration (PUT and DELETE).
func MonitoringConfigPath(project string) string { return ConfigPath(project) + "/monitoring" }

// EvaluationPath is POST .../stage/{stage}/service/{service}/evaluation.
func EvaluationPath(project, stage, service string) string {
	return ProjectPath(project) + "/stage/" + url.PathEscape(stage) + "/service/" + url.PathEscape(service) + "/evaluation"
}

// InvalidateEvaluationPath is POST .../evaluation/{keptnContext}/invalidate.
func InvalidateEvaluationPath(project, stage, service, keptnContext string) string {
	return EvaluationPath(project, stage, service) + "/" + url.PathEscape(keptnContext) + "/invalidate"
}

func checkLevel(project, stage, service string) error {
	if err := checkName("project", project); err != nil {
		return err
	}
	if err := checkName("stage", stage); err != nil {
		return err
	}
	return checkName("service", service)
}

// PutMonitoring sets the SLI provider of a project, or of the stage and
// service named in cfg. The answer masks the secrets.
func (c *Client) PutMonitoring(ctx context.Context, project string, cfg apitypes.MonitoringConfig) (*apitypes.ConfigSetting, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("configure monitoring: %w", err)
	}
	var out apitypes.ConfigSetting
	if err := c.call(ctx, http.MethodPut, MonitoringConfigPath(project), nil, cfg, &out); err != nil {
		return nil, fmt.Errorf("configure monitoring of project %q: %w", project, err)
	}
	return &out, nil
}

// DeleteMonitoring removes the SLI provider configuration of a scope
// (stage and service may be empty).
func (c *Client) DeleteMonitoring(ctx context.Context, project, stage, service string) error {
	if err := checkName("project", project); err != nil {
		return fmt.Errorf("delete monitoring configuration: %w", err)
	}
	q := url.Values{}
	if stage != "" {
		q.Set("stage", stage)
	}
	if service != "" {
		q.Set("service", service)
	}
	if err := c.call(ctx, http.MethodDelete, MonitoringConfigPath(project), q, nil, nil); err != nil {
		return fmt.Errorf("delete monitoring configuration of project %q: %w", project, err)
	}
	return nil
}

// GetConfig returns every setting of a project, secrets masked.
func (c *Client) GetConfig(ctx context.Context, project string) (*apitypes.ProjectConfig, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("get config: %w", err)
	}
	var out apitypes.ProjectConfig
	if err := c.call(ctx, http.MethodGet, ConfigPath(project), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("get config of project %q: %w", project, err)
	}
	return &out, nil
}

// TriggerEvaluation starts an evaluation and returns its keptn context.
func (c *Client) TriggerEvaluation(ctx context.Context, project, stage, service string, req apitypes.TriggerEvaluationRequest) (string, error) {
	if err := checkLevel(project, stage, service); err != nil {
		return "", fmt.Errorf("trigger evaluation: %w", err)
	}
	var out apitypes.EventContext
	if err := c.call(ctx, http.MethodPost, EvaluationPath(project, stage, service), nil, req, &out); err != nil {
		return "", fmt.Errorf("trigger evaluation of %s/%s/%s: %w", project, stage, service, err)
	}
	return out.KeptnContext, nil
}

// InvalidateEvaluation withdraws the finished evaluation of a keptn
// context from later comparisons.
func (c *Client) InvalidateEvaluation(ctx context.Context, project, stage, service, keptnContext string) error {
	if err := checkLevel(project, stage, service); err != nil {
		return fmt.Errorf("invalidate evaluation: %w", err)
	}
	if keptnContext == "" {
		return fmt.Errorf("invalidate evaluation: the keptn context is empty")
	}
	if err := c.call(ctx, http.MethodPost, InvalidateEvaluationPath(project, stage, service, keptnContext), nil, nil, nil); err != nil {
		return fmt.Errorf("invalidate evaluation %s of %s/%s/%s: %w", keptnContext, project, stage, service, err)
	}
	return nil
}
