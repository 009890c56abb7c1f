// Package api owns Flowlake's HTTP surface: the echo server, its routes
// (health, readiness, Prometheus metrics and the REST API under /api/v1),
// authentication (bearer API tokens and server-side login sessions),
// authorization, the audit trail of every mutation and login, the OpenAPI
// document, request logging and metrics, and the single mapping from
// errors to RFC 7807 problem documents.
//
// The route table (access.go) is the one place that says which permission
// each endpoint needs and what its mutations are called in the audit log;
// guard (auth.go) enforces it for every route, and the OpenAPI document is
// built from it.
//
// The package depends on the lake and the metadata store through small
// interfaces declared where they are used (DatasetLister, MetaStore), so
// tests run the handlers with net/http/httptest against a real metadata
// store on a temporary SQLite file.
package api
