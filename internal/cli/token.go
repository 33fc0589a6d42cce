package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/apitypes"
	"github.com/tendhq/tend/internal/client"
)

// scopeFlag is the value of --scope; a wrong scope is a flag error (exit 2)
// before anything is sent.
type scopeFlag apitypes.Scope

func (f *scopeFlag) String() string { return string(*f) }

func (f *scopeFlag) Set(v string) error {
	switch apitypes.Scope(v) {
	case apitypes.ScopeRead, apitypes.ScopeWrite, apitypes.ScopeAdmin, apitypes.ScopeIntake:
		*f = scopeFlag(v)
		return nil
	}
	return fmt.Errorf("unknown scope %q: want read, write, admin or intake", v)
}

func (f *scopeFlag) Type() string { return "scope" }

func newCreateTokenCommand(s *streams) *cobra.Command {
	var (
		scope   scopeFlag
		project string
		format  outputFormat
		conn    *connFlags
	)
	cmd := &cobra.Command{
		Use:   "token NAME --scope read|write|admin|intake [--project P]",
		Short: "Create an API token and print it once",
		Long: `Create token issues an API token. A read token can only look; a write token
can also change projects, services, resources and send events; an admin token
can also manage tokens. --project limits the token to one project.

An intake token (--scope intake, --project required) is an ingest-only
credential for monitoring: it may only deliver Alertmanager alerts and
problem events for its project, as Alertmanager's http_config.authorization
sends it (Authorization: Bearer). Alerts it delivers for other projects are
recorded unmatched, never acted on.

The token is printed once and cannot be shown again: the server keeps only
its hash. -o json prints {"name","scope","project","token"}.

Exit status 0 when created, 2 on bad input, a refused token or a name in
use, 3 when the server failed or could not be reached.`,
		Example: `  tend create token ci --scope write --project sockshop
  tend create token alertmanager --scope intake --project sockshop
  tend create token reader --scope read -o json | jq -r .token`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			req := apitypes.CreateTokenRequest{Name: args[0], Scope: apitypes.Scope(scope), Project: project}
			tok, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return apiFailure(err)
			}
			if err := writeOutput(s.out, format, tok, func(w io.Writer) error {
				return printCreatedToken(w, tok)
			}); err != nil {
				return err
			}
			if format == formatTable {
				fmt.Fprintln(s.err, "Store this token now: it is shown only once and cannot be read again.")
			}
			return nil
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().Var(&scope, "scope", "what the token may do: read, write, admin, or intake (deliver problems for --project only)")
	cmd.Flags().StringVar(&project, "project", "", "limit the token to this project (default: every project)")
	addOutputFlag(cmd, &format)
	_ = cmd.MarkFlagRequired("scope")
	return cmd
}

func printCreatedToken(w io.Writer, tok *apitypes.CreatedToken) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCOPE\tPROJECT")
	fmt.Fprintf(tw, "%s\t%s\t%s\n", tok.Name, tok.Scope, projectScope(tok.Project))
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nToken: %s\n", tok.Token)
	return err
}

// projectScope names the projects a token may see.
func projectScope(project string) string {
	if project == "" {
		return "(all)"
	}
	return project
}

func newGetTokensCommand(s *streams) *cobra.Command {
	var (
		format outputFormat
		conn   *connFlags
	)
	cmd := &cobra.Command{
		Use:   "tokens",
		Short: "List the API tokens (never their secrets)",
		Long: `Get tokens lists the API tokens by name, scope and project. Secrets are never
shown: the server does not have them. Needs an admin token.

Exit status 0, 2 on a refused token, 3 when the server failed or could not be
reached.`,
		Example: `  tend get tokens
  tend get tokens -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client(s)
			if err != nil {
				return err
			}
			if format != formatTable {
				return printAnswer(cmd.Context(), s, c, format, client.PathTokens, nil)
			}
			toks, err := c.ListTokens(cmd.Context())
			if err != nil {
				return apiFailure(err)
			}
			return printList(s, "tokens", "NAME\tSCOPE\tPROJECT\tCREATED", toks, func(w io.Writer, t *apitypes.Token) {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.Name, t.Scope, projectScope(t.Project), formatTime(t.CreatedAt))
			})
		},
	}
	conn = addConnFlags(cmd)
	addOutputFlag(cmd, &format)
	return cmd
}

func newDeleteTokenCommand(s *streams) *cobra.Command {
	return deleteCommand(s, &cobra.Command{
		Use:   "token NAME",
		Short: "Revoke an API token at once",
		Long: `Delete token revokes an API token: the next request with it is refused.

Exit status 0 when revoked, 2 on an unknown name or a refused token, 3 when
the server failed or could not be reached.`,
		Example: `  tend delete token ci`,
	}, "Token", (*client.Client).DeleteToken)
}
