//go:build race

package main

// A race-enabled test run builds the command under test with -race too, so
// the subprocesses' goroutines (bench workers, progress) are checked.
func init() { buildFlags = append(buildFlags, "-race") }
