package jobs

import "github.com/prometheus/client_golang/prometheus"

// reportMetrics count what the report schedules of this replica did: runs
// it claimed or found claimed by another replica, how they ended, failed
// attempts and archive files deleted by retention.
type reportMetrics struct {
	claimed, heldElsewhere, succeeded, failed, attemptsFailed, archiveDeleted prometheus.Counter
}

func newReportMetrics(reg prometheus.Registerer) (*reportMetrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "flowlake", Subsystem: "reports", Name: name, Help: help})
	}
	m := &reportMetrics{
		claimed:        c("runs_claimed_total", "Scheduled report runs this replica claimed and ran."),
		heldElsewhere:  c("runs_held_elsewhere_total", "Scheduled report runs this replica fired but another replica had claimed."),
		succeeded:      c("runs_succeeded_total", "Report runs of this replica that succeeded."),
		failed:         c("runs_failed_total", "Report runs of this replica that failed after their last attempt."),
		attemptsFailed: c("attempts_failed_total", "Failed attempts of report runs of this replica (retried or final)."),
		archiveDeleted: c("archive_deleted_total", "Archived report files deleted by retention."),
	}
	for _, col := range []prometheus.Collector{m.claimed, m.heldElsewhere, m.succeeded, m.failed, m.attemptsFailed, m.archiveDeleted} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}
