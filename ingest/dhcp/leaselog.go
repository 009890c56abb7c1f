package dhcp

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// The default-format lines of Kea's forensic logging hook
// (libdhcp_legal_log.so), DHCPv4 and DHCPv6:
//
//	2018-01-06 01:02:03 CET Address: 192.2.1.100 has been renewed for 1 hrs 52 min 15 secs to a device with hardware address: hwtype=1 08:00:2b:02:3f:4e, client-id: 17:34:e2:ff:09:92:54 connected via relay at address: 192.2.16.33, identified by circuit-id: 68:6f:77:64:79 (howdy) and remote-id: 87:f6:79:77:ef
//	2018-01-06 01:02:03 PST Address:2001:db8:1:: has been released from a device with DUID: 17:34:e2:ff:09:92:54 and hardware address: hwtype=1 08:00:2b:02:3f:4e (from Raw Socket)
//	2018-01-06 01:02:03 CET Administrator deleted the lease for address: 192.0.2.202
var (
	legalLineRE   = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (\S+) (.*)$`)
	legalLeaseRE  = regexp.MustCompile(`^Address: ?(\S+) has been (assigned|renewed|released|declined)(?: for (.+?))? (?:to|from) a device with (.*)$`)
	legalDeleteRE = regexp.MustCompile(`^(?:Administrator|HA partner) deleted the lease for address: (\S+)$`)
	legalDurRE    = regexp.MustCompile(`^(?:(\d+) days? )?(\d+) hrs? (\d+) mins? (\d+) secs?$`)
	legalSecsRE   = regexp.MustCompile(`^(\d+) seconds?$`)
	legalFieldRE  = regexp.MustCompile(`(hwtype=\d+ |DUID: |client-id: |relay at address: |circuit-id: |remote-id: |link address: )([0-9A-Fa-f:.]+)`)
)

// ParseKeaLegal reads a Kea forensic log (legal log) file in its default
// format. Each "has been assigned/renewed" line is an ACK with its lease
// time, "released" a RELEASE, "declined" a DECLINE, an administrator's
// delete a RELEASE of the address; the relay's address, circuit id and
// remote id are kept. Other lines (custom formats, lease4-add) are not
// events: their numbers are in Unknown. The log prints local time with a
// zone abbreviation: loc is the zone it names (UTC is always known); an
// abbreviation loc does not know is an error, not a guess.
func ParseKeaLegal(r io.Reader, file, device string, loc *time.Location) (*LeaseFile, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	res := &LeaseFile{}
	for sc.Scan() {
		res.Lines++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		m := legalLineRE.FindStringSubmatch(text)
		if m == nil {
			res.Unknown = append(res.Unknown, res.Lines)
			continue
		}
		fail := func(c, msg string) error { return &LeaseFileError{File: file, Line: res.Lines, Column: c, Msg: msg} }
		ts, err := time.ParseInLocation("2006-01-02 15:04:05 MST", m[1]+" "+m[2], loc)
		if err != nil {
			return nil, fail("timestamp", fmt.Sprintf("%q: %v", m[1]+" "+m[2], err))
		}
		if ts.Location() != loc && ts.Location() != time.UTC {
			return nil, fail("timestamp", fmt.Sprintf("zone %q is not a zone of %s: name the server's zone with --tz", m[2], loc))
		}
		ev := schema.DHCPEvent{Time: ts.UnixMicro(), Device: device}
		if d := legalDeleteRE.FindStringSubmatch(m[3]); d != nil {
			a, err := netip.ParseAddr(d[1])
			if err != nil {
				return nil, fail("address", fmt.Sprintf("%q is not an address", d[1]))
			}
			ev.MsgType, ev.Op, ev.CIAddr, ev.DHCPv6 = schema.DHCPRelease, 1, schema.AddrFrom(a), a.Is6()
			res.Events = append(res.Events, ev)
			continue
		}
		l := legalLeaseRE.FindStringSubmatch(m[3])
		if l == nil {
			res.Unknown = append(res.Unknown, res.Lines)
			continue
		}
		a, err := netip.ParseAddr(l[1])
		if err != nil {
			return nil, fail("address", fmt.Sprintf("%q is not an address", l[1]))
		}
		addr := schema.AddrFrom(a)
		ev.DHCPv6 = a.Is6()
		switch l[2] {
		case "assigned", "renewed":
			ev.MsgType, ev.Op, ev.YIAddr = schema.DHCPAck, 2, addr
			if ev.DHCPv6 {
				ev.MsgType = "REPLY"
			}
			if ev.LeaseTime, err = legalDuration(l[3]); err != nil {
				return nil, fail("duration", err.Error())
			}
		case "released":
			ev.MsgType, ev.Op, ev.CIAddr = schema.DHCPRelease, 1, addr
		case "declined":
			ev.MsgType, ev.Op, ev.RequestedIP = schema.DHCPDecline, 1, addr
		}
		if err := legalDevice(l[4], &ev); err != nil {
			return nil, fail("device", err.Error())
		}
		res.Events = append(res.Events, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, &LeaseFileError{File: file, Line: res.Lines + 1, Msg: err.Error()}
	}
	res.sortEvents()
	return res, nil
}

// legalDuration reads "1 days 2 hrs 3 mins 4 secs", "6735 seconds" or
// "infinite duration" into seconds; "" (no duration printed) is 0.
func legalDuration(s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	if s == "infinite duration" {
		return infiniteLease, nil
	}
	if m := legalSecsRE.FindStringSubmatch(s); m != nil {
		v, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q: lease time out of range", s)
		}
		return uint32(v), nil
	}
	m := legalDurRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a lease duration (want \"N hrs N mins N secs\")", s)
	}
	var total uint64
	for i, mult := range []uint64{86400, 3600, 60, 1} {
		if m[i+1] == "" {
			continue
		}
		v, err := strconv.ParseUint(m[i+1], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q: out of range", s)
		}
		total += v * mult
	}
	if total >= infiniteLease {
		return 0, fmt.Errorf("%q: lease time out of range", s)
	}
	return uint32(total), nil
}

// legalDevice fills the client and relay columns from the "device with …"
// part of a line.
func legalDevice(s string, ev *schema.DHCPEvent) error {
	for _, m := range legalFieldRE.FindAllStringSubmatch(s, -1) {
		val := strings.TrimRight(m[2], ",.:")
		switch m[1] {
		case "relay at address: ", "link address: ":
			a, err := netip.ParseAddr(val)
			if err != nil {
				return fmt.Errorf("relay address %q: %w", val, err)
			}
			// DHCPv6 lines name the client's link after the relay: giaddr
			// is that link address, as the decoder stores it.
			if m[1] == "link address: " || ev.GIAddr.IsZero() {
				ev.GIAddr = schema.AddrFrom(a)
			}
			continue
		}
		h, err := colonHex(val)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(m[1], "hwtype="):
			if ev.CHAddr, err = colonMAC(val); err != nil {
				return err
			}
		case m[1] == "DUID: ", m[1] == "client-id: ":
			ev.ClientID = h
		case m[1] == "circuit-id: ":
			b, _ := hex.DecodeString(h)
			ev.CircuitID = printableOrHex(b)
		case m[1] == "remote-id: ":
			b, _ := hex.DecodeString(h)
			ev.RemoteID = printableOrHex(b)
		}
	}
	return nil
}
