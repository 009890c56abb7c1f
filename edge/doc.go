// Package edge is the Flowlake edge agent: it owns the receivers on the
// collector host and the path from a datagram to a published segment.
//
// For flows it listens for NetFlow/IPFIX (default :2055, :4739) and sFlow
// (:6343) on several SO_REUSEPORT sockets per address with large receive
// buffers, hands datagrams through bounded per-worker queues (a full queue
// drops and counts) to decode workers that run ingest/flow, rotates batches
// by rows and age, and writes them with lake.Write into the lake (the
// embedded mode: the edge inside the core process, writing the local lake).
// It also keeps the decoder's templates on disk across restarts.
package edge
