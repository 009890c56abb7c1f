package edge

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// labHistory asks the lake, through the query engine's lease question
// (what `flowlake dhcp held --mac` and the REST and GraphQL questions
// run), for every binding mac had during the lab (the last hour and the
// leases promised beyond now), by start.
func labHistory(t *testing.T, lk *lake.Lake, mac string) ([]schema.DHCPLease, error) {
	t.Helper()
	ctx := context.Background()
	if err := lk.Refresh(ctx); err != nil {
		return nil, err
	}
	m, err := schema.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ans, err := query.New(lk, query.Config{}, nil).Leases(ctx, query.LeaseQuestion{MAC: m, From: now.Add(-time.Hour), To: now.Add(24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	return ans.Leases, nil
}

// historyAgrees checks the lease history of mac in the lake against
// dnsmasq's lease file and the client's own address: the binding still
// held (OPEN, its promised end in the future) is dnsmasq's lease of mac
// (address, expiry within 2 s, host name) and the client's address, or
// there is none on either side; the ended spans' reasons end with
// endedTail. It returns the history for further checks.
func historyAgrees(lk *lake.Lake, t *testing.T, leases map[string]dnsmasqLease, mac, clientIP string, endedTail ...string) ([]schema.DHCPLease, error) {
	t.Helper()
	hist, err := labHistory(t, lk, mac)
	if err != nil {
		return nil, err
	}
	now := time.Now().UnixMicro()
	var open []schema.DHCPLease
	var ended []string
	for _, s := range hist {
		if s.Kind != schema.LeaseKindLease {
			continue
		}
		if s.EndReason == schema.LeaseOpen && s.EndTime > now {
			open = append(open, s)
		} else {
			ended = append(ended, s.EndReason)
		}
	}
	ls, leased := leases[mac]
	switch {
	case clientIP != "" && !leased:
		return hist, fmt.Errorf("the client holds %s, dnsmasq's lease file has no lease of %s (yet)", clientIP, mac)
	case len(open) > 1:
		return hist, fmt.Errorf("%d bindings held at once: %s", len(open), spansString(open))
	case leased != (len(open) == 1):
		return hist, fmt.Errorf("dnsmasq lease %v (%+v), lake holds %s", leased, ls, spansString(open))
	case leased && open[0].Address.Netip() != ls.ip:
		return hist, fmt.Errorf("lake has %s, dnsmasq %s", open[0].Address, ls.ip)
	case leased && clientIP != "" && open[0].Address.String() != clientIP:
		return hist, fmt.Errorf("lake has %s, the client %s", open[0].Address, clientIP)
	case leased && time.UnixMicro(open[0].EndTime).Sub(ls.expires).Abs() > 2*time.Second:
		return hist, fmt.Errorf("lake expiry %s, dnsmasq %s", time.UnixMicro(open[0].EndTime), ls.expires)
	case leased && ls.hostname != "*" && open[0].Hostname != ls.hostname:
		return hist, fmt.Errorf("lake hostname %q, dnsmasq %q", open[0].Hostname, ls.hostname)
	case len(ended) < len(endedTail) || strings.Join(ended[len(ended)-len(endedTail):], ",") != strings.Join(endedTail, ","):
		return hist, fmt.Errorf("ended spans %v, want them to end with %v", ended, endedTail)
	}
	return hist, nil
}

// eventuallyHistory waits (the edge writes dhcp_leases every batch_age)
// until historyAgrees holds for mac, or fails the test naming the step.
func eventuallyHistory(t *testing.T, lk *lake.Lake, leaseFile, mac, clientIP, step string, endedTail ...string) []schema.DHCPLease {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		hist, err := historyAgrees(lk, t, readLeases(t, leaseFile), mac, clientIP, endedTail...)
		if err == nil {
			return hist
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the lake's lease history of %s disagrees with dnsmasq and the client: %v\nhistory: %s", step, mac, err, spansString(hist))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func spansString(spans []schema.DHCPLease) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s %s %s..%s %s renewals=%d host=%q giaddr=%s circuit=%q", s.Client, s.Address,
			time.UnixMicro(s.Time).Format("15:04:05.000"), time.UnixMicro(s.EndTime).Format("15:04:05.000"), s.EndReason, s.Renewals, s.Hostname, s.GIAddr, s.CircuitID)
	}
	return b.String()
}
