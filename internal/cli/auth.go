package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newAuthCommand(s *streams) *cobra.Command {
	var show bool
	var conn *connFlags
	cmd := &cobra.Command{
		Use:   "auth --endpoint URL --api-token TOKEN",
		Short: "Check and store the tend server and API token the CLI uses",
		Long: `Auth checks an API token against a tend server and stores both in the
user's config directory (tend/config.json, readable only by the user; $` + envConfig + `
names another file). Every online command then uses them; its --endpoint and
--api-token flags, and $` + envEndpoint + ` and $` + envAPIToken + `, override them.

Give the token as "-" to read it from standard input, or as "file:PATH" or
"env:NAME", to keep it out of the shell's history. The token is never printed.

--show prints the stored endpoint and whether a token is stored.

Exit status 0 when stored, 2 when the token was refused or input is missing,
3 when the server failed or could not be reached (nothing is stored then).`,
		Example: `  tend auth --endpoint http://127.0.0.1:8080 --api-token file:tend-data/admin-token
  echo "$TOKEN" | tend auth --endpoint https://tend.example.com --api-token -
  tend auth --show`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if show {
				if conn.endpoint != "" || conn.token != "" {
					return &usageError{err: errors.New("--show takes no --endpoint or --api-token")}
				}
				return runAuthShow(s)
			}
			return runAuth(cmd, s, conn)
		},
	}
	conn = addConnFlags(cmd)
	cmd.Flags().BoolVar(&show, "show", false, "print the stored endpoint and whether a token is stored")
	return cmd
}

func runAuth(cmd *cobra.Command, s *streams, conn *connFlags) error {
	endpoint := firstNonEmpty(conn.endpoint, os.Getenv(envEndpoint))
	token := os.Getenv(envAPIToken)
	if conn.token != "" {
		var err error
		if token, err = readSecret(s, "api-token", conn.token, &conn.stdinRead); err != nil {
			return inputError(err)
		}
	}
	switch {
	case endpoint == "":
		return &usageError{err: fmt.Errorf("no endpoint: give --endpoint URL or set $%s", envEndpoint)}
	case token == "":
		return &usageError{err: fmt.Errorf("no API token: give --api-token TOKEN (or -, file:PATH, env:NAME) or set $%s", envAPIToken)}
	}
	c, err := newAPIClient(endpoint, token)
	if err != nil {
		return err
	}
	// Listing one project is the cheapest call every valid token may make:
	// a read token and a project-scoped token both can.
	if _, err := c.ListProjectsPage(cmd.Context(), 1, ""); err != nil {
		return apiFailure(fmt.Errorf("check the API token: %w", err))
	}
	path, err := saveConfig(cliConfig{Endpoint: c.Endpoint(), Token: token})
	if err != nil {
		return inputError(err)
	}
	fmt.Fprintf(s.out, "Authenticated to %s\n", c.Endpoint())
	progress(s, "Stored the endpoint and token in %s", path)
	return nil
}

func runAuthShow(s *streams) error {
	cfg, path, err := loadConfig()
	switch {
	case errors.Is(err, errNoConfig):
		return inputError(fmt.Errorf("no tend server configured (no %s): %s", path, authHint))
	case err != nil:
		return inputError(err)
	}
	tokenState := "stored"
	if cfg.Token == "" {
		tokenState = "not stored"
	}
	fmt.Fprintf(s.out, "Endpoint: %s\nToken:    %s\nConfig:   %s\n", dash(cfg.Endpoint), tokenState, path)
	for _, env := range []string{envEndpoint, envAPIToken} {
		if os.Getenv(env) != "" {
			fmt.Fprintf(s.out, "Note:     $%s is set and overrides the stored value\n", env)
		}
	}
	return nil
}
