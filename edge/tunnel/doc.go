// Package tunnel is the edge's end of the edge↔core management tunnel
// (docs/tunnel.md): it authenticates its serial on a core's
// authentication port, registers (binding with its enrolment secret the
// first time and keeping the credential it gets), opens the one
// WebSocket of the edge on the connection port, keeps it alive with
// answered keepalives and unanswered pings, uploads segments over it and
// answers the core's status pulls. It tries the configured servers in
// the documents' order, moves to the next on failure and never switches
// back, and records every state transition as a cloud_conn row with the
// values of `display cloud-management state`.
package tunnel
