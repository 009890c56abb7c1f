package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Main runs the binary with the given arguments (without the program
// name) and returns its exit status: 0 on success, 1 on failure, 2 on a
// usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var argv0 string
	if len(os.Args) > 0 {
		argv0 = os.Args[0]
	}
	return run(ctx, args, stdout, stderr, hooks{environ: os.Environ(), argv0: argv0})
}

// hooks are what tests swap in run: the environment, the name the binary
// was started by (os.Args[0]), a callback that learns the address serve
// listens on, and the pace of progress lines.
type hooks struct {
	environ  []string
	argv0    string
	onListen func(net.Addr)
	// progressEvery overrides how often long phases print that they still
	// run (default defaultProgressEvery).
	progressEvery time.Duration
}

// app is one invocation of the binary: its streams, global flags and the
// configuration and logger they produce.
type app struct {
	hooks          hooks
	stdout, stderr io.Writer
	configFile     string
	json           bool
	cfg            Config
	logger         *slog.Logger
}

// usageError marks errors in the command line (exit status 2).
type usageError struct{ error }

// silentError is a failure already reported on stdout/stderr (exit status
// 1 without a message), such as problems found by lake verify.
type silentError struct{ error }

// exitIncomplete is the exit status of a command whose answer was printed
// but is missing the rows of unreadable lake files (docs/query.md).
const exitIncomplete = 3

// incompleteError marks an answer printed without the rows of unreadable
// files, whose warnings are already on stderr (exit status 3).
type incompleteError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, h hooks) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{hooks: h, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var ue usageError
	var se silentError
	var ie incompleteError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ie):
		return exitIncomplete
	case errors.As(err, &se):
		return 1
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "unknown command "), strings.HasPrefix(err.Error(), "unknown flag"):
		fmt.Fprintf(stderr, "%s\nRun '%s --help' for usage.\n", errorLine(cmd, err), cmd.CommandPath())
		return 2
	}
	fmt.Fprintln(stderr, errorLine(cmd, err))
	return 1
}

// errorLine formats a command's error for stderr: the command's path, then
// the message, without repeating the command's own name when the message
// already starts with it ("flowlake lake stats: …", not "flowlake lake
// stats: lake stats: …").
func errorLine(cmd *cobra.Command, err error) string {
	path := cmd.CommandPath()
	msg := err.Error()
	if sub, ok := strings.CutPrefix(path, cmd.Root().Name()+" "); ok {
		msg = strings.TrimPrefix(msg, sub+": ")
	}
	return path + ": " + msg
}

// Flag annotation naming the configuration key a flag overrides.
const keyAnnotation = "flowlake_config_key"

// bind makes flag name of fs override configuration key.
func bind(fs *pflag.FlagSet, name, key string) {
	if err := fs.SetAnnotation(name, keyAnnotation, []string{key}); err != nil {
		panic(fmt.Sprintf("flowlake: bind flag %s: %v", name, err)) // a typo in a flag name, caught by every test
	}
}

func (a *app) rootCommand() *cobra.Command {
	d := DefaultConfig()
	root := &cobra.Command{
		Use:   "flowlake",
		Short: "Flowlake, a network telemetry lake",
		Long: `Flowlake keeps network telemetry (flows, TCP traces, DHCP events, cloud
connection states) in a partitioned Parquet lake and serves it.

Configuration comes from defaults, a YAML file (--config), FLOWLAKE_*
environment variables and flags, each overriding the one before; see
'flowlake config' and docs/configuration.md.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: a.setup,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "YAML configuration file (env "+envConfig+")")
	pf.BoolVar(&a.json, "json", false, "print data as JSON instead of tables")
	pf.String("data", d.Lake.Root, "lake directory (env "+envData+")")
	bind(pf, "data", "lake.root")
	pf.String("log-level", d.LogLevel, "least severe level logged: debug, info, warn, error")
	bind(pf, "log-level", "log_level")

	root.AddCommand(a.versionCommand(), a.configCommand(), a.serveCommand(), a.demoCommand(),
		a.genCommand(), a.lakeCommand(), a.queryCommand(), a.userCommand(), a.edgeCommand(), a.tcptraceCommand(), a.reportCommand(),
		a.dhcpCommand(), a.cloudCommand())
	return root
}

// setup loads the configuration for the command about to run and builds
// the logger.
func (a *app) setup(cmd *cobra.Command, _ []string) error {
	src := sources{file: a.configFile, environ: a.hooks.environ}
	if src.file == "" {
		src.file = lookupEnv(a.hooks.environ, envConfig)
	}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if keys := f.Annotations[keyAnnotation]; len(keys) == 1 {
			src.overrides = append(src.overrides, override{key: keys[0], value: f.Value.String()})
		}
	})
	cfg, ignored, err := loadConfig(src)
	if err != nil {
		return err
	}
	a.cfg = cfg
	level, _ := parseLevel(cfg.LogLevel) // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		a.logger = slog.New(slog.NewJSONHandler(a.stderr, opts))
	} else {
		a.logger = slog.New(slog.NewTextHandler(a.stderr, opts))
	}
	for _, name := range ignored {
		a.logger.Warn("ignoring environment variable that names no setting", "name", name)
	}
	return nil
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// printJSON writes v as indented JSON to stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("no arguments expected, got %q", args)}
	}
	return nil
}
