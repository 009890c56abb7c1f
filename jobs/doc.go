// Package jobs owns Flowlake's scheduled maintenance: a gocron scheduler
// that runs lake compaction and retention at configured intervals, logs
// every run with its result and counts runs, failures and what they did in
// Prometheus metrics.
//
// Time comes from an injected clockwork.Clock, so tests drive the schedule
// with a fake clock instead of sleeping. Later job kinds (rollups, reports,
// alerts, forecasts) join the same scheduler.
package jobs
