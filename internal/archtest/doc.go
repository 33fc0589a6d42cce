// Package archtest holds tests that keep tend's architecture rules true, such
// as "the core packages import no adapter" (docs/ARCHITECTURE.md). It has no
// code of its own.
package archtest
