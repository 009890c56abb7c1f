package tcptrace

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// frameSource is what pcapgo's pcap and pcapng readers share.
type frameSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// Replay feeds every frame of a pcap or pcapng capture to t, in file order,
// moving the tracer's clock on each second of capture time so timeouts
// fire as they would have live. It does not flush: the caller decides
// whether connections open at the end are written as open (Flush) or the
// replay continues. name labels errors. A frame that does not decode is
// counted by the tracer, not an error, and so is a last record cut short;
// a file that cannot be read is an error.
func Replay(ctx context.Context, r io.Reader, name string, t *Tracer) (frames uint64, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return 0, fmt.Errorf("read capture %s: %w", name, err)
	}
	var src frameSource
	var link func() int
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return 0, fmt.Errorf("read capture %s: pcapng header: %w", name, err)
		}
		src, link = ng, func() int { return int(ng.LinkType()) }
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("read capture %s: pcap header: %w", name, err)
		}
		src, link = pr, func() int { return int(pr.LinkType()) }
	}
	var tick time.Time
	for {
		data, ci, err := src.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// A capture cut in its last record (a writer killed mid-write):
			// what came before stands, the cut frame is counted.
			t.stats.Truncated++
			return frames, nil
		}
		if err != nil {
			return frames, fmt.Errorf("read capture %s: frame %d: %w", name, frames+1, err)
		}
		frames++
		if frames%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return frames, err
			}
		}
		_ = t.Decode(link(), data, ci.Timestamp) // counted in Stats by kind
		if ci.Timestamp.Sub(tick) >= time.Second {
			t.Advance(ci.Timestamp)
			tick = ci.Timestamp
		}
	}
}
