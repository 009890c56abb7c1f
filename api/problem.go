package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// overloadRetryAfter is the Retry-After (seconds) of an answer refused
// because the query engine's memory was taken: queries end in seconds.
// (GraphQL answers set theirs in graph's transport.)
const overloadRetryAfter = "1"

// Sentinel errors handlers wrap to choose the status of their problem
// document; see problemFor.
var (
	// ErrInvalid marks a request the client must change (400).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound marks a resource that does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable marks a server that cannot answer yet (503).
	ErrUnavailable = errors.New("unavailable")
	// ErrUnauthenticated marks a request without valid credentials (401).
	ErrUnauthenticated = errors.New("authentication required")
	// ErrForbidden marks a caller that lacks the permission (403).
	ErrForbidden = errors.New("forbidden")
	// ErrRateLimited marks a caller that must wait before retrying (429).
	ErrRateLimited = errors.New("too many attempts")
)

// Problem codes, the machine-readable "code" member of a problem document.
const (
	CodeInvalid          = "invalid"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeUnavailable      = "unavailable"
	CodeUnauthenticated  = "unauthenticated"
	CodeForbidden        = "forbidden"
	CodeConflict         = "conflict"
	CodeImmutable        = "immutable"
	CodeRateLimited      = "rate_limited"
	CodeOverloaded       = "overloaded"
	CodeCSRF             = "csrf"
	CodeTimeout          = "timeout"
	CodeCanceled         = "canceled"
	CodeInternal         = "internal"
)

// ProblemContentType is the media type of problem documents (RFC 7807).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 7807 problem document, the body of every error
// response.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Code     string `json:"code"`
	Instance string `json:"instance,omitempty"`
	// Field names the part of a query at fault (bad_query).
	Field string `json:"field,omitempty"`
	// Position is the byte offset of a filter error in the filter text.
	Position *int `json:"position,omitempty"`
}

// statusClientClosedRequest is the de-facto status for a request the client
// abandoned (nginx's 499); nobody reads it but logs and metrics.
const statusClientClosedRequest = 499

// problemFor maps an error to its problem document. It is the one place
// that decides the HTTP status of an error. Server-side failures keep
// their detail out of the response (it goes to the log).
func problemFor(err error) Problem {
	if p, ok := queryProblem(err); ok {
		p.Title = http.StatusText(p.Status)
		p.Type = "urn:flowlake:problem:" + p.Code
		return p
	}
	var he *echo.HTTPError
	status, code, detail := http.StatusInternalServerError, CodeInternal, ""
	switch {
	case errors.As(err, &he):
		status = he.Code
		code = codeForStatus(he.Code)
		if msg, ok := he.Message.(string); ok && msg != http.StatusText(he.Code) {
			detail = msg
		}
	case errors.Is(err, ErrInvalid), errors.Is(err, meta.ErrInvalid), errors.Is(err, query.ErrLeaseQuestion):
		status, code, detail = http.StatusBadRequest, CodeInvalid, err.Error()
	case errors.Is(err, ErrNotFound), errors.Is(err, meta.ErrNotFound):
		status, code, detail = http.StatusNotFound, CodeNotFound, err.Error()
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, meta.ErrUnauthenticated):
		// The detail never says whether the user, the password or the
		// token was wrong.
		status, code, detail = http.StatusUnauthorized, CodeUnauthenticated, "missing, invalid or expired credentials"
	case errors.Is(err, errCSRF):
		status, code, detail = http.StatusForbidden, CodeCSRF, err.Error()
	case errors.Is(err, ErrForbidden):
		status, code, detail = http.StatusForbidden, CodeForbidden, err.Error()
	case errors.Is(err, meta.ErrImmutable):
		status, code, detail = http.StatusConflict, CodeImmutable, err.Error()
	case errors.Is(err, meta.ErrConflict):
		status, code, detail = http.StatusConflict, CodeConflict, err.Error()
	case errors.Is(err, ErrRateLimited):
		status, code, detail = http.StatusTooManyRequests, CodeRateLimited, err.Error()
	case errors.Is(err, query.ErrOverloaded):
		status, code, detail = http.StatusTooManyRequests, CodeOverloaded, err.Error()
	case errors.Is(err, meta.ErrClosed):
		status, code, detail = http.StatusServiceUnavailable, CodeUnavailable, "metadata store unavailable"
	case errors.Is(err, ErrUnavailable):
		status, code, detail = http.StatusServiceUnavailable, CodeUnavailable, err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		status, code, detail = http.StatusGatewayTimeout, CodeTimeout, "the request took too long"
	case errors.Is(err, context.Canceled):
		status, code, detail = statusClientClosedRequest, CodeCanceled, "the request was canceled"
	default:
		detail = "internal error; the server log has the cause"
	}
	title := http.StatusText(status)
	if status == statusClientClosedRequest {
		title = "Client Closed Request"
	}
	return Problem{
		Type:   "urn:flowlake:problem:" + code,
		Title:  title,
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return CodeInvalid
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusNotAcceptable:
		return CodeNotAcceptable
	case http.StatusUnauthorized:
		return CodeUnauthenticated
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusConflict:
		return CodeConflict
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusMethodNotAllowed:
		return CodeMethodNotAllowed
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return CodeTimeout
	}
	if status >= 500 {
		return CodeInternal
	}
	return CodeInvalid
}

// errorHandler is echo's HTTPErrorHandler: every error a handler or the
// router returns leaves as a problem document.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := problemFor(err)
	p.Instance = c.Request().URL.Path
	if p.Status >= 500 {
		s.logger.ErrorContext(c.Request().Context(), "request failed",
			"method", c.Request().Method, "path", c.Request().URL.Path,
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", clipLog(err.Error()))
	}
	if p.Status == http.StatusUnauthorized {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="flowlake"`)
	}
	if p.Code == CodeOverloaded {
		c.Response().Header().Set(echo.HeaderRetryAfter, overloadRetryAfter)
	}
	c.Response().Header().Set(echo.HeaderContentType, ProblemContentType)
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(p.Status)
	} else {
		c.Response().WriteHeader(p.Status)
		werr = c.Echo().JSONSerializer.Serialize(c, p, "")
	}
	if werr != nil {
		s.logger.WarnContext(c.Request().Context(), "write problem", "err", werr)
	}
}
