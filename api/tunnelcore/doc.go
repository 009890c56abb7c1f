// Package tunnelcore is the core's end of the edge↔core management tunnel
// (docs/tunnel.md): the authentication port (authentication of an
// admitted serial, registration that binds it and hands out its tunnel
// URL and credential, unbinding), and the connection port, where each
// edge holds one WebSocket carrying multiplexed subconnections (segment
// uploads published idempotently into the lake, status pulls), answered
// keepalives and unanswered pings. Both ports serve TLS only.
package tunnelcore
