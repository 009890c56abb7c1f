// Package cloudconn parses the output of a network device's `display
// cloud-management state` command — the state of its management tunnel to
// a cloud server, as the vendor's configuration guide and command reference
// print it — into rows of the cloud_conn dataset (schema.CloudConn), and
// formats a row back into that display (Format), so the edge agent's own
// tunnel state reads exactly like a device's.
//
// Parse accepts English field labels (both layouts of the documents: the
// guide's "Cloud server connection port" and the reference's "Local
// port") and Chinese ones (the reference's field descriptions), with ASCII
// or full-width colons, Chinese enumerated values and Chinese durations
// ("00天00时02分01秒"). Several displays in one input give several rows.
// Lines it does not recognise are kept and counted in Result.Unknown, never
// fatal; an enumerated value outside the documents' lists is kept verbatim
// and counted in Result.UnknownValues; a malformed number, time or
// address is a *ParseError naming the file, line and column. The package
// opens no sockets and starts no goroutines. docs/tunnel.md describes the
// accepted forms and the decisions taken where the documents are silent.
package cloudconn
