package tunnelcore

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/coder/websocket"
)

// readMessage reads one WebSocket message into buf, which must be longer
// than the connection's read limit, and returns it (aliasing buf: the
// caller uses it before the next read). One buffer for every message of a
// tunnel spares the allocation and regrowth of websocket.Conn.Read, which
// for the 256 KiB frames of a segment upload cost the core more than
// copying them to the segment's file.
func readMessage(ctx context.Context, conn *websocket.Conn, buf []byte) (websocket.MessageType, []byte, error) {
	typ, r, err := conn.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for {
		if n == len(buf) {
			return typ, nil, fmt.Errorf("message longer than %d bytes", len(buf))
		}
		m, err := r.Read(buf[n:])
		n += m
		switch {
		case errors.Is(err, io.EOF):
			return typ, buf[:n], nil
		case err != nil:
			return typ, nil, err
		}
	}
}
