package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestShutdownIsNotAFailure checks that a run ended by the process
// stopping (its context cancelled, as SIGTERM does, with or without a
// cause) logs "job stopped" at info and counts no failure, while real
// errors, and cancellation errors without a shutdown, still fail.
func TestShutdownIsNotAFailure(t *testing.T) {
	terminated := errors.New("terminated") // what signal.NotifyContext's cause reads like
	for _, tc := range []struct {
		name     string
		cancel   error // non-nil: the context is cancelled with this cause
		err      func(ctx context.Context) error
		want     string
		failures float64
	}{
		{"cancelled at shutdown", context.Canceled, func(ctx context.Context) error { return fmt.Errorf("compact: %w", ctx.Err()) }, `level=INFO msg="job stopped"`, 0},
		{"the signal as cause", terminated, func(ctx context.Context) error { return fmt.Errorf("compact: %w", context.Cause(ctx)) }, `reason=terminated`, 0},
		{"a failure", nil, func(context.Context) error { return errors.New("disk full") }, `level=ERROR msg="job failed"`, 1},
		{"a failure during shutdown", terminated, func(context.Context) error { return errors.New("disk full") }, `level=ERROR msg="job failed"`, 1},
		{"cancelled without shutdown", nil, func(context.Context) error { return context.Canceled }, `level=ERROR msg="job failed"`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			fm := newFakeMaintainer()
			s, err := New(DefaultConfig(), Deps{Lake: fm, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			if tc.cancel != nil {
				cancel(tc.cancel)
			}
			fm.err = tc.err(ctx)
			_, _ = s.RunCompaction(ctx)
			<-fm.calls
			if !strings.Contains(logs.String(), tc.want) {
				t.Errorf("logs lack %s:\n%s", tc.want, logs.String())
			}
			if got := testutil.ToFloat64(s.metrics.failures.WithLabelValues(JobCompaction)); got != tc.failures {
				t.Errorf("failures = %v, want %v", got, tc.failures)
			}
		})
	}
}
