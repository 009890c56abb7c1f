// Package graph is Flowlake's GraphQL API (gqlgen, schema first): raw
// records of every dataset as Relay connections, aggregates (TopN, time
// series, any group-by), the lake's datasets, users, roles, IP groups and
// applications with their mutations, and a subscription streaming live
// traffic rates over WebSocket.
//
// The schema lives in *.graphqls; records.graphqls is generated from
// storage/schema (TestRecordsSchema, `make generate`) so the record types
// follow the datasets' columns, and the gqlgen output (generated.go,
// models_gen.go, *.resolvers.go stubs) is committed. Resolvers are thin:
// queries go through storage/query, metadata through storage/meta. The
// caller (its principal and an audit hook) comes from the request context,
// put there by api, which mounts the handler behind its authentication;
// fields check the same permissions as the REST routes. Errors carry an
// extension code decided in one place (errors.go), and refusals an HTTP
// status (statusOfCode). The HTTP transport (transport.go) caps bodies
// and admits a bounded number of operations at once; document.go
// measures documents before validation, cost.go plans the operation's
// engine queries before any resolver runs. docs/graphql.md documents the
// schema, the limits and the decisions.
package graph
