package graph

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/flowlake/flowlake/graph/model"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// rateQuery is one liveRates subscription's question, asked every
// interval.
type rateQuery struct {
	by       model.RateBy
	interval time.Duration
	q        query.Query
	device   bool // the first dimension is the device
}

// maxRatesLimit bounds the rows of one snapshot.
const maxRatesLimit = 1000

// newRateQuery validates the arguments of liveRates.
func (r *Resolver) newRateQuery(by model.RateBy, filter *string, interval, window, lag, limit *int) (rateQuery, error) {
	iv := time.Duration(deref(interval, 5)) * time.Second
	win := time.Duration(deref(window, 60)) * time.Second
	lg := time.Duration(deref(lag, 0)) * time.Second
	n := deref(limit, defaultRatesLimit)
	switch {
	case iv < r.cfg.MinRateInterval || iv > time.Hour:
		return rateQuery{}, fmt.Errorf("%w: intervalSeconds: %s to 3600, not %d", ErrInvalid, seconds(r.cfg.MinRateInterval), deref(interval, 5))
	case win < time.Second || win > r.cfg.MaxRateWindow:
		return rateQuery{}, fmt.Errorf("%w: windowSeconds: 1 to %s, not %d", ErrInvalid, seconds(r.cfg.MaxRateWindow), deref(window, 60))
	case lg < 0 || lg > time.Hour:
		return rateQuery{}, fmt.Errorf("%w: lagSeconds: 0 to 3600, not %d", ErrInvalid, deref(lag, 0))
	case n < 1 || n > maxRatesLimit:
		return rateQuery{}, fmt.Errorf("%w: limit: 1 to %d, not %d", ErrInvalid, maxRatesLimit, n)
	}
	rq := rateQuery{by: by, interval: iv}
	var dims []string
	switch by {
	case model.RateByInInterface:
		dims, rq.device = []string{schema.ColDevice, schema.FlowInIfName}, true
	case model.RateByOutInterface:
		dims, rq.device = []string{schema.ColDevice, schema.FlowOutIfName}, true
	case model.RateBySrcGroup:
		dims = []string{schema.FlowSrcGroup}
	case model.RateByDstGroup:
		dims = []string{schema.FlowDstGroup}
	case model.RateByApp:
		dims = []string{schema.FlowApp}
	default:
		return rateQuery{}, fmt.Errorf("%w: by: unknown %q", ErrInvalid, by)
	}
	to := "now"
	if lg > 0 {
		to = fmt.Sprintf("-%ds", int(lg/time.Second))
	}
	rq.q = query.Query{
		Dataset: schema.Flows, From: fmt.Sprintf("-%ds", int((win+lg)/time.Second)), To: to,
		Filter: deref(filter, ""), GroupBy: dims, Metrics: []string{"bps()", "pps()"},
		OrderBy: []string{"-bps()"}, Limit: n,
	}
	return rq, nil
}

func seconds(d time.Duration) string { return fmt.Sprint(int(d / time.Second)) }

// snapshot runs the rate query once.
func (r *Resolver) snapshot(ctx context.Context, rq rateQuery) (*model.RateSnapshot, error) {
	res, err := r.run(ctx, rq.q)
	if err != nil {
		return nil, err
	}
	defer res.Release()
	s := &model.RateSnapshot{At: r.deps.Now().UTC(), From: res.Plan.From.UTC(), To: res.Plan.To.UTC(), By: rq.by, Rates: []*model.Rate{}}
	nd := len(rq.q.GroupBy)
	for _, rec := range res.Records {
		for i := range int(rec.NumRows()) {
			rate := &model.Rate{}
			if rq.device {
				rate.Device = text(rec.Column(0), i)
			}
			if name := text(rec.Column(nd-1), i); name != nil {
				rate.Name = *name
			}
			rate.Bps = rec.Column(nd).(*array.Float64).Value(i)
			rate.Pps = rec.Column(nd + 1).(*array.Float64).Value(i)
			s.Rates = append(s.Rates, rate)
		}
	}
	return s, nil
}

// liveRates starts a subscription: the first snapshot is computed before
// it returns (so a bad filter fails the subscription with its error), the
// next ones every interval until the subscriber leaves. A failing
// snapshot is logged and skipped; three in a row end the stream.
func (r *Resolver) liveRates(ctx context.Context, rq rateQuery) (<-chan *model.RateSnapshot, error) {
	if err := r.subscribe(ctx, meta.PermAnalysisRead); err != nil {
		return nil, err
	}
	first, err := r.snapshot(ctx, rq)
	if err != nil {
		return nil, err
	}
	ch := make(chan *model.RateSnapshot, 1)
	ch <- first
	go func() { // owned by the subscription: ends with its context
		defer close(ch)
		t := time.NewTicker(rq.interval)
		defer t.Stop()
		failures := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			s, err := r.snapshot(ctx, rq)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				failures++
				r.log.WarnContext(ctx, "live rates snapshot failed", "by", rq.by, "failures", failures, "err", err)
				if failures >= 3 {
					return
				}
				continue
			}
			failures = 0
			select {
			case ch <- s:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}
