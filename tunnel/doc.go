// Package tunnel is the wire protocol of the edge↔core management tunnel
// (docs/tunnel.md), shared by both ends: the edge side (edge/tunnel) and
// the core side (api/tunnelcore) import it and nothing else of each other.
//
// It holds the JSON bodies of authentication, registration and unbinding
// on the authentication port, the binary frames multiplexing
// subconnections over the one WebSocket of an edge (DecodeFrame refuses
// every malformed frame with a reason), the ordering of the configured
// servers for failover (Order), and the timing settings with the
// documents' ranges. It opens no sockets and starts no goroutines.
package tunnel
