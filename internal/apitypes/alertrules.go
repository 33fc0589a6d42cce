package apitypes

// The statuses of one stage in an AlertRules answer. Clients branch on
// them, so they never change meaning.
const (
	// AlertRulesGenerated: the stage's group is in Groups and RuleFile.
	AlertRulesGenerated = "generated"
	// AlertRulesSelfHealingOff: self-healing is not enabled in the stage,
	// which was not asked for by name, so no rules were generated.
	AlertRulesSelfHealingOff = "self-healing-off"
	// AlertRulesNoSLO: the service has no slo.yaml in the stage.
	AlertRulesNoSLO = "no-slo"
	// AlertRulesNoRules: the SLO has no objective with absolute pass
	// criteria (Warnings say why), so there is nothing to alert on.
	AlertRulesNoRules = "no-rules"
	// AlertRulesInvalid: the SLO or an sli.yaml cannot be used, or a query
	// is missing; Reason says what to fix. The stage's rules are left out.
	AlertRulesInvalid = "invalid"
)

// AlertRules answers GET /api/v1/project/{project}/service/{service}/alert-rules:
// the Prometheus alerting rules of a service, one group per stage, made
// from the service's slo.yaml and the layered prometheus/sli.yaml of each
// stage exactly as `tend generate alert-rules` makes them from files.
// Without the stage parameter the stages are those with self-healing
// enabled; Stages lists every stage considered with what happened to it.
type AlertRules struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Window   string `json:"window"`
	For      string `json:"for"`
	Severity string `json:"severity"`
	// Stages says, per stage, whether rules were generated and why not.
	Stages []AlertRulesStage `json:"stages"`
	// Groups are the generated rule groups, one per stage whose Status is
	// "generated", in shipyard order.
	Groups []AlertRuleGroup `json:"groups"`
	// Header is the comment RuleFile starts with (without "# "), naming
	// the SLO commit of every group.
	Header string `json:"header,omitempty"`
	// RuleFile is Groups as a Prometheus rule file (YAML, rule_files
	// format) ready to be written where Prometheus loads it; "" when no
	// group was generated.
	RuleFile string `json:"ruleFile"`
}

// AlertRulesStage is what happened to one stage.
type AlertRulesStage struct {
	Stage string `json:"stage"`
	// RemediationEnabled: the shipyard enables self-healing in the stage.
	RemediationEnabled bool `json:"remediationEnabled"`
	// Status is one of the AlertRules* constants.
	Status string `json:"status"`
	// Reason explains a status other than "generated".
	Reason string `json:"reason,omitempty"`
	// SLOVersion is the commit that last changed the stage's slo.yaml.
	SLOVersion string `json:"sloVersion,omitempty"`
	// Group is the group's name when Status is "generated".
	Group string `json:"group,omitempty"`
	// Rules counts the group's rules.
	Rules int `json:"rules"`
	// Warnings say what could not become a rule (relative criteria).
	Warnings []string `json:"warnings,omitempty"`
}

// AlertRuleGroup is one Prometheus rule group.
type AlertRuleGroup struct {
	Name string `json:"name"`
	// Interval is the group's evaluation interval, when it has its own.
	Interval string      `json:"interval,omitempty"`
	Rules    []AlertRule `json:"rules"`
}

// AlertRule is one Prometheus alerting rule.
type AlertRule struct {
	// Record names a recording rule (the budget rules of slo/*.yaml);
	// Alert an alerting rule.
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}
