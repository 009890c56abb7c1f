package query

import (
	"encoding/binary"
	"fmt"

	"github.com/parquet-go/bitpack"
)

// decodeHybrid decodes len(dst) values of Parquet's RLE/bit-packed hybrid
// encoding of the given bit width (dictionary indexes, definition levels)
// from src. It never reads or writes past the values the page declares:
// a run longer than what is left is an error, not an allocation.
func decodeHybrid(dst []int32, src []byte, width uint, pad *[]byte) error {
	if width > 32 {
		return fmt.Errorf("bit width %d above 32", width)
	}
	n := 0
	for n < len(dst) {
		h, k := binary.Uvarint(src)
		if k <= 0 {
			return fmt.Errorf("run header at value %d of %d: truncated or overlong", n, len(dst))
		}
		src = src[k:]
		left := len(dst) - n
		if h&1 == 0 {
			count := h >> 1
			if count > uint64(left) {
				return fmt.Errorf("run of %d values with %d left", count, left)
			}
			bw := int(width+7) / 8
			if bw > len(src) {
				return fmt.Errorf("run value at value %d: %d bytes left, want %d", n, len(src), bw)
			}
			var v uint32
			for i := range bw {
				v |= uint32(src[i]) << (8 * i)
			}
			src = src[bw:]
			run := dst[n : n+int(count)]
			for i := range run {
				run[i] = int32(v)
			}
			n += int(count)
			continue
		}
		groups := h >> 1
		if width == 0 {
			// Zero-width values take no bytes: all zero.
			count := min(int(groups)*8, left)
			clear(dst[n : n+count])
			n += count
			continue
		}
		// The last group may be padded past the declared values, by at
		// most 7.
		if groups > uint64(left+7)/8 {
			return fmt.Errorf("bit-packed run of %d groups with %d values left", groups, left)
		}
		vals := int(groups) * 8
		size := int(groups) * int(width)
		if size > len(src) {
			return fmt.Errorf("bit-packed run at value %d: %d bytes left, want %d", n, len(src), size)
		}
		in := src[:size]
		if cap(in)-len(in) < bitpack.PaddingInt32 {
			if cap(*pad) < size+bitpack.PaddingInt32 {
				*pad = make([]byte, size+bitpack.PaddingInt32)
			}
			in = (*pad)[:size]
			copy(in, src)
		}
		if vals <= left {
			bitpack.Unpack(dst[n:n+vals], in, width)
		} else {
			var tail [8]int32
			full := vals - 8
			bitpack.Unpack(dst[n:n+full], in[:full/8*int(width)], width)
			// The padded last group, unpacked on its own.
			last := make([]byte, int(width)+bitpack.PaddingInt32)
			copy(last, in[full/8*int(width):])
			bitpack.Unpack(tail[:], last[:width], width)
			copy(dst[n+full:], tail[:left-full])
			vals = left
		}
		src = src[size:]
		n += vals
	}
	return nil
}
