// Package tcptrace parses a network device's TCP connection trace output —
// `display tcp trace cache-connection ip|ipv6`, `display tcp trace
// cache-packet ip|ipv6 ... verbose [last N]` and `display tcp trace
// information`, as the vendor's configuration guide prints them — into rows
// of the tcp_conns and tcp_packets datasets (schema.TCPConn,
// schema.TCPPacket), joined by trace_id.
//
// Parse reads a whole session log (prompts, legends, tables and verbose
// blocks in any order). Lines it does not recognise are kept and counted in
// Result.Unknown, never fatal; a recognised line whose values are malformed
// is a *ParseError naming the file, line and column. The package opens no
// sockets and starts no goroutines. docs/tcptrace.md describes the accepted
// forms, the reason codes and the decisions taken where the device's
// document is silent.
package tcptrace
