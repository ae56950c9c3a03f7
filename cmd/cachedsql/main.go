// Command cachedsql shows the cachedsql driver at work and operates it:
//
//	cachedsql demo         the cache at work on an embedded SQLite shop
//	cachedsql bench        a read/write workload with a latency report
//	cachedsql watch        tail the invalidation events of a namespace
//	cachedsql invalidate   announce writes that bypassed cachedsql
//
// Run "cachedsql help COMMAND" for a command's flags. Exit codes: 0 success,
// 1 failure, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	name    string
	summary string // one line for the command list
	usage   string // the synopsis after "cachedsql "
	help    string // what it does, shown above the flags
	flags   func(fs *flag.FlagSet) func(ctx context.Context, args []string, out io.Writer, errOut io.Writer) error
}

var commands []*command

// commandOrder is the order of the command list: the first minute's command first.
var commandOrder = map[string]int{"demo": 0, "bench": 1, "watch": 2, "invalidate": 3}

func register(c *command) {
	commands = append(commands, c)
	slices.SortStableFunc(commands, func(a, b *command) int { return commandOrder[a.name] - commandOrder[b.name] })
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first Ctrl-C the command winds down; a second one kills
		// the process as usual.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) == 0 {
		printOverview(errOut)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if name == "help" && len(args) > 1 {
			c := lookup(args[1])
			if c == nil {
				fmt.Fprintf(errOut, "cachedsql help: unknown command %q\n\n", args[1])
				printOverview(errOut)
				return 2
			}
			fs, _ := newFlagSet(c, out)
			fs.Usage()
			return 0
		}
		printOverview(out)
		return 0
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(errOut, "cachedsql: unknown command %q\n\n", name)
		printOverview(errOut)
		return 2
	}
	fs, action := newFlagSet(c, errOut)
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(out)
		fs.Usage()
		return 0
	}
	if err != nil {
		// flag has already printed the error and the usage.
		return 2
	}
	err = action(ctx, pos, out, errOut)
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		// Ctrl-C: whatever the command was doing failed because of it.
		fmt.Fprintf(errOut, "cachedsql %s: interrupted\n", c.name)
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(errOut, "cachedsql %s: %s\nRun 'cachedsql %s -h' for usage.\n", c.name, ue.msg, c.name)
		return 2
	default:
		fmt.Fprintf(errOut, "cachedsql %s: %v\n", c.name, err)
		return 1
	}
}

func newFlagSet(c *command, out io.Writer) (*flag.FlagSet, func(context.Context, []string, io.Writer, io.Writer) error) {
	fs := flag.NewFlagSet("cachedsql "+c.name, flag.ContinueOnError)
	fs.SetOutput(out)
	action := c.flags(fs)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: cachedsql %s\n\n%s\n", c.usage, strings.TrimSpace(c.help))
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.VisitAll(func(f *flag.Flag) {
				name, usage := flag.UnquoteUsage(f)
				fmt.Fprintf(w, "  --%s", f.Name)
				if name != "" {
					fmt.Fprintf(w, " %s", name)
				}
				fmt.Fprintf(w, "\n    \t%s", strings.ReplaceAll(usage, "\n", "\n    \t"))
				if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
					fmt.Fprintf(w, " (default %s)", f.DefValue)
				}
				fmt.Fprintln(w)
			})
		}
	}
	return fs, action
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments ("invalidate orders --redis URL"). "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func printOverview(w io.Writer) {
	fmt.Fprintf(w, `cachedsql shows the cachedsql database/sql driver at work and operates it.

Usage: cachedsql COMMAND [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `  %-11s %s

Run 'cachedsql help COMMAND' or 'cachedsql COMMAND -h' for a command's flags.
Exit codes: 0 success, 1 failure, 2 usage error.
`, "help", "show this text, or a command's flags")
}
