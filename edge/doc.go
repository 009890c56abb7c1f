// Package edge is the Flowlake edge agent: it owns the receivers on the
// collector host and the path from a datagram to a published segment.
//
// For flows it listens for NetFlow (default :2055), IPFIX (:4739) and sFlow
// (:6343) on several SO_REUSEPORT sockets per address with large receive
// buffers, hands datagrams through bounded per-worker queues (a full queue
// drops and counts) to decode workers that run ingest/flow, rotates batches
// by rows, bytes and age, and writes them with lake.Write. Embedded in the
// core (flowlake serve, demo) it writes the lake; alone (flowlake edge) it
// writes a disk spool with a quota (oldest dropped and counted) and a
// shipper uploads each segment to the core, idempotently by segment id,
// with exponential backoff, deleting it only once acknowledged. It also
// keeps the decoder's templates on disk across restarts, and reports its
// counters (Collectors, Status).
package edge
