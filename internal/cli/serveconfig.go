package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/tendhq/tend/internal/config"
)

// envServeConfig names serve's tend.yaml when --config is not given
// (TEND_CONFIG is the CLI's own credentials file).
const envServeConfig = "TEND_SERVE_CONFIG"

// loadServeConfig reads serve's tend.yaml (--config, else $TEND_CONFIG,
// else none) and the TEND_* variables, resolves its secret references, and
// fills serve's --listen, --data-dir and --database from it where neither
// the flag nor its variable was given: flags win over the environment,
// which wins over the file.
func loadServeConfig(cmd *cobra.Command, f *serveFlags) (*config.Config, error) {
	path := f.config
	if !cmd.Flags().Changed("config") && path == "" {
		path = os.Getenv(envServeConfig)
	}
	cfg, err := config.Load(path, os.Getenv)
	if err != nil {
		return nil, inputError(err)
	}
	if err := cfg.Resolve(os.Getenv); err != nil {
		return nil, inputError(err)
	}
	fromFile := func(flag string, dst *string, env, v string) {
		if cmd.Flags().Changed(flag) || os.Getenv(env) != "" || v == "" {
			return
		}
		*dst = v
	}
	fromFile("listen", &f.listen, envListen, cfg.Listen)
	fromFile("data-dir", &f.dataDir, envDataDir, cfg.DataDir)
	fromFile("database", &f.database, envDatabase, cfg.Database.Value)
	return &cfg, nil
}
