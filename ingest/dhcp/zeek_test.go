package dhcp

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
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
			Requested: v["requested_addr"], Assigned: v["assigned_addr"], Lease: v["lease_time"], MsgTypes: v["msg_types"]})
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
func zeekSummary(rows []schema.DHCPEvent) []zeekTxn {
	var order []uint32
	byXID := map[uint32]*zeekTxn{}
	chaddr := map[uint32]string{}
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
			z = &zeekTxn{Client: "-", Server: "-", MAC: "-", Host: "-", Requested: "-", Assigned: "-", Lease: "-"}
			byXID[r.XID] = z
			order = append(order, r.XID)
		}
		if z.MsgTypes != "" {
			z.MsgTypes += ","
		}
		z.MsgTypes += r.MsgType
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
				chaddr[r.XID] = r.CHAddr.String()
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
	for _, x := range order {
		z := byXID[x]
		if z.MAC == "-" {
			z.MAC = dash(chaddr[x])
		}
		out = append(out, *z)
	}
	return out
}

// TestTransactionsMatchZeek checks, per transaction, the client, server,
// MAC, host name, requested and assigned address, lease time and message
// types against Zeek's own dhcp.log baselines for the same captures. The
// flood baselines are left out: they were run with non-default limits that
// split one transaction over several lines by connection count.
func TestTransactionsMatchZeek(t *testing.T) {
	root := realData(t)
	cases := []struct{ capture, baseline string }{
		{"zeek_dhcp.pcap", "zeek_dhcp.dhcp.log"},
		{"zeek_dhcp_ack_option82.pcap", "zeek_dhcp_ack_option82.dhcp.log"},
		{"zeek_dhcp_inform.pcap", "zeek_dhcp_inform.dhcp.log"},
		{"zeek_dhcp_discover_param_req_client_id.pcap", "zeek_dhcp_discover_param_req_client_id.dhcp.log"},
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
			got := zeekSummary(res.Rows)
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
	key := func(x zeekTxn) string { return x.MsgTypes + x.Client + x.Assigned }
	for i := 1; i < len(z); i++ {
		for j := i; j > 0 && key(z[j]) < key(z[j-1]); j-- {
			z[j], z[j-1] = z[j-1], z[j]
		}
	}
}
