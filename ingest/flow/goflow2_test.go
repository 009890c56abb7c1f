package flow

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
)

// TestCapturesMatchGoflow2 decodes every capture with goflow2's own
// decoders too and compares the number of flow records per datagram: the
// in-place walkers must find exactly the records goflow2 finds (where
// goflow2 decodes the datagram without error). Comparing nothing passes
// nothing: every capture must have datagrams goflow2 decodes (a capture
// named *malformed* instead needs datagrams both decoders refuse), goflow2
// may refuse at most a third of a capture's datagrams, and each directory
// must compare rows (see goflow2Floor).
func TestCapturesMatchGoflow2(t *testing.T) {
	root := realData(t)
	for _, sub := range []string{"netflow", "ipfix", "generated", "sflow"} {
		groups := captureGroups(t, filepath.Join(root, sub))
		if len(groups) == 0 {
			t.Errorf("%s: no captures in %s", sub, filepath.Join(root, sub))
		}
		var subRows, subCompared int
		for _, files := range groups {
			t.Run(sub+"/"+groupName(files), func(t *testing.T) {
				dgs, _ := readGroup(t, files)
				ts := netflow.CreateTemplateSystem()
				d := mustDecoder(t, replayConfig())
				var b Batch
				compared, rejected, bothRefuse, rows := 0, 0, 0, 0
				for i, dg := range dgs {
					if dg.payload == nil {
						continue
					}
					start := b.Len()
					ourErr := d.Decode(dg.src, dg.payload, dg.ts, &b)
					want, gerr := goflow2Records(ts, dg.payload)
					if gerr != nil {
						rejected++ // goflow2 gives up on this datagram
						if ourErr != nil {
							bothRefuse++
						}
						continue
					}
					compared++
					rows += b.Len() - start
					if ourErr != nil {
						t.Errorf("frame %d: goflow2 decodes it, we fail: %v", i+1, ourErr)
					}
					if got := b.Len() - start; got != want {
						t.Errorf("frame %d: %d rows, goflow2 %d flow records", i+1, got, want)
					}
				}
				t.Logf("%d datagrams compared (%d rows), %d refused by goflow2 (%d by both)", compared, rows, rejected, bothRefuse)
				switch {
				case strings.Contains(groupName(files), "malformed"):
					if bothRefuse == 0 {
						t.Errorf("a malformed capture, but no datagram refused by both decoders (%d compared, %d refused by goflow2)", compared, rejected)
					}
				case compared == 0:
					t.Errorf("no datagram compared: goflow2 refused %d of %d", rejected, len(dgs))
				case rejected*3 > compared+rejected:
					t.Errorf("goflow2 refused %d of %d datagrams: too few compared", rejected, compared+rejected)
				}
				subRows += rows
				subCompared += compared
			})
		}
		if floor := goflow2Floor[sub]; subRows < floor.rows || subCompared < floor.datagrams {
			t.Errorf("%s: %d datagrams and %d rows compared, want at least %d and %d", sub, subCompared, subRows, floor.datagrams, floor.rows)
		}
	}
}

// goflow2Floor is the least each directory of the shared captures must
// compare (about half of what its captures hold today), so a capture
// that goes missing or empty fails the test instead of shrinking it.
var goflow2Floor = map[string]struct{ datagrams, rows int }{
	"netflow":   {35, 70},
	"ipfix":     {18, 25},
	"generated": {60, 1700},
	"sflow":     {25, 10},
}

// goflow2Records returns how many flow records goflow2 decodes from p.
// Templates are shared across calls through ts.
func goflow2Records(ts netflow.NetFlowTemplateSystem, p []byte) (int, error) {
	switch sniff(p) {
	case FormatNetFlowV5:
		var pkt netflowlegacy.PacketNetFlowV5
		if err := netflowlegacy.DecodeMessageVersion(bytes.NewBuffer(p), &pkt); err != nil {
			return 0, err
		}
		return len(pkt.Records), nil
	case FormatSFlow:
		var pkt sflow.Packet
		if err := sflow.DecodeMessageVersion(bytes.NewBuffer(p), &pkt); err != nil {
			return 0, err
		}
		n := 0
		for _, s := range pkt.Samples {
			switch s.(type) {
			case sflow.FlowSample, sflow.ExpandedFlowSample:
				n++
			}
		}
		return n, nil
	}
	var v9 netflow.NFv9Packet
	var ipfix netflow.IPFIXPacket
	err := netflow.DecodeMessageVersion(bytes.NewBuffer(p), ts, &v9, &ipfix)
	sets := v9.FlowSets
	if sniff(p) == FormatIPFIX {
		sets = ipfix.FlowSets
	}
	n := 0
	for _, s := range sets {
		if fs, ok := s.(netflow.DataFlowSet); ok {
			n += len(fs.Records)
		}
	}
	// goflow2 reports missing templates alongside the sets it decoded.
	if err != nil && !isOnly(err, netflow.ErrorTemplateNotFound) {
		return 0, err
	}
	return n, nil
}

// isOnly reports whether every error joined into err wraps target.
func isOnly(err, target error) bool {
	type multi interface{ Unwrap() []error }
	for err != nil {
		if m, ok := err.(multi); ok {
			for _, e := range m.Unwrap() {
				if !isOnly(e, target) {
					return false
				}
			}
			return true
		}
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}
