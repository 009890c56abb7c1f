package main

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/flowlake/flowlake/storage/query"
	"github.com/flowlake/flowlake/storage/schema"
)

// The broadened query set of issue 11, B1–B5, beside Q1–Q6: the questions
// an analyst asks nfdump every day (conversations, port pairs, AS pairs)
// and two that nfdump answers badly or not at all (a percentile, a count
// of distinct addresses). Interface × application is Q6. Each runs on the
// whole lake; the top-N ones keep 10 rows, ordered by the value and then
// the key, as Q1.

// moreQueries returns B1–B5 over the lake of s.
func moreQueries(s lakeSpec) []benchQuery {
	w := windowOf(s)
	all := func(q query.Query) query.Query {
		q.Dataset = schema.Flows
		q.From, q.To = rfc(w.from), rfc(w.to)
		return q
	}
	// pairTopN is a top 10 by bytes over two key columns, with nfdump's
	// aggregation on the matching elements and its top records by bytes.
	// filter, when set, is the same selection in Flowlake's and nfdump's
	// filter language and in SQL.
	pairTopN := func(id, title, a, b, nfA, nfB, fmtA, fmtB string, addr bool, filter, sqlWhere string) benchQuery {
		agg := nfA + "," + nfB
		format := "fmt:%" + fmtA + ",%" + fmtB + ",%byt"
		where := ""
		nfArgs := []string{"-q", "-N", "-6", "-A", agg, "-s", "record/bytes", "-n", strconv.Itoa(topN), "-o", format}
		nfCmd := fmt.Sprintf("nfdump -R <all> -A %s -s record/bytes -n 10 -o '%s'", agg, format)
		if filter != "" {
			where = " WHERE " + sqlWhere
			nfArgs = append(nfArgs, filter)
			nfCmd += " '" + filter + "'"
		}
		return benchQuery{
			id: id, title: fmt.Sprintf("%s, top 10 by bytes, %s", title, s.span()),
			fl: all(query.Query{Filter: filter, GroupBy: []string{a, b}, Metrics: []string{"sum(bytes)"}, Limit: topN}),
			sql: fmt.Sprintf("SELECT %s, %s, sum(bytes)::UBIGINT AS v FROM flows%s GROUP BY %s, %s ORDER BY v DESC, %s, %s LIMIT %d",
				a, b, where, a, b, a, b, topN),
			nfdump: func(ctx context.Context, nf *nfInfo) (answer, error) {
				return nfdumpRecords(ctx, addr, append([]string{"-R", nf.Root}, nfArgs...)...)
			},
			nfdumpCmd: nfCmd,
			shape:     shapeTopN, target: "≤ DuckDB",
		}
	}
	return []benchQuery{
		pairTopN("B1", "conversations (src_addr, dst_addr)", "src_addr", "dst_addr", "srcip", "dstip", "sa", "da", true, "", ""),
		// Port pairs of TCP and UDP: nfdump aggregates every ICMP flow
		// under ports (0, 0) where Flowlake keeps type×256+code in
		// dst_port, so with ICMP the answers differ by definition.
		pairTopN("B2", "TCP/UDP port pairs (src_port, dst_port)", "src_port", "dst_port", "srcport", "dstport", "sp", "dp", false,
			"proto tcp or proto udp", "proto IN (6, 17)"),
		pairTopN("B3", "AS pairs (src_as, dst_as)", "src_as", "dst_as", "srcas", "dstas", "sas", "das", false, "", ""),
		{
			id: "B4", title: "exact p95 of bytes by application, " + s.span(),
			fl: all(query.Query{GroupBy: []string{"app"}, Metrics: []string{"p95(bytes)"}}),
			// Flowlake's percentiles are nearest-rank (the value of rank
			// ⌈0.95·n⌉); DuckDB's quantile_disc is the same definition.
			sql:       "SELECT app, quantile_disc(bytes, 0.95)::UBIGINT AS v FROM flows GROUP BY app ORDER BY v DESC, app",
			nfdumpCmd: "n/a: nfdump has no percentile",
			shape:     shapeAll, target: "≤ DuckDB",
		},
		{
			id: "B5", title: "distinct src_addr, " + s.span(),
			fl:  all(query.Query{Metrics: []string{"count_distinct(src_addr)"}}),
			sql: "SELECT count(DISTINCT src_addr) FROM flows",
			nfdump: func(ctx context.Context, nf *nfInfo) (answer, error) {
				return nfdumpCountLines(ctx, "-R", nf.Root, "-q", "-N", "-6", "-A", "srcip", "-o", "fmt:%sa")
			},
			nfdumpCmd: "nfdump -R <all> -A srcip -o fmt:%sa | wc -l (counted in Go)",
			shape:     shapeAll, target: "≤ DuckDB",
		},
	}
}

// nfdumpRecords reads nfdump's records printed as "key,key,bytes": the
// keys are addresses (addr) or numbers; an ICMP port printed as type.code
// becomes type×256+code, as Flowlake stores it.
func nfdumpRecords(ctx context.Context, addr bool, args ...string) (answer, error) {
	out, err := runNfdump(ctx, args...)
	if err != nil {
		return nil, err
	}
	var ans answer
	for line := range strings.Lines(string(out)) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		fs := strings.Split(strings.TrimSpace(line), ",")
		if len(fs) != 3 {
			return nil, fmt.Errorf("nfdump record row %q: want 3 fields", line)
		}
		for i := range fs {
			fs[i] = strings.TrimSpace(fs[i])
		}
		for _, i := range []int{0, 1} {
			if addr {
				a, err := netip.ParseAddr(fs[i])
				if err != nil {
					return nil, fmt.Errorf("nfdump record row %q: %w", line, err)
				}
				fs[i] = a.Unmap().String()
				continue
			}
			if t, c, ok := strings.Cut(fs[i], "."); ok {
				ti, err1 := strconv.Atoi(t)
				ci, err2 := strconv.Atoi(c)
				if err1 != nil || err2 != nil {
					return nil, fmt.Errorf("nfdump record row %q: ICMP type.code %q", line, fs[i])
				}
				fs[i] = strconv.Itoa(ti<<8 | ci)
			}
			if _, err := strconv.ParseUint(fs[i], 10, 32); err != nil {
				return nil, fmt.Errorf("nfdump record row %q: %w", line, err)
			}
		}
		if _, err := strconv.ParseUint(fs[2], 10, 64); err != nil {
			return nil, fmt.Errorf("nfdump record row %q: bytes: %w", line, err)
		}
		ans = append(ans, fs)
	}
	return ans, nil
}

// nfdumpCountLines counts the non-empty lines nfdump prints: with -A on
// one key and -q, the distinct values of the key.
func nfdumpCountLines(ctx context.Context, args ...string) (answer, error) {
	out, err := runNfdump(ctx, args...)
	if err != nil {
		return nil, err
	}
	n := 0
	for line := range strings.Lines(string(out)) {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return answer{{strconv.Itoa(n)}}, nil
}
