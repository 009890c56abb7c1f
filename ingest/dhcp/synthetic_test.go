package dhcp

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// frameLine matches the first line of a frame in tshark -V output.
var frameLine = regexp.MustCompile(`^Frame (\d+):`)

// TestSyntheticMatchesTshark writes the valid fuzz seeds (which carry the
// options no shared capture has: 119, 121, 253, a wire-encoded 81, option 82
// sub-options beyond 1 and 2, overload of both fields, split options) as a
// capture and compares every message with tshark, as
// TestCapturesMatchTshark does for the shared captures, plus the domain
// search list and the classless routes in tshark's own words.
func TestSyntheticMatchesTshark(t *testing.T) {
	tshark := needTool(t, "tshark")
	var frames []frame
	names := []string{"discover", "offer", "request", "ack", "nak", "release", "overload", "split"}
	seeds := fuzzSeeds()
	for _, n := range names {
		frames = append(frames, frame{src: "10.0.0.1", dst: "255.255.255.255", sport: 67, dport: 68, payload: seeds[n]})
	}
	data := buildCapture(t, false, frames)
	path := filepath.Join(t.TempDir(), "synthetic.pcap")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := DecodeCapture(data, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != len(names) {
		t.Fatalf("decoded %d of %d messages: %+v", len(res.Rows), len(names), res.Malformed)
	}
	fields := append(append([]string(nil), tsharkFields...), "dhcp.option.dhcp_dns_domain_search_list_fqdn")
	tf := tsharkFrames(t, tshark, path, "dhcp", fields)
	routes := tsharkRoutes(t, tshark, path)
	for i, row := range res.Rows {
		f := tf[res.Frames[i]]
		if f == nil {
			t.Fatalf("frame %d: tshark shows no DHCP", res.Frames[i])
		}
		for _, d := range compareTshark(&row, f) {
			t.Errorf("%s: %s", names[i], d)
		}
		if want := strings.ReplaceAll(f["dhcp.option.dhcp_dns_domain_search_list_fqdn"], "|", ","); row.DomainSearch != want {
			t.Errorf("%s: domain_search %q, tshark %q", names[i], row.DomainSearch, want)
		}
		if want := routes[res.Frames[i]]; row.ClasslessRoutes != want {
			t.Errorf("%s: classless_routes %q, tshark %q", names[i], row.ClasslessRoutes, want)
		}
	}
	if res.Rows[3].DomainSearch == "" || res.Rows[3].ClasslessRoutes == "" || res.Rows[3].Option253 == "" || res.Rows[2].ClientFQDN == "" {
		t.Errorf("the ack and request seeds no longer carry options 119, 121, 253 and 81: %+v %+v", res.Rows[3], res.Rows[2])
	}
}

// tsharkRoutes returns, per frame, option 121 as tshark's verbose output
// words it (one line per route: "192.168.5.0/24-10.0.0.1", or
// "default-192.168.1.1"), rewritten as "prefix via router" entries joined
// by commas.
func tsharkRoutes(t *testing.T, tshark, path string) map[int]string {
	t.Helper()
	out := runTshark(t, tshark, "-n", "-r", path, "-V", "-Y", "dhcp")
	routes := map[int]string{}
	frame, in121 := 0, false
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case frameLine.MatchString(line):
			frame, in121 = int(num(frameLine.FindStringSubmatch(line)[1])), false
		case strings.HasPrefix(line, "Option: "):
			in121 = strings.HasPrefix(line, "Option: (121)")
		case in121 && !strings.HasPrefix(line, "Length:"):
			line = strings.TrimPrefix(line, "Subnet/MaskWidth-Router: ")
			prefix, router, ok := strings.Cut(line, "-")
			if !ok {
				continue
			}
			if prefix == "default" {
				prefix = "0.0.0.0/0"
			}
			if routes[frame] != "" {
				routes[frame] += ","
			}
			routes[frame] += prefix + " via " + router
		}
	}
	return routes
}
