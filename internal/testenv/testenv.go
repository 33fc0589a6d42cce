// Package testenv tells integration tests where the real components they
// need are running. `make test` starts the components (scripts/*.sh) and
// exports one environment variable per component; a test asks for the
// component here and gets its address.
//
// When a variable is unset, plain `go test ./...` skips the test with a
// message saying how to run it; with CI=true the test fails instead, so CI
// can never pass by skipping.
//
// Adding a component (Prometheus, Alertmanager, Unleash, kube-apiserver,
// Chromium) means: a script in scripts/ that starts it on a free port and
// prints NAME=value lines, a Component value here, and a small accessor like
// PostgresURL when tests need more than the raw value (such as a fresh
// database per test).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Component is a real external system that integration tests use.
type Component struct {
	// Name is how messages call it.
	Name string
	// Env is the environment variable that holds its address.
	Env string
	// Script starts it, for the skip message.
	Script string
}

// Postgres is the PostgreSQL server of the store and Unleash tests. Its
// variable holds a URL of a database the tests may create databases from,
// e.g. postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable.
var Postgres = Component{Name: "PostgreSQL", Env: "TEND_TEST_POSTGRES_URL", Script: "scripts/postgres.sh"}

// Require returns the value of c's variable. When it is unset the test is
// skipped, or fails when the environment variable CI is "true".
func Require(t testing.TB, c Component) string {
	t.Helper()
	v := os.Getenv(c.Env)
	if v != "" {
		return v
	}
	msg := fmt.Sprintf("%s not available: set %s (make test does this; or eval \"$(%s start)\")", c.Name, c.Env, c.Script)
	if IsCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// PostgresServerURL returns the URL of the test server's maintenance
// database as given in TEND_TEST_POSTGRES_URL. Most tests want PostgresURL.
func PostgresServerURL(t testing.TB) string {
	t.Helper()
	return Require(t, Postgres)
}

// PostgresURL creates a new, empty database with a random name on the test
// PostgreSQL server and returns its URL; the database is dropped when the
// test ends, so tests never see each other's data.
func PostgresURL(t testing.TB) string {
	t.Helper()
	server := PostgresServerURL(t)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", Postgres.Env, err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "tend_test_" + hex.EncodeToString(b)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL at %s: %v", u.Redacted(), err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		// FORCE ends connections a test left open.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// IsCI reports whether tests run in CI, where missing components fail.
func IsCI() bool { return strings.EqualFold(os.Getenv("CI"), "true") }
