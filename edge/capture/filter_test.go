package capture

import (
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// frame builds an Ethernet frame: optional 802.1Q tag, IPv4 or IPv6, UDP
// or TCP between ports sport and dport.
type frame struct {
	vlan         uint16
	qinq         bool
	v6, tcp      bool
	sport, dport uint16
	fragOff      uint16
	ihlOptions   bool
}

func (f frame) bytes(t *testing.T) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	ipType := layers.EthernetTypeIPv4
	if f.v6 {
		ipType = layers.EthernetTypeIPv6
	}
	eth.EthernetType = ipType
	if f.vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		if f.qinq {
			eth.EthernetType = layers.EthernetTypeQinQ
		}
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: f.vlan, Type: ipType})
	}
	var nl gopacket.NetworkLayer
	proto := layers.IPProtocolUDP
	if f.tcp {
		proto = layers.IPProtocolTCP
	}
	if f.v6 {
		ip := &layers.IPv6{Version: 6, NextHeader: proto, HopLimit: 64, SrcIP: net.ParseIP("fe80::1"), DstIP: net.ParseIP("ff02::1:2")}
		nl = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(255, 255, 255, 255), FragOffset: f.fragOff}
		if f.ihlOptions {
			ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}
		}
		nl = ip
		ls = append(ls, ip)
	}
	if f.tcp {
		tcp := &layers.TCP{SrcPort: layers.TCPPort(f.sport), DstPort: layers.TCPPort(f.dport), Window: 1}
		_ = tcp.SetNetworkLayerForChecksum(nl)
		ls = append(ls, tcp)
	} else {
		udp := &layers.UDP{SrcPort: layers.UDPPort(f.sport), DstPort: layers.UDPPort(f.dport)}
		_ = udp.SetNetworkLayerForChecksum(nl)
		ls = append(ls, udp)
	}
	ls = append(ls, gopacket.Payload(make([]byte, 300)))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDHCPFilter(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    frame
		want bool
	}{
		{"v4 client to server", frame{sport: 68, dport: 67}, true},
		{"v4 server to client", frame{sport: 67, dport: 68}, true},
		{"v4 relay to server", frame{sport: 67, dport: 67}, true},
		{"v4 options in the IP header", frame{sport: 68, dport: 67, ihlOptions: true}, true},
		{"v4 802.1Q", frame{vlan: 10, sport: 68, dport: 67}, true},
		{"v4 802.1ad", frame{vlan: 20, qinq: true, sport: 67, dport: 68}, true},
		{"v6 client to server", frame{v6: true, sport: 546, dport: 547}, true},
		{"v6 802.1Q", frame{v6: true, vlan: 30, sport: 547, dport: 546}, true},
		{"v4 DNS", frame{sport: 5353, dport: 53}, false},
		{"v4 DNS 802.1Q", frame{vlan: 10, sport: 5353, dport: 53}, false},
		{"v4 TCP port 67", frame{tcp: true, sport: 40000, dport: 67}, false},
		{"v6 TCP port 547", frame{v6: true, tcp: true, sport: 547, dport: 40000}, false},
		{"v4 later fragment", frame{sport: 68, dport: 67, fragOff: 100}, false},
		{"v6 DNS", frame{v6: true, sport: 53, dport: 5353}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vm, err := bpf.NewVM(DHCPFilter())
			if err != nil {
				t.Fatal(err)
			}
			n, err := vm.Run(tc.f.bytes(t))
			if err != nil {
				t.Fatal(err)
			}
			if got := n > 0; got != tc.want {
				t.Errorf("accepted = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUDPPortsFilterErrors(t *testing.T) {
	if _, err := UDPPortsFilter(); err == nil {
		t.Error("no port: no error")
	}
	if _, err := UDPPortsFilter(make([]uint16, 17)...); err == nil {
		t.Error("17 ports: no error")
	}
	if len(DHCPFilter()) == 0 {
		t.Error("DHCPFilter is empty")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"interface", func(c *Config) { c.Interfaces = []string{"eth0"} }, true},
		{"file", func(c *Config) { c.File = "x.pcap" }, true},
		{"none", func(c *Config) {}, false},
		{"both", func(c *Config) { c.Interfaces = []string{"eth0"}; c.File = "x.pcap" }, false},
		{"twice", func(c *Config) { c.Interfaces = []string{"eth0", "eth0"} }, false},
		{"block size", func(c *Config) { c.File = "x"; c.BlockSize = 1000 }, false},
		{"bad filter", func(c *Config) { c.File = "x"; c.Filter = []bpf.Instruction{bpf.Jump{Skip: 5}} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			if err := c.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
