// Package api owns Flowlake's HTTP surface: the echo server, its routes
// (health, readiness, Prometheus metrics and the REST API under /api/v1),
// request logging and metrics, and the single mapping from errors to
// RFC 7807 problem documents.
//
// The package depends on the lake through small interfaces declared where
// they are used (DatasetLister), so tests run the handlers against fakes
// with net/http/httptest.
package api
