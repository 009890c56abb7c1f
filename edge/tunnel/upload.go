package tunnel

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/coder/websocket"

	wire "github.com/flowlake/flowlake/tunnel"
)

// ErrInvalid wraps the error of an upload the core refused as invalid
// (SegmentAnswer.Invalid): the same bytes will be refused again.
var ErrInvalid = errors.New("the core refused the segment as invalid")

// frameBufs holds frame buffers of a whole frame: a segment's data
// frames are read straight into them after the header, one buffer per
// upload in flight.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, wire.MaxFrame); return &b }}

// UploadFrom sends the size bytes of r as the spool segment id over the
// tunnel (the segments service) and waits for the core's answer. Like the
// PUT path it is idempotent by id (and by content, on a core with the
// ledger), so the caller deletes its spooled copy only after an answer
// without error and uploads again otherwise: an error wrapping
// ErrInvalid says retrying cannot help, ErrNoTunnel that no tunnel is up.
func (c *Client) UploadFrom(ctx context.Context, id string, r io.ReaderAt, size int64) (SegmentAnswer, error) {
	c.mu.Lock()
	conn := c.conn
	if conn == nil {
		c.mu.Unlock()
		return SegmentAnswer{}, ErrNoTunnel
	}
	stream := c.nextID
	c.nextID += 2
	w := &outStream{done: make(chan []byte, 1)}
	c.waiting[stream] = w
	c.mu.Unlock()
	// The stream stays registered when the caller gives up (an error, its
	// deadline): a late answer is taken and dropped there (done has room
	// for it) instead of counting as a frame on a stream the edge never
	// opened, which would end the tunnel. The tunnel's end clears it.
	if err := c.sendSegment(ctx, conn, stream, id, r, size); err != nil {
		return SegmentAnswer{}, fmt.Errorf("upload %s: %w", id, err)
	}
	select {
	case body, ok := <-w.done:
		if !ok {
			return SegmentAnswer{}, fmt.Errorf("upload %s: tunnel went down before the answer", id)
		}
		var ans SegmentAnswer
		if err := json.Unmarshal(body, &ans); err != nil {
			return SegmentAnswer{}, fmt.Errorf("upload %s: answer: %w", id, err)
		}
		switch {
		case ans.Error != "" && ans.Invalid:
			return ans, fmt.Errorf("%w: upload %s: %s", ErrInvalid, id, ans.Error)
		case ans.Error != "":
			return ans, fmt.Errorf("upload %s: core: %s", id, ans.Error)
		}
		return ans, nil
	case <-ctx.Done():
		return SegmentAnswer{}, ctx.Err()
	}
}

// sendSegment writes the frames of one upload: open, the id, the bytes in
// frames of up to wire.MaxPayload read straight from r, and close; or,
// when ctx ends after the open, a close that says the upload was given up. A
// keepalive or another stream's frame may go between two of them
// (coder/websocket serialises whole messages).
func (c *Client) sendSegment(ctx context.Context, conn *websocket.Conn, stream uint32, id string, r io.ReaderAt, size int64) (err error) {
	if err := c.send(ctx, conn, wire.Frame{Kind: wire.KindOpen, Stream: stream, Payload: []byte(wire.ServiceSegments)}); err != nil {
		return err
	}
	defer func() {
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// Given up half-sent (its deadline passed): the core discards
			// what it has and closes the stream, holding no slot for it.
			_ = c.send(context.WithoutCancel(ctx), conn, wire.Frame{Kind: wire.KindClose, Stream: stream, Payload: []byte("abandoned: " + err.Error())})
		}
	}()
	if err := c.send(ctx, conn, wire.Frame{Kind: wire.KindData, Stream: stream, Payload: []byte(id)}); err != nil {
		return err
	}
	bp := frameBufs.Get().(*[]byte)
	defer frameBufs.Put(bp)
	buf := *bp
	buf[0], buf[1] = wire.Version, byte(wire.KindData)
	binary.BigEndian.PutUint32(buf[2:wire.HeaderLen], stream)
	for off := int64(0); off < size; {
		n := int(min(size-off, wire.MaxPayload))
		if _, err := r.ReadAt(buf[wire.HeaderLen:wire.HeaderLen+n], off); err != nil && !(errors.Is(err, io.EOF) && off+int64(n) == size) {
			return fmt.Errorf("read at %d: %w", off, err)
		}
		if err := c.write(ctx, conn, buf[:wire.HeaderLen+n]); err != nil {
			return err
		}
		off += int64(n)
	}
	return c.send(ctx, conn, wire.Frame{Kind: wire.KindClose, Stream: stream})
}

// write sends one encoded frame. ctx decides only whether to start: the
// library closes the whole connection when a write's context ends during
// it (or before), which would end the tunnel because one upload's
// deadline passed (TestUploadDeadlineKeepsTunnel), so the write itself is
// bounded by one keepalive interval, after which a write that has not
// gone out means the tunnel is stuck.
func (c *Client) write(ctx context.Context, conn *websocket.Conn, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timing.Keepalive)
	defer cancel()
	return conn.Write(wctx, websocket.MessageBinary, msg)
}
