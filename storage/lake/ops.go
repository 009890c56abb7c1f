package lake

import (
	"context"
	"fmt"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/flowlake/flowlake/storage/schema"
)

// datasetOps are the row-type-specific operations of one dataset, so code
// that handles any dataset by name dispatches in one place.
type datasetOps interface {
	// check decodes every row of f and checks them against its footer;
	// hash, when not nil, receives a hash of every row.
	check(ctx context.Context, f *parquet.File, fi fileInfo, hash *rowHasher) error
	// compact merges the inputs of one hour partition into new files.
	compact(ctx context.Context, l *Lake, hour time.Time, inputs []entry) ([]Segment, error)
}

type ops[T schema.Row] struct{}

func (ops[T]) check(ctx context.Context, f *parquet.File, fi fileInfo, hash *rowHasher) error {
	return checkRows[T](ctx, f, fi, hash)
}

func (ops[T]) compact(ctx context.Context, l *Lake, hour time.Time, inputs []entry) ([]Segment, error) {
	return compactPartition[T](ctx, l, hour, inputs)
}

func opsFor(dataset string) (datasetOps, error) {
	switch dataset {
	case schema.Flows:
		return ops[schema.Flow]{}, nil
	case schema.TCPConns:
		return ops[schema.TCPConn]{}, nil
	case schema.TCPPackets:
		return ops[schema.TCPPacket]{}, nil
	case schema.DHCPEvents:
		return ops[schema.DHCPEvent]{}, nil
	case schema.DHCPLeases:
		return ops[schema.DHCPLease]{}, nil
	case schema.CloudConns:
		return ops[schema.CloudConn]{}, nil
	case schema.FlowLosses:
		return ops[schema.FlowLoss]{}, nil
	case schema.Flows1m:
		return ops[schema.Flows1mRow]{}, nil
	case schema.Flows1h:
		return ops[schema.Flows1hRow]{}, nil
	case schema.Flows1d:
		return ops[schema.Flows1dRow]{}, nil
	case schema.FlowHosts1h:
		return ops[schema.FlowHostRow]{}, nil
	case schema.FlowHosts1d:
		return ops[schema.FlowHost1dRow]{}, nil
	case schema.TCPConns1d:
		return ops[schema.TCPConn1dRow]{}, nil
	case schema.DHCPEvents1d:
		return ops[schema.DHCPEvent1dRow]{}, nil
	case schema.CloudConns1d:
		return ops[schema.CloudConn1dRow]{}, nil
	case schema.FlowLosses1d:
		return ops[schema.FlowLoss1dRow]{}, nil
	}
	return nil, fmt.Errorf("unknown dataset %q", dataset)
}
