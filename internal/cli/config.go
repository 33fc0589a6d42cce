package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
)

// scopeFlags are --project, --stage and --service of a setting.
type scopeFlags struct{ project, stage, service string }

func (f *scopeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.project, "project", "", "the project (required)")
	cmd.Flags().StringVar(&f.stage, "stage", "", "only this stage (default: every stage)")
	cmd.Flags().StringVar(&f.service, "service", "", "only this service (in every stage unless --stage is given)")
	_ = cmd.MarkFlagRequired("project")
}

func (f *scopeFlags) text() string {
	t := "project " + f.project
	if f.stage != "" {
		t += ", stage " + f.stage
	}
	if f.service != "" {
		t += ", service " + f.service
		if f.stage == "" {
			t += " in every stage"
		}
	}
	return t
}

// secretFlag resolves a secret flag's file:, env: and - forms; "" stays "".
func secretFlag(s *streams, conn *connFlags, flag, value string) (string, error) {
	if value == "" {
		return "", nil
	}
	v, err := readSecret(s, flag, value, &conn.stdinRead)
	if err != nil {
		return "", inputError(err)
	}
	return v, nil
}

func newGetConfigCommand(s *streams) *cobra.Command {
	var (
		project string
		format  outputFormat
		conn    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "config --project P [-o table|json|yaml]",
		Short: "Show a project's settings (monitoring and others), secrets masked",
		Long: `Get config shows every setting of a project at every level: the SLI
provider set by tend configure monitoring, and the settings of other
components. Secrets are never shown: they read "****", and the SECRETS
column (or "secrets" in -o json) lists those that are set.

Exit status 0, 2 on bad flags, a refused token or an unknown project, 3 when
the server failed or could not be reached.`,
		Example: `  tend get config --project sockshop
  tend get config --project sockshop -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				return printAnswer(cmd.Context(), s, c, format, client.ConfigPath(project), nil)
			}
			cfg, err := c.GetConfig(cmd.Context(), project)
			if err != nil {
				return apiFailure(err)
			}
			if len(cfg.Settings) == 0 {
				fmt.Fprintf(s.err, "Project %s has no settings; set its SLI provider with tend configure monitoring.\n", project)
				return nil
			}
			return writeConfigTable(s.out, cfg)
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().StringVar(&project, "project", "", "the project (required)")
	_ = cmd.MarkFlagRequired("project")
	addOutputFlag(cmd, &format)
	return cmd
}

func writeConfigTable(w io.Writer, cfg *apitypes.ProjectConfig) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSERVICE\tKEY\tVALUE\tSECRETS")
	for _, st := range cfg.Settings {
		stage := st.Stage
		if stage == "" {
			stage = "*"
		}
		service := st.Service
		if service == "" {
			service = "*"
		}
		var secrets []string
		for name, state := range st.Secrets {
			if state.Set {
				secrets = append(secrets, name)
			}
		}
		sort.Strings(secrets)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", stage, service, st.Key, settingText(st.Value), dash(strings.Join(secrets, ", ")))
	}
	return tw.Flush()
}

// settingText shows a setting's (masked) JSON object as key=value pairs in
// key order; other values as their JSON.
func settingText(v json.RawMessage) string {
	var m map[string]any
	if err := json.Unmarshal(v, &m); err != nil {
		return string(v)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		val := m[k]
		if s, ok := val.(string); ok {
			if s == "" {
				continue
			}
			parts = append(parts, k+"="+s)
			continue
		}
		b, _ := json.Marshal(val)
		parts = append(parts, k+"="+string(b))
	}
	return strings.Join(parts, " ")
}
