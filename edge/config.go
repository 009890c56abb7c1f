package edge

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/flowlake/flowlake/ingest/flow"
)

// Config configures an Edge. Start from DefaultConfig.
type Config struct {
	// ID is the edge's serial or id: written into every row's edge column and
	// used as the segments' source name (default "edge"; 1–64 letters,
	// digits, '-', '_', '.').
	ID string `yaml:"id" koanf:"id"`
	// NetFlowListen are the UDP addresses receiving NetFlow v5/v9 and IPFIX
	// (default ":2055" and ":4739"). Every listener decodes every format;
	// the split only mirrors the ports exporters are configured with.
	NetFlowListen []string `yaml:"netflow_listen" koanf:"netflow_listen"`
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
	// Workers is the number of decode workers (default GOMAXPROCS). Each
	// exporter is always decoded by the same worker, so its sequence
	// numbers are seen in order.
	Workers int `yaml:"workers" koanf:"workers"`
	// QueueDatagrams bounds each worker's queue (default 8192 datagrams).
	// When a queue is full the datagram is dropped and counted.
	QueueDatagrams int `yaml:"queue_datagrams" koanf:"queue_datagrams"`
	// BatchRows rotates a worker's batch into the lake at this many rows
	// (default 131072).
	BatchRows int `yaml:"batch_rows" koanf:"batch_rows"`
	// BatchAge rotates a non-empty batch at this age, bounding how late rows
	// become visible (default 15s).
	BatchAge time.Duration `yaml:"batch_age" koanf:"batch_age"`
	// TemplateFile is where decoder templates are saved (on stop and every
	// TemplateInterval) and restored on start; "" disables persistence
	// (default ""; `flowlake serve` sets <data>/edge/templates.json).
	TemplateFile string `yaml:"template_file" koanf:"template_file"`
	// TemplateInterval is how often templates are saved (default 1m).
	TemplateInterval time.Duration `yaml:"template_interval" koanf:"template_interval"`
	// Flow configures the decoder (sampling rules, limits). Its Edge is
	// set from ID.
	Flow flow.Config `yaml:"flow" koanf:"flow"`
	// Enrich configures applications, IP groups and exporter/interface
	// names.
	Enrich flow.EnrichConfig `yaml:"enrich" koanf:"enrich"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		ID:                "edge",
		NetFlowListen:     []string{":2055", ":4739"},
		SFlowListen:       []string{":6343"},
		SocketsPerAddress: 2,
		ReceiveBuffer:     8 << 20,
		Workers:           runtime.GOMAXPROCS(0),
		QueueDatagrams:    8192,
		BatchRows:         128 << 10,
		BatchAge:          15 * time.Second,
		TemplateInterval:  time.Minute,
		Flow:              flow.DefaultConfig(),
	}
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" || len(c.ID) > 64 || strings.HasPrefix(c.ID, ".") || strings.IndexFunc(c.ID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) >= 0 {
		errs = append(errs, fmt.Errorf("id %q: want 1-64 letters, digits, '-', '_' or '.', not starting with '.'", c.ID))
	}
	if len(c.NetFlowListen)+len(c.SFlowListen) == 0 {
		errs = append(errs, errors.New("no listen address (netflow_listen, sflow_listen)"))
	}
	if c.SocketsPerAddress < 1 || c.SocketsPerAddress > 64 {
		errs = append(errs, fmt.Errorf("sockets_per_address %d is outside 1..64", c.SocketsPerAddress))
	}
	if c.ReceiveBuffer < 0 {
		errs = append(errs, fmt.Errorf("receive_buffer %d is negative", c.ReceiveBuffer))
	}
	if c.Workers < 1 || c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers %d is outside 1..1024", c.Workers))
	}
	if c.QueueDatagrams < 1 {
		errs = append(errs, fmt.Errorf("queue_datagrams %d is below 1", c.QueueDatagrams))
	}
	if c.BatchRows < 1 {
		errs = append(errs, fmt.Errorf("batch_rows %d is below 1", c.BatchRows))
	}
	if c.BatchAge <= 0 {
		errs = append(errs, fmt.Errorf("batch_age %s is not positive", c.BatchAge))
	}
	if c.TemplateFile != "" && c.TemplateInterval <= 0 {
		errs = append(errs, fmt.Errorf("template_interval %s is not positive", c.TemplateInterval))
	}
	if err := c.Flow.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("flow: %w", err))
	}
	return errors.Join(errs...)
}
