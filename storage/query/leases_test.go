package query

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/schema"
)

// leaseLake writes rows into a new lake, one file per call of write.
func leaseLake(t *testing.T, batches ...[]schema.DHCPLease) *Engine {
	t.Helper()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, b := range batches {
		if _, err := lake.Write(context.Background(), l, "import", b); err != nil {
			t.Fatal(err)
		}
	}
	e := New(l, Config{}, nil)
	t.Cleanup(func() { e.Close() })
	return e
}

func TestLeaseQuestions(t *testing.T) {
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	h := func(hours float64) int64 { return day.Add(time.Duration(hours * float64(time.Hour))).UnixMicro() }
	macA, macB := schema.MAC{2, 0, 0, 0, 0, 0xa}, schema.MAC{2, 0, 0, 0, 0, 0xb}
	ip := schema.MustParseAddr("10.0.0.7")
	span := func(mac schema.MAC, host string, addr schema.Addr, start, lastAck, end float64, reason string) schema.DHCPLease {
		return schema.DHCPLease{Time: h(start), Source: schema.LeaseSourceWire, Kind: schema.LeaseKindLease, Address: addr,
			Client: "mac:" + mac.String(), CHAddr: mac, Hostname: host, LastAck: h(lastAck), EndTime: h(end), EndReason: reason,
			CircuitID: "ge-0/0/7"}
	}
	// A held 10.0.0.7 from 01:00 to 12:00 (written OPEN in one batch,
	// then ended in the next: one binding), B from 12:00 on; A moved to
	// 10.0.0.8. A lease 40 days old still open shows only with a longer
	// lookback.
	aOpen := span(macA, "laptop-a", ip, 1, 6, 7, schema.LeaseOpen)
	aEnded := span(macA, "laptop-a", ip, 1, 11, 12, schema.LeaseSuperseded)
	b := span(macB, "laptop-b", ip, 12, 12, 13, schema.LeaseOpen)
	a2 := span(macA, "laptop-a", schema.MustParseAddr("10.0.0.8"), 12.5, 12.5, 20, schema.LeaseReleased)
	old := span(macB, "old-host", schema.MustParseAddr("10.0.0.9"), -40*24, 0, 24, schema.LeaseOpen)
	e := leaseLake(t, []schema.DHCPLease{old, aOpen}, []schema.DHCPLease{aEnded, b, a2})
	ctx := context.Background()
	at := func(hours float64) time.Time { return time.UnixMicro(h(hours)).UTC() }

	tests := []struct {
		name string
		q    LeaseQuestion
		want []schema.DHCPLease
	}{
		{"who at 05:00: A, its latest row", LeaseQuestion{Address: ip.Netip(), From: at(5), To: at(5).Add(time.Microsecond)}, []schema.DHCPLease{aEnded}},
		{"who at 11:59:59: still A", LeaseQuestion{Address: ip.Netip(), From: at(11.999), To: at(11.999).Add(time.Microsecond)}, []schema.DHCPLease{aEnded}},
		{"who at 12:00: B (spans are [start, end))", LeaseQuestion{Address: ip.Netip(), From: at(12), To: at(12).Add(time.Microsecond)}, []schema.DHCPLease{b}},
		{"who at 00:30: nobody", LeaseQuestion{Address: ip.Netip(), From: at(0.5), To: at(0.5).Add(time.Microsecond)}, nil},
		{"history of the day", LeaseQuestion{Address: ip.Netip(), From: at(0), To: at(24)}, []schema.DHCPLease{aEnded, b}},
		{"MAC A over the day", LeaseQuestion{MAC: macA, From: at(0), To: at(24)}, []schema.DHCPLease{aEnded, a2}},
		{"host laptop-a after noon", LeaseQuestion{Hostname: "laptop-a", From: at(12), To: at(24)}, []schema.DHCPLease{a2}},
		{"a 40-day-old span is beyond the default lookback", LeaseQuestion{Address: netip.MustParseAddr("10.0.0.9"), From: at(1), To: at(2)}, nil},
		{"and found with a longer one", LeaseQuestion{Address: netip.MustParseAddr("10.0.0.9"), From: at(1), To: at(2), Lookback: 60 * 24 * time.Hour}, []schema.DHCPLease{old}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ans, err := e.Leases(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ans.Leases); diff != "" {
				t.Errorf("leases (-want +got):\n%s", diff)
			}
		})
	}

	for _, bad := range []LeaseQuestion{
		{From: at(1), To: at(2)},
		{Address: ip.Netip(), MAC: macA, From: at(1), To: at(2)},
		{Address: ip.Netip(), From: at(2), To: at(2)},
	} {
		if _, err := e.Leases(ctx, bad); !errors.Is(err, ErrLeaseQuestion) {
			t.Errorf("Leases(%+v) = %v, want ErrLeaseQuestion", bad, err)
		}
	}
}
