package flow

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
)

// servicesCSV is the default port and protocol table: a curated subset of
// the IANA service registry.
//
//go:embed services.csv
var servicesCSV string

// services maps protocol/port to a default application name. Port lookups
// are array indexes, so classification allocates nothing.
type services struct {
	names []string // index 0 is ""
	tcp   []uint16 // port → name index; tcp also serves SCTP
	udp   []uint16
	proto [256]uint16 // protocol-only defaults (ICMP, GRE, ESP, …)
}

// parseServices parses the embedded table. It is built per Enricher (it is
// small), so no package state is shared.
func parseServices(text string) (*services, error) {
	s := &services{names: []string{""}, tcp: make([]uint16, 65536), udp: make([]uint16, 65536)}
	index := map[string]uint16{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 3 || f[0] == "" {
			return nil, fmt.Errorf("services line %d %q: want name,port,protocol", n+1, line)
		}
		id, ok := index[f[0]]
		if !ok {
			id = uint16(len(s.names))
			s.names = append(s.names, f[0])
			index[f[0]] = id
		}
		if f[1] == "-" {
			p, err := strconv.ParseUint(f[2], 10, 8)
			if err != nil {
				return nil, fmt.Errorf("services line %d: protocol %q: %w", n+1, f[2], err)
			}
			s.proto[p] = id
			continue
		}
		port, err := strconv.ParseUint(f[1], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("services line %d: port %q: %w", n+1, f[1], err)
		}
		switch f[2] {
		case "tcp":
			s.tcp[port] = id
		case "udp":
			s.udp[port] = id
		default:
			return nil, fmt.Errorf("services line %d: protocol %q is not tcp or udp", n+1, f[2])
		}
	}
	return s, nil
}

// classify returns the default application of a flow: for TCP, UDP and
// SCTP the service of the port found in the table (the lower port when
// both are), for other protocols the protocol's name; "" when unknown.
func (s *services) classify(proto uint8, srcPort, dstPort uint16) string {
	var table []uint16
	switch proto {
	case 6, 132:
		table = s.tcp
	case 17:
		table = s.udp
	default:
		return s.names[s.proto[proto]]
	}
	a, b := table[srcPort], table[dstPort]
	switch {
	case a != 0 && b != 0:
		if srcPort < dstPort {
			return s.names[a]
		}
		return s.names[b]
	case b != 0:
		return s.names[b]
	case a != 0:
		return s.names[a]
	}
	return s.names[s.proto[proto]]
}
