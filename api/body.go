package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// maxBody bounds the JSON request bodies of every endpoint but segment
// uploads: queries, users, tokens, objects, settings.
const maxBody = 1 << 20

// errBodyTooLarge marks a body over maxBody; decodeJSON answers it 413.
var errBodyTooLarge = errors.New("body too large")

// decodeJSON reads the request body into v strictly: JSON only (no
// Content-Type, or application/json: anything else is 415), no unknown
// fields, no trailing data, at most maxBody bytes (413, refused before
// reading when Content-Length already says so). The body itself never
// reaches an error message beyond the decoder's position and a character
// of it, so a malformed body with a password in it cannot be logged.
func decodeJSON(c echo.Context, v any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != echo.MIMEApplicationJSON {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send the body as application/json")
		}
	}
	if req.ContentLength > maxBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes exceeds the limit of %d", req.ContentLength, maxBody))
	}
	err := decodeStrict(http.MaxBytesReader(c.Response(), req.Body, maxBody), v)
	switch {
	case errors.Is(err, errBodyTooLarge):
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxBody))
	case err != nil:
		return fmt.Errorf("%w: body: %w", ErrInvalid, err)
	}
	return nil
}

// decodeStrict decodes exactly one JSON value from r into v: unknown
// fields and anything but white space after the value are errors. A read
// that hits http.MaxBytesReader's limit is errBodyTooLarge, wherever it
// happens (in the value or after it). Error messages name the offset and
// the kind of fault, never the body's text.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err, dec)
	}
	// Token, unlike More, also refuses a stray '}' or ']' after the value.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil && !isSyntax(err) {
			return bodyError(err, dec)
		}
		return fmt.Errorf("data after the JSON value at offset %d", dec.InputOffset())
	}
	return nil
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

// bodyError turns a decoder error into one that is safe to show and log.
// encoding/json's messages quote at most one character of the input, a
// type name or a field name; a field name is the client's text, so an
// unknown field is reported by its offset only when it is long.
func bodyError(err error, dec *json.Decoder) error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return errBodyTooLarge
	case errors.Is(err, io.EOF):
		return errors.New("empty: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("JSON ends early: the body is cut short")
	case errors.As(err, &ute):
		field := ute.Field
		if field == "" {
			field = "the body"
		}
		// Value is "number 1234…" for a number out of range: keep the kind.
		kind, _, _ := strings.Cut(ute.Value, " ")
		return fmt.Errorf("%s: got a JSON %s, want %s (offset %d)", clip(field), kind, ute.Type, ute.Offset)
	}
	return errors.New(clip(err.Error()))
}

// clip bounds a message derived from client input.
func clip(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// maxLoggedError bounds the text of an error written to the server log: a
// server error wrapping client input (a panic value, a store error quoting
// a name) must not let one request grow the log by megabytes.
const maxLoggedError = 1 << 10

// clipLog bounds an error message for the server log.
func clipLog(s string) string {
	if len(s) <= maxLoggedError {
		return s
	}
	return s[:maxLoggedError] + fmt.Sprintf("… (%d bytes cut)", len(s)-maxLoggedError)
}
