package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tendhq/tend/internal/auth"
	"github.com/tendhq/tend/internal/store"
)

// AdminTokenName is the name of the token created on first start.
const AdminTokenName = "admin"

// ensureAdminToken creates the admin token when the store has no admin
// token at all (the first start), and returns it; otherwise it does nothing
// and returns "". The token is written to <dataDir>/admin-token (mode 0600)
// and only its hash goes to the store.
//
// Order matters for crashes: the file is written (and synced) before the
// hash is stored. A crash in between leaves a file with a token the store
// does not know, and the next start, still finding no admin token, simply
// writes a new one. The reverse order could leave a stored token that
// nobody has.
//
// Several PostgreSQL replicas starting at once race for the unique name
// "admin": the loser gets store.ErrExists, removes the file it wrote (when
// the file still holds its own token) and prints nothing.
//
// A later start never regenerates the token, even when the file was
// deleted: create further tokens with `tend create token` and an admin
// token; when every admin token was deleted, the next start makes a new one.
func ensureAdminToken(ctx context.Context, st store.Tokens, dataDir string, log *slog.Logger) (string, error) {
	n, err := st.CountTokens(ctx, string(auth.ScopeAdmin))
	if err != nil {
		return "", fmt.Errorf("check for an admin token: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	tok, err := auth.NewToken()
	if err != nil {
		return "", fmt.Errorf("create the admin token: %w", err)
	}
	path := filepath.Join(dataDir, AdminTokenFile)
	content := []byte(tok + "\n")
	if err := writeFileSynced(path, content); err != nil {
		return "", fmt.Errorf("write the admin token to %s: %w", path, err)
	}
	_, err = st.CreateToken(ctx, store.NewToken{Name: AdminTokenName, Scope: string(auth.ScopeAdmin), Hash: auth.Sum(tok)})
	if errors.Is(err, store.ErrExists) {
		if cur, rerr := os.ReadFile(path); rerr == nil && bytes.Equal(cur, content) {
			_ = os.Remove(path)
		}
		log.Info("admin_token_exists", "reason", "another replica created it, or a token named admin exists")
		return "", nil
	}
	if err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("store the admin token: %w", err)
	}
	log.Info("admin_token_created", "file", path)
	return tok, nil
}

// writeFileSynced writes data to path with mode 0600 through a temporary
// file that is synced and renamed into place, then syncs the folder, so the
// file is complete and durable or absent.
func writeFileSynced(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".admin-token-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
