package graph

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// Errors of the graph package, mapped to extension codes by classify.
var (
	// ErrUnauthenticated: the request carries no caller (the server did
	// not authenticate it).
	ErrUnauthenticated = errors.New("authentication required")
	// ErrForbidden: the caller lacks the field's permission.
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid: an argument is out of range.
	ErrInvalid = errors.New("invalid argument")
	// ErrRowLimit: an answer would hold more rows than Config.MaxRows.
	ErrRowLimit = errors.New("row limit exceeded")
	// ErrSubscriptionLimit: the caller holds as many subscriptions as
	// Config.MaxSubscriptionsPerCaller allows.
	ErrSubscriptionLimit = errors.New("subscription limit exceeded")
	// ErrUnavailable: the server has no query engine.
	ErrUnavailable = errors.New("unavailable")
)

// Extension codes: the "code" member of every error's extensions. gqlgen
// adds GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED and
// COMPLEXITY_LIMIT_EXCEEDED itself.
const (
	CodeBadQuery        = "BAD_QUERY"
	CodeMemoryBudget    = "MEMORY_BUDGET"
	CodeOverloaded      = "OVERLOADED" // the server's query memory, or its GraphQL operation slots, are taken: retry later (429)
	CodeInvalid         = "INVALID"
	CodeNotFound        = "NOT_FOUND"
	CodeConflict        = "CONFLICT"
	CodeImmutable       = "IMMUTABLE"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeUnavailable     = "UNAVAILABLE"
	CodeTimeout         = "TIMEOUT"
	CodeCanceled        = "CANCELED"
	CodeInternal        = "INTERNAL"
	CodeDepthLimit      = "DEPTH_LIMIT_EXCEEDED"
	CodeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED" // gqlgen's errcode for extension.FixedComplexityLimit
	CodeFieldLimit      = "FIELD_LIMIT_EXCEEDED"
	CodeAliasLimit      = "ALIAS_LIMIT_EXCEEDED"
	CodeQueryLimit      = "QUERY_LIMIT_EXCEEDED"
	CodeScanLimit       = "SCAN_LIMIT_EXCEEDED"
	CodeRowLimit        = "ROW_LIMIT_EXCEEDED"
	CodeBadRequest      = "BAD_REQUEST"       // a request that is not GraphQL over HTTP (malformed JSON, bad query string)
	CodeRequestTooLarge = "REQUEST_TOO_LARGE" // a body or a document over its limit
	// CodeUnsupportedMediaType: a POST body that is not application/json.
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	codeParseFailed          = "GRAPHQL_PARSE_FAILED"      // gqlgen's
	codeValidationFailed     = "GRAPHQL_VALIDATION_FAILED" // gqlgen's

	// CodeSubscriptionLimit: the caller holds its maximum of
	// subscriptions (Config.MaxSubscriptionsPerCaller).
	CodeSubscriptionLimit = "SUBSCRIPTION_LIMIT_EXCEEDED"
)

// statusOfCode is the HTTP status of a request refused before it ran, or
// failed as a whole, with code; 0 for codes that leave the status 200
// (a field's error beside other fields' data). It is the one place that
// decides GraphQL's HTTP statuses: malformed requests 400, too large 413,
// limits and invalid operations 422 (gqlgen's status for validation),
// as REST answers its equivalents.
func statusOfCode(code string) int {
	switch code {
	case CodeBadRequest, codeParseFailed:
		return http.StatusBadRequest
	case CodeRequestTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case codeValidationFailed, CodeComplexityLimit, CodeDepthLimit, CodeFieldLimit, CodeAliasLimit, CodeQueryLimit,
		CodeScanLimit, CodeRowLimit, CodeMemoryBudget:
		return http.StatusUnprocessableEntity
	case CodeOverloaded, CodeSubscriptionLimit:
		return http.StatusTooManyRequests
	}
	return 0
}

// classify maps an error to its extension code and whether its message may
// be shown (server-side failures are logged, not shown). It is the one
// place that decides the codes; REST's problemFor makes the same choices.
func classify(err error) (code string, public bool) {
	var se *query.SpecError
	switch {
	case errors.As(err, &se):
		return CodeBadQuery, true
	case errors.Is(err, query.ErrMemoryBudget):
		return CodeMemoryBudget, true
	case errors.Is(err, ErrRowLimit):
		return CodeRowLimit, true
	case errors.Is(err, ErrSubscriptionLimit):
		return CodeSubscriptionLimit, true
	case errors.Is(err, query.ErrOverloaded):
		return CodeOverloaded, true
	case errors.Is(err, ErrInvalid), errors.Is(err, meta.ErrInvalid):
		return CodeInvalid, true
	case errors.Is(err, meta.ErrNotFound):
		return CodeNotFound, true
	case errors.Is(err, meta.ErrImmutable):
		return CodeImmutable, true
	case errors.Is(err, meta.ErrConflict):
		return CodeConflict, true
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, meta.ErrUnauthenticated):
		return CodeUnauthenticated, true
	case errors.Is(err, ErrForbidden):
		return CodeForbidden, true
	case errors.Is(err, ErrUnavailable), errors.Is(err, meta.ErrClosed):
		return CodeUnavailable, true
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout, true
	case errors.Is(err, context.Canceled):
		return CodeCanceled, true
	}
	return CodeInternal, false
}

// presenter returns gqlgen's error presenter: every error gets an
// extension code; query errors name the part of the query at fault
// (extensions.field), a filter error its byte offset in the filter
// (extensions.position) and, as its location, where the filter argument
// is in the GraphQL document. Internal errors are logged and their
// message replaced.
func presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var ge *gqlerror.Error
		if errors.As(err, &ge) && ge.Extensions["code"] != nil {
			return ge // gqlgen's own (parse, validation, complexity) or already presented
		}
		out := graphql.DefaultErrorPresenter(ctx, err)
		code, public := classify(err)
		if out.Extensions == nil {
			out.Extensions = map[string]any{}
		}
		out.Extensions["code"] = code
		if !public {
			log.ErrorContext(ctx, "graphql resolver failed", "path", out.Path.String(), "err", err)
			out.Message = "internal error; the server log has the cause"
			return out
		}
		var se *query.SpecError
		if errors.As(err, &se) {
			out.Extensions["field"] = se.Field
			var fe *query.FilterError
			if errors.As(err, &fe) {
				// The filter's own message says where and what once
				// ("filter: at 9: expected …" and its caret line); the
				// wrappers around it would only repeat "filter"
				// (extensions.field says which argument).
				out.Message = fe.Error()
				out.Extensions["position"] = fe.Pos
				if loc, ok := argumentLocation(ctx, "filter", fe.Pos); ok {
					out.Locations = []gqlerror.Location{loc}
				}
			}
		}
		return out
	}
}

// argumentLocation is where the current field's argument name has its
// value in the document; when the value is a string literal on one line
// without escapes, the location moves offset bytes into it, onto the
// offending token itself.
func argumentLocation(ctx context.Context, name string, offset int) (gqlerror.Location, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return gqlerror.Location{}, false
	}
	arg := fc.Field.Arguments.ForName(name)
	if arg == nil || arg.Value == nil || arg.Value.Position == nil {
		return gqlerror.Location{}, false
	}
	p := arg.Value.Position
	loc := gqlerror.Location{Line: p.Line, Column: p.Column}
	raw := arg.Value.Raw
	if arg.Value.Kind != ast.StringValue || p.Src == nil || offset < 0 || offset > len(raw) || strings.Contains(raw[:offset], "\n") {
		return loc, true
	}
	// Positions count runes. Move only when the document holds the value
	// as it is (no escapes), so runes of raw are columns of the line.
	in := []rune(p.Src.Input)
	n := utf8.RuneCountInString(raw)
	for _, k := range []int{p.Start + 1, p.Start} { // the opening quote, or just after it
		if k >= 0 && k+n <= len(in) && string(in[k:k+n]) == raw {
			loc.Column += utf8.RuneCountInString(raw[:offset])
			break
		}
	}
	return loc, true
}
