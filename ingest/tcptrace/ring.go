package tcptrace

import "unsafe"

// ringPkt is the header of one kept packet; the captured frame (capLen
// bytes from the IP header on) follows it in the ring's buffer.
type ringPkt struct {
	time     int64 // µs since the epoch
	seq, ack uint32
	win      uint32 // scaled
	sndUna   uint32
	sndNxt   uint32
	sndWnd   uint32
	rcvNxt   uint32
	rcvWnd   uint32
	frameLen uint32 // on the wire, from the IP header on
	length   uint16
	ipid     uint16
	sum      uint16
	capLen   uint16
	flags    uint8
	state    uint8
	out      bool
	retrans  bool
}

const ringHdr = uint32(unsafe.Sizeof(ringPkt{}))

// recSize is the bytes a kept packet with capLen captured bytes takes in
// a ring: its header and its frame, padded to 8 so headers stay aligned.
func recSize(capLen int) uint32 { return ringHdr + (uint32(capLen)+7)&^7 }

// initialRing is a ring's first buffer: room for a handshake's three
// packets with their options (SYN, SYN-ACK, ACK of 60, 60 and 52 bytes).
const initialRing = 384

// ring keeps a connection's last packets, oldest first, as variable-size
// records (header and frame) in one byte buffer used circularly: a frame
// takes what was captured, not the snap length, so a connection's first
// packets (handshakes, acknowledgements: headers only) cost little. The
// records lie in [head, tail), or in [head, end) then [0, tail) once the
// writing wrapped.
type ring struct {
	buf     []byte
	head    uint32
	tail    uint32
	end     uint32
	n       uint16
	wrapped bool
}

// hdr returns the header of the record at off.
func (r *ring) hdr(off uint32) *ringPkt {
	return (*ringPkt)(unsafe.Pointer(&r.buf[off]))
}

// place returns where a record of size bytes fits without evicting, and
// claims that space.
func (r *ring) place(size uint32) (uint32, bool) {
	if r.n == 0 {
		r.head, r.tail, r.wrapped = 0, 0, false
	}
	switch {
	case !r.wrapped && r.tail+size <= uint32(len(r.buf)):
	case !r.wrapped && size <= r.head:
		r.end, r.tail, r.wrapped = r.tail, 0, true
	case r.wrapped && r.tail+size <= r.head:
	default:
		return 0, false
	}
	off := r.tail
	r.tail += size
	r.n++
	return off, true
}

// compact moves the records of a ring that has not wrapped to the start
// of its buffer, so the space freed before them joins the space after,
// when that makes room for size bytes. A record is never split, so
// without it a ring whose free space lies on both sides would evict
// records it has room for.
func (r *ring) compact(size uint32) bool {
	if r.wrapped || r.head == 0 || uint32(len(r.buf))-(r.tail-r.head) < size {
		return false
	}
	copy(r.buf, r.buf[r.head:r.tail])
	r.head, r.tail = 0, r.tail-r.head
	return true
}

// evict forgets the oldest record.
func (r *ring) evict() {
	r.head += recSize(int(r.hdr(r.head).capLen))
	r.n--
	if r.wrapped && r.head == r.end {
		r.head, r.wrapped = 0, false
	}
}

// each calls f on every record, oldest first, with its offset.
func (r *ring) each(f func(off uint32, h *ringPkt)) {
	off := r.head
	for range r.n {
		if r.wrapped && off == r.end {
			off = 0
		}
		h := r.hdr(off)
		f(off, h)
		off += recSize(int(h.capLen))
	}
}

// frame returns the captured bytes of the record at off.
func (r *ring) frame(off uint32, h *ringPkt) []byte {
	return r.buf[off+ringHdr : off+ringHdr+uint32(h.capLen)]
}

// resize moves the records into a new buffer of size bytes, oldest at 0.
func (r *ring) resize(size int) {
	buf := make([]byte, size)
	var n uint32
	r.each(func(off uint32, h *ringPkt) {
		s := recSize(int(h.capLen))
		copy(buf[n:], r.buf[off:off+s])
		n += s
	})
	r.buf, r.head, r.tail, r.end, r.wrapped = buf, 0, n, 0, false
}

// bytes is the ring's memory.
func (r *ring) bytes() int64 { return allocSize(uintptr(cap(r.buf)), false) }
