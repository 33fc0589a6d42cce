package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/tendhq/tend/internal/apitypes"
)

// SettingPath is the route of one kind of a project's scoped settings
// (remediation, kubernetes, unleash), for PUT and DELETE.
func SettingPath(project, key string) string { return ConfigPath(project) + "/" + url.PathEscape(key) }

// SecretPath is the route of a project's webhook secret.
func SecretPath(project, name string) string {
	return ConfigPath(project) + "/secret/" + url.PathEscape(name)
}

// PausePath and ResumePath pause and resume remediation of a project.
func PausePath(project string) string  { return ProjectPath(project) + "/remediation/pause" }
func ResumePath(project string) string { return ProjectPath(project) + "/remediation/resume" }

// PutSetting stores body (an apitypes.RemediationConfig, KubernetesConfig
// or UnleashConfig, whose Stage and Service name the scope) under key
// ("remediation", "kubernetes" or "unleash"). The answer masks secrets.
func (c *Client) PutSetting(ctx context.Context, project, key string, body any) (*apitypes.ConfigSetting, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("configure %s: %w", key, err)
	}
	var out apitypes.ConfigSetting
	if err := c.call(ctx, http.MethodPut, SettingPath(project, key), nil, body, &out); err != nil {
		return nil, fmt.Errorf("configure %s of project %q: %w", key, project, err)
	}
	return &out, nil
}

// DeleteSetting removes the key settings of a scope.
func (c *Client) DeleteSetting(ctx context.Context, project, key, stage, service string) error {
	if err := checkName("project", project); err != nil {
		return fmt.Errorf("delete %s settings: %w", key, err)
	}
	q := url.Values{}
	if stage != "" {
		q.Set("stage", stage)
	}
	if service != "" {
		q.Set("service", service)
	}
	if err := c.call(ctx, http.MethodDelete, SettingPath(project, key), q, nil, nil); err != nil {
		return fmt.Errorf("delete %s settings of project %q: %w", key, project, err)
	}
	return nil
}

// PutSecret stores a webhook secret of a project, bound to the URL prefix
// of the receivers it may be sent to.
func (c *Client) PutSecret(ctx context.Context, project, name, value, url string) (*apitypes.ConfigSetting, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("configure secret: %w", err)
	}
	var out apitypes.ConfigSetting
	if err := c.call(ctx, http.MethodPut, SecretPath(project, name), nil, apitypes.SecretConfig{Value: value, URL: url}, &out); err != nil {
		return nil, fmt.Errorf("configure secret %q of project %q: %w", name, project, err)
	}
	return &out, nil
}

// PauseRemediation pauses (pause true) or resumes remediation of a project
// or one of its services.
func (c *Client) PauseRemediation(ctx context.Context, project string, pause bool, req apitypes.PauseRequest) (*apitypes.PauseAnswer, error) {
	if err := checkName("project", project); err != nil {
		return nil, fmt.Errorf("pause remediation: %w", err)
	}
	path, verb := PausePath(project), "pause"
	if !pause {
		path, verb = ResumePath(project), "resume"
	}
	var out apitypes.PauseAnswer
	if err := c.call(ctx, http.MethodPost, path, nil, req, &out); err != nil {
		return nil, fmt.Errorf("%s remediation of project %q: %w", verb, project, err)
	}
	return &out, nil
}
