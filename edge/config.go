package edge

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"github.com/flowlake/flowlake/ingest/flow"
	"github.com/flowlake/flowlake/storage/schema"
)

// Config configures an Edge. Start from DefaultConfig.
type Config struct {
	// ID is the edge's serial or id: written into every row's edge column and
	// used as the segments' source name (default "edge"; 1–64 letters,
	// digits, '-', '_', '.').
	ID string `yaml:"id" koanf:"id"`
	// NetFlowListen are the UDP addresses receiving NetFlow v5/v9 (default
	// ":2055"). Every NetFlow and IPFIX listener decodes NetFlow v5, v9 and
	// IPFIX; the split only mirrors the ports exporters are configured with.
	NetFlowListen []string `yaml:"netflow_listen" koanf:"netflow_listen"`
	// IPFIXListen are the UDP addresses receiving IPFIX (default ":4739").
	IPFIXListen []string `yaml:"ipfix_listen" koanf:"ipfix_listen"`
	// SFlowListen are the UDP addresses receiving sFlow v5 (default ":6343").
	SFlowListen []string `yaml:"sflow_listen" koanf:"sflow_listen"`
	// SocketsPerAddress is the number of SO_REUSEPORT sockets bound to each
	// address, each with its own reader goroutine; the kernel spreads
	// exporters across them (default 2).
	SocketsPerAddress int `yaml:"sockets_per_address" koanf:"sockets_per_address"`
	// ReceiveBuffer is the SO_RCVBUF size asked for each socket in bytes
	// (default 8 MiB). The kernel caps it at net.core.rmem_max unless the
	// process may use SO_RCVBUFFORCE; the edge logs the size it got.
	ReceiveBuffer int `yaml:"receive_buffer" koanf:"receive_buffer"`
	// Workers is the number of decode workers (default 0: GOMAXPROCS). Each
	// exporter is always decoded by the same worker, so its sequence
	// numbers are seen in order.
	Workers int `yaml:"workers" koanf:"workers"`
	// QueueDatagrams bounds each worker's queue (default 8192 datagrams).
	// When a queue is full the datagram is dropped and counted. A queued
	// datagram holds a buffer of its own size.
	QueueDatagrams int `yaml:"queue_datagrams" koanf:"queue_datagrams"`
	// BatchRows rotates a worker's batch into the lake at this many rows
	// (default 32768). The edge keeps workers+1 batches (one per worker,
	// one being written) of about 240 bytes per row, so this bounds the
	// memory of decoded flows; a segment has at most this many rows (the
	// core's compaction merges an hour's segments).
	BatchRows int `yaml:"batch_rows" koanf:"batch_rows"`
	// BatchBytes rotates a worker's batch once the datagrams decoded into
	// it total this many bytes (default 64 MiB), bounding a segment's size
	// whatever the rows' width.
	BatchBytes int `yaml:"batch_bytes" koanf:"batch_bytes"`
	// BatchAge rotates a non-empty batch at this age, bounding how late rows
	// become visible and how many rows a crash can lose (default 15s).
	BatchAge time.Duration `yaml:"batch_age" koanf:"batch_age"`
	// TemplateFile is where decoder templates are saved (on stop and every
	// TemplateInterval) and restored on start; "" disables persistence
	// (default ""; `flowlake serve` sets <data>/edge/templates.json).
	TemplateFile string `yaml:"template_file" koanf:"template_file"`
	// TemplateInterval is how often templates are saved (default 1m).
	TemplateInterval time.Duration `yaml:"template_interval" koanf:"template_interval"`
	// LossInterval is how often the edge writes its flow_loss rows: per
	// exporter domain its datagrams, flows, sequence gaps and lost flows
	// and datagrams, and its own drops by cause, as deltas of the interval
	// (default 1m; at least 1s, or 0 for no flow_loss rows: /metrics and
	// the status still count; intervals end on its multiples, and the
	// last one at Stop). See docs/ingest-flow.md.
	LossInterval time.Duration `yaml:"loss_interval" koanf:"loss_interval"`
	// QuarantineFile is where rows outside the decoder's time window
	// (flow.max_past, flow.max_future around their receipt) are appended
	// as JSON lines for inspection, instead of entering the lake (default
	// "": quarantine.jsonl next to TemplateFile; with neither set, such
	// rows are counted as lost and logged).
	QuarantineFile string `yaml:"quarantine_file" koanf:"quarantine_file"`
	// QuarantineMaxBytes rotates the quarantine file to <file>.1 (the
	// previous .1 is replaced) at this size (default 64 MiB).
	QuarantineMaxBytes int64 `yaml:"quarantine_max_bytes" koanf:"quarantine_max_bytes"`
	// Flow configures the decoder (sampling rules, limits). Its Edge is
	// set from ID.
	Flow flow.Config `yaml:"flow" koanf:"flow"`
	// Enrich configures applications, IP groups and exporter/interface
	// names.
	Enrich flow.EnrichConfig `yaml:"enrich" koanf:"enrich"`
	// Spool is where a remote edge keeps finished segments until the core
	// acknowledges them.
	Spool SpoolConfig `yaml:"spool" koanf:"spool"`
	// Ship says where a remote edge uploads its segments. An empty Ship.URL
	// means embedded mode: segments go straight into Deps.Lake.
	Ship ShipConfig `yaml:"ship" koanf:"ship"`
	// MemoryLimit is the soft memory limit in bytes `flowlake edge` sets
	// for its process with runtime/debug.SetMemoryLimit (default 100 MiB;
	// 0: none, Go's default). The garbage collector works harder as the
	// process nears it, so the edge's heap stays under it at any rate
	// (resident memory adds the binary's pages, ~20 MiB). It is soft:
	// memory the edge needs is never refused, so it should stay above
	// MemoryEstimate, which `flowlake edge` warns about. A GOMEMLIMIT
	// environment variable wins over it. The embedded edge ignores it: it
	// shares the core's process.
	MemoryLimit int64 `yaml:"memory_limit" koanf:"memory_limit"`
	// StatusListen is the TCP address `flowlake edge` serves /metrics and
	// /status on (default "127.0.0.1:6061"; "" disables it).
	StatusListen string `yaml:"status_listen" koanf:"status_listen"`
	// DHCP configures DHCP snooping (off unless interfaces or pcap is
	// set): docs/edge.md.
	DHCP DHCPConfig `yaml:"dhcp" koanf:"dhcp"`
	// TCPTrace configures the passive TCP tracer (off unless interfaces or
	// pcap is set): docs/tcptrace.md.
	TCPTrace TCPTraceConfig `yaml:"tcptrace" koanf:"tcptrace"`
	// Drop is the drop folder: device displays (tcp trace, cloud
	// connection state) saved as files there are parsed and written like
	// the edge's other rows; off unless dir is set (docs/edge.md).
	Drop DropConfig `yaml:"drop" koanf:"drop"`
	// StatusPprof also serves Go's profiler (/debug/pprof/) on
	// StatusListen, for finding where an edge spends its CPU or memory
	// (default false: the endpoints reveal internals and cost CPU while a
	// profile runs).
	StatusPprof bool `yaml:"status_pprof" koanf:"status_pprof"`
}

// SpoolConfig configures the disk spool of a remote edge.
type SpoolConfig struct {
	// Dir holds the spooled segments, laid out like the lake (default
	// "spool"). It survives restarts: segments left there are shipped.
	Dir string `yaml:"dir" koanf:"dir"`
	// MaxBytes is the spool's quota (default 1 GiB). When a new segment
	// makes the spool larger, the oldest segments are dropped and counted.
	MaxBytes int64 `yaml:"max_bytes" koanf:"max_bytes"`
}

// ShipConfig configures uploads to the core.
type ShipConfig struct {
	// URL is the core's base URL, e.g. "https://core.example:8080"
	// (default "": embedded mode, no shipping).
	URL string `yaml:"url" koanf:"url"`
	// Token is the API token the edge authenticates with; it needs the
	// ingest.write permission. Prefer TokenFile.
	Token string `yaml:"token" koanf:"token"`
	// TokenFile is a file holding the token (read at start; wins over
	// Token).
	TokenFile string `yaml:"token_file" koanf:"token_file"`
	// Timeout bounds one upload (default 1m).
	Timeout time.Duration `yaml:"timeout" koanf:"timeout"`
	// Interval is how often the spool is scanned when nothing wakes the
	// shipper (default 5s); a new segment wakes it at once.
	Interval time.Duration `yaml:"interval" koanf:"interval"`
	// BackoffMin and BackoffMax bound the exponential backoff (with full
	// jitter) after a failed upload (defaults 1s and 1m).
	BackoffMin time.Duration `yaml:"backoff_min" koanf:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max" koanf:"backoff_max"`
	// Tunnel ships over the edge↔core tunnel (Deps.Uploader) instead of
	// PUT: URL and the token are then not used. `flowlake edge` sets it
	// when tunnel.edge.serial is configured (docs/tunnel.md); it is no
	// configuration key of its own.
	Tunnel bool `yaml:"-" koanf:"-"`
}

// Figures of MemoryEstimate.
const (
	// flowRowBytes is the in-memory size of a decoded row (schema.Flow).
	flowRowBytes = int64(unsafe.Sizeof(schema.Flow{}))
	// queuedDatagramBytes is what a queued datagram of an Ethernet-MTU
	// exporter holds (its buffer is sized by the datagram).
	queuedDatagramBytes = 1536
	// writerBytes is what the segment writer and the runtime hold besides
	// the batches and queues, as measured at 550 k flows/s with 32 Ki-row
	// batches (heap in use 58–59 MiB of which 23 MiB batches; Parquet
	// column buffers, zstd encoders, the spool and shipper; docs/edge.md).
	writerBytes = 40 << 20
)

// MemoryEstimate returns the memory the edge may need at once, in bytes:
// its batches (Workers+1 of BatchRows rows), its queues full of
// Ethernet-sized datagrams, and the writer. MemoryLimit should be above it,
// or the garbage collector runs almost continuously when every buffer is
// full (the writer behind the network).
func (c Config) MemoryEstimate() int64 {
	w := int64(c.workers())
	return (w+1)*int64(c.BatchRows+batchSlack)*flowRowBytes + w*int64(c.QueueDatagrams)*queuedDatagramBytes + writerBytes
}

// minMemoryLimit is the smallest MemoryLimit Validate accepts: below it
// the collector would run almost continuously.
const minMemoryLimit = 32 << 20

// quarantineFile returns the quarantine file: QuarantineFile, else
// quarantine.jsonl next to TemplateFile, else "" (none).
func (c Config) quarantineFile() string {
	switch {
	case c.QuarantineFile != "":
		return c.QuarantineFile
	case c.TemplateFile != "":
		return filepath.Join(filepath.Dir(c.TemplateFile), "quarantine.jsonl")
	}
	return ""
}

// Remote reports whether the edge ships to a core, with PUT or over the
// tunnel (rather than writing the local lake).
func (c Config) Remote() bool { return c.Ship.URL != "" || c.Ship.Tunnel }

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		ID:                 "edge",
		NetFlowListen:      []string{":2055"},
		IPFIXListen:        []string{":4739"},
		SFlowListen:        []string{":6343"},
		SocketsPerAddress:  2,
		ReceiveBuffer:      8 << 20,
		QueueDatagrams:     8192,
		BatchRows:          32 << 10,
		BatchBytes:         64 << 20,
		BatchAge:           15 * time.Second,
		TemplateInterval:   time.Minute,
		LossInterval:       time.Minute,
		QuarantineMaxBytes: 64 << 20,
		Flow:               flow.DefaultConfig(),
		Spool:              SpoolConfig{Dir: "spool", MaxBytes: 1 << 30},
		Ship:               ShipConfig{Timeout: time.Minute, Interval: 5 * time.Second, BackoffMin: time.Second, BackoffMax: time.Minute},
		MemoryLimit:        100 << 20,
		StatusListen:       "127.0.0.1:6061",
		DHCP:               DefaultDHCPConfig(),
		TCPTrace:           DefaultTCPTraceConfig(),
		Drop:               DefaultDropConfig(),
	}
}

// workers returns the number of decode workers: Workers, or GOMAXPROCS.
func (c Config) workers() int {
	if c.Workers == 0 {
		return runtime.GOMAXPROCS(0)
	}
	return c.Workers
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" || len(c.ID) > 64 || strings.HasPrefix(c.ID, ".") || strings.IndexFunc(c.ID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) >= 0 {
		errs = append(errs, fmt.Errorf("id %q: want 1-64 letters, digits, '-', '_' or '.', not starting with '.'", c.ID))
	}
	if len(c.NetFlowListen)+len(c.IPFIXListen)+len(c.SFlowListen) == 0 && !c.DHCP.Enabled() && !c.TCPTrace.Enabled() && !c.Drop.Enabled() {
		errs = append(errs, errors.New("no listen address (netflow_listen, ipfix_listen, sflow_listen), no dhcp capture (dhcp.interfaces, dhcp.pcap), no tcp trace capture (tcptrace.interfaces, tcptrace.pcap) and no drop folder (drop.dir)"))
	}
	if err := c.Drop.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("drop: %w", err))
	}
	if err := c.TCPTrace.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("tcptrace: %w", err))
	}
	if err := c.DHCP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("dhcp: %w", err))
	}
	if c.SocketsPerAddress < 1 || c.SocketsPerAddress > 64 {
		errs = append(errs, fmt.Errorf("sockets_per_address %d is outside 1..64", c.SocketsPerAddress))
	}
	if c.ReceiveBuffer < 0 {
		errs = append(errs, fmt.Errorf("receive_buffer %d is negative", c.ReceiveBuffer))
	}
	if c.Workers < 0 || c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers %d is outside 0..1024 (0: GOMAXPROCS)", c.Workers))
	}
	if c.QueueDatagrams < 1 {
		errs = append(errs, fmt.Errorf("queue_datagrams %d is below 1", c.QueueDatagrams))
	}
	if c.BatchRows < 1 {
		errs = append(errs, fmt.Errorf("batch_rows %d is below 1", c.BatchRows))
	}
	if c.MemoryLimit < 0 || c.MemoryLimit != 0 && c.MemoryLimit < minMemoryLimit {
		errs = append(errs, fmt.Errorf("memory_limit %d is below %d (32 MiB; 0: no limit)", c.MemoryLimit, minMemoryLimit))
	}
	if c.BatchBytes < 1 {
		errs = append(errs, fmt.Errorf("batch_bytes %d is below 1", c.BatchBytes))
	}
	if c.BatchAge <= 0 {
		errs = append(errs, fmt.Errorf("batch_age %s is not positive", c.BatchAge))
	}
	if c.LossInterval < 0 || c.LossInterval > 0 && c.LossInterval < time.Second {
		errs = append(errs, fmt.Errorf("loss_interval %s is below 1s (0: no flow_loss rows)", c.LossInterval))
	}
	if c.QuarantineMaxBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("quarantine_max_bytes %d is below 1 KiB", c.QuarantineMaxBytes))
	}
	if c.TemplateFile != "" && c.TemplateInterval <= 0 {
		errs = append(errs, fmt.Errorf("template_interval %s is not positive", c.TemplateInterval))
	}
	if c.Remote() {
		if !c.Ship.Tunnel { // over the tunnel, its credential authenticates
			if u, err := url.Parse(c.Ship.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("ship.url %q: want http(s)://host[:port]", c.Ship.URL))
			}
			if c.Ship.Token == "" && c.Ship.TokenFile == "" {
				errs = append(errs, errors.New("ship: token or token_file is needed to upload to the core"))
			}
		}
		if c.Spool.Dir == "" {
			errs = append(errs, errors.New("spool.dir is empty"))
		}
		if c.Spool.MaxBytes < 1<<20 {
			errs = append(errs, fmt.Errorf("spool.max_bytes %d is below 1 MiB", c.Spool.MaxBytes))
		}
		if c.Ship.Timeout <= 0 || c.Ship.Interval <= 0 || c.Ship.BackoffMin <= 0 || c.Ship.BackoffMax < c.Ship.BackoffMin {
			errs = append(errs, fmt.Errorf("ship: timeout %s, interval %s and backoff_min %s must be positive, backoff_max %s at least backoff_min",
				c.Ship.Timeout, c.Ship.Interval, c.Ship.BackoffMin, c.Ship.BackoffMax))
		}
	}
	if err := c.Flow.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("flow: %w", err))
	}
	return errors.Join(errs...)
}
