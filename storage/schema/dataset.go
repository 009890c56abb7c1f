package schema

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/parquet-go/parquet-go"
)

// FormatVersion is the version of Flowlake's on-disk segment format. It is
// written into every file's key-value metadata under MetaFormatVersion;
// readers refuse files whose version they do not know.
const FormatVersion = "1"

// Key-value metadata keys written into every segment's footer.
const (
	MetaFormatVersion = "flowlake.format_version"
	MetaDataset       = "flowlake.dataset"
	MetaSource        = "flowlake.source"
	MetaMinTime       = "flowlake.min_time"
	MetaMaxTime       = "flowlake.max_time"
)

// Dataset names.
const (
	Flows      = "flows"
	TCPConns   = "tcp_conns"
	TCPPackets = "tcp_packets"
	DHCPEvents = "dhcp_events"
	DHCPLeases = "dhcp_leases"
	CloudConns = "cloud_conn"
	FlowLosses = "flow_loss"
)

// Row is implemented by the record type of every dataset.
type Row interface {
	Flow | TCPConn | TCPPacket | DHCPEvent | DHCPLease | CloudConn | FlowLoss | Flows1mRow | Flows1hRow | Flows1dRow | FlowHostRow | FlowHost1dRow |
		TCPConn1dRow | DHCPEvent1dRow | CloudConn1dRow | FlowLoss1dRow
}

// EventTime returns a row's time column (µs since epoch, UTC): the key of
// partitioning and sort order in every dataset.
func EventTime[T Row](r *T) int64 {
	switch v := any(r).(type) {
	case *Flow:
		return v.Time
	case *TCPConn:
		return v.Time
	case *TCPPacket:
		return v.Time
	case *DHCPEvent:
		return v.Time
	case *DHCPLease:
		return v.Time
	case *CloudConn:
		return v.Time
	case *FlowLoss:
		return v.Time
	case *Flows1mRow:
		return v.Time
	case *Flows1hRow:
		return v.Time
	case *Flows1dRow:
		return v.Time
	case *FlowHostRow:
		return v.Time
	case *FlowHost1dRow:
		return v.Time
	case *TCPConn1dRow:
		return v.Time
	case *DHCPEvent1dRow:
		return v.Time
	case *CloudConn1dRow:
		return v.Time
	case *FlowLoss1dRow:
		return v.Time
	}
	return 0 // unreachable: the Row constraint lists exactly the cases above
}

// Column describes one column of a dataset, as docs/schema.md shows it.
type Column struct {
	Name     string
	Physical string // Parquet physical/logical type, e.g. "INT64 TIMESTAMP(µs, UTC)"
	Arrow    arrow.DataType
	Nullable bool
	Unit     string
	Doc      string
	Origin   string
}

// Dataset describes one table of the lake: its name, record type and the
// schemas derived from that type.
type Dataset struct {
	Name string
	Doc  string
	Type reflect.Type
	// DerivedFrom names the dataset a rollup is built from; empty for the
	// datasets collected from the network.
	DerivedFrom string
	Parquet     *parquet.Schema
	Arrow       *arrow.Schema
	Columns     []Column
}

// Column returns the named column and whether it exists.
func (d *Dataset) Column(name string) (Column, bool) {
	for _, c := range d.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

var datasets = sync.OnceValue(func() []*Dataset {
	return []*Dataset{
		describe[Flow](Flows, "One row per flow record after sampling correction and enrichment."),
		describe[TCPConn](TCPConns, "One row per traced TCP connection that closed."),
		describe[TCPPacket](TCPPackets, "The last N traced packets of each tcp_conns connection."),
		describe[DHCPEvent](DHCPEvents, "One row per DHCP message seen."),
		describe[DHCPLease](DHCPLeases, "One row per binding of an address to a DHCP client, renewals merged: who held an address when."),
		describe[CloudConn](CloudConns, "One row per observed state of a device-to-cloud management connection."),
		describe[FlowLoss](FlowLosses, "One row per exporter domain per interval (traffic, sequence gaps, lost flows and datagrams), and per edge-wide drop cause per interval: what a flow collector lost."),
		derived(describe[Flows1mRow](Flows1m, "Rollup of flows: one row per minute and combination of the low-cardinality dimensions."), Flows),
		derived(describe[Flows1hRow](Flows1h, "Rollup of flows: one row per hour and combination of the low-cardinality dimensions."), Flows),
		derived(describe[Flows1dRow](Flows1d, "Rollup of flows: one row per UTC day and combination of the low-cardinality dimensions."), Flows),
		derived(describe[FlowHostRow](FlowHosts1h, "Rollup of flows: every host's traffic per hour, as source and as destination."), Flows),
		derived(describe[FlowHost1dRow](FlowHosts1d, "Rollup of flows: every host's traffic per UTC day, as source and as destination."), Flows),
		derived(describe[TCPConn1dRow](TCPConns1d, "Rollup of tcp_conns: connections and packet counters per UTC day and combination of the low-cardinality columns."), TCPConns),
		derived(describe[DHCPEvent1dRow](DHCPEvents1d, "Rollup of dhcp_events: messages per UTC day and combination of the low-cardinality columns (rogue servers' addresses kept)."), DHCPEvents),
		derived(describe[CloudConn1dRow](CloudConns1d, "Rollup of cloud_conn: observations per UTC day and combination of the low-cardinality columns, last downs kept."), CloudConns),
		derived(describe[FlowLoss1dRow](FlowLosses1d, "Rollup of flow_loss: intervals and loss counters summed per UTC day, exporter domain and drop cause."), FlowLosses),
	}
})

// All returns every dataset in a stable order.
func All() []*Dataset { return datasets() }

// Lookup returns the dataset with the given name.
func Lookup(name string) (*Dataset, error) {
	for _, d := range datasets() {
		if d.Name == name {
			return d, nil
		}
	}
	return nil, fmt.Errorf("unknown dataset %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names returns the dataset names in a stable order.
func Names() []string {
	var names []string
	for _, d := range datasets() {
		names = append(names, d.Name)
	}
	return names
}

// DatasetOf returns the dataset whose record type is T.
func DatasetOf[T Row]() *Dataset {
	t := reflect.TypeFor[T]()
	for _, d := range datasets() {
		if d.Type == t {
			return d
		}
	}
	panic("schema: unreachable: Row type without dataset") // the Row constraint lists exactly the described types
}

func describe[T Row](name, doc string) *Dataset {
	t := reflect.TypeFor[T]()
	ps := parquet.SchemaOf(new(T))
	d := &Dataset{Name: name, Doc: doc, Type: t, Parquet: ps}
	fields := make([]arrow.Field, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("parquet"), ",")
		col := Column{
			Name:     tag[0],
			Nullable: hasOpt(tag, "optional"),
			Unit:     f.Tag.Get("unit"),
			Doc:      f.Tag.Get("doc"),
			Origin:   f.Tag.Get("origin"),
		}
		col.Arrow = arrowType(f.Type, hasTimestamp(tag))
		col.Physical = physical(ps, col.Name)
		d.Columns = append(d.Columns, col)
		fields = append(fields, arrow.Field{Name: col.Name, Type: col.Arrow, Nullable: col.Nullable})
	}
	d.Arrow = arrow.NewSchema(fields, nil)
	return d
}

func derived(d *Dataset, from string) *Dataset {
	d.DerivedFrom = from
	return d
}

func hasOpt(tag []string, opt string) bool {
	for _, o := range tag[1:] {
		if o == opt {
			return true
		}
	}
	return false
}

func hasTimestamp(tag []string) bool {
	for _, o := range tag[1:] {
		if strings.HasPrefix(o, "timestamp") {
			return true
		}
	}
	return false
}

// arrowType maps a record field's Go type to the Arrow type a reader of the
// Parquet column produces (pqarrow's mapping of our physical/logical types).
func arrowType(t reflect.Type, timestamp bool) arrow.DataType {
	switch {
	case timestamp:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case t == reflect.TypeFor[Addr]():
		return &arrow.FixedSizeBinaryType{ByteWidth: 16}
	case t == reflect.TypeFor[MAC]():
		return &arrow.FixedSizeBinaryType{ByteWidth: 6}
	}
	switch t.Kind() {
	case reflect.String:
		return arrow.BinaryTypes.String
	case reflect.Bool:
		return arrow.FixedWidthTypes.Boolean
	case reflect.Uint8:
		return arrow.PrimitiveTypes.Uint8
	case reflect.Uint16:
		return arrow.PrimitiveTypes.Uint16
	case reflect.Uint32:
		return arrow.PrimitiveTypes.Uint32
	case reflect.Uint64:
		return arrow.PrimitiveTypes.Uint64
	case reflect.Int32:
		return arrow.PrimitiveTypes.Int32
	case reflect.Int64:
		return arrow.PrimitiveTypes.Int64
	}
	panic(fmt.Sprintf("schema: no Arrow type for Go type %s", t)) // reached only by a schema edit, caught by tests
}

func physical(ps *parquet.Schema, name string) string {
	f, ok := ps.Lookup(name)
	if !ok {
		return ""
	}
	typ := f.Node.Type()
	s := typ.Kind().String()
	if typ.Kind() == parquet.FixedLenByteArray {
		s = fmt.Sprintf("FIXED_LEN_BYTE_ARRAY(%d)", typ.Length())
	}
	if lt := typ.LogicalType(); lt != nil {
		s += " " + lt.String()
	}
	return s
}
