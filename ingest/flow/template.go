package flow

import (
	"fmt"

	"github.com/netsampler/goflow2/v2/decoders/netflow"
)

// target says which column (or piece of state) an information element
// feeds. Elements without a target are skipped by length.
type target uint8

const (
	tSkip target = iota
	tBytes
	tPackets
	tBytesTotal
	tPacketsTotal
	tProto
	tToS
	tTCPFlags
	tSrcPort
	tDstPort
	tSrcAddr4
	tDstAddr4
	tSrcAddr6
	tDstAddr6
	tInIf
	tOutIf
	tNextHop4
	tNextHop6
	tBGPNextHop4
	tBGPNextHop6
	tSrcAS
	tDstAS
	tFirstUptime
	tLastUptime
	tStartSec
	tEndSec
	tStartMs
	tEndMs
	tStartUs
	tEndUs
	tStartNs
	tEndNs
	tDurationMs
	tDurationUs
	tICMPTypeCode
	tICMPType
	tICMPCode
	tVLAN
	tPostVLAN
	tSrcMAC
	tDstMAC
	tPostSrcMAC
	tPostDstMAC
	tDirection
	tSamplerID
	tSamplingInterval
	tSamplingPacketInterval
	tSamplingPacketSpace
	tSysInitMs
	tInPhysIf
	tOutPhysIf
	tSamplingSize
	tSamplingPopulation
	tSamplingProbability
	tFrame
	tFrameSize
	numTargets
)

// values.have is a bit set of targets: they must fit in 64 bits.
var _ [64 - numTargets]struct{}

// ieTarget maps an IANA information element id (enterprise 0; NetFlow v9
// field types share the ids below 128) to its target; docs/ingest-flow.md
// has the same table with column names.
func ieTarget(id uint16) target {
	switch id {
	case 1: // octetDeltaCount / IN_BYTES
		return tBytes
	case 2: // packetDeltaCount / IN_PKTS
		return tPackets
	case 4: // protocolIdentifier
		return tProto
	case 5: // ipClassOfService
		return tToS
	case 6: // tcpControlBits
		return tTCPFlags
	case 7: // sourceTransportPort
		return tSrcPort
	case 8: // sourceIPv4Address
		return tSrcAddr4
	case 10: // ingressInterface
		return tInIf
	case 11: // destinationTransportPort
		return tDstPort
	case 12: // destinationIPv4Address
		return tDstAddr4
	case 14: // egressInterface
		return tOutIf
	case 15: // ipNextHopIPv4Address
		return tNextHop4
	case 16: // bgpSourceAsNumber
		return tSrcAS
	case 17: // bgpDestinationAsNumber
		return tDstAS
	case 18: // bgpNextHopIPv4Address
		return tBGPNextHop4
	case 21: // flowEndSysUpTime
		return tLastUptime
	case 22: // flowStartSysUpTime
		return tFirstUptime
	case 27: // sourceIPv6Address
		return tSrcAddr6
	case 28: // destinationIPv6Address
		return tDstAddr6
	case 32: // icmpTypeCodeIPv4
		return tICMPTypeCode
	case 34: // samplingInterval (v9 SAMPLING_INTERVAL)
		return tSamplingInterval
	case 48: // samplerId (v9 FLOW_SAMPLER_ID)
		return tSamplerID
	case 50: // samplerRandomInterval
		return tSamplingInterval
	case 56: // sourceMacAddress
		return tSrcMAC
	case 57: // postDestinationMacAddress
		return tPostDstMAC
	case 58: // vlanId
		return tVLAN
	case 59: // postVlanId
		return tPostVLAN
	case 61: // flowDirection
		return tDirection
	case 62: // ipNextHopIPv6Address
		return tNextHop6
	case 63: // bgpNextHopIPv6Address
		return tBGPNextHop6
	case 80: // destinationMacAddress
		return tDstMAC
	case 81: // postSourceMacAddress
		return tPostSrcMAC
	case 85: // octetTotalCount
		return tBytesTotal
	case 86: // packetTotalCount
		return tPacketsTotal
	case 139: // icmpTypeCodeIPv6
		return tICMPTypeCode
	case 150: // flowStartSeconds
		return tStartSec
	case 151: // flowEndSeconds
		return tEndSec
	case 152: // flowStartMilliseconds
		return tStartMs
	case 153: // flowEndMilliseconds
		return tEndMs
	case 154: // flowStartMicroseconds
		return tStartUs
	case 155: // flowEndMicroseconds
		return tEndUs
	case 156: // flowStartNanoseconds
		return tStartNs
	case 157: // flowEndNanoseconds
		return tEndNs
	case 160: // systemInitTimeMilliseconds
		return tSysInitMs
	case 161: // flowDurationMilliseconds
		return tDurationMs
	case 162: // flowDurationMicroseconds
		return tDurationUs
	case 176: // icmpTypeIPv4
		return tICMPType
	case 177: // icmpCodeIPv4
		return tICMPCode
	case 178: // icmpTypeIPv6
		return tICMPType
	case 179: // icmpCodeIPv6
		return tICMPCode
	case 252: // ingressPhysicalInterface
		return tInPhysIf
	case 243: // dot1qVlanId
		return tVLAN
	case 253: // egressPhysicalInterface
		return tOutPhysIf
	case 302: // selectorId
		return tSamplerID
	case 305: // samplingPacketInterval
		return tSamplingPacketInterval
	case 306: // samplingPacketSpace
		return tSamplingPacketSpace
	case 309: // samplingSize (n of n-out-of-N)
		return tSamplingSize
	case 310: // samplingPopulation (N of n-out-of-N)
		return tSamplingPopulation
	case 311: // samplingProbability (float)
		return tSamplingProbability
	case 312: // dataLinkFrameSize
		return tFrameSize
	case 315: // dataLinkFrameSection (RFC 7133)
		return tFrame
	}
	return tSkip
}

// varLen marks a variable-length IPFIX field.
const varLen = 0xffff

// fieldPlan is one compiled template field.
type fieldPlan struct {
	target target
	length uint16 // varLen for variable length
}

// template is a compiled (options) template: the field list in wire order
// (for options templates, scope fields first).
type template struct {
	id      uint16
	options bool
	// sampling is set for an options template carrying a sampling element:
	// the exporter samples and says so in option data.
	sampling bool
	fields   []fieldPlan
	minLen   int // bytes of the smallest possible record (variable fields count 1)
	// raw keeps the wire description for snapshots.
	scopes []netflow.Field
	raw    []netflow.Field
}

// compileTemplate turns goflow2's field lists into a template. Fields of
// known length are checked against the element's type, so a template that
// would misplace a value is refused rather than decoded into wrong columns.
func compileTemplate(id uint16, options bool, scopes, fields []netflow.Field) (*template, error) {
	if id < 256 {
		return nil, fmt.Errorf("template id %d is reserved (data templates start at 256)", id)
	}
	all := len(scopes) + len(fields)
	if all == 0 {
		return nil, fmt.Errorf("template %d has no fields", id)
	}
	t := &template{id: id, options: options, fields: make([]fieldPlan, 0, all), scopes: scopes, raw: fields}
	add := func(f netflow.Field) error {
		tg := tSkip
		if !f.PenProvided {
			tg = ieTarget(f.Type)
		}
		if f.Length == varLen {
			t.minLen++
			if tg != tFrame {
				tg = tSkip // the only variable-length element we map is the frame section
			}
		} else {
			t.minLen += int(f.Length)
			if f.Length == 0 {
				tg = tSkip
			} else if !lengthFits(tg, f.Length) {
				return fmt.Errorf("template %d: element %d has length %d, which does not fit its type", id, f.Type, f.Length)
			}
		}
		switch tg {
		case tSamplingInterval, tSamplingPacketInterval, tSamplingProbability, tSamplingPopulation:
			t.sampling = t.sampling || options
		}
		t.fields = append(t.fields, fieldPlan{target: tg, length: f.Length})
		return nil
	}
	for _, f := range scopes {
		if err := add(f); err != nil {
			return nil, err
		}
	}
	for _, f := range fields {
		if err := add(f); err != nil {
			return nil, err
		}
	}
	if t.minLen == 0 {
		return nil, fmt.Errorf("template %d describes zero-length records", id)
	}
	return t, nil
}

// lengthFits reports whether a field of length n can carry target tg.
// Unsigned integers accept reduced-size encoding (RFC 7011 6.2).
func lengthFits(tg target, n uint16) bool {
	switch tg {
	case tSrcAddr4, tDstAddr4, tNextHop4, tBGPNextHop4:
		return n == 4
	case tSrcAddr6, tDstAddr6, tNextHop6, tBGPNextHop6:
		return n == 16
	case tSrcMAC, tDstMAC, tPostSrcMAC, tPostDstMAC:
		return n == 6
	case tSkip, tFrame:
		return true
	case tSamplingProbability:
		return n == 4 || n == 8
	}
	return n <= 8
}

// sameFields reports whether t was compiled from the given wire fields.
func (t *template) sameFields(options bool, scopes, fields []netflow.Field) bool {
	if t.options != options || len(t.scopes) != len(scopes) || len(t.raw) != len(fields) {
		return false
	}
	for i := range scopes {
		if t.scopes[i] != scopes[i] {
			return false
		}
	}
	for i := range fields {
		if t.raw[i] != fields[i] {
			return false
		}
	}
	return true
}
