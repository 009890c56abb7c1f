package query

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// TestWideDictionaryStatistics: a row group whose optional address column
// has a dictionary wider than 64 Ki entries, with nulls, still prunes
// correctly — every address a query asks for is found (statistics and
// page index written for such a column must bound its values).
func TestWideDictionaryStatistics(t *testing.T) {
	ctx := context.Background()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 7, 10, 0, 0, 0, time.UTC)
	const n = 100_000
	rows := make([]schema.DHCPEvent, n)
	var asked []string
	for i := range rows {
		r := &rows[i]
		r.Time = start.Add(time.Duration(i) * 30 * time.Millisecond).UnixMicro()
		r.Edge, r.Device, r.MsgType, r.Interface = "e", "d", "ACK", "vlan10"
		if i%7 != 0 { // nulls between the values
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], 0x0a000000+uint32((i*7919)%n))
			a := netip.AddrFrom4(b)
			r.YIAddr = schema.AddrFrom(a)
			if i%9973 == 1 {
				asked = append(asked, a.String())
			}
		}
		r.CHAddr = schema.MAC{0, 1, 2, byte(i >> 16), byte(i >> 8), byte(i)}
	}
	if _, err := lake.Write(ctx, l, "wide", rows); err != nil {
		t.Fatal(err)
	}
	e := New(l, Config{}, nil)
	for _, a := range asked {
		res, err := e.Run(ctx, Query{Dataset: schema.DHCPEvents, From: start.Format(time.RFC3339), To: start.Add(2 * time.Hour).Format(time.RFC3339),
			Filter: "yiaddr " + a, Metrics: []string{"count()"}})
		if err != nil {
			t.Fatal(err)
		}
		got := res.Rows()[1][0]
		res.Release()
		if got == "0" {
			t.Errorf("yiaddr %s: no row found (pruned wrongly?)", a)
		}
	}
	res, err := e.Run(ctx, Query{Dataset: schema.DHCPEvents, From: start.Format(time.RFC3339), To: start.Add(2 * time.Hour).Format(time.RFC3339),
		Filter: "not yiaddr 0.0.0.0/0", Metrics: []string{"count()"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if got, want := res.Rows()[1][0], "14286"; got != want {
		t.Errorf("rows without yiaddr: %s, want %s", got, want)
	}
}
