package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/api/tunnelcore"
	"github.com/flowlake/flowlake/edge"
	edgetunnel "github.com/flowlake/flowlake/edge/tunnel"
	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/schema"
	wire "github.com/flowlake/flowlake/tunnel"
)

// benchSegmentRowsEnv sets the rows of each segment of
// BenchmarkSegmentUploadTunnelVsPUT (default 32768, edge.batch_rows'
// default).
const benchSegmentRowsEnv = "FLOWLAKE_BENCH_SEGMENT_ROWS"

// BenchmarkSegmentUploadTunnelVsPUT measures issue 15's "segment upload
// over the tunnel at ≥ 90 % of the throughput of direct HTTPS PUT": one
// core — one lake on disk, one metadata store with the content-hash
// ledger — serves both the API's PUT /api/v1/ingest/segments/{id} over
// TLS (the real handler: token, window, ledger, publish) and its tunnel
// end (TLS, the segments service); an edge uploads spool segments one
// after the other, as its shipper does, alternately by PUT (the
// shipper's request) and over the tunnel (Client.UploadFrom, what the
// shipper calls). Each iteration uploads one new segment each way, of
// the same rows but for their numbers (distinct contents, so the ledger
// publishes each, and the same size within a few bytes). It reports each
// way's MB/s of segment bytes and their ratio (tunnel/PUT).
//
// Sub-benchmark "lake" publishes into the lake (validation of every row,
// fsync: the end-to-end figure); "transport" hands both ways' uploads to
// a publisher that keeps nothing, so the figure is the transport's (TLS,
// HTTP or WebSocket framing, the core's temporary file, hash, footer and
// ledger), where a slower tunnel would show.
//
//	go test -run '^$' -bench BenchmarkSegmentUploadTunnelVsPUT -benchtime 40x ./cmd/flowlake
func BenchmarkSegmentUploadTunnelVsPUT(b *testing.B) {
	b.Run("lake", func(b *testing.B) { benchUpload(b, true) })
	b.Run("transport", func(b *testing.B) { benchUpload(b, false) })
}

// nullPublisher takes every segment as published and keeps nothing.
type nullPublisher struct{}

func (nullPublisher) Publish(_ context.Context, _ string, _ io.ReaderAt, size int64) (lake.Published, error) {
	return lake.Published{Segment: lake.Segment{Bytes: size}, Created: true}, nil
}

func benchUpload(b *testing.B, publish bool) {
	ctx := context.Background()
	rowsPer := 32768
	if v := os.Getenv(benchSegmentRowsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive number", benchSegmentRowsEnv, v)
		}
		rowsPer = n
	}
	const serial = "SN-BENCH"
	srvTLS, pool := selfSigned(b, "127.0.0.1", "core.test")
	dir := b.TempDir()

	mcfg := meta.DefaultConfig()
	mcfg.DSN = filepath.Join(dir, "meta.db")
	store, err := meta.Open(ctx, mcfg)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	lcfg := lake.DefaultConfig()
	lcfg.Root = filepath.Join(dir, "lake")
	l, err := lake.Open(lcfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()

	// The PUT path: the API's handler behind TLS, an ingest-only token
	// of the user named like the edge.
	if _, err := store.CreateRole(ctx, meta.Role{Name: "edge", Permissions: []meta.Permission{meta.PermIngestWrite}}); err != nil {
		b.Fatal(err)
	}
	user, err := store.CreateUser(ctx, meta.NewUser{Name: serial, Role: "edge"})
	if err != nil {
		b.Fatal(err)
	}
	_, token, err := store.CreateToken(ctx, meta.NewToken{UserID: user.ID, Name: "ship"})
	if err != nil {
		b.Fatal(err)
	}
	discard := slog.New(slog.DiscardHandler)
	var pub interface {
		Publish(ctx context.Context, id string, r io.ReaderAt, size int64) (lake.Published, error)
	} = l
	if !publish {
		pub = nullPublisher{}
	}
	apiSrv, err := api.New(DefaultConfig().Serve, api.Deps{Datasets: l, Meta: store, Ingest: pub, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(apiSrv.Handler())
	hs.TLS = srvTLS.Clone()
	hs.StartTLS()
	defer hs.Close()
	putClient := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer putClient.CloseIdleConnections()

	// The tunnel path: the same lake and ledger.
	tcfg := tunnelcore.DefaultConfig()
	tcfg.AuthListen, tcfg.ConnListen = "127.0.0.1:0", "127.0.0.1:0"
	dcfg := DefaultConfig().Serve
	tcfg.IngestMaxAge, tcfg.IngestMaxFuture = dcfg.IngestMaxAge, dcfg.IngestMaxFuture
	core, err := tunnelcore.New(tcfg, tunnelcore.Deps{Admissions: store, Publisher: pub, Ledger: store, TLS: srvTLS, Logger: discard})
	if err != nil {
		b.Fatal(err)
	}
	if err := core.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer core.Stop()
	enroll, err := store.AdmitEdge(ctx, serial, "bench")
	if err != nil {
		b.Fatal(err)
	}
	ecfg := edgetunnel.DefaultConfig()
	ecfg.Serial, ecfg.Enroll = serial, enroll
	ecfg.Primary = wire.Server{Domain: "core.test", Ports: []uint16{uint16(core.AuthAddr().(*net.TCPAddr).Port)}}
	up := make(chan struct{}, 1)
	client, err := edgetunnel.New(ecfg, edgetunnel.Deps{RootCAs: pool, Resolve: resolveTest, Record: func(r schema.CloudConn) {
		if r.ConnState == schema.CloudEstablished {
			select {
			case up <- struct{}{}:
			default:
			}
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- client.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-up:
	case <-time.After(30 * time.Second):
		b.Fatalf("the tunnel did not establish: %+v", client.State())
	}

	// The spool: segments written as the edge writes them, uploaded from
	// their files.
	spoolCfg := lake.DefaultConfig()
	spoolCfg.Root = filepath.Join(dir, "spool")
	spool, err := lake.Open(spoolCfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer spool.Close()
	rng := rand.New(rand.NewPCG(15, 90))
	hour := time.Now().Add(-time.Hour).Truncate(time.Hour)
	template := make([]schema.Flow, rowsPer)
	for i := range template {
		template[i] = schema.Flow{Time: schema.Micros(hour) + rng.Int64N(int64(time.Hour/time.Microsecond)), Device: "r1",
			SrcAddr: schema.MustParseAddr(fmt.Sprintf("10.%d.%d.%d", rng.IntN(4), rng.IntN(256), rng.IntN(256))),
			DstAddr: schema.MustParseAddr(fmt.Sprintf("192.0.2.%d", rng.IntN(256))), SrcPort: uint16(1024 + rng.IntN(60000)),
			DstPort: []uint16{443, 80, 53, 22}[rng.IntN(4)], Proto: 6, InIf: uint32(rng.IntN(8)), OutIf: uint32(rng.IntN(8)),
			Packets: uint64(1 + rng.IntN(100)), DurationMS: uint32(rng.IntN(60000)), SamplingRate: 1}
	}
	next := uint64(0)
	segment := func() (string, *os.File, int64) {
		rows := make([]schema.Flow, len(template))
		copy(rows, template)
		for i := range rows {
			next++
			rows[i].Bytes = next // the row's number: every segment's content differs
		}
		segs, err := lake.Write(ctx, spool, serial, rows)
		if err != nil || len(segs) != 1 {
			b.Fatalf("spool segment: %v (%d segments)", err, len(segs))
		}
		f, err := os.Open(filepath.Join(spoolCfg.Root, filepath.FromSlash(segs[0].Key)))
		if err != nil {
			b.Fatal(err)
		}
		return lake.SegmentID(segs[0]), f, segs[0].Bytes
	}
	put := func(id string, f *os.File, size int64) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, hs.URL+edge.IngestPath+id, io.NewSectionReader(f, 0, size))
		if err != nil {
			return err
		}
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/vnd.apache.parquet")
		res, err := putClient.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("PUT %s: %s: %s", id, res.Status, body)
		}
		return nil
	}
	tunnel := func(id string, f *os.File, size int64) error {
		ans, err := client.UploadFrom(ctx, id, f, size)
		if err == nil && !ans.Created {
			err = fmt.Errorf("tunnel %s: not created: %+v", id, ans)
		}
		return err
	}

	var putTime, tunTime time.Duration
	var putBytes, tunBytes int64
	var pairs []float64 // per iteration: tunnel MB/s over PUT MB/s
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		ways := []struct {
			up    func(string, *os.File, int64) error
			took  *time.Duration
			bytes *int64
		}{{put, &putTime, &putBytes}, {tunnel, &tunTime, &tunBytes}}
		if i%2 == 1 { // alternate which goes first
			ways[0], ways[1] = ways[1], ways[0]
		}
		var rate [2]float64 // PUT, tunnel: bytes/ns of this iteration
		for _, w := range ways {
			b.StopTimer()
			id, f, size := segment()
			b.StartTimer()
			t0 := time.Now()
			err := w.up(id, f, size)
			took := time.Since(t0)
			*w.took += took
			*w.bytes += size
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			if w.took == &putTime {
				rate[0] = float64(size) / float64(took)
			} else {
				rate[1] = float64(size) / float64(took)
			}
		}
		pairs = append(pairs, rate[1]/rate[0])
	}
	b.StopTimer()
	putMBs := float64(putBytes) / 1e6 / putTime.Seconds()
	tunMBs := float64(tunBytes) / 1e6 / tunTime.Seconds()
	b.ReportMetric(putMBs, "put_MB/s")
	b.ReportMetric(tunMBs, "tunnel_MB/s")
	b.ReportMetric(tunMBs/putMBs, "tunnel/put")
	// The median of the iterations' ratios: a burst of other work on the
	// machine slows one upload, not the figure.
	slices.Sort(pairs)
	b.ReportMetric(pairs[len(pairs)/2], "tunnel/put_median")
	b.ReportMetric(float64(putBytes)/float64(b.N), "segment_bytes")
	if segs, err := l.Segments(ctx, schema.Flows, time.Time{}, time.Time{}); publish && (err != nil || len(segs) != 2*b.N) {
		b.Errorf("the lake holds %d segments (%v), want %d", len(segs), err, 2*b.N)
	}
}
