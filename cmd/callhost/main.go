// Command callhost serves guest modules over WebSocket, builds guest
// modules, and calls objects from the command line. Run "callhost help" for
// the commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one subcommand of callhost.
type command struct {
	name    string
	summary string
	usage   string // the synopsis and description that -h prints above the flags
	// setup defines the command's flags on fs and returns the function that
	// runs the command once they are parsed.
	setup func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command with its positional arguments and returns the exit
// code.
type runFunc func(env *cmdEnv, args []string) int

// cmdEnv is the input, the output and the logger of a running command.
type cmdEnv struct {
	name   string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// usageError prints a usage error and returns exitUsage.
func (e *cmdEnv) usageError(format string, args ...any) int {
	fmt.Fprintf(e.stderr, "callhost %s: %s\nRun 'callhost %s -h' for usage.\n",
		e.name, fmt.Sprintf(format, args...), e.name)
	return exitUsage
}

var commands []*command

func init() {
	commands = []*command{serveCommand, buildCommand, callCommand}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(args[1:], stdout, stderr)
	}
	cmd := findCommand(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "callhost: unknown command %q\nRun 'callhost help' for usage.\n", name)
		return exitUsage
	}
	return cmd.execute(args[1:], stdin, stdout, stderr)
}

// execute parses the command's flags and runs it.
func (c *command) execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, level := c.flagSet(stderr)
	runCmd := c.setup(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	env := &cmdEnv{name: c.name, stdin: stdin, stdout: stdout, stderr: stderr}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return env.usageError("%v", err)
	}
	env.log = log
	return runCmd(env, fs.Args())
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return exitOK
	}
	cmd := findCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "callhost help: unknown command %q\n", args[0])
		return exitUsage
	}
	fs, _ := cmd.flagSet(stdout)
	cmd.setup(fs)
	fs.Usage()
	return exitOK
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "callhost runs objects written as WebAssembly guest modules.\n\n"+
		"Usage:\n\n\tcallhost COMMAND [FLAGS] [ARGS]\n\nCommands:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'callhost help COMMAND' or 'callhost COMMAND -h' for details.\n")
}

// flagSet returns a flag set for the command with its help text and the
// -log-level flag that every command has.
func (c *command) flagSet(output io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(output)
	level := fs.String("log-level", "info",
		"minimum level of log lines written to stderr: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n\n", strings.TrimSpace(c.usage))
		fs.PrintDefaults()
	}
	return fs, level
}

// newLogger returns a text logger on w at the named level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid -log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}
