// Package flow decodes NetFlow v5, NetFlow v9, IPFIX and sFlow v5 datagrams
// into rows of the flows dataset (schema.Flow).
//
// It owns the protocol state a collector must keep between datagrams —
// templates and option-data sampling rates per exporter address and
// observation domain, sequence-number accounting — and the mapping of
// information elements and sFlow records onto flows columns, including
// sampling correction. Enricher, a separate small type, classifies
// applications, IP groups and interface/exporter names.
//
// The package opens no sockets and starts no goroutines: the edge agent reads
// datagrams and hands each payload to Decoder.Decode, which appends rows to a
// caller-owned Batch without allocating per flow. Every datagram, flow, error
// and drop is counted in Counters.
//
// Template and options-template sets are parsed with goflow2's decoders
// (github.com/netsampler/goflow2/v2/decoders/netflow); data records, NetFlow
// v5 records and sFlow samples are walked in place, because goflow2's record
// decoders allocate per field and per record (see docs/ingest-flow.md).
package flow
