package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/app"
	"github.com/tendhq/tend/internal/config"
)

// Environment variables that set serve's flags when the flag is not given.
const (
	envListen   = "TEND_LISTEN"
	envDataDir  = "TEND_DATA_DIR"
	envDatabase = "TEND_DATABASE"
)

type serveFlags struct {
	listen          string
	dataDir         string
	database        string
	maxBodyBytes    int64
	logLevel        string
	logFormat       string
	shutdownTimeout time.Duration
	// noPrintToken keeps the first admin token out of the output, which
	// often ends up in a log collector; the token is still in its file.
	noPrintToken bool
	// config is tend.yaml (see serveconfig.go); cfg is what was loaded.
	config string
	cfg    *config.Config
}

func newServeCommand(s *streams) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the tend server: REST API, event log and resource repositories",
		Long: `Run the tend server. With no flags it listens on 127.0.0.1:8080 and keeps
everything in ./tend-data: SQLite for state and events, and one Git
repository per project in projects/<project>.git.

With --database postgres://..., state, events and the Git repositories live
in PostgreSQL, so several replicas can share them.

On its first start the server creates an admin API token, prints it once
and writes it to <data-dir>/admin-token (mode 0600). With --no-print-token
it is only written to the file, so it never reaches a log collector. Later
starts keep it; create more tokens with 'tend create token'.

SIGINT or SIGTERM stop the server gracefully: it stops accepting
connections, ends event streams and lets running requests finish within
--shutdown-timeout.`,
		Example: `  tend serve
  tend serve --listen 0.0.0.0:8080 --data-dir /var/lib/tend
  TEND_DATABASE=postgres://tend@db/tend tend serve`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fromEnv(cmd, "listen", &f.listen, envListen)
			fromEnv(cmd, "data-dir", &f.dataDir, envDataDir)
			fromEnv(cmd, "database", &f.database, envDatabase)
			cfg, err := loadServeConfig(cmd, &f)
			if err != nil {
				return err
			}
			f.cfg = cfg
			return runServe(cmd.Context(), s, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", app.DefaultListen, "address to listen on (env "+envListen+"); port 0 picks a free port")
	fl.StringVar(&f.dataDir, "data-dir", app.DefaultDataDir, "directory for the SQLite database, the Git repositories and the admin-token file (env "+envDataDir+")")
	fl.StringVar(&f.database, "database", "", "postgres:// URL to keep state, events and repositories in PostgreSQL; empty means SQLite in the data directory (env "+envDatabase+")")
	fl.Int64Var(&f.maxBodyBytes, "max-body-bytes", app.DefaultMaxBodyBytes, "largest request body accepted; larger ones answer 413")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long running requests may take to finish after SIGTERM")
	fl.BoolVar(&f.noPrintToken, "no-print-token", false, "do not print the admin token created on the first start; it is still written to <data-dir>/admin-token (mode 0600)")
	fl.StringVar(&f.config, "config", "", "tend.yaml with server-wide settings (env "+envServeConfig+"); see docs/configuration.md")
	return cmd
}

// fromEnv sets a flag's value from an environment variable when the flag
// was not given on the command line.
func fromEnv(cmd *cobra.Command, flag string, dst *string, env string) {
	if cmd.Flags().Changed(flag) {
		return
	}
	if v := os.Getenv(env); v != "" {
		*dst = v
	}
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q is unknown: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q is unknown: use text or json", format)
}

func runServe(ctx context.Context, s *streams, f serveFlags) error {
	log, err := newLogger(s.err, f.logLevel, f.logFormat)
	if err != nil {
		return &usageError{err: err}
	}
	if f.maxBodyBytes <= 0 {
		return &usageError{err: fmt.Errorf("--max-body-bytes must be positive, got %d", f.maxBodyBytes)}
	}
	if f.shutdownTimeout <= 0 {
		return &usageError{err: fmt.Errorf("--shutdown-timeout must be positive, got %s", f.shutdownTimeout)}
	}
	if f.database != "" && !strings.HasPrefix(f.database, "postgres://") && !strings.HasPrefix(f.database, "postgresql://") {
		return &usageError{err: errors.New("--database must be a postgres:// URL; leave it empty for SQLite in the data directory")}
	}
	a, err := app.New(ctx, app.Options{
		Listen:       f.listen,
		DataDir:      f.dataDir,
		Database:     f.database,
		MaxBodyBytes: f.maxBodyBytes,
		Logger:       log,
		Config:       f.cfg,
	})
	if err != nil {
		return withExit(ExitServer, fmt.Errorf("start the server: %w", err))
	}
	fmt.Fprintf(s.out, "tend is serving on %s\n", a.URL())
	if tok := a.AdminToken(); tok != "" {
		file := filepath.Join(f.dataDir, app.AdminTokenFile)
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
		if f.noPrintToken {
			fmt.Fprintf(s.err, `
This is tend's first start: it created an admin API token and saved it in
%s (readable only by you); --no-print-token keeps it out of this output.

Log the CLI in with:

    tend auth --endpoint %s --api-token file:%s

`, file, a.URL(), file)
		} else {
			fmt.Fprintf(s.err, `
This is tend's first start: it created an admin API token. It is shown only
this once; it is also saved in %s (readable only by you):

    %s

Log the CLI in with:

    tend auth --endpoint %s --api-token file:%s

`, file, tok, a.URL(), file)
		}
	}
	if err := a.Run(ctx, f.shutdownTimeout); err != nil {
		return withExit(ExitServer, fmt.Errorf("serve: %w", err))
	}
	return nil
}
