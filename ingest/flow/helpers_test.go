package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// mustGate skips a test whose external dependency is missing, unless CI=true
// in which case the missing dependency fails it.
func mustGate(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

// realData returns the directory of the shared captures (FLOWLAKE_REALDATA,
// default ../shared/data relative to the repository root).
func realData(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("FLOWLAKE_REALDATA")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "..", "shared", "data")
	}
	if _, err := os.Stat(filepath.Join(dir, "MANIFEST.md")); err != nil {
		mustGate(t, "real captures not found in %s (set FLOWLAKE_REALDATA): %v", dir, err)
	}
	return dir
}

// repoRoot walks up from the working directory to the directory with go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// needTool returns the path of an external tool or skips (fails under CI).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		mustGate(t, "%s not installed (Debian package: %s)", name, map[string]string{"tshark": "tshark", "mergecap": "wireshark-common", "softflowd": "softflowd", "nfcapd": "nfdump", "nfdump": "nfdump"}[name])
	}
	return p
}

// datagram is one UDP payload read from a capture.
type datagram struct {
	src     netip.AddrPort
	dstPort uint16
	payload []byte
	ts      time.Time
}

// readCapture reads the UDP datagrams of a pcap or pcapng file (IPv4/IPv6
// over Ethernet, Linux SLL or raw IP). Fragments and non-UDP frames are
// returned as nothing; the frame index is kept in order.
func readCapture(t testing.TB, path string) []datagram {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	type source interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var (
		src  source
		link layers.LinkType
	)
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		src, link = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		src, link = r, r.LinkType()
	}
	var out []datagram
	for {
		data, ci, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: frame %d: %v", path, len(out)+1, err)
		}
		pkt := gopacket.NewPacket(data, link, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		dg := datagram{ts: ci.Timestamp}
		var ip netip.Addr
		if l := pkt.Layer(layers.LayerTypeIPv4); l != nil {
			ip, _ = netip.AddrFromSlice(l.(*layers.IPv4).SrcIP.To4())
		} else if l := pkt.Layer(layers.LayerTypeIPv6); l != nil {
			ip, _ = netip.AddrFromSlice(l.(*layers.IPv6).SrcIP)
		}
		if l := pkt.Layer(layers.LayerTypeUDP); l != nil && ip.IsValid() {
			u := l.(*layers.UDP)
			dg.src = netip.AddrPortFrom(ip, uint16(u.SrcPort))
			dg.dstPort = uint16(u.DstPort)
			dg.payload = append([]byte(nil), u.Payload...)
		}
		out = append(out, dg)
	}
	return out
}

// jnode is a node of tshark's JSON output kept in document order with
// duplicate keys (encoding/json maps would drop them).
type jnode struct {
	key  string
	val  string // leaf value
	kids []*jnode
}

// child returns the first child with the given key.
func (n *jnode) child(key string) *jnode {
	for _, k := range n.kids {
		if k.key == key {
			return k
		}
	}
	return nil
}

// find returns the first descendant (depth first) with the given key.
func (n *jnode) find(key string) *jnode {
	for _, k := range n.kids {
		if k.key == key {
			return k
		}
		if f := k.find(key); f != nil {
			return f
		}
	}
	return nil
}

// leaf returns the value of the first descendant with the key and whether
// it exists.
func (n *jnode) leaf(key string) (string, bool) {
	if f := n.find(key); f != nil {
		return f.val, true
	}
	return "", false
}

func parseJSONTree(dec *json.Decoder, key string) (*jnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	n := &jnode{key: key}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				c, err := parseJSONTree(dec, kt.(string))
				if err != nil {
					return nil, err
				}
				n.kids = append(n.kids, c)
			}
		case '[':
			for i := 0; dec.More(); i++ {
				c, err := parseJSONTree(dec, fmt.Sprint(i))
				if err != nil {
					return nil, err
				}
				n.kids = append(n.kids, c)
			}
		}
		if _, err := dec.Token(); err != nil { // closing delimiter
			return nil, err
		}
	case string:
		n.val = v
	case nil:
	default:
		n.val = fmt.Sprint(v)
	}
	return n, nil
}

// tsharkFrames runs tshark on the files (merged in order with mergecap when
// several) decoding the given UDP ports as proto, and returns each frame's
// protocol layers.
func tsharkFrames(t testing.TB, proto string, ports []uint16, files ...string) []*jnode {
	t.Helper()
	tshark := needTool(t, "tshark")
	in := files[0]
	if len(files) > 1 {
		mergecap := needTool(t, "mergecap")
		in = filepath.Join(t.TempDir(), "merged.pcap")
		args := append([]string{"-a", "-F", "pcap", "-w", in}, files...)
		if out, err := exec.Command(mergecap, args...).CombinedOutput(); err != nil {
			t.Fatalf("mergecap: %v: %s", err, out)
		}
	}
	args := []string{"-n", "-r", in, "-T", "json"}
	for _, p := range ports {
		args = append(args, "-d", fmt.Sprintf("udp.port==%d,%s", p, proto))
	}
	cmd := exec.Command(tshark, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	root, err := parseJSONTree(json.NewDecoder(bytes.NewReader(out)), "")
	if err != nil {
		t.Fatalf("tshark JSON: %v", err)
	}
	frames := make([]*jnode, 0, len(root.kids))
	for _, pkt := range root.kids {
		frames = append(frames, pkt.find("layers"))
	}
	return frames
}

// replayConfig is the decoder configuration of tests that replay captures:
// their flows are dated by the exporter that recorded them, years before
// the datagrams' capture (or replay) time, so the time window is opened
// to a century.
func replayConfig() Config {
	cfg := DefaultConfig()
	cfg.MaxPast, cfg.MaxFuture = 100*365*24*time.Hour, 100*365*24*time.Hour
	return cfg
}
