package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// StatusPath is where `flowlake edge` serves its Status as JSON.
const StatusPath = "/status"

// FetchStatus reads the Status an edge serves at base (such as
// http://127.0.0.1:9996), waiting at most 10 s.
func FetchStatus(ctx context.Context, base string) (Status, error) {
	var st Status
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+StatusPath, nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("edge status: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("edge status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("edge status: %w", err)
	}
	return st, nil
}

// Status is the edge's state for operators: what `flowlake edge status`
// prints and the status endpoint of `flowlake edge` serves.
type Status struct {
	ID        string              `json:"id"`
	Mode      string              `json:"mode"` // "embedded" or "remote"
	Core      string              `json:"core,omitempty"`
	StartedAt time.Time           `json:"started_at"`
	Listeners map[string][]string `json:"listeners"`

	// Datagrams counts datagrams read from the sockets; DatagramsByFormat
	// and Flows what the decoder made of them.
	Datagrams uint64 `json:"datagrams"`
	// RestartDrained counts the datagrams (in Datagrams) read at a
	// receiver restart from the queue of a socket being replaced.
	RestartDrained    uint64            `json:"restart_drained"`
	DatagramsByFormat map[string]uint64 `json:"datagrams_by_format"`
	Flows             map[string]uint64 `json:"flows"`
	DecodeErrors      map[string]uint64 `json:"decode_errors"`
	TemplateMisses    uint64            `json:"template_misses"`
	SequenceGaps      uint64            `json:"sequence_gaps"`
	LostFlows         uint64            `json:"lost_flows"`
	// TimeQuarantined counts rows whose time was outside the window
	// around their receipt (flow.max_past, flow.max_future): they are in
	// QuarantineFile, not in the lake (QuarantineLost of them could not
	// be written there).
	TimeQuarantined uint64 `json:"time_quarantined"`
	QuarantineLost  uint64 `json:"quarantine_lost"`
	QuarantineFile  string `json:"quarantine_file,omitempty"`
	// SamplingUnknown counts rows of sampling exporters whose rate was not
	// known yet (option data after the flows): stored with sampling_rate 0
	// and bytes/packets as exported (docs/ingest-flow.md).
	SamplingUnknown uint64 `json:"sampling_unknown"`
	// SamplingRulesShadowed counts exporter domains where a sampling rule
	// without force matched but the exporter reports its own rate.
	SamplingRulesShadowed uint64 `json:"sampling_rules_shadowed"`

	// RowsAcknowledged are rows whose segment is durable in the lake
	// (embedded) or the spool (remote): see docs/edge.md.
	RowsAcknowledged uint64 `json:"rows_acknowledged"`
	SegmentsWritten  uint64 `json:"segments_written"`
	// Drops by cause: "queue" (datagrams), "write" (rows of failed
	// writes), "spool_full" and "rejected" (rows of dropped or refused
	// segments).
	Drops map[string]uint64 `json:"drops"`
	// BatchWaits counts the times a decode worker waited for a free batch
	// because the writer was behind (edge.batch_rows bounds the batches).
	BatchWaits uint64 `json:"batch_waits"`
	// CommitWaits counts the times the writer waited because storage was
	// behind: the most encoded segments allowed were waiting to be
	// published.
	CommitWaits uint64 `json:"commit_waits"`

	SpoolSegments   int       `json:"spool_segments"`
	SpoolBytes      int64     `json:"spool_bytes"`
	SegmentsShipped uint64    `json:"segments_shipped"`
	RowsShipped     uint64    `json:"rows_shipped"`
	UploadFailures  uint64    `json:"upload_failures"`
	LastUploadError string    `json:"last_upload_error,omitempty"`
	LastShippedAt   time.Time `json:"last_shipped_at,omitzero"`

	// DHCP is the state of DHCP snooping; nil when it is off.
	DHCP *DHCPStatus `json:"dhcp,omitempty"`
	// Drop is the drop folder's counters; nil when it is off.
	Drop *DropStatus `json:"drop,omitempty"`
}

// Status reports the edge's counters and spool.
func (e *Edge) Status(ctx context.Context) Status {
	s := e.stats.Snapshot()
	d := e.dec.Counters().Snapshot()
	st := Status{
		ID: e.cfg.ID, Mode: "embedded", StartedAt: e.started, Listeners: map[string][]string{},
		Datagrams: s.Received, RestartDrained: s.RestartDrained, DatagramsByFormat: d.Datagrams, Flows: d.Flows, DecodeErrors: d.Errors,
		TemplateMisses: d.TemplateMisses, SequenceGaps: d.SequenceGaps, LostFlows: d.LostFlows,
		TimeQuarantined: d.TimeQuarantined, QuarantineLost: s.QuarantineLost, QuarantineFile: e.quar.path,
		SamplingUnknown: d.SamplingUnknown, SamplingRulesShadowed: d.SamplingRulesShadowed,
		RowsAcknowledged: s.RowsWritten, SegmentsWritten: s.Segments,
		Drops:      map[string]uint64{"queue": s.QueueDrops, "write": s.RowsLost, "spool_full": s.SpoolDroppedRows, "rejected": s.RowsRejected},
		BatchWaits: s.BatchWaits, CommitWaits: s.CommitWaits,
		SegmentsShipped: s.SegmentsShipped, RowsShipped: s.RowsShipped, UploadFailures: s.UploadFailures,
	}
	for kind, addrs := range e.Addrs() {
		for _, a := range addrs {
			st.Listeners[kind] = append(st.Listeners[kind], a.String())
		}
	}
	if e.dhcp != nil {
		st.DHCP = e.dhcp.status()
	}
	if e.drop != nil {
		st.Drop = e.drop.status()
	}
	if e.spool != nil {
		st.Mode, st.Core = "remote", e.shipper.where()
		st.SpoolSegments, st.SpoolBytes, _ = e.spool.usage(ctx)
		st.LastUploadError, st.LastShippedAt = e.shipper.state()
	}
	return st
}
