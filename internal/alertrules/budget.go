package alertrules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/slok/sloth/pkg/common/conventions"
	"github.com/slok/sloth/pkg/common/model"
	"github.com/slok/sloth/pkg/lib"
	prometheusv1 "github.com/slok/sloth/pkg/prometheus/api/v1"
	"gopkg.in/yaml.v3"

	"github.com/tendhq/tend/internal/budget"
)

// The labels Sloth puts on its rules that tend reads: which alert of an
// SLO an alert is (page or ticket).
const (
	// SeverityLabel is Sloth's label telling page from ticket alerts.
	SeverityLabel = conventions.PromSLOSeverityLabelName
	// SeverityPage and SeverityTicket are its values.
	SeverityPage   = "page"
	SeverityTicket = "ticket"
)

// Budget generates the rules of budget SLO files (internal/budget) with
// Sloth's own generator library: its SLI recording rules, its metadata
// (error budget) recording rules and its multi-window, multi-burn-rate page
// and ticket alerts. Build one with NewBudget and share it: a generator
// loads Sloth's embedded plugins when it is built, so Budget keeps one per
// SLO period.
type Budget struct {
	mu   sync.Mutex
	gens map[time.Duration]*lib.PrometheusSLOGenerator
}

// NewBudget returns a Budget with no generator built yet.
func NewBudget() *Budget {
	return &Budget{gens: map[time.Duration]*lib.PrometheusSLOGenerator{}}
}

// defaultPeriod is Sloth's default SLO period, the one of every Sloth
// spec (they have no period field).
const defaultPeriod = 30 * 24 * time.Hour

func (b *Budget) generator(period time.Duration) (*lib.PrometheusSLOGenerator, error) {
	if period == 0 {
		period = defaultPeriod
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if g := b.gens[period]; g != nil {
		return g, nil
	}
	g, err := lib.NewPrometheusSLOGenerator(lib.PrometheusSLOGeneratorConfig{DefaultSLOPeriod: period})
	if err != nil {
		return nil, fmt.Errorf("build Sloth's generator for a %s period: %w", period, err)
	}
	b.gens[period] = g
	return g, nil
}

// BudgetFile is one decoded budget SLO file and its name (the resource
// URI, such as slo/availability.yaml).
type BudgetFile struct {
	Name string
	File *budget.File
}

// GenerateBudget returns the rule groups of every SLO of files for one
// project, stage and service: per SLO, Sloth's SLI recording rules, its
// metadata recording rules and its alerts, each a group named
// tend-<project>-<stage>-<service>-<Sloth's group name>. Every rule carries
// the project, stage and service in the labels opts.Labels names, over any
// label of the spec of the same name (tend's win: the intake must place
// the alert), and every alert's summary, which the intake takes as the
// problem title, is budget.ProblemType(alert, page|ticket); Sloth's summary
// becomes the description unless the spec gives one. Errors wrap
// ErrInvalid.
func (b *Budget) GenerateBudget(ctx context.Context, files []BudgetFile, opts Options) ([]Group, error) {
	opts.Labels = opts.Labels.withDefaults()
	var problems []error
	for _, p := range opts.Labels.problems() {
		problems = append(problems, fmt.Errorf("%w: %s", ErrInvalid, p))
	}
	for _, f := range []struct{ name, v string }{{"project", opts.Project}, {"stage", opts.Stage}, {"service", opts.Service}} {
		if strings.TrimSpace(f.v) == "" {
			problems = append(problems, fmt.Errorf("%w: the %s is empty", ErrInvalid, f.name))
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	var groups []Group
	from := map[string]string{}
	for _, f := range files {
		for _, doc := range f.File.Docs {
			gs, err := b.generateDoc(ctx, doc)
			if err != nil {
				problems = append(problems, fmt.Errorf("%w: %s:%d: %w", ErrInvalid, f.Name, doc.Line, err))
				continue
			}
			for _, g := range gs {
				g.Name = GroupName(opts.Project, opts.Stage, opts.Service) + "-" + g.Name
				if prev, dup := from[g.Name]; dup {
					problems = append(problems, fmt.Errorf("%w: %s:%d: service %s and SLO of the same name are also in %s: Sloth's rules of both would collide; rename one SLO", ErrInvalid, f.Name, doc.Line, doc.Service, prev))
					continue
				}
				from[g.Name] = f.Name
				for i := range g.Rules {
					tendLabels(&g.Rules[i], opts)
				}
				groups = append(groups, g)
			}
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return groups, nil
}

// generateDoc runs Sloth's generator over one document and reads its
// standard rule file back.
func (b *Budget) generateDoc(ctx context.Context, doc budget.Doc) ([]Group, error) {
	gen, err := b.generator(0)
	if err != nil {
		return nil, err
	}
	res, err := gen.GenerateFromRaw(ctx, doc.Source)
	if err != nil {
		return nil, fmt.Errorf("sloth: %w", err)
	}
	if doc.Format == budget.FormatOpenSLO {
		// Sloth maps OpenSLO objectives without alerts (OpenSLO v1alpha
		// has no place to name them). tend gives them their default
		// name: the SLOs Sloth mapped are generated again as Sloth specs
		// that name their alerts, over the OpenSLO time window.
		var period time.Duration
		if len(doc.SLOs) > 0 {
			period = doc.SLOs[0].Period
		}
		if gen, err = b.generator(period); err != nil {
			return nil, err
		}
		if res, err = gen.GenerateFromSlothV1(ctx, withAlerts(res)); err != nil {
			return nil, fmt.Errorf("sloth: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := gen.WriteResultAsPrometheusStd(ctx, *res, &buf); err != nil {
		return nil, fmt.Errorf("sloth: write the rules: %w", err)
	}
	var file RuleFile
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return nil, fmt.Errorf("read Sloth's rules: %w", err)
	}
	return file.Groups, nil
}

// withAlerts turns the SLOs Sloth mapped from an OpenSLO document into a
// Sloth spec whose SLOs name their page and ticket alerts.
func withAlerts(res *model.PromSLOGroupResult) prometheusv1.Spec {
	var spec prometheusv1.Spec
	for _, r := range res.SLOResults {
		s := r.SLO
		spec.Service = s.Service
		sli := prometheusv1.SLI{}
		switch {
		case s.SLI.Raw != nil:
			sli.Raw = &prometheusv1.SLIRaw{ErrorRatioQuery: s.SLI.Raw.ErrorRatioQuery}
		case s.SLI.Events != nil:
			sli.Events = &prometheusv1.SLIEvents{ErrorQuery: s.SLI.Events.ErrorQuery, TotalQuery: s.SLI.Events.TotalQuery}
		}
		spec.SLOs = append(spec.SLOs, prometheusv1.SLO{
			Name:        s.Name,
			Description: s.Description,
			Objective:   s.Objective,
			Labels:      s.Labels,
			SLI:         sli,
			Alerting:    prometheusv1.Alerting{Name: budget.DefaultAlertName(s.Service, s.Name)},
		})
	}
	return spec
}

// tendLabels puts the project, stage and service on a rule, over the
// spec's labels of those names, and makes an alert's summary its problem
// type.
func tendLabels(r *Rule, opts Options) {
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	r.Labels[opts.Labels.Project] = escapeTemplate(opts.Project)
	r.Labels[opts.Labels.Stage] = escapeTemplate(opts.Stage)
	r.Labels[opts.Labels.Service] = escapeTemplate(opts.Service)
	if r.Alert == "" {
		return
	}
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	if sum, ok := r.Annotations["summary"]; ok {
		if _, has := r.Annotations["description"]; !has {
			r.Annotations["description"] = sum
		}
	}
	r.Annotations["summary"] = escapeTemplate(budget.ProblemType(r.Alert, r.Labels[SeverityLabel]))
}

// BudgetAlerts lists the problem types (alert summaries) of groups'
// alerts, sorted, for messages and docs.
func BudgetAlerts(groups []Group) []string {
	var out []string
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r.Annotations["summary"])
			}
		}
	}
	sort.Strings(out)
	return out
}
