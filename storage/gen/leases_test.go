package gen

import (
	"sort"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// The DHCP stream and the flows agree: a flow whose source MAC the
// exporter saw carries the address that MAC's latest ACK gave it, and
// addresses move between machines at the noon reshuffle.
func TestFlowsUseLeasedAddresses(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Start = time.Date(2026, 1, 6, 9, 0, 0, 0, time.UTC) // a Tuesday morning
	cfg.End = cfg.Start.Add(6 * time.Hour)
	cfg.FlowsPerSecond = 10
	c := collect(t, cfg)
	type ack struct {
		t    int64
		addr schema.Addr
	}
	acks := map[schema.MAC][]ack{}
	holders := map[schema.Addr]map[schema.MAC]bool{}
	for _, e := range c.DHCPRows {
		if e.MsgType != schema.DHCPAck || e.YIAddr.IsZero() || e.RogueServer {
			continue
		}
		acks[e.CHAddr] = append(acks[e.CHAddr], ack{e.Time, e.YIAddr})
		if holders[e.YIAddr] == nil {
			holders[e.YIAddr] = map[schema.MAC]bool{}
		}
		holders[e.YIAddr][e.CHAddr] = true
	}
	for _, a := range acks {
		sort.Slice(a, func(i, j int) bool { return a[i].t < a[j].t })
	}
	moved := 0
	for _, m := range holders {
		if len(m) > 1 {
			moved++
		}
	}
	var checked, wrong int
	for _, f := range c.FlowRows {
		a := acks[f.SrcMAC]
		if f.SrcMAC.IsZero() || len(a) == 0 || !f.SrcAddr.Netip().Is4() {
			continue
		}
		k := sort.Search(len(a), func(i int) bool { return a[i].t > f.Time }) - 1
		if k < 0 {
			continue // before the host's first ACK of the run
		}
		checked++
		if a[k].addr != f.SrcAddr {
			wrong++
			if wrong <= 5 {
				t.Logf("flow at %s from %s (%s): the MAC's last ACK gave %s at %s", schema.FromMicros(f.Time), f.SrcAddr, f.SrcMAC, a[k].addr, schema.FromMicros(a[k].t))
			}
		}
	}
	t.Logf("%d flows checked, %d with another address than the last ACK gave (hosts offline since, still sending: the generator does not gate flows on presence); %d addresses ACKed to several machines", checked, wrong, moved)
	if checked < 500 {
		t.Errorf("only %d flows from DHCP clients with a MAC and an ACK", checked)
	}
	if float64(wrong) > 0.01*float64(checked) {
		t.Errorf("%d of %d flows use another address than their host's last ACK gave", wrong, checked)
	}
	if moved < 5 {
		t.Errorf("only %d addresses moved between machines", moved)
	}
}
