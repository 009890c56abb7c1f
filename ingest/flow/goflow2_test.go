package flow

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
	"github.com/netsampler/goflow2/v2/decoders/netflowlegacy"
	"github.com/netsampler/goflow2/v2/decoders/sflow"
)

// TestCapturesMatchGoflow2 decodes every capture with goflow2's own
// decoders too and compares the number of flow records per datagram: the
// in-place walkers must find exactly the records goflow2 finds (where
// goflow2 decodes the datagram without error).
func TestCapturesMatchGoflow2(t *testing.T) {
	root := realData(t)
	for _, sub := range []string{"netflow", "ipfix", "generated", "sflow"} {
		for _, files := range captureGroups(t, filepath.Join(root, sub)) {
			t.Run(sub+"/"+groupName(files), func(t *testing.T) {
				dgs, _ := readGroup(t, files)
				ts := netflow.CreateTemplateSystem()
				d := mustDecoder(t, replayConfig())
				var b Batch
				compared := 0
				for i, dg := range dgs {
					if dg.payload == nil {
						continue
					}
					start := b.Len()
					ourErr := d.Decode(dg.src, dg.payload, dg.ts, &b)
					want, gerr := goflow2Records(ts, dg.payload)
					if gerr != nil {
						continue // goflow2 gives up on this datagram
					}
					compared++
					if ourErr != nil {
						t.Errorf("frame %d: goflow2 decodes it, we fail: %v", i+1, ourErr)
					}
					if got := b.Len() - start; got != want {
						t.Errorf("frame %d: %d rows, goflow2 %d flow records", i+1, got, want)
					}
				}
				t.Logf("%d datagrams compared, %d rows", compared, b.Len())
			})
		}
	}
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
