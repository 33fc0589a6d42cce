package spec

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/yamlnode"
)

// ShipyardFormat says which of Keptn's two shipyard formats a file was
// written in.
type ShipyardFormat string

// The shipyard formats.
const (
	// ShipyardLegacy is Keptn 0.6/0.7's format: top-level stages with
	// deployment, test, approval and remediation strategies.
	ShipyardLegacy ShipyardFormat = "0.6"
	// ShipyardV02 is apiVersion spec.keptn.sh/0.2.x (kind Shipyard): stages
	// made of task sequences.
	ShipyardV02 ShipyardFormat = "spec.keptn.sh/0.2"
)

// Shipyard is a decoded project shipyard, normalised over both formats.
type Shipyard struct {
	// Format is the format the file was written in.
	Format ShipyardFormat
	// APIVersion is the apiVersion as written (e.g. "spec.keptn.sh/0.2.2");
	// "" for the legacy format.
	APIVersion string
	// Name is metadata.name ("" for the legacy format).
	Name string
	// Stages are the project's stages in file order.
	Stages []Stage
}

// Stage is one stage of a shipyard. Legacy files fill the strategy fields,
// 0.2.x files fill Sequences.
type Stage struct {
	// Name is the stage name, e.g. "production".
	Name string
	// DeploymentStrategy is the legacy deployment_strategy (direct,
	// blue_green_service); tend does not deploy and only records it.
	DeploymentStrategy string
	// TestStrategy is the legacy test_strategy (functional, performance...).
	TestStrategy string
	// ApprovalStrategy is the legacy approval_strategy, nil when absent.
	ApprovalStrategy *ApprovalStrategy
	// RemediationStrategy is the legacy remediation_strategy; "automated"
	// enables self-healing in the stage.
	RemediationStrategy string
	// Sequences are the 0.2.x task sequences of the stage, in file order.
	Sequences []Sequence
}

// ApprovalStrategy is a legacy stage's approval_strategy: "automatic" or
// "manual" for each evaluation result.
type ApprovalStrategy struct {
	Pass    string
	Warning string
}

// Sequence is a 0.2.x task sequence.
type Sequence struct {
	// Name is the sequence name, e.g. "delivery" or "remediation".
	Name string
	// TriggeredOn lists the events that start the sequence; empty means it
	// is started directly (e.g. by sh.keptn.event.<stage>.<name>.triggered).
	TriggeredOn []Trigger
	// Tasks run in order.
	Tasks []Task
}

// Trigger is one triggeredOn entry.
type Trigger struct {
	// Event is "<stage>.<sequence>.finished".
	Event string
	// Match is selector.match: result or <task>.result mapped to pass,
	// warning or fail. Empty means the sequence follows on pass or warning.
	Match map[string]string
}

// Task is one task of a sequence.
type Task struct {
	// Name is the task name, e.g. "evaluation" or "get-action".
	Name string
	// TriggeredAfter delays the task; 0 when absent.
	TriggeredAfter time.Duration
	// TriggeredAfterText is triggeredAfter as written ("15m"); "" when absent.
	TriggeredAfterText string
	// Properties are the task's free-form properties, e.g. timeframe or
	// deploymentstrategy, as plain Go values.
	Properties map[string]any
}

// remediationSequence names the sequence that enables self-healing.
const remediationSequence = "remediation"

// StageNames returns the stage names in file order.
func (s *Shipyard) StageNames() []string {
	names := make([]string, len(s.Stages))
	for i, st := range s.Stages {
		names[i] = st.Name
	}
	return names
}

// Stage returns the stage with the given name.
func (s *Shipyard) Stage(name string) (*Stage, bool) {
	for i := range s.Stages {
		if s.Stages[i].Name == name {
			return &s.Stages[i], true
		}
	}
	return nil, false
}

// Sequence returns the stage's first sequence with the given name.
func (st *Stage) Sequence(name string) (*Sequence, bool) {
	for i := range st.Sequences {
		if st.Sequences[i].Name == name {
			return &st.Sequences[i], true
		}
	}
	return nil, false
}

// RemediationEnabled reports whether problems in the stage are remediated:
// a legacy remediation_strategy: automated, or a 0.2.x remediation sequence.
func (st *Stage) RemediationEnabled() bool {
	if st.RemediationStrategy == "automated" {
		return true
	}
	_, ok := st.Sequence(remediationSequence)
	return ok
}

// EvaluationDelay returns the settling time before an action is verified:
// the triggeredAfter of the evaluation task in the stage's remediation
// sequence. ok is false when there is none, and the caller's default applies.
func (st *Stage) EvaluationDelay() (time.Duration, bool) {
	seq, ok := st.Sequence(remediationSequence)
	if !ok {
		return 0, false
	}
	for _, t := range seq.Tasks {
		if t.Name == "evaluation" && t.TriggeredAfterText != "" {
			return t.TriggeredAfter, true
		}
	}
	return 0, false
}

var (
	shipyardKeys       = []string{"apiVersion", "kind", "metadata", "spec"}
	shipyardSpecKeys   = []string{"stages"}
	stageKeys          = []string{"name", "sequences"}
	sequenceKeys       = []string{"name", "triggeredOn", "tasks"}
	triggerKeys        = []string{"event", "selector"}
	selectorKeys       = []string{"match"}
	taskKeys           = []string{"name", "triggeredAfter", "properties"}
	legacyShipyardKeys = []string{"stages"}
	legacyStageKeys    = []string{"name", "deployment_strategy", "test_strategy", "approval_strategy", "remediation_strategy"}
	approvalKeys       = []string{"pass", "warning"}
)

// stageNameRE is Keptn's rule for entity names: lower-case letters, digits
// and '-', starting with a letter.
var stageNameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)

// shipyardVersionRE matches the apiVersions Keptn's shipyard controller
// accepted: spec.keptn.sh/0.2.N, and the bare 0.2.N it also took.
var shipyardVersionRE = regexp.MustCompile(`^(spec\.keptn\.sh/)?0\.2\.\d+$`)

// DecodeShipyard decodes and validates a shipyard in either format. It
// returns the shipyard, or nil when the diagnostics hold an error, and every
// problem found.
func DecodeShipyard(filename string, data []byte) (*Shipyard, Diagnostics) {
	d := newDecoder(filename)
	out := d.shipyard(data)
	return result(d, out)
}

func (d *decoder) shipyard(data []byte) *Shipyard {
	root := d.parse(data, KindShipyard)
	if root == nil {
		return nil
	}
	if !d.isMapping(root, "a shipyard", "apiVersion: spec.keptn.sh/0.2.2, kind: Shipyard, spec: {stages: [...]}") {
		return nil
	}
	if lookup(root, "apiVersion") == nil && lookup(root, "kind") == nil && lookup(root, "spec") == nil &&
		lookup(root, "version") == nil && lookup(root, "stages") != nil {
		return d.legacyShipyard(root)
	}
	return d.shipyardV02(root)
}

func (d *decoder) shipyardV02(root *yaml.Node) *Shipyard {
	out := &Shipyard{Format: ShipyardV02}
	ignored := map[string]string{
		"stages": "top-level stages are the legacy format and are ignored in a file with apiVersion/kind/spec; move them under spec.stages",
	}
	if lookup(root, "apiVersion") != nil {
		ignored["version"] = "key \"version\" is ignored next to apiVersion; remove it"
	} else {
		ignored["version"] = "" // reported below as a misnamed apiVersion
	}
	f := d.mapFields(root, "the shipyard", shipyardKeys, ignored)
	ok := true
	if av, has := f["apiVersion"]; has {
		v, _ := d.str(av.val, "apiVersion")
		out.APIVersion = v
		switch {
		case !shipyardVersionRE.MatchString(v):
			d.Errorf(av.val, "unsupported shipyard apiVersion %q: tend reads spec.keptn.sh/0.2.0 to spec.keptn.sh/0.2.x (e.g. spec.keptn.sh/0.2.2), or the legacy format with top-level stages and no apiVersion", v)
			ok = false
		case !strings.HasPrefix(v, specGroup):
			d.Warnf(av.val, "apiVersion %q lacks the spec.keptn.sh/ prefix: write %s%s", v, specGroup, v)
		}
	} else if ver, has := f["version"]; has {
		v, _ := d.str(ver.val, "version")
		d.Errorf(ver.key, "\"version: %s\" is not an apiVersion: Keptn's shipyard controller found no apiVersion and rejected the file; rename the key to apiVersion: spec.keptn.sh/0.2.2", v)
		ok = false
	} else {
		d.Errorf(nil, "missing apiVersion: add apiVersion: spec.keptn.sh/0.2.2 (or use the legacy format: top-level stages)")
		ok = false
	}
	items, stagesKey, kindOK, listOK := d.envelopeList(f, envelope{
		kind: "Shipyard", file: "a shipyard", list: "stages", specKeys: shipyardSpecKeys,
		listExample: "[{name: production}]", itemHint: "- name: STAGE",
	}, &out.Name)
	ok = ok && kindOK
	if !listOK {
		return nil
	}
	stageNodes := map[string]*yaml.Node{}
	for _, item := range items {
		stage, good := d.stageV02(item)
		ok = ok && good
		if stage.Name != "" && !d.uniqueStage(stageNodes, stage.Name, item) {
			ok = false
		}
		out.Stages = append(out.Stages, stage)
	}
	if len(items) == 0 {
		d.Errorf(stagesKey, "a shipyard needs at least one stage: add - name: STAGE")
		ok = false
	}
	d.checkTriggers(out)
	if !ok {
		return nil
	}
	return out
}

// uniqueStage records a stage name, reporting a repeated one.
func (d *decoder) uniqueStage(seen map[string]*yaml.Node, name string, n *yaml.Node) bool {
	if prev, dup := seen[name]; dup {
		d.Errorf(n, "duplicate stage %q (first at line %d): stage names must be unique; rename or merge one", name, prev.Line)
		return false
	}
	seen[name] = n
	return true
}

func (d *decoder) stageName(f map[string]entry, n *yaml.Node) (string, bool) {
	v, vn, good := d.requiredStr(n, f, "name", "stage name", "stage without name: add name: STAGE")
	if !good {
		return "", false
	}
	if !stageNameRE.MatchString(v) {
		d.Errorf(vn, "invalid stage name %q: use lower-case letters, digits and '-', starting with a letter (Keptn refused other names)", v)
		return v, false
	}
	return v, true
}

func (d *decoder) stageV02(n *yaml.Node) (Stage, bool) {
	var st Stage
	if !d.listEntry(n, "each stage", "name: STAGE, sequences: [...]", "empty stage: write - name: STAGE") {
		return st, false
	}
	f := d.mapFields(n, "a stage", stageKeys, nil)
	name, ok := d.stageName(f, n)
	st.Name = name
	e, has := f["sequences"]
	if !has {
		return st, ok
	}
	items, good := d.list(e.val, "sequences", "- name: SEQUENCE, tasks: [...]")
	if !good {
		return st, false
	}
	seen := map[string]int{}
	for _, item := range items {
		seq, good := d.sequence(item)
		ok = ok && good
		if good {
			if line, dup := seen[seq.Name]; dup {
				d.Warnf(item, "sequence %q repeats the one at line %d in stage %q: only the first is used; rename or merge one", seq.Name, line, st.Name)
			} else {
				seen[seq.Name] = item.Line
			}
		}
		st.Sequences = append(st.Sequences, seq)
	}
	return st, ok
}

func (d *decoder) sequence(n *yaml.Node) (Sequence, bool) {
	var seq Sequence
	if !d.listEntry(n, "each sequence", "name: SEQUENCE, tasks: [...]", "empty sequence: write - name: SEQUENCE") {
		return seq, false
	}
	// "triggers: [EVENT]" is the pre-release form of triggeredOn that Keptn
	// 0.8's drafts read; it is read the same way, with a warning.
	f := d.mapFields(n, "a sequence", sequenceKeys, map[string]string{
		"triggers": "\"triggers\" is the pre-release form of triggeredOn: tend reads it as triggeredOn: [{event: ...}]; write that instead",
	})
	ok := true
	if v, _, good := d.requiredStr(n, f, "name", "sequence name", "sequence without name: add name: SEQUENCE (e.g. delivery or remediation)"); good {
		seq.Name = v
	} else {
		ok = false
	}
	if e, has := f["triggers"]; has {
		items, good := d.list(e.val, "triggers", "- STAGE.SEQUENCE.finished")
		ok = ok && good
		for _, item := range items {
			ev, good := d.str(item, "a trigger event")
			ok = ok && good
			if good {
				d.triggerRefs = append(d.triggerRefs, item)
				seq.TriggeredOn = append(seq.TriggeredOn, Trigger{Event: ev})
			}
		}
	}
	if e, has := f["triggeredOn"]; has {
		ts, good := decodeList(d, e.val, "triggeredOn", "- event: STAGE.SEQUENCE.finished", d.trigger)
		ok = ok && good
		seq.TriggeredOn = append(seq.TriggeredOn, ts...)
	}
	if e, has := f["tasks"]; has {
		ts, good := decodeList(d, e.val, "tasks", "- name: TASK", d.task)
		ok = ok && good
		seq.Tasks = ts
	}
	if len(seq.Tasks) == 0 && ok {
		d.Warnf(n, "sequence %q has no tasks: it does nothing; add tasks: [{name: TASK}]", seq.Name)
	}
	if seq.Name == remediationSequence && ok {
		hasEval := false
		for _, t := range seq.Tasks {
			hasEval = hasEval || t.Name == "evaluation"
		}
		if !hasEval {
			d.Warnf(n, "the remediation sequence has no evaluation task: tend still verifies every action, after the default settling time; add - name: evaluation with triggeredAfter to choose it")
		}
	}
	return seq, ok
}

func (d *decoder) trigger(n *yaml.Node) (Trigger, bool) {
	var t Trigger
	if !d.listEntry(n, "each triggeredOn entry", "event: STAGE.SEQUENCE.finished", "empty triggeredOn entry: write - event: STAGE.SEQUENCE.finished") {
		return t, false
	}
	f := d.mapFields(n, "a triggeredOn entry", triggerKeys, nil)
	ok := true
	if v, vn, good := d.requiredStr(n, f, "event", "event", "triggeredOn entry without event: add event: STAGE.SEQUENCE.finished"); good {
		t.Event = v
		d.triggerRefs = append(d.triggerRefs, vn)
	} else {
		ok = false
	}
	if e, has := f["selector"]; has && d.isMapping(e.val, "selector", "match: {result: fail}") {
		sf := d.mapFields(e.val, "selector", selectorKeys, nil)
		if m, has := sf["match"]; has && d.isMapping(m.val, "selector.match", "result: pass|warning|fail") {
			mf := d.mapFields(m.val, "selector.match", nil, nil)
			t.Match = map[string]string{}
			for i := 0; i+1 < len(m.val.Content); i += 2 {
				k := m.val.Content[i].Value
				v, good := d.str(mf[k].val, "selector.match "+k)
				if !good {
					ok = false
					continue
				}
				if v != "pass" && v != "warning" && v != "fail" {
					d.Warnf(mf[k].val, "selector.match %s: %q never matches: results are pass, warning or fail", k, v)
				}
				t.Match[k] = v
			}
		}
	}
	return t, ok
}

func (d *decoder) task(n *yaml.Node) (Task, bool) {
	var t Task
	if !d.listEntry(n, "each task", "name: TASK", "empty task: write - name: TASK") {
		return t, false
	}
	f := d.mapFields(n, "a task", taskKeys, nil)
	ok := true
	if v, _, good := d.requiredStr(n, f, "name", "task name", "task without name: add name: TASK (e.g. evaluation)"); good {
		t.Name = v
	} else {
		ok = false
	}
	if e, has := f["triggeredAfter"]; has && !yamlnode.IsNull(e.val) {
		if v, good := d.str(e.val, "triggeredAfter"); good {
			dur, err := time.ParseDuration(strings.TrimSpace(v))
			switch {
			case err != nil:
				d.Errorf(e.val, "triggeredAfter %q is not a duration: write e.g. \"10m\", \"90s\" or \"1h30m\"", v)
				ok = false
			case dur < 0:
				d.Errorf(e.val, "triggeredAfter %q is negative: write a delay such as \"10m\"", v)
				ok = false
			default:
				t.TriggeredAfter, t.TriggeredAfterText = dur, v
			}
		} else {
			ok = false
		}
	}
	if e, has := f["properties"]; has && d.isMapping(e.val, "properties", "KEY: VALUE") {
		if m, isMap := d.anyValue(e.val).(map[string]any); isMap {
			t.Properties = m
		}
	}
	return t, ok
}

// checkTriggers warns about triggeredOn events that name a stage this
// shipyard does not have: such a sequence can never start.
func (d *decoder) checkTriggers(s *Shipyard) {
	var names []string
	for _, n := range s.StageNames() {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range d.triggerRefs {
		parts := strings.Split(n.Value, ".")
		if len(parts) != 3 || parts[2] != "finished" {
			d.Warnf(n, "triggeredOn event %q never happens: sequences are triggered on STAGE.SEQUENCE.finished", n.Value)
			continue
		}
		st, ok := s.Stage(parts[0])
		if !ok {
			d.Warnf(n, "triggeredOn event %q names stage %q, which this shipyard does not have (stages: %s): the sequence never starts", n.Value, parts[0], strings.Join(names, ", "))
			continue
		}
		if _, ok := st.Sequence(parts[1]); !ok && parts[1] != "evaluation" {
			d.Warnf(n, "triggeredOn event %q names sequence %q, which stage %q does not have: the sequence never starts", n.Value, parts[1], parts[0])
		}
	}
}

func (d *decoder) legacyShipyard(root *yaml.Node) *Shipyard {
	out := &Shipyard{Format: ShipyardLegacy}
	ignored := map[string]string{
		"registry": "key \"registry\" is a Keptn 0.1 field that later versions ignored; remove it",
	}
	f := d.mapFields(root, "the shipyard", legacyShipyardKeys, ignored)
	st := f["stages"]
	items, ok := d.list(st.val, "stages", "- name: STAGE")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.Errorf(st.key, "a shipyard needs at least one stage: add - name: STAGE")
		return nil
	}
	seen := map[string]*yaml.Node{}
	for _, item := range items {
		if !d.listEntry(item, "each stage", "name: STAGE, deployment_strategy: direct, ...", "empty stage: write - name: STAGE") {
			ok = false
			continue
		}
		sf := d.mapFields(item, "a stage", legacyStageKeys, nil)
		var stage Stage
		name, good := d.stageName(sf, item)
		stage.Name = name
		ok = ok && good
		if name != "" && !d.uniqueStage(seen, name, item) {
			ok = false
		}
		if e, has := sf["deployment_strategy"]; has {
			stage.DeploymentStrategy, good = d.str(e.val, "deployment_strategy")
			ok = ok && good
		}
		if e, has := sf["test_strategy"]; has {
			stage.TestStrategy, good = d.str(e.val, "test_strategy")
			ok = ok && good
		}
		if e, has := sf["remediation_strategy"]; has {
			stage.RemediationStrategy, good = d.str(e.val, "remediation_strategy")
			ok = ok && good
			if good && stage.RemediationStrategy != "automated" && stage.RemediationStrategy != "" {
				d.Warnf(e.val, "remediation_strategy %q leaves self-healing off: only \"automated\" enables it", stage.RemediationStrategy)
			}
		}
		if e, has := sf["approval_strategy"]; has && d.isMapping(e.val, "approval_strategy", "pass: automatic|manual, warning: automatic|manual") {
			af := d.mapFields(e.val, "approval_strategy", approvalKeys, nil)
			stage.ApprovalStrategy = &ApprovalStrategy{}
			for _, k := range approvalKeys {
				a, has := af[k]
				if !has {
					continue
				}
				v, good := d.str(a.val, "approval_strategy."+k)
				ok = ok && good
				if good && v != "automatic" && v != "manual" {
					d.Warnf(a.val, "approval_strategy.%s %q is neither automatic nor manual", k, v)
				}
				if k == "pass" {
					stage.ApprovalStrategy.Pass = v
				} else {
					stage.ApprovalStrategy.Warning = v
				}
			}
		}
		out.Stages = append(out.Stages, stage)
	}
	if !ok {
		return nil
	}
	return out
}
