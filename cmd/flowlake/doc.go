// Command flowlake is Flowlake's single binary. Its subcommands wire the
// packages together: serve (API and scheduled maintenance), demo (generate
// a week of history, then serve), gen (synthetic telemetry into the lake),
// lake (stats, ls, verify, compact), config (the effective configuration)
// and version.
//
// Configuration is layered: built-in defaults, then a YAML file (--config),
// then FLOWLAKE_* environment variables, then flags; docs/configuration.md
// lists every setting. main only calls Main, so end-to-end tests run the
// same wiring in-process.
package main
