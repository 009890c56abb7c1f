package duckdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/lake"
)

// loadMacros opens DuckDB in memory and runs docs/duckdb.sql, the file
// users load.
func loadMacros(t *testing.T) *sql.DB {
	t.Helper()
	script, err := os.ReadFile(filepath.Join("..", "..", "docs", "duckdb.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1) // macros live in the connection's catalog
	for _, stmt := range strings.Split(stripComments(string(script)), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("docs/duckdb.sql: %v\n%s", err, stmt)
		}
	}
	return db
}

// stripComments drops -- comments (the file has no "--" in strings), so
// that semicolons in them do not split statements.
func stripComments(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// addrText is how Flowlake shows an address: IPv4-mapped unmapped.
func addrText(a netip.Addr) string { return a.Unmap().String() }

// TestAddrMacro compares flowlake_addr with Flowlake's own formatting on
// edge cases (every position and length of zero runs, mapped and
// IPv4-compatible addresses) and random addresses.
func TestAddrMacro(t *testing.T) {
	db := loadMacros(t)
	addrs := []string{"0.0.0.0", "10.0.1.2", "255.255.255.255", "192.0.2.1", "::", "::1", "1::", "2001:db8::1",
		"2001:db8:0:0:1:0:0:1", "2001:0:0:1:0:0:0:1", "1:0:0:2:0:0:3:4", "fe80::1:2", "::ffff:0:1", "::1.2.3.4",
		"ff02::1:ff00:1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:0", "0:1:2:3:4:5:6:7", "1:0:2:3:4:5:6:7", "abcd:ef01::"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b [16]byte
		for i := range b {
			if r.IntN(3) > 0 { // many zero bytes: many zero runs
				b[i] = byte(r.IntN(256))
			}
		}
		if r.IntN(4) == 0 {
			copy(b[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
		}
		addrs = append(addrs, netip.AddrFrom16(b).String())
	}
	// One query for all: each row is the 16 bytes (as hex) and the text
	// Flowlake shows; the query returns the rows where the macro differs.
	var values strings.Builder
	for i, s := range addrs {
		a := netip.MustParseAddr(s)
		b := a.As16()
		if i > 0 {
			values.WriteString(", ")
		}
		fmt.Fprintf(&values, "(unhex('%x'), '%s', '%s')", b[:], s, addrText(a))
	}
	res, err := db.Query("SELECT addr, want, flowlake_addr(b) FROM (VALUES " + values.String() + ") v(b, addr, want) WHERE flowlake_addr(b) IS DISTINCT FROM want")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	for res.Next() {
		var addr, want string
		var got sql.NullString
		if err := res.Scan(&addr, &want, &got); err != nil {
			t.Fatal(err)
		}
		t.Errorf("flowlake_addr(%s) = %q, want %q", addr, got.String, want)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM (VALUES " + values.String() + ") v(b, addr, want) WHERE flowlake_addr(b) = want").Scan(&n); err != nil || n != len(addrs) {
		t.Errorf("%d of %d addresses match (%v)", n, len(addrs), err)
	}
	var null sql.NullString
	if err := db.QueryRow("SELECT flowlake_addr(NULL::BLOB)").Scan(&null); err != nil || null.Valid {
		t.Errorf("flowlake_addr(NULL) = %v, %v; want NULL", null, err)
	}
	if err := db.QueryRow(`SELECT flowlake_addr('\x01\x02'::BLOB)`).Scan(&null); err != nil || null.Valid {
		t.Errorf("flowlake_addr of 2 bytes = %v, %v; want NULL", null, err)
	}
}

// TestFlowsMacro reads a lake written by storage/lake through
// flowlake_flows and compares the per-address counts with the rows.
func TestFlowsMacro(t *testing.T) {
	ctx := context.Background()
	cfg := lake.DefaultConfig()
	cfg.Root = t.TempDir()
	l, err := lake.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := flowRows(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 3000, 9)
	want := map[string]int64{}
	nullHops := int64(0)
	for _, f := range rows {
		want[f.SrcAddr.String()]++
		if f.NextHop.IsZero() {
			nullHops++
		}
	}
	if _, err := lake.Write(ctx, l, "edge-1", rows); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	db := loadMacros(t)
	glob := filepath.ToSlash(filepath.Join(cfg.Root, "flows", "**", "*.parquet"))
	res, err := db.Query("SELECT src_addr, count(*) FROM flowlake_flows(?) GROUP BY ALL", glob)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for res.Next() {
		var a string
		var n int64
		if err := res.Scan(&a, &n); err != nil {
			t.Fatal(err)
		}
		got[a] = n
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("%d source addresses through flowlake_flows, want %d", len(got), len(want))
	}
	for a, n := range want {
		if got[a] != n {
			t.Errorf("src_addr %s: %d rows, want %d", a, got[a], n)
		}
	}
	var n int64
	if err := db.QueryRow("SELECT count(*) FROM flowlake_flows(?) WHERE next_hop IS NULL", glob).Scan(&n); err != nil || n != nullHops {
		t.Errorf("rows without a next hop: %d (%v), want %d", n, err, nullHops)
	}
	var hop string
	if err := db.QueryRow("SELECT DISTINCT next_hop FROM flowlake_flows(?) WHERE next_hop IS NOT NULL", glob).Scan(&hop); err != nil || hop != "10.255.0.1" {
		t.Errorf("next_hop = %q (%v), want 10.255.0.1", hop, err)
	}
}
