// Package jobs owns Flowlake's scheduled work: a gocron scheduler that runs
// lake compaction, rollups and retention at configured intervals, and the
// report schedules (Reports): one cron job per schedule of the metadata
// store, each run claimed there so that one replica of several makes it,
// generated through a Generator, archived in the lake's storage and mailed
// over SMTP, failures recorded and retried with back-off. Every run is
// logged with its result and counted in Prometheus metrics.
//
// Time comes from an injected clockwork.Clock, so tests drive the schedule
// with a fake clock instead of sleeping. Later job kinds (alerts,
// forecasts) join the same scheduler.
package jobs
