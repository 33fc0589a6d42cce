package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/client"
	"github.com/tendhq/tend/internal/settings"
)

// The configure commands: one implementation, built from the settings
// schemas the server has (app.Settings), so a new SLI provider or action
// type gets its command from its schema alone. Each field becomes a flag;
// the command checks what it can without the server (required fields,
// fields that go together or exclude each other) and leaves the rest of
// the validation to the server, which answers with every problem.

const settingsExit = `

Exit status 0 when stored, 2 on bad flags, a refused token or an unknown
project, stage or service, 3 when the server failed or could not be reached.`

// newConfigureCommand is keptn's `configure` verb; each kind of setting is
// a noun.
func newConfigureCommand(s *streams) *cobra.Command {
	var subs []*cobra.Command
	for _, sc := range app.Settings().Schemas() {
		doc := sc.Doc()
		if doc.Short == "" {
			continue // written by other commands (pause)
		}
		if ch, ok := sc.(*settings.Choice); ok {
			var variants []*cobra.Command
			for _, v := range ch.Variants() {
				variants = append(variants, newSettingCommand(s, settingCommand{schema: v, parent: ch, name: v.Key()}))
			}
			subs = append(subs, groupCommand(ch.Key(), doc.Short+" ("+strings.Join(ch.Names(), " or ")+")", variants...))
			continue
		}
		subs = append(subs, newSettingCommand(s, settingCommand{schema: sc, name: strings.TrimSuffix(sc.Key(), "/")}))
	}
	return groupCommand("configure", "Configure a project on the tend server", subs...)
}

// settingCommand is one configure command: the schema whose fields are its
// flags, and for a variant of a Choice (configure monitoring prometheus)
// the Choice it is stored under.
type settingCommand struct {
	schema settings.Schema
	parent *settings.Choice
	name   string
}

// family reports a key family: the command takes the member's NAME.
func (c settingCommand) family() bool { return strings.HasSuffix(c.schema.Key(), "/") }

func (c settingCommand) doc() (use, long string) {
	var b strings.Builder
	b.WriteString(c.name)
	if c.family() {
		b.WriteString(" NAME")
	}
	b.WriteString(" --project P")
	if c.schema.Scoping() == settings.AnyScope {
		b.WriteString(" [--stage S] [--service X]")
	}
	for _, f := range c.schema.Fields() {
		if f.Stored {
			continue
		}
		arg := "--" + f.FlagName() + " " + strings.ToUpper(f.FlagName())
		if f.Required {
			b.WriteString(" " + arg)
		} else {
			b.WriteString(" [" + arg + "]")
		}
	}
	long = c.schema.Doc().Long
	if c.parent != nil {
		long = c.parent.Doc().Long
	}
	return b.String(), long + settingsExit
}

func newSettingCommand(s *streams, c settingCommand) *cobra.Command {
	var (
		scope   scopeFlags
		format  outputFormat
		conn    *connFlags
		rules   *rulesFlags
		strs    = map[string]*string{}
		ints    = map[string]*int{}
		fields  []settings.Field
		sdoc    = c.schema.Doc()
		use, lg = c.doc()
	)
	for _, f := range c.schema.Fields() {
		if !f.Stored {
			fields = append(fields, f)
		}
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   sdoc.Short,
		Long:    lg,
		Example: sdoc.Example,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			var name string
			if c.family() {
				name = args[0]
			}
			body, err := settingFlags(s, conn, cmd, fields, strs, ints)
			if err != nil {
				return err
			}
			if c.schema.Scoping() == settings.AnyScope {
				if scope.stage != "" {
					body["stage"] = scope.stage
				}
				if scope.service != "" {
					body["service"] = scope.service
				}
			}
			path := client.SettingPath(scope.project, c.schema.Key())
			switch {
			case c.parent != nil:
				body[c.parent.Discriminator()] = c.name
				path = client.SettingPath(scope.project, c.parent.Key())
			case c.family():
				path = client.SettingPath(scope.project, strings.TrimSuffix(c.schema.Key(), "/")) + "/" + url.PathEscape(name)
			}
			var reload string
			if rules != nil {
				if reload, err = rules.check(scope); err != nil {
					return err
				}
			}
			cl, err := conn.client(s)
			if err != nil {
				return err
			}
			b, err := json.Marshal(body)
			if err != nil {
				return err
			}
			_, raw, err := cl.Raw(cmd.Context(), http.MethodPut, path, nil, b)
			if err != nil {
				return apiFailure(err)
			}
			report := s.out
			if format != formatTable {
				if err := printRaw(s, format, raw); err != nil {
					return err
				}
				report = s.err
			} else {
				var set apitypes.ConfigSetting
				if err := json.Unmarshal(raw, &set); err != nil {
					return apiFailure(fmt.Errorf("read the server's answer: %w", err))
				}
				c.printStored(s.out, scope, name, body, set)
			}
			if rules != nil {
				return configureRules(cmd.Context(), s, report, cl, scope, rules, reload)
			}
			return nil
		},
	}
	if c.family() {
		cmd.Args = usageArgs(cobra.ExactArgs(1))
	}
	conn = addConnFlags(cmd)
	if c.schema.Scoping() == settings.AnyScope {
		scope.add(cmd)
	} else {
		cmd.Flags().StringVar(&scope.project, "project", "", "the project (required)")
		_ = cmd.MarkFlagRequired("project")
	}
	for _, f := range fields {
		usage := f.Usage
		if f.Secret {
			usage += `, or "file:PATH", "env:NAME", "-"`
		}
		if f.Kind == settings.Int {
			ints[f.Name] = cmd.Flags().Int(f.FlagName(), 0, usage)
			continue
		}
		strs[f.Name] = cmd.Flags().String(f.FlagName(), "", usage)
	}
	// The alerting rules are Prometheus's: its command can write them too.
	if c.parent != nil && c.name == "prometheus" {
		rules = addRulesFlags(cmd)
	}
	addOutputFlag(cmd, &format)
	return cmd
}

// settingFlags turns the flags given into the request body, after the
// checks that need no server.
func settingFlags(s *streams, conn *connFlags, cmd *cobra.Command, fields []settings.Field, strs map[string]*string, ints map[string]*int) (map[string]any, error) {
	given := func(f settings.Field) bool { return cmd.Flags().Changed(f.FlagName()) }
	flag := func(name string) string {
		i := slices.IndexFunc(fields, func(f settings.Field) bool { return f.Name == name })
		return "--" + fields[i].FlagName()
	}
	for _, f := range fields {
		if f.Required && (!given(f) || (strs[f.Name] != nil && *strs[f.Name] == "")) {
			msg := "--" + f.FlagName() + " is required"
			if f.Hint != "" {
				msg += ": " + f.Hint
			}
			return nil, &usageError{err: errors.New(msg)}
		}
	}
	for _, f := range fields {
		if !given(f) {
			continue
		}
		var clash []string
		for _, x := range f.Excludes {
			if i := slices.IndexFunc(fields, func(o settings.Field) bool { return o.Name == x }); i >= 0 && given(fields[i]) {
				clash = append(clash, flag(x))
			}
		}
		if len(clash) > 0 {
			return nil, &usageError{err: fmt.Errorf("give %s, or --%s, not both", strings.Join(clash, " and "), f.FlagName())}
		}
	}
	for _, f := range fields {
		if f.With == "" || !given(f) {
			continue
		}
		if i := slices.IndexFunc(fields, func(o settings.Field) bool { return o.Name == f.With }); i >= 0 && !given(fields[i]) {
			pair := []string{"--" + f.FlagName(), flag(f.With)}
			sort.Strings(pair)
			return nil, &usageError{err: fmt.Errorf("%s and %s go together", pair[1], pair[0])}
		}
	}
	body := map[string]any{}
	var names []string
	for _, f := range fields {
		names = append(names, "--"+f.FlagName())
		if !given(f) {
			continue
		}
		switch f.Kind {
		case settings.Int:
			body[f.Name] = *ints[f.Name]
		case settings.Bool:
			v := *strs[f.Name]
			switch strings.ToLower(v) {
			case "true", "on", "yes":
				body[f.Name] = true
			case "false", "off", "no":
				body[f.Name] = false
			default:
				return nil, &usageError{err: fmt.Errorf("--%s %q: want true or false", f.FlagName(), v)}
			}
		default:
			v := *strs[f.Name]
			if f.Secret {
				var err error
				if v, err = secretFlag(s, conn, f.FlagName(), v); err != nil {
					return nil, err
				}
			}
			if v != "" {
				body[f.Name] = v
			}
		}
	}
	if len(body) == 0 {
		return nil, &usageError{err: errors.New("nothing to set: give at least one of " + strings.Join(names, ", "))}
	}
	return body, nil
}

// printStored shows what the server stored, readably: one line for a
// monitoring provider ("prometheus at URL"), else a line naming the scope
// and one row per field of the (masked) stored value, in the schema's
// order.
func (c settingCommand) printStored(w io.Writer, scope scopeFlags, name string, body map[string]any, set apitypes.ConfigSetting) {
	if c.parent != nil {
		line := fmt.Sprintf("%s of %s: %s", c.parent.Doc().Title, scope.text(), c.name)
		if u, ok := body["url"]; ok {
			line += fmt.Sprintf(" at %v", u)
		}
		fmt.Fprintln(w, line)
		return
	}
	title := c.schema.Doc().Title
	if c.family() {
		title += " " + name
	}
	fmt.Fprintf(w, "%s of %s:\n", title, scope.text())
	var m map[string]json.RawMessage
	if err := json.Unmarshal(set.Value, &m); err != nil {
		fmt.Fprintf(w, "  %s\n", set.Value)
		return
	}
	var keys []string
	for _, f := range c.schema.Fields() {
		if _, ok := m[f.Name]; ok {
			keys = append(keys, f.Name)
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range append(keys, rest...) {
		var v any
		_ = json.Unmarshal(m[k], &v)
		text := fmt.Sprint(v)
		if str, ok := v.(string); ok {
			text = str
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k, text)
	}
	_ = tw.Flush()
}
