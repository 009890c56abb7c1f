package tunnel

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// TestDecodeFrameRefuses lists the malformed frames and the reason each
// is refused with.
func TestDecodeFrameRefuses(t *testing.T) {
	big := AppendFrame(nil, Frame{Kind: KindData, Stream: 1, Payload: make([]byte, MaxPayload+1)})
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"empty", nil, "shorter than"},
		{"short", []byte{1, 2, 0}, "shorter than"},
		{"version", []byte{9, 2, 0, 0, 0, 1}, "version 9"},
		{"kind", []byte{1, 99, 0, 0, 0, 1}, "unknown kind 99"},
		{"stream 0 data", []byte{1, 2, 0, 0, 0, 0}, "stream 0"},
		{"unknown service", AppendFrame(nil, Frame{Kind: KindOpen, Stream: 1, Payload: []byte("shell")}), "unknown service"},
		{"keepalive length", AppendFrame(nil, Frame{Kind: KindKeepalive, Payload: []byte{1}}), "8-byte"},
		{"ping on a stream", AppendFrame(nil, Frame{Kind: KindPing, Stream: 3}), "ping on stream 3"},
		{"oversized", big, "exceeds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeFrame(tc.msg)
			if !errors.Is(err, ErrFrame) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrFrame saying %q", err, tc.want)
			}
		})
	}
}

// FuzzDecodeFrame: any bytes decode or are refused with ErrFrame, and a
// decoded frame encodes back to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendFrame(nil, Frame{Kind: KindOpen, Stream: 1, Payload: []byte(ServiceSegments)}))
	f.Add(AppendFrame(nil, Frame{Kind: KindData, Stream: 1, Payload: []byte("PAR1")}))
	f.Add(AppendFrame(nil, Frame{Kind: KindKeepalive, Payload: make([]byte, 8)}))
	f.Add([]byte{1, 6, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := DecodeFrame(msg)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("error %v does not wrap ErrFrame", err)
			}
			return
		}
		if back := AppendFrame(nil, fr); !bytes.Equal(back, msg) {
			t.Fatalf("round trip: %x → %+v → %x", msg, fr, back)
		}
	})
}
