package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flowlake/flowlake/api"
	"github.com/flowlake/flowlake/storage/query"
)

// leaseSamples holds hand-written server lease files (ingest/dhcp).
const leaseSamples = "../../ingest/dhcp/testdata/leases"

func importLeases(t *testing.T, dir string, args ...string) DHCPImport {
	t.Helper()
	stdout, stderr, code := runCLI(t, nil, append([]string{"dhcp", "import", "--data", dir, "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("dhcp import %v exited %d: %s", args, code, stderr)
	}
	var sum DHCPImport
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("import --json: %v: %s", err, stdout)
	}
	return sum
}

// askCLI runs a lease question and returns "address mac hostname reason
// start end" per span.
func askCLI(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	stdout, stderr, code := runCLI(t, nil, append([]string{"dhcp", "--data", dir, "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("dhcp %v exited %d: %s", args, code, stderr)
	}
	var ans struct{ Leases []query.LeaseView }
	if err := json.Unmarshal([]byte(stdout), &ans); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	var out []string
	for _, l := range ans.Leases {
		out = append(out, strings.Join([]string{l.Address, l.MAC, l.Hostname, l.EndReason, l.Start.Format("15:04:05"), l.End.Format("15:04:05"), l.Relay, l.CircuitID}, " "))
	}
	return out
}

// TestDHCPImportKeaCSVAndAsk imports Kea's memfile through the CLI, asks
// the three questions, and imports the same file again (nothing written
// twice).
func TestDHCPImportKeaCSVAndAsk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	file := filepath.Join(leaseSamples, "kea-leases4.csv")
	sum := importLeases(t, dir, "--format", "kea-csv", file, "--at", "2027-01-15T10:00:00Z")
	want := DHCPImport{File: file, Format: "kea-csv", Device: "kea-leases4.csv", Lines: 8, Events: 6, Written: 3, Ended: 3,
		Skipped: map[string]int{"expired-reclaimed": 1}}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("import summary (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"who", "10.0.0.11", "--at", "2027-01-15T08:10:00Z"}, []string{"10.0.0.11 02:00:00:00:00:0a  EXPIRED 08:00:00 09:30:00  "}},
		{[]string{"who", "10.0.0.11", "--at", "2027-01-15T09:30:00Z"}, nil},
		{[]string{"who", "10.0.0.12", "--at", "2027-01-15T08:20:00Z"}, []string{"10.0.0.12 02:00:00:00:00:0b laptop-42 RELEASE 08:01:40 08:30:00  "}},
		{[]string{"history", "10.0.0.13", "--from", "2027-01-15", "--to", "2027-01-16"}, []string{"10.0.0.13 02:00:00:00:00:0c printer, 2nd floor DECLINE 08:33:20 08:33:21  "}},
		{[]string{"held", "--mac", "02:00:00:00:00:0b", "--from", "2027-01-15", "--to", "2027-01-16"}, []string{"10.0.0.12 02:00:00:00:00:0b laptop-42 RELEASE 08:01:40 08:30:00  "}},
		{[]string{"held", "--hostname", "laptop-42", "--from", "2027-01-15T09:00:00Z", "--to", "2027-01-16"}, nil},
	} {
		if diff := cmp.Diff(tc.want, askCLI(t, dir, tc.args...)); diff != "" {
			t.Errorf("dhcp %v (-want +got):\n%s", tc.args, diff)
		}
	}

	again := importLeases(t, dir, "--format", "kea-csv", file, "--at", "2027-01-15T10:00:00Z")
	if again.Written != 0 || again.Known != 6 {
		t.Errorf("second import wrote %d rows, %d events known; want 0 and 6", again.Written, again.Known)
	}
}

// TestDHCPImportDnsmasqSnapshots: two snapshots of dnsmasq's lease file
// make one span per binding: the renewal extends it, the lease gone from
// the second snapshot is released at its time.
func TestDHCPImportDnsmasqSnapshots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	file := filepath.Join(t.TempDir(), "dnsmasq.leases")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1800003600 02:00:00:00:00:0a 10.0.0.11 laptop-a *\n1800003700 02:00:00:00:00:0b 10.0.0.12 laptop-b 01:02:00:00:00:00:0b\n")
	first := importLeases(t, dir, "--format", "dnsmasq", file, "--at", "2027-01-15T08:00:00Z")
	if first.Written != 2 || first.Open != 2 {
		t.Errorf("first snapshot: %+v", first)
	}
	write("1800005400 02:00:00:00:00:0a 10.0.0.11 laptop-a *\n")
	second := importLeases(t, dir, "--format", "dnsmasq", file, "--at", "2027-01-15T08:30:00Z")
	if second.Resumed != 2 || second.Ended != 1 || second.Open != 1 || second.Written != 2 {
		t.Errorf("second snapshot: %+v", second)
	}
	got := askCLI(t, dir, "history", "10.0.0.11", "--from", "2027-01-15", "--to", "2027-01-16")
	if diff := cmp.Diff([]string{"10.0.0.11 02:00:00:00:00:0a laptop-a OPEN 08:00:00 09:30:00  "}, got); diff != "" {
		t.Errorf("history of the renewed lease (-want +got):\n%s", diff)
	}
	got = askCLI(t, dir, "held", "--hostname", "laptop-b", "--from", "2027-01-15", "--to", "2027-01-16")
	if diff := cmp.Diff([]string{"10.0.0.12 02:00:00:00:00:0b laptop-b RELEASE 08:00:00 08:30:00  "}, got); diff != "" {
		t.Errorf("the released lease (-want +got):\n%s", diff)
	}
}

// TestDHCPImportKeaLegalRelay keeps the relay's address and circuit id.
func TestDHCPImportKeaLegalRelay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	sum := importLeases(t, dir, "--format", "kea-legal", filepath.Join(leaseSamples, "kea-legal4.txt"), "--at", "2027-01-15T12:00:00Z")
	if sum.Unknown != 1 || sum.Events != 8 || sum.Ended != 4 {
		t.Errorf("summary %+v: want 1 unknown line, 8 events, 4 spans ended", sum)
	}
	got := askCLI(t, dir, "who", "10.0.0.11", "--at", "2027-01-15T09:00:00Z")
	if diff := cmp.Diff([]string{"10.0.0.11 02:00:00:00:00:0a  RELEASE 08:00:00 09:05:00 10.9.0.1 ge-0/0/7"}, got); diff != "" {
		t.Errorf("who (-want +got):\n%s", diff)
	}
}

// TestDHCPImportErrors: a bad field names file, line and field, and
// nothing is written; bad flags are usage errors.
func TestDHCPImportErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	bad := filepath.Join(t.TempDir(), "bad.leases")
	if err := os.WriteFile(bad, []byte("1800003600 02:00:00:00:00:0a 10.0.0.11 * *\nsoon 02:00:00:00:00:0b 10.0.0.12 * *\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, nil, "dhcp", "import", "--data", dir, "--format", "dnsmasq", bad)
	if code != 1 || !strings.Contains(stderr, bad+`:2: expiry: "soon" is not a time`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "dhcp_leases")); err == nil {
		t.Errorf("a failed import wrote dhcp_leases")
	}
	for _, args := range [][]string{
		{"dhcp", "import", "--format", "isc", bad},
		{"dhcp", "import", "--format", "dnsmasq"},
		{"dhcp", "who", "10.0.0.300"},
		{"dhcp", "held", "--from", "-1d"},
		{"dhcp", "held", "--mac", "zz", "--from", "-1d"},
		{"dhcp", "history", "10.0.0.1", "--from", "yesterday"},
	} {
		if _, stderr, code := runCLI(t, nil, append(args, "--data", dir)...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, stderr)
		}
	}
}

// TestDHCPLeasesOverRESTAndGraphQL asks who held an address through the
// served REST endpoint and GraphQL field, after a CLI import.
func TestDHCPLeasesOverRESTAndGraphQL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	importLeases(t, dir, "--format", "kea-legal", filepath.Join(leaseSamples, "kea-legal4.txt"), "--at", "2027-01-15T12:00:00Z")
	srv := startServe(t, dir, []string{"FLOWLAKE_LOG_LEVEL=warn"})
	ctx := context.Background()

	code, body, err := srv.get(ctx, "/api/v1/dhcp/leases?address=10.0.0.11&at=2027-01-15T09:00:00Z")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET leases: %d %v: %s", code, err, body)
	}
	var rest api.LeasesResponse
	if err := json.Unmarshal(body, &rest); err != nil {
		t.Fatal(err)
	}
	if len(rest.Leases) != 1 || rest.Leases[0].MAC != "02:00:00:00:00:0a" || rest.Leases[0].Relay != "10.9.0.1" ||
		rest.Leases[0].CircuitID != "ge-0/0/7" || rest.Leases[0].EndReason != "RELEASE" || rest.Leases[0].Renewals != 1 {
		t.Errorf("REST answer: %s", body)
	}
	code, body, _ = srv.get(ctx, "/api/v1/dhcp/leases?address=10.0.0.11&mac=02:00:00:00:00:0a&at=now")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "name one of an address, a MAC or a host name") {
		t.Errorf("two subjects: %d %s", code, body)
	}
	code, body, _ = srv.get(ctx, "/api/v1/dhcp/leases?address=10.0.0.x")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "address: \\\"10.0.0.x\\\" is not an IP address") {
		t.Errorf("bad address: %d %s", code, body)
	}

	out, err := srv.graphQL(ctx, `{ leaseHistory(mac: "02:00:00:00:00:0b", from: "2027-01-15", to: "2027-01-16") { address clientId endReason start end } }`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"data": map[string]any{"leaseHistory": []any{map[string]any{
		"address": "10.0.0.12", "clientId": "0102000000000b", "endReason": "RELEASE",
		"start": "2027-01-15T08:01:40Z", "end": "2027-01-15T08:33:20Z"}}}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("GraphQL leaseHistory (-want +got):\n%s", diff)
	}
	out, err = srv.graphQL(ctx, `{ leaseHistory(at: "now") { address } }`)
	if err != nil {
		t.Fatal(err)
	}
	if errs, _ := out["errors"].([]any); len(errs) != 1 || !strings.Contains(fmt.Sprint(errs[0]), "INVALID") {
		t.Errorf("no subject: %v", out)
	}
}
