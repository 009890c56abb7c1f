package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// httpTransport serves GraphQL over plain HTTP: POST with a JSON body and
// GET with the request in the URL (queries only). It replaces gqlgen's
// GET and POST transports, which read bodies without a bound, echo a
// malformed body into the error (and so into the log, passwords
// included) and answer every refusal 200 or 422. Here the body is capped
// before it is read whole (413), a malformed request is a 400 whose
// message says what and where without quoting it, and every refusal
// before execution gets the status of its code (httpStatus).
type httpTransport struct {
	maxBody int64
	// slots admits operations: one buffered element per operation
	// running; an operation waits up to wait for one.
	slots chan struct{}
	wait  time.Duration
}

var _ graphql.Transport = httpTransport{}

// Supports claims GET and POST requests that are not WebSocket upgrades.
func (httpTransport) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" {
		return false
	}
	return r.Method == http.MethodGet || r.Method == http.MethodPost
}

// Do answers one request.
func (t httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	w.Header().Set("Content-Type", "application/json")
	params, err := t.read(w, r)
	if err != nil {
		writeResponse(w, httpStatus(gqlerror.List{err}), exec.DispatchError(ctx, gqlerror.List{err}))
		return
	}
	params.Headers = r.Header
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		writeResponse(w, httpStatus(errs), exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs))
		return
	}
	if r.Method == http.MethodGet && oc.Operation.Operation != ast.Query {
		err := requestError(CodeBadRequest, "GET requests only allow query operations; send mutations by POST")
		writeResponse(w, http.StatusNotAcceptable, exec.DispatchError(graphql.WithOperationContext(ctx, oc), gqlerror.List{err}))
		return
	}
	if !t.admit(ctx) {
		err := requestError(CodeOverloaded, "the server is running as many GraphQL operations as it may (%d); retry in a moment", cap(t.slots))
		writeResponse(w, http.StatusTooManyRequests, exec.DispatchError(graphql.WithOperationContext(ctx, oc), gqlerror.List{err}))
		return
	}
	defer func() { <-t.slots }()
	handler, ctx := exec.DispatchOperation(ctx, oc)
	resp := handler(ctx)
	if resp == nil { // the client went away before the answer
		return
	}
	writeResponse(w, failureStatus(resp), resp)
}

// admit takes a slot for an operation, waiting up to t.wait; false when
// none freed in time or the client left.
func (t httpTransport) admit(ctx context.Context) bool {
	select {
	case t.slots <- struct{}{}:
		return true
	default:
	}
	timer := time.NewTimer(t.wait)
	defer timer.Stop()
	select {
	case t.slots <- struct{}{}:
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}

// read decodes the request's parameters.
func (t httpTransport) read(w http.ResponseWriter, r *http.Request) (*graphql.RawParams, *gqlerror.Error) {
	start := graphql.Now()
	params := &graphql.RawParams{}
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, requestError(CodeBadRequest, "query string: %v", err)
		}
		params.Query, params.OperationName = q.Get("query"), q.Get("operationName")
		for _, p := range []struct {
			name string
			to   *map[string]any
		}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
			if v := q.Get(p.name); v != "" {
				if err := decodeJSON([]byte(v), p.to); err != nil {
					return nil, requestError(CodeBadRequest, "%s parameter is not a JSON object: %v", p.name, err)
				}
			}
		}
	} else {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return nil, requestError(CodeUnsupportedMediaType, "a GraphQL POST body is application/json, not %q", r.Header.Get("Content-Type"))
		}
		if r.ContentLength > t.maxBody {
			return nil, tooLarge(t.maxBody)
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.maxBody))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge(t.maxBody)
		case err != nil:
			return nil, requestError(CodeBadRequest, "read request body: %v", err)
		}
		if err := decodeJSON(body, params); err != nil {
			return nil, requestError(CodeBadRequest, "request body is not a GraphQL request in JSON: %v", err)
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	return params, nil
}

func tooLarge(limit int64) *gqlerror.Error {
	err := requestError(CodeRequestTooLarge, "request body larger than the limit of %d bytes", limit)
	err.Extensions["limit"] = limit
	return err
}

// decodeJSON decodes one JSON value into v, numbers kept as json.Number
// (as gqlgen expects) and nothing after it. Its errors say what is wrong
// and at which byte, never quoting the input.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("at byte %d: %w", se.Offset, err)
		case errors.As(err, &te):
			return fmt.Errorf("at byte %d: %s is a JSON %s, not %s", te.Offset, fieldOr(te.Field, "the body"), te.Value, jsonKind(te.Type.Kind()))
		case errors.Is(err, io.EOF):
			return errors.New("empty")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("at byte %d: unexpected end of JSON", len(data))
		}
		return err
	}
	if dec.More() {
		return fmt.Errorf("at byte %d: data after the JSON value", dec.InputOffset())
	}
	return nil
}

// jsonKind names the JSON value a Go kind decodes from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}

func fieldOr(field, def string) string {
	if field == "" {
		return def
	}
	return field
}

// requestError is a refusal of the request itself, with its code.
func requestError(code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": code}
	return err
}

// writeResponse writes resp with status.
func writeResponse(w http.ResponseWriter, status int, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		// Data is raw JSON gqlgen built and errors are plain values: only
		// a broken marshaler gets here.
		status = http.StatusInternalServerError
		b = []byte(`{"errors":[{"message":"internal error: response does not encode","extensions":{"code":"INTERNAL"}}]}`)
	}
	if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1") // operations and engine queries end in seconds
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// failureStatus is 200 for an answer with data, and for a request that
// failed as a whole (data null) the status of its errors' common code
// when it has one (httpStatus), so a proxy or a client that looks only at
// the status sees the refusal.
func failureStatus(resp *graphql.Response) int {
	if len(resp.Errors) == 0 || (len(resp.Data) > 0 && string(resp.Data) != "null") {
		return http.StatusOK
	}
	return httpStatus(resp.Errors)
}

// httpStatus is the status of a request refused or failed as a whole with
// errs: the status of the first error's code (statusOfCode), 200 when
// that code has none.
func httpStatus(errs gqlerror.List) int {
	if len(errs) == 0 {
		return http.StatusOK
	}
	code, _ := errs[0].Extensions["code"].(string)
	if s := statusOfCode(code); s != 0 {
		return s
	}
	return http.StatusOK
}
