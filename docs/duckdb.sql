-- Flowlake helpers for DuckDB: addresses as text.
--
-- Flowlake stores addresses as 16-byte values (FIXED_LEN_BYTE_ARRAY(16),
-- read by DuckDB as BLOB): IPv6 as is, IPv4 as the IPv4-mapped IPv6
-- address ::ffff:a.b.c.d. These macros show them as Flowlake does:
-- IPv4-mapped addresses as dotted quads, others as RFC 5952 IPv6 text
-- (lower case, leading zeros dropped, the first longest run of two or more
-- zero groups as "::"). Load them once per session:
--
--   .read docs/duckdb.sql                    (duckdb CLI)
--   duckdb -init docs/duckdb.sql             (at start)
--
-- then, for example:
--
--   SELECT src_addr, sum(bytes) AS bytes
--   FROM flowlake_flows('data/flows/**/*.parquet')
--   GROUP BY ALL ORDER BY bytes DESC LIMIT 10;
--
--   SELECT flowlake_addr(local_addr) FROM read_parquet('data/tcp_conns/**/*.parquet');
--
-- bench/duckdb/addr_test.go checks these macros against Flowlake's own
-- formatting. See docs/duckdb.md.

-- flowlake_ipv6_full(b): the eight groups of a 16-byte address as hex,
-- leading zeros dropped, wrapped in colons (":2001:db8:0:0:0:0:0:1:").
CREATE OR REPLACE MACRO flowlake_ipv6_full(b) AS
    ':' || array_to_string(list_transform(range(0, 8),
        g -> coalesce(nullif(ltrim(lower(substr(hex(b), 4 * g + 1, 4)), '0'), ''), '0')), ':') || ':';

-- flowlake_ipv6_compress(w): w (from flowlake_ipv6_full) with the first
-- longest run of two or more zero groups replaced by "::", without the
-- wrapping colons.
CREATE OR REPLACE MACRO flowlake_ipv6_compress(w) AS
    regexp_replace(regexp_replace(
        CASE
            WHEN regexp_matches(w, ':(0:){8}') THEN regexp_replace(w, ':(0:){8}', '::')
            WHEN regexp_matches(w, ':(0:){7}') THEN regexp_replace(w, ':(0:){7}', '::')
            WHEN regexp_matches(w, ':(0:){6}') THEN regexp_replace(w, ':(0:){6}', '::')
            WHEN regexp_matches(w, ':(0:){5}') THEN regexp_replace(w, ':(0:){5}', '::')
            WHEN regexp_matches(w, ':(0:){4}') THEN regexp_replace(w, ':(0:){4}', '::')
            WHEN regexp_matches(w, ':(0:){3}') THEN regexp_replace(w, ':(0:){3}', '::')
            WHEN regexp_matches(w, ':(0:){2}') THEN regexp_replace(w, ':(0:){2}', '::')
            ELSE w
        END,
        '^:([^:])', '\1'), '([^:]):$', '\1');

-- flowlake_addr(b): a Flowlake address column as text; NULL stays NULL,
-- and a value that is not 16 bytes reads as NULL.
CREATE OR REPLACE MACRO flowlake_addr(b) AS
    CASE
        WHEN b IS NULL OR octet_length(b) <> 16 THEN NULL
        WHEN substr(hex(b), 1, 24) = '00000000000000000000FFFF' THEN
            array_to_string(list_transform(range(0, 4),
                i -> CAST(('0x' || substr(hex(b), 25 + 2 * i, 2))::INTEGER AS VARCHAR)), '.')
        ELSE flowlake_ipv6_compress(flowlake_ipv6_full(b))
    END;

-- flowlake_flows(path): the flows dataset read in place (hive partitions
-- dt and hr included) with src_addr, dst_addr and next_hop as text.
CREATE OR REPLACE MACRO flowlake_flows(path) AS TABLE
    SELECT * REPLACE (
        flowlake_addr(src_addr) AS src_addr,
        flowlake_addr(dst_addr) AS dst_addr,
        flowlake_addr(next_hop) AS next_hop)
    FROM read_parquet(path, hive_partitioning = true);
