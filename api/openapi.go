package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flowlake/flowlake/storage/meta"
)

// The OpenAPI document is built from the route table and the Go types of
// request and response bodies, so it cannot drift from what the server
// registers and returns; TestOpenAPIMatchesRoutes checks both directions.

// openAPIDoc answers GET /api/v1/openapi.json.
func (s *Server) openAPIDoc(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, s.openapi)
}

// openAPIPath turns an echo path (/users/:id) into an OpenAPI one
// (/users/{id}) and returns its parameter names.
func openAPIPath(p string) (string, []string) {
	parts := strings.Split(p, "/")
	var params []string
	for i, part := range parts {
		if name, ok := strings.CutPrefix(part, ":"); ok {
			parts[i] = "{" + name + "}"
			params = append(params, name)
		}
	}
	return strings.Join(parts, "/"), params
}

// operationID names an operation after its method and path.
func operationID(r route) string {
	id := strings.ToLower(r.method) + strings.NewReplacer("/", "_", "-", "_", ":", "", ".", "_").Replace(r.path)
	return strings.TrimSuffix(id, "_")
}

// openAPIDocument renders the OpenAPI 3.0 document of a route table.
func openAPIDocument(table []route) ([]byte, error) {
	g := &schemaGen{schemas: map[string]any{}, names: map[string]reflect.Type{}}
	if _, err := g.schemaOf(reflect.TypeFor[Problem]()); err != nil {
		return nil, err
	}
	problem := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{
			ProblemContentType: map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	}
	paths := map[string]map[string]any{}
	for _, r := range table {
		path, params := openAPIPath(r.path)
		op := map[string]any{
			"operationId": operationID(r),
			"summary":     r.summary,
			"tags":        []string{r.tag},
		}
		var parameters []any
		for _, p := range params {
			parameters = append(parameters, map[string]any{"name": p, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range r.query {
			sch := map[string]any{"type": q.format}
			if q.format == "date-time" {
				sch = map[string]any{"type": "string", "format": "date-time"}
			}
			parameters = append(parameters, map[string]any{"name": q.name, "in": "query", "description": q.description, "schema": sch})
		}
		if len(parameters) > 0 {
			op["parameters"] = parameters
		}
		switch r.access {
		case public:
			op["security"] = []any{}
			op["description"] = "No credentials needed."
		case authenticated:
			op["description"] = "Any authenticated caller."
		case permitted:
			op["description"] = "Needs permission `" + string(r.perm) + "`."
			op["x-flowlake-permission"] = string(r.perm)
		}
		if r.action != "" {
			op["x-flowlake-audit-action"] = r.action
		}
		if r.request != nil {
			sch, err := g.schemaOf(reflect.TypeOf(r.request))
			if err != nil {
				return nil, fmt.Errorf("%s %s request: %w", r.method, r.path, err)
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": sch}}}
		}
		status := r.status
		if status == 0 {
			status = http.StatusOK
		}
		ok := map[string]any{"description": http.StatusText(status)}
		switch {
		case r.response != nil:
			sch, err := g.schemaOf(reflect.TypeOf(r.response))
			if err != nil {
				return nil, fmt.Errorf("%s %s response: %w", r.method, r.path, err)
			}
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": sch}}
		case r.path == PathMetrics:
			ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
		case r.path == PathOpenAPI:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}
		}
		responses := map[string]any{fmt.Sprint(status): ok, "default": problem("An error, as an RFC 7807 problem document")}
		if r.access != public {
			responses["401"] = problem("Missing, invalid or expired credentials")
		}
		if r.access == permitted {
			responses["403"] = problem("The caller lacks the permission")
		}
		if r.path == PathLogin {
			responses["401"] = problem("Wrong name or password")
			responses["429"] = problem("Too many failed logins for this name from this address; see Retry-After")
		}
		op["responses"] = responses
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(r.method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Flowlake API",
			"version":     "1",
			"description": "Flowlake's REST API. Authenticate with `Authorization: Bearer <token>` or the session cookie set by POST /api/v1/login. Errors are RFC 7807 problem documents with a stable `code`.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "An API token (flk_...)."},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie, "description": "The session cookie of POST /api/v1/login."},
			},
		},
		"security": []any{map[string]any{"bearer": []string{}}, map[string]any{"session": []string{}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// schemaGen derives JSON schemas from Go types by their json tags; named
// structs become components referenced by $ref.
type schemaGen struct {
	schemas map[string]any
	names   map[string]reflect.Type
}

var (
	timeType       = reflect.TypeFor[time.Time]()
	durationType   = reflect.TypeFor[meta.Duration]()
	permissionType = reflect.TypeFor[meta.Permission]()
)

func (g *schemaGen) schemaOf(t reflect.Type) (map[string]any, error) {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case durationType:
		return map[string]any{"type": "string", "description": "a duration: 30s, 15m, 1h30m, 90d", "example": "15m"}, nil
	case permissionType:
		var enum []string
		for _, p := range meta.AllPermissions() {
			enum = append(enum, string(p))
		}
		return map[string]any{"type": "string", "enum": enum}, nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schemaOf(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Slice, reflect.Array:
		items, err := g.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case reflect.Map:
		vals, err := g.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "object", "additionalProperties": vals}, nil
	case reflect.Struct:
		return g.structRef(t)
	case reflect.Interface:
		return map[string]any{}, nil // any JSON value
	}
	return nil, fmt.Errorf("type %s: no JSON schema", t)
}

// structRef registers a struct's schema as a component and returns a
// reference to it.
func (g *schemaGen) structRef(t reflect.Type) (map[string]any, error) {
	name := t.Name()
	if name == "" {
		return nil, fmt.Errorf("anonymous struct %s: name it", t)
	}
	ref := map[string]any{"$ref": "#/components/schemas/" + name}
	if prev, ok := g.names[name]; ok {
		if prev != t {
			return nil, fmt.Errorf("schema name %s used by %s and %s", name, prev, t)
		}
		return ref, nil
	}
	g.names[name] = t
	props := map[string]any{}
	var required []string
	if err := g.fields(t, props, &required); err != nil {
		return nil, err
	}
	sch := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sch["required"] = required
	}
	g.schemas[name] = sch
	return ref, nil
}

// fields adds t's JSON fields to props, flattening embedded structs the
// way encoding/json does.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) error {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			if err := g.fields(f.Type, props, required); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		sch, err := g.schemaOf(f.Type)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", t.Name(), f.Name, err)
		}
		props[name] = sch
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") || f.Type.Kind() == reflect.Pointer
		if !optional {
			*required = append(*required, name)
		}
	}
	return nil
}
