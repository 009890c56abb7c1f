package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/flowlake/flowlake/storage/lake"
)

// progressLines is how often, in tenths of the work, a long command prints
// a plain progress line when its stderr is not a terminal.
const progressLines = 10

// progressReport returns the progress function of a long lake command
// (compact, verify) and the function that ends it: a progress bar when
// stderr is a terminal, else a plain line at every tenth of the work (and
// at the end), so logs and CI show it too. --json prints nothing.
func (a *app) progressReport(what, unit string) (func(lake.Progress), func()) {
	if a.json {
		return nil, func() {}
	}
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		var bar *progressbar.ProgressBar
		return func(p lake.Progress) {
				if bar == nil {
					bar = progressbar.NewOptions(p.Total,
						progressbar.OptionSetWriter(a.stderr),
						progressbar.OptionSetDescription(what),
						progressbar.OptionShowCount(),
						progressbar.OptionSetItsString(unit),
						progressbar.OptionShowIts(),
						progressbar.OptionSetPredictTime(true),
						progressbar.OptionThrottle(100*time.Millisecond),
						progressbar.OptionClearOnFinish())
				}
				_ = bar.Set(p.Done)
			}, func() {
				if bar != nil {
					_ = bar.Finish()
				}
			}
	}
	return plainProgress(a.stderr, what, unit), func() {}
}

// plainProgress prints "what: done/total unit (pct %)" each time another
// tenth of the work is done.
func plainProgress(w io.Writer, what, unit string) func(lake.Progress) {
	start := time.Now()
	last := -1
	return func(p lake.Progress) {
		if p.Total == 0 || p.Done == 0 {
			return
		}
		step := p.Done * progressLines / p.Total
		if step == last {
			return
		}
		last = step
		fmt.Fprintf(w, "%s: %d/%d %s (%d %%), %d rows, %s\n", what, p.Done, p.Total, unit,
			100*p.Done/p.Total, p.Rows, time.Since(start).Round(time.Second))
	}
}
