// Package slo owns the service-level objective domain: parsed SLO definitions,
// criteria, and the pure evaluation algorithm that turns SLI values and earlier
// evaluations into a Keptn-compatible evaluation result.
//
// The package does no I/O, reads no clock and imports only the standard library.
//
// The algorithm is docs/keptn.md, "SLO files and the evaluation". Where that page leaves room (the target
// value reported when there is no baseline, objectives of weight 0, values
// that are NaN or infinite, the wording of messages), the decision and its
// reason are documented on Evaluate.
package slo

// Operator is the comparison operator of a criterion.
type Operator string

// The operators of a criterion, in the order they are matched as a prefix.
const (
	OpLessEqual    Operator = "<="
	OpLess         Operator = "<"
	OpEqual        Operator = "="
	OpGreaterEqual Operator = ">="
	OpGreater      Operator = ">"
)

// Criterion is one parsed criteria string such as "<=+10%" or "<1000".
type Criterion struct {
	// Raw is the string as written in the file, spaces included.
	Raw string   `json:"raw"`
	Op  Operator `json:"op"`
	// Amount is the unsigned number of the criterion: the absolute target, or
	// the size of the allowed change for a relative criterion.
	Amount float64 `json:"amount"`
	// Relative is true for criteria compared against the baseline.
	Relative bool `json:"relative,omitempty"`
	// Percent is true when the relative amount is a percentage of the baseline.
	Percent bool `json:"percent,omitempty"`
	// Decrease is true for a relative criterion with a leading '-'.
	Decrease bool `json:"decrease,omitempty"`
}

// Block is a list of criteria that must all hold (AND).
type Block []Criterion

// Objective is one entry of an SLO file's objectives list.
type Objective struct {
	SLI         string `json:"sli"`
	DisplayName string `json:"displayName,omitempty"`
	KeySLI      bool   `json:"keySli,omitempty"`
	// Weight is the objective's share of the maximum score; 0 means
	// "reported, not scored".
	Weight float64 `json:"weight"`
	// Pass and Warning are OR-ed lists of AND-ed blocks. An objective without
	// pass blocks is informational.
	Pass    []Block `json:"pass"`
	Warning []Block `json:"warning"`
}

// Informational reports whether the objective has no pass criteria.
func (o Objective) Informational() bool { return len(o.Pass) == 0 }

// CompareWith selects how many earlier evaluations form the baseline.
type CompareWith string

// The comparison modes of an SLO's comparison block.
const (
	SingleResult   CompareWith = "single_result"
	SeveralResults CompareWith = "several_results"
)

// IncludeResults filters earlier evaluations by their overall result.
type IncludeResults string

// The filters of include_result_with_score.
const (
	IncludePass       IncludeResults = "pass"
	IncludePassOrWarn IncludeResults = "pass_or_warn"
	IncludeAll        IncludeResults = "all"
)

// Aggregate is the function that folds several baseline values into one.
type Aggregate string

// The aggregate functions Keptn knew.
const (
	AggregateAvg Aggregate = "avg"
	AggregateP50 Aggregate = "p50"
	AggregateP90 Aggregate = "p90"
	AggregateP95 Aggregate = "p95"
)

// Comparison says which earlier evaluations a relative criterion is compared
// against.
type Comparison struct {
	CompareWith    CompareWith    `json:"compareWith"`
	IncludeResults IncludeResults `json:"includeResults"`
	// NumberOfResults is the count of earlier evaluations to aggregate
	// (always 1 for SingleResult).
	NumberOfResults int       `json:"numberOfResults"`
	Aggregate       Aggregate `json:"aggregate"`
}

// DefaultComparison is what applies when an SLO has no comparison block.
func DefaultComparison() Comparison {
	return Comparison{CompareWith: SingleResult, IncludeResults: IncludeAll, NumberOfResults: 1, Aggregate: AggregateAvg}
}

// TotalScore holds the score thresholds, in percent.
type TotalScore struct {
	Pass       float64 `json:"pass"`
	Warning    float64 `json:"warning"`
	HasWarning bool    `json:"hasWarning,omitempty"`
}

// SLO is a decoded, validated SLO file.
type SLO struct {
	SpecVersion string `json:"specVersion"`
	// Filter holds the SLO's filter entries, used as query placeholders.
	Filter     map[string]string `json:"filter"`
	Comparison Comparison        `json:"comparison"`
	Objectives []Objective       `json:"objectives"`
	TotalScore TotalScore        `json:"totalScore"`
	// Budgets are tend's budget gates (slo.yaml's "budget" list, a tend
	// extension Keptn ignores).
	Budgets []BudgetObjective `json:"budgets,omitempty"`
}

// Result is the overall or per-objective outcome of an evaluation.
type Result string

// The results of an evaluation.
const (
	Pass    Result = "pass"
	Warning Result = "warning"
	Fail    Result = "fail"
)

// Status is an objective's status; it is a Result or "info".
type Status string

// The statuses an indicator result can have.
const (
	StatusPass    Status = "pass"
	StatusWarning Status = "warning"
	StatusFail    Status = "fail"
	StatusInfo    Status = "info"
)

// SLIResult is one indicator value, in Keptn's indicatorValues shape, and the
// value part of an indicator result.
type SLIResult struct {
	Metric        string  `json:"metric"`
	Value         float64 `json:"value"`
	ComparedValue float64 `json:"comparedValue"`
	Success       bool    `json:"success"`
	Message       string  `json:"message,omitempty"`
}

// Target is one criterion of an objective with the value it was checked
// against.
type Target struct {
	Criteria    string  `json:"criteria"`
	TargetValue float64 `json:"targetValue"`
	Violated    bool    `json:"violated"`
}

// IndicatorResult is the outcome of one objective.
type IndicatorResult struct {
	Score          float64   `json:"score"`
	Status         Status    `json:"status"`
	DisplayName    string    `json:"displayName"`
	KeySLI         bool      `json:"keySli"`
	Value          SLIResult `json:"value"`
	PassTargets    []Target  `json:"passTargets"`
	WarningTargets []Target  `json:"warningTargets"`
}

// Evaluation is Keptn's evaluation object, the result of one SLO evaluation.
type Evaluation struct {
	Result           Result            `json:"result"`
	Score            float64           `json:"score"`
	TimeStart        string            `json:"timeStart,omitempty"`
	TimeEnd          string            `json:"timeEnd,omitempty"`
	IndicatorResults []IndicatorResult `json:"indicatorResults"`
	ComparedEvents   []string          `json:"comparedEvents"`
	Message          string            `json:"message,omitempty"`
	// Budget holds the results of the SLO's budget objectives, a tend
	// extension beside Keptn's indicatorResults; absent without them.
	Budget []BudgetResult `json:"budget,omitempty"`
}

// Previous is an earlier evaluation that may become part of the baseline.
// Evaluate expects a list of them ordered newest first, as the store returns
// the history of one project, stage and service.
type Previous struct {
	// ID identifies the earlier evaluation (its evaluation.finished event id).
	ID string
	// Result is the earlier evaluation's overall result.
	Result Result
	// Invalidated marks an evaluation that is ignored for comparison.
	Invalidated bool
	// Values are the SLI values the earlier evaluation saw.
	Values []SLIResult
}
