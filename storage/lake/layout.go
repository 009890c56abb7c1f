package lake

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Layout: <dataset>/dt=YYYY-MM-DD/hr=HH/<source>-<ulid>.parquet, UTC.

const segmentExt = ".parquet"

// partitionKey returns the key prefix of one hour partition of a dataset.
func partitionKey(dataset string, hour time.Time) string {
	hour = hour.UTC()
	return fmt.Sprintf("%s/dt=%s/hr=%02d", dataset, hour.Format(time.DateOnly), hour.Hour())
}

// segmentKey returns the key of a new segment.
func segmentKey(dataset string, hour time.Time, source string, id ulid.ULID) string {
	return partitionKey(dataset, hour) + "/" + source + "-" + id.String() + segmentExt
}

// keyInfo is what a segment key says about its file.
type keyInfo struct {
	Dataset string
	Hour    time.Time
	Source  string
	ID      ulid.ULID
}

// parseKey parses a segment key made by segmentKey.
func parseKey(key string) (keyInfo, error) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 {
		return keyInfo{}, fmt.Errorf("segment key %q: want <dataset>/dt=YYYY-MM-DD/hr=HH/<source>-<ulid>.parquet", key)
	}
	dt, okDt := strings.CutPrefix(parts[1], "dt=")
	hr, okHr := strings.CutPrefix(parts[2], "hr=")
	if !okDt || !okHr {
		return keyInfo{}, fmt.Errorf("segment key %q: partition folders must be dt=… and hr=…", key)
	}
	hour, err := time.Parse(time.DateOnly+" 15", dt+" "+hr)
	if err != nil {
		return keyInfo{}, fmt.Errorf("segment key %q: bad partition: %w", key, err)
	}
	base, ok := strings.CutSuffix(parts[3], segmentExt)
	i := strings.LastIndexByte(base, '-')
	if !ok || i <= 0 {
		return keyInfo{}, fmt.Errorf("segment key %q: file name must be <source>-<ulid>.parquet", key)
	}
	id, err := ulid.ParseStrict(base[i+1:])
	if err != nil {
		return keyInfo{}, fmt.Errorf("segment key %q: bad ulid: %w", key, err)
	}
	return keyInfo{Dataset: parts[0], Hour: hour.UTC(), Source: base[:i], ID: id}, nil
}

// validSource reports whether s can name a segment's source: it becomes part
// of a file name, so it must be short and free of separators.
func validSource(s string) error {
	if s == "" || len(s) > 64 || s != path.Base(s) || strings.HasPrefix(s, ".") {
		return fmt.Errorf("source %q: want 1-64 characters, no slash, not starting with a dot", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("source %q: character %q not allowed (letters, digits, - _ .)", s, r)
		}
	}
	return nil
}

// hourOf truncates a microsecond timestamp to its UTC hour.
func hourOf(us int64) time.Time {
	const hourUS = int64(time.Hour / time.Microsecond)
	h := us / hourUS
	if us < 0 && us%hourUS != 0 {
		h--
	}
	return time.UnixMicro(h * hourUS).UTC()
}
