package main

import (
	"fmt"

	"github.com/flowlake/flowlake/storage/lake"
)

// progressReport returns the progress function of a long lake command
// (compact, verify) and the function that ends it. It reports through the
// same progress as gen (progress.go): a bar when stderr is a terminal, else
// a plain line at every tenth of the work, so logs and CI show it too.
// The total is known only from the first report. --json prints nothing.
func (a *app) progressReport(what, unit string) (func(lake.Progress), func()) {
	if a.json {
		return nil, func() {}
	}
	var pr *progress
	return func(p lake.Progress) {
			if pr == nil {
				pr = a.newProgress(what, unit, int64(p.Total))
			}
			pr.Set(int64(p.Done), fmt.Sprintf("%d rows", p.Rows))
		}, func() {
			if pr != nil {
				pr.Finish()
			}
		}
}
