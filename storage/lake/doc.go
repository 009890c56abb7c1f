// Package lake owns Flowlake's on-disk lake: the partition layout
// (<root>/<dataset>/dt=YYYY-MM-DD/hr=HH/<source>-<ulid>.parquet, UTC), the
// segment writer, atomic publish, the catalog of segments, compaction,
// retention, verification and the blob backends the files live on.
//
// The lake is plain Hive-partitioned Parquet with standard logical types, so
// DuckDB, Spark or Trino read it in place.
package lake
