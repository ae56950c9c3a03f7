// Command table runs the comparison benchmarks of the bench module and
// prints their figures as markdown tables of ratios against each group's
// baseline, measured in the same run, with the machine they ran on.
//
//	go run ./bench/cmd/table                        # everything, -count 3 (from the repository root)
//	go run ./cmd/table -bench 'Hit|L2' -count 5     # a subset
//	go test -run '^$' -bench . -benchmem . > out.txt && go run ./cmd/table -in out.txt
//
// Benchmarks are named Benchmark<Group>/<workload...>/<contender>; the
// contender named floor, raw-get, direct or map-decoded is its workload's
// baseline. With -count above 1, each figure is the median of the runs.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// baselines are the contender names that are a workload's baseline.
var baselines = []string{"floor", "raw-get", "direct", "map-decoded"}

func main() {
	bench := flag.String("bench", ".", "benchmarks to run (go test -bench)")
	count := flag.Int("count", 3, "runs of each benchmark; figures are medians")
	benchtime := flag.String("benchtime", "1s", "go test -benchtime")
	in := flag.String("in", "", "read go test -bench output from this file instead of running it")
	flag.Parse()

	var out []byte
	if *in != "" {
		b, err := os.ReadFile(*in)
		if err != nil {
			fail(err)
		}
		out = b
	} else {
		args := []string{"test", "-run", "^$", "-bench", *bench, "-benchmem",
			"-count", strconv.Itoa(*count), "-benchtime", *benchtime, "-timeout", "60m", "."}
		fmt.Fprintf(os.Stderr, "running: go %s\n", strings.Join(args, " "))
		cmd := exec.Command("go", args...)
		cmd.Dir = benchDir()
		var buf bytes.Buffer
		cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
		cmd.Stderr = os.Stderr
		err := cmd.Run()
		out = buf.Bytes()
		if err != nil {
			// Print what did run; a failed or skipped benchmark shows in the log above.
			fmt.Fprintf(os.Stderr, "go test: %v\n", err)
		}
	}
	results := parse(bytes.NewReader(out))
	if len(results) == 0 {
		fail(fmt.Errorf("no benchmark lines in the output"))
	}
	printMachine(os.Stdout)
	printTables(os.Stdout, results)
}

// benchDir is the bench package's directory, so that the command runs the
// same benchmarks from anywhere in the workspace (go run ./bench/cmd/table
// from the repository root as well as go run ./cmd/table from bench).
func benchDir() string {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/cachedsql/cachedsql/bench").Output()
	if err != nil {
		return "." // not in the workspace: assume the current directory
	}
	return strings.TrimSpace(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "table:", err)
	os.Exit(1)
}

// result is every measurement of one benchmark: unit → values (one per run).
type result struct {
	name    string // without the -GOMAXPROCS suffix
	metrics map[string][]float64
}

// parse reads go test -bench output.
func parse(r io.Reader) []*result {
	var order []*result
	byName := map[string]*result{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		res := byName[name]
		if res == nil {
			res = &result{name: name, metrics: map[string][]float64{}}
			byName[name] = res
			order = append(order, res)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			res.metrics[f[i+1]] = append(res.metrics[f[i+1]], v)
		}
	}
	return order
}

func median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// group is one workload: its contenders in order, the baseline first.
type group struct {
	top, workload string
	contenders    []string
	res           map[string]*result
}

func (g *group) baseline() string {
	for _, c := range g.contenders {
		if slices.Contains(baselines, c) {
			return c
		}
	}
	return ""
}

func printTables(w io.Writer, results []*result) {
	var tops []string
	groups := map[string][]*group{}
	index := map[string]*group{}
	for _, r := range results {
		parts := strings.Split(strings.TrimPrefix(r.name, "Benchmark"), "/")
		if len(parts) < 2 {
			continue
		}
		top, contender := parts[0], parts[len(parts)-1]
		workload := strings.Join(parts[1:len(parts)-1], "/")
		key := top + "/" + workload
		g := index[key]
		if g == nil {
			g = &group{top: top, workload: workload, res: map[string]*result{}}
			index[key] = g
			if _, ok := groups[top]; !ok {
				tops = append(tops, top)
			}
			groups[top] = append(groups[top], g)
		}
		if _, ok := g.res[contender]; !ok {
			g.contenders = append(g.contenders, contender)
		}
		g.res[contender] = r
	}
	for _, top := range tops {
		printTop(w, top, groups[top])
	}
}

// printTop prints one table per benchmark function: a row per workload, the
// baseline's absolute figure, then each contender's ratio to it.
func printTop(w io.Writer, top string, gs []*group) {
	var contenders, units []string
	base := ""
	for _, g := range gs {
		if b := g.baseline(); b != "" && base == "" {
			base = b
		}
		for _, c := range g.contenders {
			if !slices.Contains(contenders, c) && !slices.Contains(baselines, c) {
				contenders = append(contenders, c)
			}
			for u := range g.res[c].metrics {
				if !slices.Contains(units, u) {
					units = append(units, u)
				}
			}
		}
	}
	if base == "" {
		printPaired(w, top, gs, contenders)
		return
	}
	sort.Slice(units, func(i, j int) bool {
		if ri, rj := unitRank(units[i]), unitRank(units[j]); ri != rj {
			return ri < rj
		}
		return units[i] < units[j]
	})
	for _, unit := range units {
		if unit == "B/op" || !present(gs, base, unit) {
			continue
		}
		if absolute(unit) {
			fmt.Fprintf(w, "\n### %s: %s\n\n", top, unit)
		} else {
			fmt.Fprintf(w, "\n### %s: %s (%s absolute, the others as a ratio to it)\n\n", top, unit, base)
		}
		fmt.Fprintf(w, "| workload | %s |", base)
		for _, c := range contenders {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintf(w, "\n|---|---:|%s\n", strings.Repeat("---:|", len(contenders)))
		for _, g := range gs {
			bv, ok := median(g.res[g.baseline()].metricsOr(unit))
			if !ok {
				continue
			}
			fmt.Fprintf(w, "| %s | %s |", orDash(g.workload), format(bv, unit))
			for _, c := range contenders {
				r := g.res[c]
				v, ok := median(r.metricsOr(unit))
				switch {
				case !ok:
					fmt.Fprint(w, " – |")
				case absolute(unit):
					fmt.Fprintf(w, " %s |", format(v, unit))
				case bv == 0:
					fmt.Fprintf(w, " %s |", format(v, unit))
				default:
					fmt.Fprintf(w, " %.2f× |", v/bv)
				}
			}
			fmt.Fprintln(w)
		}
	}
}

// A benchmark that measures its baseline itself, in pairs with its
// contender (BenchmarkMissPaired, BenchmarkHitPaired, BenchmarkL2Paired),
// reports x-<baseline>,
// the ratio of the two, and <baseline>-ns/op, the baseline's own ns/op.
const pairedPrefix = "x-"

// pairedBaseline returns the baseline's name from the paired ratio's unit
// x-<baseline>, for the first contender of gs that reports one.
func pairedBaseline(gs []*group, contenders []string) string {
	for _, g := range gs {
		for _, c := range contenders {
			if r := g.res[c]; r != nil {
				for u := range r.metrics {
					if name, ok := strings.CutPrefix(u, pairedPrefix); ok {
						return name
					}
				}
			}
		}
	}
	return ""
}

// printPaired prints a table of paired ratios: the median of each run's
// ratio, which is not the ratio of the medians printed elsewhere, and, with
// more than one run, the lowest and highest run in brackets.
func printPaired(w io.Writer, top string, gs []*group, contenders []string) {
	baseName := pairedBaseline(gs, contenders)
	if baseName == "" {
		return
	}
	pairedRatio, pairedBase := pairedPrefix+baseName, baseName+"-ns/op"
	var cs []string
	for _, c := range contenders {
		for _, g := range gs {
			if r := g.res[c]; r != nil && len(r.metrics[pairedRatio]) > 0 && !slices.Contains(cs, c) {
				cs = append(cs, c)
			}
		}
	}
	fmt.Fprintf(w, "\n### %s: ns/op (%s absolute, each contender as the median of its runs' paired ratios, their range in brackets)\n\n", top, baseName)
	fmt.Fprintf(w, "| workload | %s |", baseName)
	for _, c := range cs {
		fmt.Fprintf(w, " %s |", c)
	}
	fmt.Fprintf(w, "\n|---|---:|%s\n", strings.Repeat("---:|", len(cs)))
	for _, g := range gs {
		var base []float64
		for _, c := range cs {
			base = append(base, g.res[c].metricsOr(pairedBase)...)
		}
		bv, ok := median(base)
		if !ok {
			continue
		}
		fmt.Fprintf(w, "| %s | %s |", orDash(g.workload), format(bv, "ns/op"))
		for _, c := range cs {
			runs := g.res[c].metricsOr(pairedRatio)
			if v, ok := median(runs); ok {
				fmt.Fprintf(w, " %.2f×", v)
				if len(runs) > 1 {
					// The spread of the runs, which is what says whether two
					// contenders' medians differ by more than the machine.
					fmt.Fprintf(w, " (%.2f–%.2f)", slices.Min(runs), slices.Max(runs))
				}
				fmt.Fprint(w, " |")
			} else {
				fmt.Fprint(w, " – |")
			}
		}
		fmt.Fprintln(w)
	}
}

func (r *result) metricsOr(unit string) []float64 {
	if r == nil {
		return nil
	}
	return r.metrics[unit]
}

func present(gs []*group, base, unit string) bool {
	for _, g := range gs {
		if r := g.res[g.baseline()]; r != nil {
			if v, ok := median(r.metrics[unit]); ok && (unit != "ns/op" || v > 0) {
				return true
			}
		}
	}
	return false
}

// absolute reports whether a unit is printed as is rather than as a ratio:
// counts, whose difference matters more than their ratio.
func absolute(unit string) bool { return unit == "allocs/op" || unit == "inner-queries/op" }

func unitRank(u string) int {
	switch u {
	case "ns/op":
		return 0
	case "allocs/op":
		return 2
	}
	return 1
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func format(v float64, unit string) string {
	switch unit {
	case "ns/op", "cpu-ns/op":
		switch {
		case v >= 1e6:
			return fmt.Sprintf("%.2f ms", v/1e6)
		case v >= 1e3:
			return fmt.Sprintf("%.2f µs", v/1e3)
		}
		return fmt.Sprintf("%.0f ns", v)
	case "allocs/op", "inner-queries/op":
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

// printMachine says what the figures were measured on.
func printMachine(w io.Writer) {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	goVersion := runtime.Version()
	if out, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %s %s/%s", runtime.NumCPU(), model, goVersion, runtime.GOOS, runtime.GOARCH)
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			fmt.Fprintf(w, ", load average %s %s %s when the table was printed", f[0], f[1], f[2])
		}
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintln(w, "Ratios are of medians measured in the same run (in the paired tables, the median of each run's own ratio); for ns/op lower is faster (at g=64 the inverse of the throughput ratio).")
}
