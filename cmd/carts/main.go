// Command carts is the carts demo service of tend's self-healing tutorial
// on its own, for running it where tend is not installed (the same as
// `tend demo carts`). See docs/demo.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/tendhq/tend/internal/demo"
)

func main() {
	var cfg demo.CartsConfig
	fs := pflag.NewFlagSet("carts", pflag.ExitOnError)
	cfg.AddFlags(fs)
	_ = fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := demo.RunCarts(ctx, cfg, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		if _, ok := errors.AsType[*demo.UsageError](err); ok {
			os.Exit(2)
		}
		os.Exit(3)
	}
}
