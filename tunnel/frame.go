package tunnel

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the frame format version, the first byte of every frame.
const Version = 1

// HeaderLen is the length of a frame header: version, kind, stream id.
const HeaderLen = 6

// MaxPayload bounds a frame's payload; a segment travels in many frames.
const MaxPayload = 256 << 10

// MaxFrame bounds a whole frame; the WebSocket read limit is set to it so
// an oversized message is refused before it is buffered.
const MaxFrame = HeaderLen + MaxPayload

// Kind is what a frame carries.
type Kind uint8

// Frame kinds. Stream frames (Open, Data, Close) name a subconnection by a
// non-zero stream id: odd ids are opened by the edge, even ones by the
// core. Control frames (Keepalive, KeepaliveAck, Ping) use stream 0.
const (
	// KindOpen opens a subconnection; the payload is the service name.
	KindOpen Kind = 1
	// KindData carries a piece of a subconnection's request or answer.
	KindData Kind = 2
	// KindClose ends one direction of a subconnection; a non-empty payload
	// is an error the other end reports.
	KindClose Kind = 3
	// KindKeepalive asks the core to answer; the payload is an 8-byte
	// sequence number.
	KindKeepalive Kind = 4
	// KindKeepaliveAck answers a keepalive with its sequence number.
	KindKeepaliveAck Kind = 5
	// KindPing keeps NAT entries alive; nobody answers it.
	KindPing Kind = 6
)

// String names the kind for logs and errors.
func (k Kind) String() string {
	switch k {
	case KindOpen:
		return "open"
	case KindData:
		return "data"
	case KindClose:
		return "close"
	case KindKeepalive:
		return "keepalive"
	case KindKeepaliveAck:
		return "keepalive-ack"
	case KindPing:
		return "ping"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Services a subconnection may open.
const (
	// ServiceSegments uploads one spool segment (edge → core): the first
	// data frame is the segment id, the rest its bytes; the answer is the
	// core's ingest result as JSON. Idempotent by id, like the PUT path.
	ServiceSegments = "segments"
	// ServiceStatus pulls the edge's status (core → edge): the answer is
	// the edge's cloud_conn state and counters as JSON.
	ServiceStatus = "status"
	// ServiceConfig pushes configuration to the edge (core → edge).
	ServiceConfig = "config"
	// ServiceCommand runs a remote command on the edge (core → edge).
	ServiceCommand = "command"
)

// ValidService reports whether s names a service.
func ValidService(s string) bool {
	switch s {
	case ServiceSegments, ServiceStatus, ServiceConfig, ServiceCommand:
		return true
	}
	return false
}

// Frame is one decoded WebSocket message of the tunnel.
type Frame struct {
	Kind    Kind
	Stream  uint32
	Payload []byte
}

// ErrFrame marks a malformed frame; the message says why.
var ErrFrame = errors.New("malformed tunnel frame")

// AppendFrame appends the encoding of f to b.
func AppendFrame(b []byte, f Frame) []byte {
	b = append(b, Version, byte(f.Kind))
	b = binary.BigEndian.AppendUint32(b, f.Stream)
	return append(b, f.Payload...)
}

// DecodeFrame decodes one message. The payload aliases msg. Every way a
// frame can be wrong is an error wrapping ErrFrame that says which.
func DecodeFrame(msg []byte) (Frame, error) {
	if len(msg) < HeaderLen {
		return Frame{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrFrame, len(msg), HeaderLen)
	}
	if msg[0] != Version {
		return Frame{}, fmt.Errorf("%w: version %d, want %d", ErrFrame, msg[0], Version)
	}
	f := Frame{Kind: Kind(msg[1]), Stream: binary.BigEndian.Uint32(msg[2:6]), Payload: msg[HeaderLen:]}
	if len(f.Payload) > MaxPayload {
		return Frame{}, fmt.Errorf("%w: payload of %d bytes exceeds %d", ErrFrame, len(f.Payload), MaxPayload)
	}
	switch f.Kind {
	case KindOpen, KindData, KindClose:
		if f.Stream == 0 {
			return Frame{}, fmt.Errorf("%w: %s frame on stream 0", ErrFrame, f.Kind)
		}
		if f.Kind == KindOpen && !ValidService(string(f.Payload)) {
			return Frame{}, fmt.Errorf("%w: open of unknown service %.40q", ErrFrame, f.Payload)
		}
	case KindKeepalive, KindKeepaliveAck:
		if f.Stream != 0 || len(f.Payload) != 8 {
			return Frame{}, fmt.Errorf("%w: %s frame wants stream 0 and an 8-byte sequence", ErrFrame, f.Kind)
		}
	case KindPing:
		if f.Stream != 0 {
			return Frame{}, fmt.Errorf("%w: ping on stream %d", ErrFrame, f.Stream)
		}
	default:
		return Frame{}, fmt.Errorf("%w: unknown kind %d", ErrFrame, msg[1])
	}
	return f, nil
}
