package ingest

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// offHeapWords returns n zeroed words mapped outside the Go heap, unmapped
// once owner is unreachable. The words must hold no Go pointers (the
// collector does not scan them) and must not be used after owner is gone.
// Where the mapping fails, they are an ordinary slice.
func offHeapWords[T any](owner *T, n uint64) []uint64 {
	mem, err := unix.Mmap(-1, 0, int(n*8), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]uint64, n)
	}
	runtime.AddCleanup(owner, func(m []byte) { _ = unix.Munmap(m) }, mem)
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(mem))), n)
}
