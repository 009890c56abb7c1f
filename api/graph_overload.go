package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/graph"
)

// overloadRetryAfter is the Retry-After (seconds) of an answer refused
// because the query engine's memory was taken: queries end in seconds.
const overloadRetryAfter = "1"

// overloadStatus wraps a GraphQL response writer so that an answer that
// failed as a whole because the engine was overloaded (every error
// OVERLOADED, no field answered) leaves as 429 with Retry-After, as REST
// answers: clients and proxies back off on the status, not on the body.
// An answer with some data stays 200, its errors per field. WebSocket
// upgrades are left alone.
func overloadStatus(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return w
	}
	return &overloadWriter{ResponseWriter: w}
}

type overloadWriter struct {
	http.ResponseWriter
	started bool
}

func (w *overloadWriter) WriteHeader(status int) {
	w.started = true
	w.ResponseWriter.WriteHeader(status)
}

// Write decides the status on the first write: gqlgen writes an answer in
// one piece.
func (w *overloadWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.started = true
		if overloadedAnswer(b) {
			w.Header().Set(echo.HeaderRetryAfter, overloadRetryAfter)
			w.ResponseWriter.WriteHeader(http.StatusTooManyRequests)
		}
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *overloadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// overloadedAnswer reports whether a GraphQL answer has errors, all
// OVERLOADED, and no data: null, or an object whose every field is null.
func overloadedAnswer(b []byte) bool {
	if !bytes.HasPrefix(b, []byte(`{"errors":`)) || !bytes.Contains(b, []byte(graph.CodeOverloaded)) {
		return false
	}
	var resp struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(b, &resp) != nil || len(resp.Errors) == 0 {
		return false
	}
	for _, e := range resp.Errors {
		if e.Extensions.Code != graph.CodeOverloaded {
			return false
		}
	}
	if len(resp.Data) == 0 || string(resp.Data) == "null" {
		return true
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(resp.Data, &fields) != nil {
		return false
	}
	for _, v := range fields {
		if string(v) != "null" {
			return false
		}
	}
	return true
}
