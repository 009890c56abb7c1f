package tunnel

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StatusAnswer is an edge's answer to a status pull (ServiceStatus): its
// tunnel state as the cloud_conn columns, and what the operators' fleet
// view shows of the edge's collector (version, rates, spool, drops) when
// the edge's process reports it.
type StatusAnswer struct {
	// State is the edge's current cloud_conn row as columns
	// (cloudconn.Columns), what `flowlake edge state --json` prints.
	State json.RawMessage `json:"state"`
	// Edge is the collector's status; nil when the edge's process runs
	// the tunnel alone.
	Edge *EdgeStatus `json:"edge,omitempty"`
}

// EdgeStatus is an edge's collector as the core's fleet view shows it.
type EdgeStatus struct {
	// Version is the edge's build (`flowlake version`).
	Version string `json:"version"`
	// StartedAt is when the edge's process started.
	StartedAt time.Time `json:"started_at"`
	// Rates are the edge's recent rates.
	Rates Rates `json:"rates"`
	// SpoolSegments and SpoolBytes are what waits in the spool for the
	// core's acknowledgement.
	SpoolSegments int   `json:"spool_segments"`
	SpoolBytes    int64 `json:"spool_bytes"`
	// Drops counts dropped datagrams or rows by cause since the edge
	// started (the causes of `flowlake edge status`); DropsTotal sums them.
	Drops      map[string]uint64 `json:"drops"`
	DropsTotal uint64            `json:"drops_total"`
	// UploadFailures counts failed uploads since the edge started.
	UploadFailures uint64 `json:"upload_failures"`
}

// Rates are counters' rates over the last window the edge measured.
type Rates struct {
	// WindowSeconds is the window the rates are measured over (0: not
	// measured yet, the rates are 0).
	WindowSeconds float64 `json:"window_seconds"`
	// DatagramsPerSecond are datagrams received (flow exports).
	DatagramsPerSecond float64 `json:"datagrams_per_second"`
	// RowsPerSecond are rows written into segments.
	RowsPerSecond float64 `json:"rows_per_second"`
	// RowsShippedPerSecond are rows the core acknowledged.
	RowsShippedPerSecond float64 `json:"rows_shipped_per_second"`
}

// DecodeStatus reads a status answer. An edge of an earlier version
// answers the bare cloud_conn columns: that is taken as State with no
// Edge. Anything that is not a JSON object is refused.
func DecodeStatus(body []byte) (StatusAnswer, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil || probe == nil {
		return StatusAnswer{}, fmt.Errorf("status answer: not a JSON object: %w", orNull(err))
	}
	if _, ok := probe["state"]; !ok {
		return StatusAnswer{State: body}, nil
	}
	var ans StatusAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return StatusAnswer{}, fmt.Errorf("status answer: %w", err)
	}
	var state map[string]json.RawMessage
	if err := json.Unmarshal(ans.State, &state); err != nil || state == nil {
		return StatusAnswer{}, fmt.Errorf("status answer: state is not a JSON object: %w", orNull(err))
	}
	return ans, nil
}

// errNull says a JSON value was null where an object belongs.
var errNull = errors.New("null")

func orNull(err error) error {
	if err == nil {
		return errNull
	}
	return err
}
