package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// benchQuery is one question asked of the three engines: Flowlake's query,
// the same in DuckDB's SQL over the same Parquet files, and the nfdump
// commands that answer it over the same flows.
type benchQuery struct {
	id, title string
	fl        query.Query
	sql       string
	// nfdump answers the query over the nfcapd files (nil: no nfdump
	// equivalent); nfdumpCmd shows what it runs.
	nfdump    func(ctx context.Context, nf *nfInfo) (answer, error)
	nfdumpCmd string
	// nfProject turns a Flowlake row into what nfdump prints (nil: as is).
	nfProject func([]string) []string
	// shape decides how answers compare: topN (ordered, ties at the
	// cut-off allowed against nfdump), all (every group, ordered) or
	// listing (a multiset of rows).
	shape  shape
	target string // the acceptance target, for the report
}

type shape uint8

const (
	shapeTopN shape = iota
	shapeAll
	shapeListing
)

// answer is a query's result as text rows; values are formatted the way
// Flowlake formats them (addresses as text, IPv4 unmapped; times RFC 3339
// UTC; integers in decimal).
type answer [][]string

// window is the time range the queries ask about.
type window struct {
	from, to time.Time // the whole lake
	day      time.Time // Q3's day
	hour     time.Time // Q4's hour
}

func windowOf(s lakeSpec) window {
	if s.production() {
		return window{from: s.start(), to: s.end(), day: s.start().Truncate(24 * time.Hour), hour: s.start().Truncate(time.Hour)}
	}
	day := s.start().AddDate(0, 0, s.Days/2)
	return window{from: s.start(), to: s.end(), day: day, hour: day.Add(14 * time.Hour)}
}

const (
	filterQ2 = "src net 10.0.0.0/8 and dst port 443 and proto tcp"
	topN     = 10
	// flowsGlob is where DuckDB finds the flows, relative to the lake root.
	flowsGlob = "flows/*/*/*.parquet"
)

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// sqlTime is a TIMESTAMPTZ literal.
func sqlTime(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05") + "+00'"
}

// sqlAddr is a 16-byte address literal, as the lake stores addresses.
func sqlAddr(a netip.Addr) string {
	b := a.As16()
	return "unhex('" + strings.ToUpper(hex.EncodeToString(b[:])) + "')"
}

// buildQueries returns Q1–Q6 over the lake of s. host is Q4's needle.
func buildQueries(s lakeSpec, host netip.Addr) []benchQuery {
	w := windowOf(s)
	all := func(q query.Query) query.Query {
		q.Dataset = schema.Flows
		if q.From == "" {
			q.From, q.To = rfc(w.from), rfc(w.to)
		}
		return q
	}
	lo10, hi10 := netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("10.255.255.255")
	dayFilter := fmt.Sprintf("time >= %s AND time < %s AND dt = DATE '%s'", sqlTime(w.day), sqlTime(w.day.AddDate(0, 0, 1)), w.day.Format(time.DateOnly))
	hourFilter := fmt.Sprintf("time >= %s AND time < %s AND dt = DATE '%s' AND hr = %d", sqlTime(w.hour), sqlTime(w.hour.Add(time.Hour)), w.hour.Format(time.DateOnly), w.hour.Hour())
	return append([]benchQuery{
		{
			id: "Q1", title: fmt.Sprintf("top 10 src_addr by bytes, %s", s.span()),
			fl:  all(query.Query{GroupBy: []string{"src_addr"}, Metrics: []string{"sum(bytes)"}, Limit: topN}),
			sql: fmt.Sprintf("SELECT src_addr, sum(bytes)::UBIGINT AS b FROM flows GROUP BY src_addr ORDER BY b DESC, src_addr LIMIT %d", topN),
			nfdump: func(ctx context.Context, nf *nfInfo) (answer, error) {
				return nfdumpStat(ctx, nf, "bytes", "-R", nf.Root, "-s", "srcip/bytes", "-n", strconv.Itoa(topN))
			},
			nfdumpCmd: "nfdump -R <all> -s srcip/bytes -n 10",
			shape:     shapeTopN, target: "≤ DuckDB",
		},
		{
			id: "Q2", title: "Q1 with `" + filterQ2 + "`",
			fl: all(query.Query{Filter: filterQ2, GroupBy: []string{"src_addr"}, Metrics: []string{"sum(bytes)"}, Limit: topN}),
			sql: fmt.Sprintf("SELECT src_addr, sum(bytes)::UBIGINT AS b FROM flows WHERE src_addr BETWEEN %s AND %s AND dst_port = 443 AND proto = 6 GROUP BY src_addr ORDER BY b DESC, src_addr LIMIT %d",
				sqlAddr(lo10), sqlAddr(hi10), topN),
			nfdump: func(ctx context.Context, nf *nfInfo) (answer, error) {
				return nfdumpStat(ctx, nf, "bytes", "-R", nf.Root, "-s", "srcip/bytes", "-n", strconv.Itoa(topN), filterQ2)
			},
			nfdumpCmd: "nfdump -R <all> -s srcip/bytes -n 10 '" + filterQ2 + "'",
			shape:     shapeTopN, target: "≤ DuckDB",
		},
		{
			id: "Q3", title: "bytes per 5 minutes over one day",
			fl: all(query.Query{From: rfc(w.day), To: rfc(w.day.AddDate(0, 0, 1)), GroupBy: []string{"time/5m"}, Metrics: []string{"sum(bytes)"}}),
			sql: "SELECT time_bucket(INTERVAL 5 MINUTE, time) AS t, sum(bytes)::UBIGINT FROM flows WHERE " + dayFilter +
				" GROUP BY t ORDER BY t",
			nfdump: func(ctx context.Context, nf *nfInfo) (answer, error) {
				return nfdumpSeries(ctx, nf, w.day)
			},
			nfdumpCmd: "nfdump -R <file> -I, for each 5-minute file of the day",
			shape:     shapeAll, target: "≤ DuckDB",
		},
		{
			id: "Q4", title: fmt.Sprintf("needle: every flow of one host in one hour of %s", s.span()),
			fl: all(query.Query{From: rfc(w.hour), To: rfc(w.hour.Add(time.Hour)), Filter: "host " + host.String(),
				Columns: []string{"time", "src_addr", "dst_addr", "src_port", "dst_port", "proto", "bytes", "packets"}, Limit: query.MaxPageSize}),
			sql: fmt.Sprintf("SELECT time, src_addr, dst_addr, src_port, dst_port, proto, bytes, packets FROM flows WHERE %s AND (src_addr = %s OR dst_addr = %s) ORDER BY time LIMIT %d",
				hourFilter, sqlAddr(host), sqlAddr(host), query.MaxPageSize),
			nfdump: func(ctx context.Context, nf *nfInfo) (answer, error) {
				return nfdumpListing(ctx, hourDir(nf.Root, w.hour), "host "+host.String())
			},
			nfdumpCmd: "nfdump -R <day>/<hour> -o fmt:… 'host " + host.String() + "'",
			nfProject: func(r []string) []string {
				// nfdump keeps milliseconds, and for ICMP a source port
				// of 0 and the type and code of IE 32 (the exported
				// destination port) in the destination port.
				t, err := time.Parse(time.RFC3339Nano, r[0])
				if err != nil {
					return r
				}
				sport := r[3]
				if r[5] == "1" || r[5] == "58" {
					sport = "0"
				}
				return []string{t.Truncate(time.Millisecond).Format(time.RFC3339Nano), r[1], r[2], sport, r[4], r[6], r[7]}
			},
			shape: shapeListing, target: "< 100 ms",
		},
		{
			id: "Q5", title: fmt.Sprintf("top 10 sources by distinct destinations, %s", s.span()),
			fl:  all(query.Query{GroupBy: []string{"src_addr"}, Metrics: []string{"count_distinct(dst_addr)"}, Limit: topN}),
			sql: fmt.Sprintf("SELECT src_addr, count(DISTINCT dst_addr) AS d FROM flows GROUP BY src_addr ORDER BY d DESC, src_addr LIMIT %d", topN),
			nfdump: func(ctx context.Context, nf *nfInfo) (answer, error) {
				return nfdumpDistinct(ctx, nf)
			},
			nfdumpCmd: "nfdump -R <all> -A srcip,dstip -o fmt:%sa | uniq -c | sort -rn | head (counted in Go)",
			shape:     shapeTopN, target: "≤ DuckDB",
		},
		{
			id: "Q6", title: fmt.Sprintf("bytes per interface and application, %s", s.span()),
			fl:  all(query.Query{GroupBy: []string{"in_if", "app"}, Metrics: []string{"sum(bytes)"}}),
			sql: "SELECT in_if, app, sum(bytes)::UBIGINT AS b FROM flows GROUP BY in_if, app ORDER BY b DESC, in_if, app",
			nfdump: func(ctx context.Context, nf *nfInfo) (answer, error) {
				return nfdumpIfApp(ctx, nf)
			},
			nfdumpCmd: "nfdump -R <all> -A inif,dstvlan -N -o fmt:%in,%dvln,%byt",
			shape:     shapeAll, target: "< 50 ms",
		},
	}, moreQueries(s)...)
}

// nfdumpStat runs an nfdump -s statistic and reads key and the value
// column (csv field valCol) of each row.
func nfdumpStat(ctx context.Context, _ *nfInfo, valCol string, args ...string) (answer, error) {
	out, err := runNfdump(ctx, append([]string{"-o", "csv"}, args...)...)
	if err != nil {
		return nil, err
	}
	var ans answer
	var idx map[string]int
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if line == "" {
			if idx != nil {
				break // the summary follows a blank line
			}
			continue
		}
		fs := strings.Split(line, ",")
		if idx == nil {
			if fs[0] != "ts" {
				continue
			}
			idx = map[string]int{}
			for i, f := range fs {
				idx[f] = i
			}
			if _, ok := idx["val"]; !ok {
				return nil, fmt.Errorf("nfdump csv header without val: %q", line)
			}
			if _, ok := idx[map[string]string{"bytes": "byt", "flows": "fl"}[valCol]]; !ok {
				return nil, fmt.Errorf("nfdump csv header without %s: %q", valCol, line)
			}
			continue
		}
		if fs[0] == "Summary" || fs[0] == "flows" {
			break
		}
		col := map[string]string{"bytes": "byt", "flows": "fl"}[valCol]
		if len(fs) <= max(idx["val"], idx[col]) {
			return nil, fmt.Errorf("nfdump csv row %q", line)
		}
		a, err := netip.ParseAddr(strings.TrimSpace(fs[idx["val"]]))
		if err != nil {
			return nil, fmt.Errorf("nfdump csv row %q: %w", line, err)
		}
		ans = append(ans, []string{a.Unmap().String(), strings.TrimSpace(fs[idx[col]])})
	}
	if idx == nil {
		return nil, fmt.Errorf("nfdump printed no csv statistic:\n%s", out)
	}
	return ans, nil
}

// nfdumpSeries reads the statistics record of each 5-minute file of the
// day (nfdump -I), as NfSen draws its graphs.
func nfdumpSeries(ctx context.Context, nf *nfInfo, day time.Time) (answer, error) {
	var ans answer
	if len(nf.Bins) > 0 { // the production layout: a file per 5 minutes
		for _, b := range nf.Bins {
			if b.Start.Before(day) || !b.Start.Before(day.AddDate(0, 0, 1)) {
				continue
			}
			st, err := nfdumpSummary(ctx, "-r", filepath.Join(nf.Root, b.Path))
			if err != nil {
				return nil, err
			}
			ans = append(ans, []string{b.Start.UTC().Format(time.RFC3339Nano), strconv.FormatUint(st.bytes, 10)})
		}
		return ans, nil
	}
	for h := range 24 {
		hr := day.Add(time.Duration(h) * time.Hour)
		for b := range binsPerHour {
			st, err := nfdumpSummary(ctx, "-R", filepath.Join(hourDir(nf.Root, hr), fmt.Sprintf("%02d", 5*b)))
			if err != nil {
				return nil, err
			}
			if st.flows == 0 {
				continue
			}
			t := hr.Add(time.Duration(b) * 5 * time.Minute)
			ans = append(ans, []string{t.Format(time.RFC3339Nano), strconv.FormatUint(st.bytes, 10)})
		}
	}
	return ans, nil
}

// nfdumpListing lists the flows of dir matching filter: start (ms), src,
// dst, ports, bytes, packets.
func nfdumpListing(ctx context.Context, dir, filter string) (answer, error) {
	out, err := runNfdump(ctx, "-R", dir, "-q", "-N", "-6", "-o", "fmt:%tsr,%sa,%da,%sp,%dp,%byt,%pkt", filter)
	if err != nil {
		return nil, err
	}
	var ans answer
	for line := range strings.Lines(string(out)) {
		fs := strings.Split(strings.TrimSpace(line), ",")
		if len(fs) != 7 {
			if strings.TrimSpace(line) == "" {
				continue
			}
			return nil, fmt.Errorf("nfdump listing row %q", line)
		}
		for i := range fs {
			fs[i] = strings.TrimSpace(fs[i])
		}
		sec, ms, ok := strings.Cut(fs[0], ".")
		s, err1 := strconv.ParseInt(sec, 10, 64)
		m, err2 := strconv.ParseInt(ms, 10, 64)
		if !ok || err1 != nil || err2 != nil || len(ms) != 3 {
			return nil, fmt.Errorf("nfdump listing time %q", fs[0])
		}
		fs[0] = time.UnixMilli(s*1000 + m).UTC().Format(time.RFC3339Nano)
		if t, c, ok := strings.Cut(fs[4], "."); ok { // ICMP: type.code
			ti, err1 := strconv.Atoi(t)
			ci, err2 := strconv.Atoi(c)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("nfdump listing ICMP type.code %q", fs[4])
			}
			fs[4] = strconv.Itoa(ti<<8 | ci)
		}
		for _, i := range []int{1, 2} {
			a, err := netip.ParseAddr(fs[i])
			if err != nil {
				return nil, fmt.Errorf("nfdump listing row %q: %w", line, err)
			}
			fs[i] = a.Unmap().String()
		}
		ans = append(ans, fs)
	}
	return ans, nil
}

// nfdumpDistinct counts distinct destinations per source the way an
// nfdump user does: aggregate to one record per (source, destination),
// print the sources and count them (nfdump … | sort | uniq -c | sort -rn).
// nfdump's own -s srcip/flows on the aggregated records would sum their
// flow counters instead.
func nfdumpDistinct(ctx context.Context, nf *nfInfo) (answer, error) {
	out, err := runNfdump(ctx, "-R", nf.Root, "-q", "-N", "-6", "-A", "srcip,dstip", "-o", "fmt:%sa")
	if err != nil {
		return nil, err
	}
	counts := map[netip.Addr]int{}
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		a, err := netip.ParseAddr(line)
		if err != nil {
			return nil, fmt.Errorf("nfdump aggregate row %q: %w", line, err)
		}
		counts[a.Unmap()]++
	}
	type kv struct {
		a netip.Addr
		n int
	}
	var all []kv
	for a, n := range counts {
		all = append(all, kv{a, n})
	}
	slices.SortFunc(all, func(x, y kv) int {
		if x.n != y.n {
			return y.n - x.n
		}
		return x.a.Compare(y.a)
	})
	var ans answer
	for _, e := range all[:min(topN, len(all))] {
		ans = append(ans, []string{e.a.String(), strconv.Itoa(e.n)})
	}
	return ans, nil
}

// nfdumpIfApp aggregates bytes by input interface and application id
// (carried in postVlanId).
func nfdumpIfApp(ctx context.Context, nf *nfInfo) (answer, error) {
	out, err := runNfdump(ctx, "-R", nf.Root, "-q", "-N", "-A", "inif,dstvlan", "-o", "fmt:%in,%dvln,%byt")
	if err != nil {
		return nil, err
	}
	var ans answer
	for line := range strings.Lines(string(out)) {
		fs := strings.Split(strings.TrimSpace(line), ",")
		if len(fs) != 3 {
			if strings.TrimSpace(line) == "" {
				continue
			}
			return nil, fmt.Errorf("nfdump aggregate row %q", line)
		}
		id, err := strconv.ParseUint(strings.TrimSpace(fs[1]), 10, 16)
		if err != nil {
			return nil, fmt.Errorf("nfdump aggregate row %q: %w", line, err)
		}
		ans = append(ans, []string{strings.TrimSpace(fs[0]), nf.appName(uint16(id)), strings.TrimSpace(fs[2])})
	}
	// nfdump prints aggregates unordered: order them as Flowlake does.
	slices.SortFunc(ans, func(a, b []string) int {
		x, _ := strconv.ParseUint(a[2], 10, 64)
		y, _ := strconv.ParseUint(b[2], 10, 64)
		if x != y {
			if x > y {
				return -1
			}
			return 1
		}
		i, _ := strconv.Atoi(a[0])
		j, _ := strconv.Atoi(b[0])
		if i != j {
			return i - j
		}
		return strings.Compare(a[1], b[1])
	})
	return ans, nil
}
