package api

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
)

// devicePush reads a device-output push (?edge=E&device=D and the text as
// body), shared by the cloud-state and tcp trace endpoints: the edge name
// and device checked, the caller allowed to write for edge, the body read
// whole up to limit bytes (413 beyond). what names the push in errors;
// accepting false answers that this server takes none.
func devicePush(c echo.Context, what string, accepting bool, limit int) (edge, device string, body []byte, err error) {
	edge, device = c.QueryParam("edge"), c.QueryParam("device")
	c.Set(auditTargetKey, edge+"/"+device)
	if !accepting {
		return "", "", nil, fmt.Errorf("%w: this server does not accept %s pushes", ErrUnavailable, what)
	}
	if err := meta.ValidEdgeName(edge); err != nil {
		return "", "", nil, fmt.Errorf("%w: query parameter edge: %v", ErrInvalid, err)
	}
	if len(device) > 128 || strings.ContainsFunc(device, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", "", nil, fmt.Errorf("%w: query parameter device: at most 128 printable characters", ErrInvalid)
	}
	if p := principalOf(c); !p.MayWriteFor(edge) {
		return "", "", nil, fmt.Errorf("%w: this credential may not write for edge %q", ErrForbidden, edge)
	}
	req := c.Request()
	if req.ContentLength > int64(limit) {
		return "", "", nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes exceeds the limit of %d", req.ContentLength, limit))
	}
	body, err = io.ReadAll(io.LimitReader(req.Body, int64(limit)+1))
	if err != nil {
		return "", "", nil, fmt.Errorf("%w: reading the body: %v", ErrInvalid, err)
	}
	if len(body) > limit {
		return "", "", nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", limit))
	}
	return edge, device, body, nil
}
