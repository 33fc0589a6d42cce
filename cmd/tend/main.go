// Command tend keeps services inside their SLOs: quality gates and
// self-healing with Keptn's files and habits, in one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tendhq/tend/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
