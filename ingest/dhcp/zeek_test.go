package dhcp

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
	"github.com/google/go-cmp/cmp"
)

// zeekTxn is the part of a Zeek dhcp.log line that this package's rows
// determine: per transaction (xid), the client, server, MAC, requested and
// assigned address, lease time and message types.
type zeekTxn struct {
	Client, Server, MAC, Host, Requested, Assigned, Lease, MsgTypes string
	ClientMsg, ServerMsg                                            string
}

// readZeekDHCP reads a Zeek dhcp.log baseline (TSV with a #fields header).
func readZeekDHCP(t *testing.T, path string) []zeekTxn {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fields []string
	var out []zeekTxn
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
			fields = strings.Split(rest, "\t")
			continue
		}
		if strings.HasPrefix(line, "#") || fields == nil {
			continue
		}
		v := map[string]string{}
		for i, c := range strings.Split(line, "\t") {
			if i < len(fields) {
				v[fields[i]] = c
			}
		}
		out = append(out, zeekTxn{Client: v["client_addr"], Server: v["server_addr"], MAC: v["mac"], Host: v["host_name"],
			Requested: v["requested_addr"], Assigned: v["assigned_addr"], Lease: v["lease_time"], MsgTypes: v["msg_types"],
			ClientMsg: v["client_message"], ServerMsg: v["server_message"]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// zeekSummary groups rows by xid in first-seen order and summarises each
// transaction the way Zeek's DHCP script does (base/protocols/dhcp/main.zeek):
// client fields from requests, server fields from replies, the server only
// from a reply that hands out an address, the MAC from an Ethernet client id
// else chaddr.
//
// maxTypes > 0 ends an entry once it holds that many message types, as
// Zeek's DHCP::max_msg_types_per_log_entry does.
func zeekSummary(rows []schema.DHCPEvent, maxTypes int) []zeekTxn {
	var order []*zeekTxn
	byXID := map[uint32]*zeekTxn{}
	chaddr := map[*zeekTxn]string{}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for i := range rows {
		r := &rows[i]
		z, ok := byXID[r.XID]
		if !ok {
			z = &zeekTxn{Client: "-", Server: "-", MAC: "-", Host: "-", Requested: "-", Assigned: "-", Lease: "-", ClientMsg: "-", ServerMsg: "-"}
			byXID[r.XID] = z
			order = append(order, z)
		}
		if z.MsgTypes != "" {
			z.MsgTypes += ","
		}
		z.MsgTypes += r.MsgType
		if maxTypes > 0 && strings.Count(z.MsgTypes, ",")+1 >= maxTypes {
			delete(byXID, r.XID) // Zeek writes the entry after this message
		}
		if r.Message != "" {
			if r.Op == bootRequest {
				z.ClientMsg = r.Message
			} else {
				z.ServerMsg = r.Message
			}
		}
		if r.Op == bootRequest {
			if src := r.SrcAddr.String(); src != "0.0.0.0" && src != "255.255.255.255" && src != "" {
				z.Client = src
			}
			if r.Hostname != "" {
				z.Host = r.Hostname
			}
			if len(r.ClientID) == 14 && strings.HasPrefix(r.ClientID, "01") {
				z.MAC = r.ClientID[2:4] + ":" + r.ClientID[4:6] + ":" + r.ClientID[6:8] + ":" + r.ClientID[8:10] + ":" + r.ClientID[10:12] + ":" + r.ClientID[12:14]
			} else {
				chaddr[z] = r.CHAddr.String()
			}
			if !r.RequestedIP.IsZero() {
				z.Requested = r.RequestedIP.String()
			}
			continue
		}
		if !r.YIAddr.IsZero() {
			z.Server = r.SrcAddr.String()
			z.Assigned = r.YIAddr.String()
			if z.Client == "-" {
				z.Client = z.Assigned
			}
		}
		if z.MAC == "-" && !r.CHAddr.IsZero() {
			z.MAC = r.CHAddr.String()
		}
		if r.LeaseTime != 0 {
			z.Lease = fmt.Sprintf("%d.000000", r.LeaseTime)
		}
	}
	out := make([]zeekTxn, 0, len(order))
	for _, z := range order {
		if z.MAC == "-" {
			z.MAC = dash(chaddr[z])
		}
		out = append(out, *z)
	}
	return out
}

// TestTransactionsMatchZeek checks, per transaction, the client, server,
// MAC, host name, requested and assigned address, lease time, message types
// and client/server messages (option 56) against Zeek's own dhcp.log baselines for the same captures. Of the
// flood baselines, the one split at 8 message types per entry is compared
// (with that limit); the one split at 5 connection uids per entry is not,
// since rows carry no connection identity.
func TestTransactionsMatchZeek(t *testing.T) {
	root := realData(t)
	cases := []struct {
		capture, baseline string
		maxTypes          int
	}{
		{"zeek_dhcp.pcap", "zeek_dhcp.dhcp.log", 0},
		{"zeek_dhcp_ack_option82.pcap", "zeek_dhcp_ack_option82.dhcp.log", 0},
		{"zeek_dhcp_inform.pcap", "zeek_dhcp_inform.dhcp.log", 0},
		{"zeek_dhcp_discover_param_req_client_id.pcap", "zeek_dhcp_discover_param_req_client_id.dhcp.log", 0},
		{"zeek_dhcp_flood.pcap", "zeek_dhcp_flood.max-uids-500-msgtypes-8.dhcp.log", 8},
	}
	for _, c := range cases {
		t.Run(c.capture, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, "dhcp", c.capture))
			if err != nil {
				t.Fatal(err)
			}
			res, err := DecodeCapture(data, Meta{})
			if err != nil {
				t.Fatal(err)
			}
			want := readZeekDHCP(t, filepath.Join(root, "verify", "zeek-baselines", c.baseline))
			if len(want) == 0 {
				t.Fatalf("baseline %s has no lines", c.baseline)
			}
			got := zeekSummary(res.Rows, c.maxTypes)
			// Zeek writes a transaction when it expires, not when it starts.
			sortTxns(got)
			sortTxns(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("transactions (-zeek +ours):\n%s", diff)
			}
		})
	}
}

func sortTxns(z []zeekTxn) {
	slices.SortFunc(z, func(a, b zeekTxn) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
}

// TestRelayAgentMatchesZeek checks option 82 against Zeek's sub-opts
// baseline: circuit id, remote id (Zeek escapes bytes as \xNN) and the
// subscriber id (sub-option 6), which Flowlake keeps raw in relay_other.
func TestRelayAgentMatchesZeek(t *testing.T) {
	root := realData(t)
	data, err := os.ReadFile(filepath.Join(root, "dhcp", "zeek_dhcp_ack_option82.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := DecodeCapture(data, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.ReadFile(filepath.Join(root, "verify", "zeek-baselines", "zeek_dhcp_ack_option82.sub-opts.dhcp.log"))
	if err != nil {
		t.Fatal(err)
	}
	var fields, vals []string
	for line := range strings.Lines(string(f)) {
		line = strings.TrimRight(line, "\n")
		if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
			fields = strings.Split(rest, "\t")
		} else if !strings.HasPrefix(line, "#") && fields != nil {
			vals = strings.Split(line, "\t")
		}
	}
	zeek := map[string][]byte{}
	for i, name := range fields {
		if i < len(vals) {
			zeek[name] = unescapeZeek(vals[i])
		}
	}
	if len(res.Rows) != 1 || zeek["circuit_id"] == nil {
		t.Fatalf("%d rows, zeek fields %v", len(res.Rows), fields)
	}
	r := res.Rows[0]
	if want := printableOrHex(zeek["circuit_id"]); r.CircuitID != want {
		t.Errorf("circuit_id %q, zeek %q", r.CircuitID, want)
	}
	if want := printableOrHex(zeek["agent_remote_id"]); r.RemoteID != want {
		t.Errorf("remote_id %q, zeek %q", r.RemoteID, want)
	}
	if want := "6=" + hex.EncodeToString(zeek["subscriber_id"]); r.RelayOther != want {
		t.Errorf("relay_other %q, zeek subscriber id gives %q", r.RelayOther, want)
	}
}

// unescapeZeek undoes Zeek's \xNN escaping of a log value.
func unescapeZeek(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if b, err := hex.DecodeString(s[i+2 : i+4]); err == nil {
				out = append(out, b[0])
				i += 3
				continue
			}
		}
		out = append(out, s[i])
	}
	return out
}
