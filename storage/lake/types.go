package lake

import "time"

// Segment describes one published Parquet file of the lake.
type Segment struct {
	Dataset string    `json:"dataset"`
	Key     string    `json:"key"`    // path relative to the lake root, with forward slashes
	Source  string    `json:"source"` // the writer that produced it (edge id, "compact", …)
	Hour    time.Time `json:"hour"`   // the partition hour, UTC
	Rows    int64     `json:"rows"`
	Bytes   int64     `json:"bytes"`
	MinTime time.Time `json:"min_time"`
	MaxTime time.Time `json:"max_time"`
}

// DatasetStats summarises one dataset of the lake.
type DatasetStats struct {
	Dataset    string    `json:"dataset"`
	Rows       int64     `json:"rows"`
	Bytes      int64     `json:"bytes"`
	Files      int       `json:"files"`
	Partitions int       `json:"partitions"` // hour partitions holding at least one file
	MinTime    time.Time `json:"min_time"`   // zero when the dataset is empty
	MaxTime    time.Time `json:"max_time"`
}

// BytesPerRow returns the average on-disk size of a row (0 when empty).
func (s DatasetStats) BytesPerRow() float64 {
	if s.Rows == 0 {
		return 0
	}
	return float64(s.Bytes) / float64(s.Rows)
}

// CompactResult reports what one compaction pass did.
type CompactResult struct {
	Partitions  int   `json:"partitions"`   // hour partitions rewritten
	FilesBefore int   `json:"files_before"` // segments merged
	FilesAfter  int   `json:"files_after"`  // segments written
	Rows        int64 `json:"rows"`         // rows moved (equal before and after)
	BytesBefore int64 `json:"bytes_before"`
	BytesAfter  int64 `json:"bytes_after"`
}

// RetentionPolicy says what retention deletes: partitions older than the
// per-dataset maximum age, then, while the lake is larger than MaxBytes, the
// oldest partitions of any dataset.
type RetentionPolicy struct {
	MaxAge   map[string]time.Duration `json:"max_age" yaml:"max_age"`     // by dataset; 0 or absent keeps forever
	MaxBytes int64                    `json:"max_bytes" yaml:"max_bytes"` // 0 disables the disk threshold
}

// RetentionResult reports what one retention pass deleted.
type RetentionResult struct {
	Partitions int      `json:"partitions"`
	Files      int      `json:"files"`
	Rows       int64    `json:"rows"`
	Bytes      int64    `json:"bytes"`
	Deleted    []string `json:"deleted"` // partition keys, e.g. flows/dt=2026-11-01/hr=03
}

// Problem is one file that Verify found unreadable or foreign.
type Problem struct {
	Key string `json:"key"`
	Err string `json:"error"`
}
