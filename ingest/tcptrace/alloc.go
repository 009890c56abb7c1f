package tcptrace

// sizeClasses are the Go runtime's small-object size classes
// (internal/runtime/gc/sizeclasses.go, Go 1.26): an allocation of n bytes
// takes the smallest class that holds it.
var sizeClasses = [...]uint32{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240,
	256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536,
	1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472,
	9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// allocSize is how many heap bytes an allocation of n bytes really takes:
// its size class, with the 8-byte type header the runtime puts before
// small objects over 512 bytes that hold pointers; large objects take
// whole 8 KiB pages. The memory quota counts these, not the bytes asked
// for, so it holds what the heap holds.
func allocSize(n uintptr, pointers bool) int64 {
	if n == 0 {
		return 0
	}
	const maxSmall, header, page = 32768, 8, 8192
	if pointers && n > 512 && n <= maxSmall-header {
		n += header
	}
	if n > maxSmall {
		return int64((n + page - 1) / page * page)
	}
	lo, hi := 0, len(sizeClasses)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if uintptr(sizeClasses[mid]) >= n {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return int64(sizeClasses[lo])
}
