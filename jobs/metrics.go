package jobs

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics count job runs and what they did. Per-dataset counts of rows
// compacted and files, rows and bytes deleted are the lake's own metrics
// (flowlake_lake_*), which also see runs started from the CLI; these add
// what only the scheduler knows.
type metrics struct {
	runs        *prometheus.CounterVec
	failures    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec

	compactPartitions  prometheus.Counter
	compactBytesBefore prometheus.Counter
	compactBytesAfter  prometheus.Counter
	retainPartitions   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	byJob := []string{"job"}
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flowlake", Subsystem: "jobs", Name: "runs_total",
			Help: "Scheduled job runs, by job.",
		}, byJob),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "flowlake", Subsystem: "jobs", Name: "failures_total",
			Help: "Scheduled job runs that failed, by job.",
		}, byJob),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "flowlake", Subsystem: "jobs", Name: "duration_seconds",
			Help:    "Time a scheduled job run took, by job.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10 ms … ~44 min
		}, byJob),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "flowlake", Subsystem: "jobs", Name: "last_success_timestamp_seconds",
			Help: "When a job last finished without error (Unix seconds, scheduler clock), by job.",
		}, byJob),
		compactPartitions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flowlake", Subsystem: "jobs", Name: "compaction_partitions_total",
			Help: "Hour partitions rewritten by scheduled compaction.",
		}),
		compactBytesBefore: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flowlake", Subsystem: "jobs", Name: "compaction_bytes_read_total",
			Help: "Bytes of the segments scheduled compaction merged.",
		}),
		compactBytesAfter: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flowlake", Subsystem: "jobs", Name: "compaction_bytes_written_total",
			Help: "Bytes of the segments scheduled compaction wrote.",
		}),
		retainPartitions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "flowlake", Subsystem: "jobs", Name: "retention_partitions_deleted_total",
			Help: "Hour partitions deleted by scheduled retention.",
		}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.failures, m.duration, m.lastSuccess,
		m.compactPartitions, m.compactBytesBefore, m.compactBytesAfter, m.retainPartitions} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, job := range []string{JobCompaction, JobRetention} {
		m.runs.WithLabelValues(job)
		m.failures.WithLabelValues(job)
	}
	return m, nil
}
