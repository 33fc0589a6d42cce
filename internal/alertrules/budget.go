package alertrules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/slok/sloth/pkg/common/conventions"
	slotherrors "github.com/slok/sloth/pkg/common/errors"
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
// and ticket alerts. Build one with NewBudget (or NewBudgetWithPlugins) and
// share it: a generator loads its plugins when it is built, so Budget keeps
// one per SLO period and plugin set.
//
// Sloth's plugins are Go source that its generator runs in the Yaegi
// interpreter inside tend's process, with tend's privileges. So plugins
// come only from Sloth's own built-in set and from the directories the
// operator names when building the Budget, never from a spec.
type Budget struct {
	// pluginDirs are the operator's plugin directories; nil uses Sloth's
	// built-in plugins only.
	pluginDirs []fs.FS
	mu         sync.Mutex
	gens       map[genKey]*lib.PrometheusSLOGenerator
}

// genKey names one generator: its default SLO period and whether it
// loads the operator's plugin directories instead of Sloth's built-in
// plugins (Sloth's library loads one or the other, not both).
type genKey struct {
	period  time.Duration
	plugins bool
}

// NewBudget returns a Budget with Sloth's built-in plugins only and no
// generator built yet.
func NewBudget() *Budget {
	return &Budget{gens: map[genKey]*lib.PrometheusSLOGenerator{}}
}

// NewBudgetWithPlugins returns a Budget that also generates the specs
// naming the SLI and SLO plugins in dirs: directories the operator
// controls, each searched for Sloth plugin files (plugin.go) at any depth.
// It loads them at once, so a missing directory or a plugin that does not
// load is an error now rather than at the first spec.
func NewBudgetWithPlugins(dirs []string) (*Budget, error) {
	b := NewBudget()
	if len(dirs) == 0 {
		return b, nil
	}
	for _, dir := range dirs {
		fsys, err := loadPluginDir(dir)
		if err != nil {
			return nil, err
		}
		b.pluginDirs = append(b.pluginDirs, fsys)
	}
	// Together, the directories may still name one plugin twice.
	if _, err := b.generator(genKey{plugins: true}); err != nil {
		return nil, fmt.Errorf("plugin directories %s: %w", strings.Join(dirs, ", "), err)
	}
	return b, nil
}

// loadPluginDir makes sure dir is a directory tend can list whose plugin
// files all load, so that a broken plugin is reported with its directory.
func loadPluginDir(dir string) (fs.FS, error) {
	if dir == "" {
		return nil, errors.New("plugin directory is empty: name a directory")
	}
	if _, err := os.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("plugin directory %s: %w", dir, err)
	}
	fsys := os.DirFS(dir)
	if _, err := newGenerator(defaultPeriod, []fs.FS{fsys}); err != nil {
		return nil, fmt.Errorf("plugin directory %s: %w", dir, err)
	}
	return fsys, nil
}

// newGenerator builds one of Sloth's generators: with Sloth's built-in
// plugins when plugins is empty, else with those plugin directories only.
func newGenerator(period time.Duration, plugins []fs.FS) (*lib.PrometheusSLOGenerator, error) {
	cfg := lib.PrometheusSLOGeneratorConfig{DefaultSLOPeriod: period}
	if len(plugins) > 0 {
		// Strict: a plugin file of the operator's that does not load is
		// a mistake to fix, not one to skip silently.
		cfg.PluginsFS, cfg.StrictPlugins = plugins, true
	}
	g, err := lib.NewPrometheusSLOGenerator(cfg)
	if err != nil {
		return nil, fmt.Errorf("build Sloth's generator for a %s period: %w", period, err)
	}
	return g, nil
}

// defaultPeriod is Sloth's default SLO period, the one of every Sloth
// spec (they have no period field).
const defaultPeriod = 30 * 24 * time.Hour

func (b *Budget) generator(key genKey) (*lib.PrometheusSLOGenerator, error) {
	if key.period == 0 {
		key.period = defaultPeriod
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if g := b.gens[key]; g != nil {
		return g, nil
	}
	var plugins []fs.FS
	if key.plugins {
		plugins = b.pluginDirs
	}
	g, err := newGenerator(key.period, plugins)
	if err != nil {
		return nil, err
	}
	b.gens[key] = g
	return g, nil
}

// builtinPluginPrefix starts the IDs of Sloth's own SLO plugins (core and
// contrib), the ones its library embeds.
const builtinPluginPrefix = "sloth.dev/"

// usesPluginDirs reports whether doc is generated with the operator's
// plugin directories: when tend has some and the document names an SLI
// plugin (Sloth embeds none) or an SLO plugin that is not Sloth's own.
// Every other document keeps Sloth's built-in plugins, and a plugin that
// is nowhere fails with Sloth's error naming it.
func (b *Budget) usesPluginDirs(doc budget.Doc) bool {
	if len(b.pluginDirs) == 0 {
		return false
	}
	for _, s := range doc.SLOs {
		if s.PluginID != "" {
			return true
		}
	}
	for _, id := range doc.SLOPluginIDs {
		if !strings.HasPrefix(id, builtinPluginPrefix) {
			return true
		}
	}
	return false
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
	problems := opts.place()
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
	plugins := b.usesPluginDirs(doc)
	gen, err := b.generator(genKey{plugins: plugins})
	if err != nil {
		return nil, err
	}
	res, err := gen.GenerateFromRaw(ctx, doc.Source)
	if err != nil {
		return nil, fmt.Errorf("sloth: %w%s", err, b.pluginHint(err, plugins))
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
		if gen, err = b.generator(genKey{period: period}); err != nil {
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

// pluginHint explains a plugin Sloth did not find, which is most often
// where tend looks for plugins rather than a typo.
func (b *Budget) pluginHint(err error, plugins bool) string {
	switch {
	case !errors.Is(err, slotherrors.ErrNotFound):
		return ""
	case len(b.pluginDirs) == 0:
		return " (tend has Sloth's built-in plugins only; its operator adds plugin directories with the server's budget.pluginDirs setting or tend generate alert-rules --plugins-dir)"
	case plugins:
		return " (a document naming a plugin of the plugin directories is generated with those directories only, without Sloth's built-in sloth.dev/ SLO plugins)"
	default:
		return ""
	}
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

// Prometheus3LabelNames lists, sorted and once each, the label and
// annotation names of groups' rules that only Prometheus 3 and later
// accept (UTF-8 names such as plug-l1, which a spec or a Sloth plugin may
// add): Prometheus 2 refuses the whole rule file for them, so a user of it
// should be told why.
func Prometheus3LabelNames(groups []Group) []string {
	seen := map[string]bool{}
	var out []string
	note := func(names map[string]string) {
		for n := range names {
			if !isClassicLabelName(n) && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			note(r.Labels)
			note(r.Annotations)
		}
	}
	sort.Strings(out)
	return out
}
