package lake

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Lake. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// Root is the directory the lake lives in (default "data").
	Root string `yaml:"root" koanf:"root"`
	// RowGroupRows caps the rows of one Parquet row group (default 262144,
	// chosen by measurement: see docs/benchmarks.md). Smaller groups prune
	// finer; larger ones compress and scan slightly better.
	RowGroupRows int `yaml:"row_group_rows" koanf:"row_group_rows"`
	// CompactRows caps the rows of one file written by compaction (default
	// 16 Mi). An hour with more rows is compacted into several files.
	CompactRows int `yaml:"compact_rows" koanf:"compact_rows"`
	// CompactMemory bounds the memory compaction's sort of one hour's flows
	// takes (default 512 MiB): an hour with more rows than fit is written
	// as several sorted runs, each a set of whole row groups in the
	// clustered order, in time order from one run to the next. Smaller
	// budgets cost a little size and address pruning, never correctness.
	CompactMemory int64 `yaml:"compact_memory" koanf:"compact_memory"`
	// BloomBitsPerValue sizes the split-block bloom filters on address
	// columns (default 10, about 1 % false positives).
	BloomBitsPerValue uint `yaml:"bloom_bits_per_value" koanf:"bloom_bits_per_value"`
	// ReplacedGrace is how long files a compaction replaced stay on disk
	// after the run committed (default 0: deleted right after the
	// partition's commit). Flowlake's readers never list them, and on a
	// local file system a query that already opened one keeps reading it;
	// a query that took its snapshot before the run and finds a file gone
	// takes a new snapshot and plans again. Engines that read the lake's
	// files directly (DuckDB, Spark) see an hour's rows twice for as long
	// as the inputs stay, which is why the default is none; raise it on
	// storage where an open file does not survive its deletion.
	ReplacedGrace time.Duration `yaml:"replaced_grace" koanf:"replaced_grace"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Root:              "data",
		RowGroupRows:      256 << 10,
		CompactRows:       16 << 20,
		CompactMemory:     512 << 20,
		BloomBitsPerValue: 10,
		ReplacedGrace:     0,
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	var errs []error
	if c.Root == "" {
		errs = append(errs, errors.New("lake root is empty"))
	}
	if c.RowGroupRows < 1024 {
		errs = append(errs, fmt.Errorf("row_group_rows %d is below 1024", c.RowGroupRows))
	}
	if c.CompactRows < c.RowGroupRows {
		errs = append(errs, fmt.Errorf("compact_rows %d is below row_group_rows %d", c.CompactRows, c.RowGroupRows))
	}
	if c.CompactMemory < 1<<20 {
		errs = append(errs, fmt.Errorf("compact_memory %d is below 1 MiB", c.CompactMemory))
	}
	if c.BloomBitsPerValue == 0 || c.BloomBitsPerValue > 64 {
		errs = append(errs, fmt.Errorf("bloom_bits_per_value %d is outside 1..64", c.BloomBitsPerValue))
	}
	if c.ReplacedGrace < 0 {
		errs = append(errs, fmt.Errorf("replaced_grace %s is negative", c.ReplacedGrace))
	}
	return errors.Join(errs...)
}
