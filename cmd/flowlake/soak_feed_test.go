package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/flowlake/flowlake/edge/export"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// The soak's rows are told apart by in_if: generated rows have small
// interface numbers, upload batch b has soakUploadBase+b and NetFlow batch
// n has soakNetFlowBase+n, so the filter soakFilter(u, n) selects the
// generated rows, the first u upload batches and the first n NetFlow
// batches, an answer that must not change once those batches are
// acknowledged.
const (
	soakUploadBase  = 100000
	soakNetFlowBase = 10000000
)

// soakFilter is the filter of the soak's queries; see soakUploadBase.
func soakFilter(u, n int) string {
	return fmt.Sprintf("in_if < %d or (in_if >= %d and in_if < %d)", soakUploadBase+u, soakNetFlowBase, soakNetFlowBase+n)
}

// soakProgress is what the feeders have had acknowledged: batches below
// the bounds are in the lake, with their row counts.
type soakProgress struct {
	mu                 sync.Mutex
	uploads, netflow   int   // batches acknowledged
	uploadRows, nfRows int64 // rows in them (nfRows: the edge's own count)
	nfSent             int64 // NetFlow rows sent
}

// bounds returns the acknowledged batch counts.
func (p *soakProgress) bounds() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.uploads, p.netflow
}

// soakUploads uploads a segment of 200 rows dated within the current hour
// every interval until ctx ends, counting each one the core
// acknowledged with 201.
func soakUploads(ctx context.Context, srv *testServer, scratch *lake.Lake, every time.Duration, p *soakProgress) error {
	rng := rand.New(rand.NewPCG(5, 6))
	tick := time.NewTicker(every)
	defer tick.Stop()
	for b := 0; ; b++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		// Within this hour up to now: a segment holds one hour partition.
		now := time.Now()
		span := max(int64(now.Sub(now.Truncate(time.Hour))/time.Microsecond), 1)
		rows := make([]schema.Flow, 200)
		for i := range rows {
			rows[i] = schema.Flow{Time: schema.Micros(now) - rng.Int64N(span), InIf: uint32(soakUploadBase + b),
				Device: fmt.Sprintf("soak-%d", b%4), Bytes: uint64(40 + rng.IntN(1500)), Packets: uint64(1 + rng.IntN(9)),
				SrcAddr: schema.MustParseAddr("198.51.100.7"), DstAddr: schema.MustParseAddr("203.0.113.9"), Proto: 17}
		}
		id, data, err := uploadable(context.Background(), scratch, "soak", rows)
		if err != nil {
			return err
		}
		status, body, err := srv.put(context.Background(), "/api/v1/ingest/segments/"+id, data)
		if err != nil || status != 201 {
			return fmt.Errorf("upload batch %d: %d %v: %s", b, status, err, body)
		}
		p.mu.Lock()
		p.uploads, p.uploadRows = b+1, p.uploadRows+int64(len(rows))
		p.mu.Unlock()
	}
}

// edgeRowsMetric counts the rows serve's embedded edge published into the
// lake: its acknowledged rows.
const edgeRowsMetric = "flowlake_edge_rows_written_total"

// soakNetFlow sends NetFlow v9 over UDP to serve's embedded edge at addr:
// a batch of rows dated within the last minute, then waits until the
// edge's acknowledged rows cover it before the batch counts (and the next
// one goes), so a query bounded by the acknowledged batches has a fixed
// answer. A batch the edge does not acknowledge within a minute fails the
// soak with the edge's drop counters.
func soakNetFlow(ctx context.Context, srv *testServer, addr string, p *soakProgress) error {
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	x := export.New(export.Config{Format: export.NetFlow9, Domain: 7}, time.Now().Add(-time.Hour))
	rng := rand.New(rand.NewPCG(7, 8))
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	var sent int64
	var dgrams [][]byte
	for n := 0; ctx.Err() == nil; n++ {
		now := time.Now()
		rows := make([]schema.Flow, 60)
		for i := range rows {
			rows[i] = schema.Flow{Time: schema.Micros(now) - rng.Int64N(int64(time.Minute/time.Microsecond)), DurationMS: uint32(rng.IntN(5000)),
				InIf: uint32(soakNetFlowBase + n), OutIf: 2, SrcAddr: schema.MustParseAddr("192.0.2.10"), DstAddr: schema.MustParseAddr("198.51.100.20"),
				SrcPort: uint16(1024 + rng.IntN(60000)), DstPort: 443, Proto: 6, Bytes: uint64(40 + rng.IntN(1500)), Packets: uint64(1 + rng.IntN(9)),
				SamplingRate: 1}
		}
		dgrams = x.Encode(dgrams[:0], rows, now)
		for _, d := range dgrams {
			if _, err := conn.Write(d); err != nil {
				return fmt.Errorf("netflow batch %d: %w", n, err)
			}
		}
		sent += int64(len(rows))
		deadline := time.Now().Add(time.Minute)
		for {
			got, err := srv.metric(context.Background(), edgeRowsMetric)
			if err != nil {
				return err
			}
			if int64(got) >= sent {
				p.mu.Lock()
				p.netflow, p.nfRows, p.nfSent = n+1, int64(got), sent
				p.mu.Unlock()
				break
			}
			if time.Now().After(deadline) {
				_, body, _ := srv.get(context.Background(), "/metrics")
				return fmt.Errorf("netflow batch %d: the edge acknowledged %d of %d rows sent within a minute; its counters:\n%s",
					n, int64(got), sent, edgeCounters(string(body)))
			}
			<-poll.C
		}
	}
	return nil
}

// edgeCounters keeps the edge's lines of a /metrics exposition, to say
// where rows went.
func edgeCounters(metrics string) string {
	var b strings.Builder
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "flowlake_edge_") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
