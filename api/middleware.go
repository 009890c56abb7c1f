package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// recoverPanics turns a handler panic into a 500 problem instead of a
// dropped connection.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("panic in handler: %v", r)
			}
		}()
		return next(c)
	}
}

// requestID propagates the client's X-Request-Id or assigns one, so a
// problem document and the log line about it can be matched.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if id == "" || len(id) > 128 {
			var b [12]byte
			_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

// observe logs every request and counts it in the metrics, by route
// template so that paths with parameters do not explode cardinality.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.metrics.inFlight.Inc()
		err := next(c)
		if err != nil {
			c.Error(err) // writes the problem document, so the status below is final
		}
		s.metrics.inFlight.Dec()
		elapsed := time.Since(start)

		req, res := c.Request(), c.Response()
		route := c.Path()
		if route == "" || res.Status == 404 && route == "/*" {
			route = "unmatched"
		}
		s.metrics.requests.WithLabelValues(req.Method, route, strconv.Itoa(res.Status)).Inc()
		s.metrics.duration.WithLabelValues(req.Method, route).Observe(elapsed.Seconds())

		level := slog.LevelInfo
		switch {
		case res.Status >= 500:
			level = slog.LevelError
		case route == PathHealth || route == PathReady || route == PathMetrics:
			level = slog.LevelDebug
		}
		s.logger.LogAttrs(req.Context(), level, "request",
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("route", route),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Duration("duration", elapsed),
			slog.String("remote", c.RealIP()),
			slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
		)
		return nil
	}
}

// slogPrintln adapts a slog.Logger to promhttp's error logger.
type slogPrintln struct{ l *slog.Logger }

// Println logs promhttp's message at error level.
func (p slogPrintln) Println(v ...any) { p.l.Error("metrics handler", "err", fmt.Sprint(v...)) }
