package graph

import (
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/flowlake/flowlake/storage/schema"
)

// recordType binds one dataset of storage/schema to its GraphQL names:
// the record type (the Go record type's name), the Query field listing it
// and one GraphQL field per column.
type recordType struct {
	dataset  *schema.Dataset
	typeName string // Flow, TCPConn, …
	field    string // flows, tcpConns, …
	fields   []recordField
}

// recordField is one column as a GraphQL field.
type recordField struct {
	name     string // camelCase: srcAddr
	column   string // the lake's column: src_addr
	gqlType  string // IP, Time, Int, Int64, UInt64, String, Boolean, MAC
	nullable bool
	doc      string
}

// recordTypes is derived once from storage/schema.
var recordTypes = sync.OnceValue(func() []recordType {
	var out []recordType
	for _, d := range schema.All() {
		rt := recordType{dataset: d, typeName: d.Type.Name(), field: camel(d.Name)}
		for _, c := range d.Columns {
			rt.fields = append(rt.fields, recordField{
				name: camel(c.Name), column: c.Name, gqlType: gqlScalar(c),
				nullable: c.Nullable, doc: columnDoc(c),
			})
		}
		out = append(out, rt)
	}
	return out
})

// recordTypeOf returns the binding of a dataset.
func recordTypeOf(dataset string) (recordType, bool) {
	for _, rt := range recordTypes() {
		if rt.dataset.Name == dataset {
			return rt, true
		}
	}
	return recordType{}, false
}

// camel turns a snake_case column or dataset name into a GraphQL field
// name: src_addr → srcAddr, flows_hosts_1h → flowsHosts1h.
func camel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// gqlScalar maps a column's Arrow type to its GraphQL scalar. Integers
// that fit 32 signed bits are Int; uint32 and int64 are Int64, uint64 is
// UInt64 (both JSON numbers); addresses are IP, MACs MAC (text).
func gqlScalar(c schema.Column) string {
	switch t := c.Arrow.(type) {
	case *arrow.TimestampType:
		return "Time"
	case *arrow.FixedSizeBinaryType:
		if t.ByteWidth == 6 {
			return "MAC"
		}
		return "IP"
	}
	switch c.Arrow.ID() {
	case arrow.STRING:
		return "String"
	case arrow.BOOL:
		return "Boolean"
	case arrow.UINT8, arrow.UINT16, arrow.INT8, arrow.INT16, arrow.INT32:
		return "Int"
	case arrow.UINT32, arrow.INT64:
		return "Int64"
	case arrow.UINT64:
		return "UInt64"
	}
	panic(fmt.Sprintf("graph: no GraphQL scalar for column %s of type %s", c.Name, c.Arrow)) // reached only by a schema edit, caught by TestRecordsSchema
}

func columnDoc(c schema.Column) string {
	doc := c.Doc
	if t := gqlScalar(c); c.Unit != "" && t != "Time" && t != "IP" { // storage units, not the API's
		doc += " Unit: " + c.Unit + "."
	}
	return doc + " Column `" + c.Name + "`."
}

// recordsSDL renders records.graphqls: one record type, edge and
// connection per dataset, and the Query fields listing them.
func recordsSDL() string {
	var b strings.Builder
	b.WriteString("# Code generated from storage/schema by TestRecordsSchema (go test ./graph -run TestRecordsSchema -update); DO NOT EDIT.\n")
	for _, rt := range recordTypes() {
		fmt.Fprintf(&b, "\n%stype %s {\n", description("", rt.dataset.Doc+" A row of dataset `"+rt.dataset.Name+"`."), rt.typeName)
		for _, f := range rt.fields {
			bang := "!"
			if f.nullable {
				bang = ""
			}
			fmt.Fprintf(&b, "%s  %s: %s%s\n", description("  ", f.doc), f.name, f.gqlType, bang)
		}
		b.WriteString("}\n")
		fmt.Fprintf(&b, "\n\"\"\"A %s with its cursor.\"\"\"\ntype %sEdge {\n  \"\"\"Pass it as `after` to continue after this row.\"\"\"\n  cursor: String!\n  node: %s!\n}\n", rt.typeName, rt.typeName, rt.typeName)
		fmt.Fprintf(&b, "\n\"\"\"A page of dataset `%s` (Relay connection).\"\"\"\ntype %sConnection {\n  edges: [%sEdge!]!\n  \"\"\"The rows of the page without their cursors.\"\"\"\n  nodes: [%s!]!\n  pageInfo: PageInfo!\n  \"\"\"Rows matching the filter in the time range: one more (aggregate) query, run only when selected.\"\"\"\n  totalCount: Int64!\n  \"\"\"How the engine answered and what it cost.\"\"\"\n  plan: QueryPlan!\n}\n",
			rt.dataset.Name, rt.typeName, rt.typeName, rt.typeName)
	}
	b.WriteString("\nextend type Query {\n")
	for _, rt := range recordTypes() {
		fmt.Fprintf(&b, `  """
  Raw rows of dataset %[1]s, a page at a time (forward Relay pagination).
  from/to bound event time like the query API (RFC 3339, a date, "now" or
  -30m/-24h/-7d; default the last 24 hours), filter is the filter language,
  orderBy lists columns ("-" for descending; default time). Requires
  analysis.read.
  """
  %[2]s(from: String, to: String, timeZone: String, filter: String, orderBy: [String!], first: Int = 100, after: String): %[3]sConnection!
`, "`"+rt.dataset.Name+"`", rt.field, rt.typeName)
	}
	b.WriteString("}\n")
	return b.String()
}

// description renders a GraphQL block-string description.
func description(indent, s string) string {
	s = strings.ReplaceAll(s, `"""`, `\"""`)
	return indent + `"""` + s + `"""` + "\n"
}
