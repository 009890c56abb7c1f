package lake

// Progress is how far a long operation (Compact, Verify) has come, for
// progress bars and periodic log lines.
type Progress struct {
	Done  int    // units finished: partitions for Compact, files for Verify
	Total int    // units to do, known before the first report
	Item  string // the unit just finished: a partition or file key
	Rows  int64  // rows handled so far
}

// progressReporter calls a progress function, when there is one.
type progressReporter struct {
	fn    func(Progress)
	total int
	done  int
	rows  int64
}

func newProgressReporter(fn func(Progress), total int) *progressReporter {
	pr := &progressReporter{fn: fn, total: total}
	if fn != nil {
		fn(Progress{Total: total})
	}
	return pr
}

// step reports one more unit done.
func (pr *progressReporter) step(item string, rows int64) {
	pr.done++
	pr.rows += rows
	if pr.fn != nil {
		pr.fn(Progress{Done: pr.done, Total: pr.total, Item: item, Rows: pr.rows})
	}
}
