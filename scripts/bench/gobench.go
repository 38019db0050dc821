package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// goBenchPackages are the packages whose per-packet benchmarks the report
// quotes (performance.md: nanoseconds and allocations of each stage).
var goBenchPackages = []string{"./dataplane/...", "./nat/"}

// goBenchCount is how many times each Go benchmark runs; the report gives
// the median of each metric.
const goBenchCount = 3

// goBench is one Go benchmark: its metrics (unit → one value per run).
type goBench struct {
	name    string // package base/Benchmark name, without the -GOMAXPROCS suffix
	metrics map[string][]float64
	units   []string // in the order go test printed them
}

// goBenchCommand is the command goBenchmarks runs, as the report shows it.
func goBenchCommand() []string {
	return append([]string{"go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", strconv.Itoa(goBenchCount)}, goBenchPackages...)
}

// goBenchmarks runs the Go benchmarks of goBenchPackages in dir.
func goBenchmarks(ctx context.Context, dir string) ([]*goBench, error) {
	cmd := goBenchCommand()
	logf("go benchmarks: %s", strings.Join(cmd, " "))
	out, err := runIn(ctx, dir, cmd[0], cmd[1:]...)
	if err != nil {
		return nil, err
	}
	return parseGoBench(out), nil
}

// parseGoBench reads `go test -bench` output: "pkg: PATH" lines name the
// package of the lines that follow, and each "BenchmarkX-N  iters  v unit
// v unit …" line is one run.
func parseGoBench(out string) []*goBench {
	var (
		pkg    string
		order  []*goBench
		byName = map[string]*goBench{}
	)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "pkg:":
			pkg = strings.TrimPrefix(f[1], modulePath+"/")
		case len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark") && len(f)%2 == 0:
			name := f[0]
			if i := strings.LastIndexByte(name, '-'); i > 0 {
				if _, err := strconv.Atoi(name[i+1:]); err == nil {
					name = name[:i]
				}
			}
			name = pkg + " " + strings.TrimPrefix(name, "Benchmark")
			b := byName[name]
			if b == nil {
				b = &goBench{name: name, metrics: map[string][]float64{}}
				byName[name] = b
				order = append(order, b)
			}
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					continue
				}
				u := f[i+1]
				if _, ok := b.metrics[u]; !ok {
					b.units = append(b.units, u)
				}
				b.metrics[u] = append(b.metrics[u], v)
			}
		}
	}
	return order
}

// goBenchRow renders one benchmark: ns/op, B/op, allocs/op, then any other
// metric it reports.
func goBenchRow(b *goBench) []string {
	cell := func(u string) string {
		v, ok := b.metrics[u]
		if !ok {
			return "—"
		}
		return formatMetric(median(v))
	}
	var extra []string
	units := append([]string(nil), b.units...)
	sort.Strings(units)
	for _, u := range units {
		switch u {
		case "ns/op", "B/op", "allocs/op":
			continue
		}
		extra = append(extra, cell(u)+" "+u)
	}
	return []string{b.name, cell("ns/op"), cell("B/op"), cell("allocs/op"), strings.Join(extra, ", ")}
}

func formatMetric(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
