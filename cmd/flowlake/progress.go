package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// defaultProgressEvery is how often a phase without a count (building
// rollups) prints that it is still running when stderr is not a terminal.
const defaultProgressEvery = 10 * time.Second

// progress shows a long command's progress on stderr, from start to end: a
// bar on a terminal; elsewhere (logs, CI, pipes) a plain line each tenth of
// the counted work, and a line every interval while a phase that has no
// count runs. Not safe for concurrent use.
type progress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar // nil when w is not a terminal
	what  string
	unit  string
	total int64
	tenth int64 // the last tenth printed as a line
	start time.Time
	every time.Duration
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts reporting total units of work named what.
func (a *app) newProgress(what, unit string, total int64) *progress {
	p := &progress{w: a.stderr, what: what, unit: unit, total: total, tenth: -1, start: time.Now(), every: a.hooks.progressEvery}
	if p.every <= 0 {
		p.every = defaultProgressEvery
	}
	if isTerminal(a.stderr) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(a.stderr),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionShowIts(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	return p
}

// Set records done units; detail says what else is known (rows, bytes).
func (p *progress) Set(done int64, detail string) {
	if p.bar != nil {
		_ = p.bar.Set64(done)
		return
	}
	if p.total <= 0 {
		return
	}
	tenth := min(done, p.total) * 10 / p.total
	if tenth == p.tenth || done == 0 {
		return
	}
	p.tenth = tenth
	fmt.Fprintf(p.w, "%s: %d/%d %s (%d %%), %s, %s elapsed\n", p.what, done, p.total, p.unit,
		100*min(done, p.total)/p.total, detail, time.Since(p.start).Round(time.Second))
}

// Phase announces a step that has no count and, until the returned stop
// is called, shows that it is still running: a spinner on a terminal, a
// line every interval elsewhere.
func (p *progress) Phase(ctx context.Context, name string) (stop func()) {
	began := time.Now()
	if p.bar != nil {
		_ = p.bar.Finish()
		spin := progressbar.NewOptions(-1, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(name),
			progressbar.OptionSpinnerType(14), progressbar.OptionClearOnFinish())
		done := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				case <-t.C:
					_ = spin.Add(1)
				}
			}
		}()
		return func() { close(done); <-stopped; _ = spin.Finish() }
	}
	fmt.Fprintf(p.w, "%s: %s…\n", p.what, name)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				fmt.Fprintf(p.w, "%s: still %s, %s elapsed\n", p.what, name, time.Since(began).Round(time.Second))
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		fmt.Fprintf(p.w, "%s: %s done in %s\n", p.what, name, time.Since(began).Round(time.Second))
	}
}

// Finish ends the bar (a terminal's line is cleared; the summary follows).
func (p *progress) Finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
