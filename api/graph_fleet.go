package api

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/flowlake/flowlake/graph/model"
)

// graphFleet adapts the server's fleet listing and its tunnel's events
// to graph.Fleet.
type graphFleet struct{ s *Server }

// Edges lists the fleet as GET /api/v1/edges does.
func (g graphFleet) Edges(ctx context.Context) ([]*model.Edge, error) {
	list := g.s.fleet(ctx)
	out := make([]*model.Edge, len(list))
	for i, e := range list {
		out[i] = edgeModel(e)
	}
	return out, nil
}

// Watch relays the tunnel's events until ctx ends.
func (g graphFleet) Watch(ctx context.Context) <-chan model.EdgeStateEvent {
	in := g.s.deps.Tunnel.Watch(ctx)
	out := make(chan model.EdgeStateEvent)
	go func() { // ends when in closes, which ctx's end does
		defer close(out)
		for ev := range in {
			m := model.EdgeStateEvent{Serial: ev.Serial, ConnState: ev.ConnState, At: ev.At.UTC(), Missed: int64(min(ev.Missed, 1<<62))}
			if ev.Detail != "" {
				m.Detail = &ev.Detail
			}
			select {
			case out <- m:
			case <-ctx.Done():
				for range in { // drain until the tunnel closes it
				}
				return
			}
		}
	}()
	return out
}

// stateColumns are the cloud_conn columns of an edge's status answer
// that the GraphQL Edge carries.
type stateColumns struct {
	ConnState      *string `json:"conn_state"`
	DeviceState    *string `json:"device_state"`
	ProcessState   *string `json:"process_state"`
	ServerDomain   *string `json:"server_domain"`
	ServerIndex    *int    `json:"server_index"`
	BackupServer   *bool   `json:"backup_server"`
	AuthPort       *int    `json:"auth_port"`
	ConnPort       *int    `json:"conn_port"`
	ConnectedAt    *string `json:"connected_at"`
	DurationS      *int64  `json:"duration_s"`
	FailureReason  *string `json:"failure_reason"`
	LastDownReason *string `json:"last_down_reason"`
	LastDownDetail *string `json:"last_down_detail"`
	LastDownAt     *string `json:"last_down_at"`
}

// edgeModel converts one fleet entry; empty strings and unparsable times
// of the edge's state are null.
func edgeModel(e ConnectedEdge) *model.Edge {
	m := &model.Edge{Serial: e.Serial, Since: e.Since.UTC(), LastSeen: e.LastSeen.UTC(), Version: nonEmpty(e.Version), StartedAt: e.StartedAt,
		SpoolSegments: e.SpoolSegments, SpoolBytes: e.SpoolBytes, DropsTotal: e.DropsTotal, UploadFailures: e.UploadFailures,
		StateError: nonEmpty(e.StateError)}
	if e.Rates != nil {
		m.Rates = &model.EdgeRates{WindowSeconds: e.Rates.WindowSeconds, DatagramsPerSecond: e.Rates.DatagramsPerSecond,
			RowsPerSecond: e.Rates.RowsPerSecond, RowsShippedPerSecond: e.Rates.RowsShippedPerSecond}
	}
	if e.Drops != nil {
		m.Drops = []*model.EdgeDrop{}
		for cause, n := range e.Drops {
			m.Drops = append(m.Drops, &model.EdgeDrop{Cause: cause, Count: n})
		}
		sort.Slice(m.Drops, func(a, b int) bool { return m.Drops[a].Cause < m.Drops[b].Cause })
	}
	var st stateColumns
	if len(e.State) > 0 && json.Unmarshal(e.State, &st) == nil {
		m.ConnState, m.DeviceState, m.ProcessState = nonEmptyP(st.ConnState), nonEmptyP(st.DeviceState), nonEmptyP(st.ProcessState)
		m.ServerDomain, m.ServerIndex, m.BackupServer = nonEmptyP(st.ServerDomain), st.ServerIndex, st.BackupServer
		m.AuthPort, m.ConnPort, m.DurationSeconds = st.AuthPort, st.ConnPort, st.DurationS
		m.FailureReason, m.LastDownReason, m.LastDownDetail = nonEmptyP(st.FailureReason), nonEmptyP(st.LastDownReason), nonEmptyP(st.LastDownDetail)
		m.ConnectedAt, m.LastDownAt = parseTimeP(st.ConnectedAt), parseTimeP(st.LastDownAt)
	}
	return m
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonEmptyP(s *string) *string {
	if s == nil {
		return nil
	}
	return nonEmpty(*s)
}

func parseTimeP(s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return nil
	}
	t = t.UTC()
	return &t
}
