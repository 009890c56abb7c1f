// Package schema owns the record types of every Flowlake dataset: one tagged
// Go struct per table, from which the Parquet schema, the Arrow schema, the
// column-name constants' meaning and docs/schema.md are all derived. Nothing
// else lives here, so every other package can depend on it.
package schema
