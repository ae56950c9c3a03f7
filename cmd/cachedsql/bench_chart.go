package main

import (
	"fmt"
	"image/color"
	"math"
	"time"

	"github.com/cachedsql/cachedsql/cmd/cachedsql/internal/probe"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// pathColors keeps each path's colour the same from chart to chart.
var pathColors = map[string]color.Color{
	probe.PathL1:        color.RGBA{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff},
	probe.PathL2:        color.RGBA{R: 0x75, G: 0x70, B: 0xb3, A: 0xff},
	probe.PathCoalesced: color.RGBA{R: 0xe6, G: 0xab, B: 0x02, A: 0xff},
	probe.PathDatabase:  color.RGBA{R: 0xd9, G: 0x5f, B: 0x02, A: 0xff},
	pathWrite:           color.RGBA{R: 0x66, G: 0x66, B: 0x66, A: 0xff},
}

// drawChart draws, for each path, the share of its operations per latency bin
// (8 bins per power of two, on a log axis), and saves it as PNG or SVG by the
// file name's extension.
func drawChart(file string, r *benchReport, res *benchResult) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("cachedsql bench: latency per path (%s ops/s, %s of reads served from cache)",
		humanRate(r.OpsPerSec), pct(r.HitRatio))
	p.X.Label.Text = "latency (log scale)"
	p.Y.Label.Text = "share of the path's operations per bin (%)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = durationTicks{}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for _, pr := range r.Paths {
		h := res.paths[pr.Path]
		bins := h.Bins(8)
		pts := make(plotter.XYs, 0, 2*len(bins))
		for _, b := range bins {
			y := 100 * float64(b.Count) / float64(h.Count())
			// A step per bin: the share is flat across the bin's range.
			lo, hi := math.Max(us(b.Lo), 0.01), us(b.Hi)
			pts = append(pts, plotter.XY{X: lo, Y: y}, plotter.XY{X: hi, Y: y})
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = pathColors[pr.Path]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s: %d ops, p50 %s, p99 %s", pr.Path, pr.Ops,
			fmtDurUS(pr.P50US), fmtDurUS(pr.P99US)), line)
	}
	return p.Save(10*vg.Inch, 5*vg.Inch, file)
}

func fmtDurUS(v float64) string { return fmtDur(time.Duration(v * float64(time.Microsecond))) }

// durationTicks labels a log axis in microseconds as durations (10µs, 1ms).
type durationTicks struct{}

func (durationTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{Prec: -1}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = fmtDurUS(ticks[i].Value)
		}
	}
	return ticks
}
