package ingest

import (
	"encoding/binary"
	"math"
	"math/bits"
	"runtime"
	"sort"
)

// sipHash64 is ClickHouse's sipHash64 of a String: SipHash-2-4 with a zero
// key. The filter is built from the id_hash column ClickHouse computes and
// probed with the hashes of a batch's ids computed here, so both must agree
// bit for bit (TestSipHash64MatchesClickHouse).
func sipHash64(s string) uint64 {
	v0 := uint64(0x736f6d6570736575)
	v1 := uint64(0x646f72616e646f6d)
	v2 := uint64(0x6c7967656e657261)
	v3 := uint64(0x7465646279746573)
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(s)
	i := 0
	for ; i+8 <= n; i += 8 {
		m := binary.LittleEndian.Uint64([]byte(s[i : i+8]))
		v3 ^= m
		round()
		round()
		v0 ^= m
	}
	var last [8]byte
	copy(last[:], s[i:])
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// bloom is a blocked Bloom filter: every key sets k bits inside one
// 512-bit block (a cache line), so a probe costs one memory access however
// large the filter. Keys are 64-bit hashes that are already uniform
// (sipHash64): the block comes from the upper half, the bits from a remix.
type bloom struct {
	blocks []uint64 // 8 words per block
	n      uint64   // number of blocks
	k      int
	cap    int // keys it was sized for
	keys   int // keys added (repeats included)
}

const bloomBlockBits = 512

// newBloom sizes a filter for capacity keys at bitsPerKey. Its bits live
// outside the Go heap (offHeapWords): the garbage collector lets the heap
// grow to twice what is live before it collects, so a filter on the heap
// made the process hold about twice its size (a 30-minute soak: RSS rose
// by 75 MiB when the filter grew by 40); off the heap it costs its size.
func newBloom(capacity int, bitsPerKey float64) *bloom {
	capacity = max(capacity, 1)
	nb := bloomBlocks(capacity, bitsPerKey)
	b := &bloom{n: nb, k: bloomK(bitsPerKey), cap: capacity}
	b.blocks = offHeapWords(b, 8*nb)
	return b
}

func bloomBlocks(capacity int, bitsPerKey float64) uint64 {
	return max(uint64(math.Ceil(float64(max(capacity, 1))*bitsPerKey/bloomBlockBits)), 1)
}

// bloomBytes is the memory of newBloom(capacity, bitsPerKey).
func bloomBytes(capacity int, bitsPerKey float64) int64 {
	return int64(bloomBlocks(capacity, bitsPerKey)) * bloomBlockBits / 8
}

// bloomK is the number of bits per key that minimises the false-positive
// rate of a Bloom filter at bitsPerKey (ln 2 × bits), kept to 1-16.
func bloomK(bitsPerKey float64) int {
	return min(max(int(math.Round(bitsPerKey*math.Ln2)), 1), 16)
}

func (b *bloom) bytes() int64 { return int64(len(b.blocks)) * 8 }

func (b *bloom) block(h uint64) []uint64 {
	i, _ := bits.Mul64(h, b.n) // fast range: uniform h → uniform block
	return b.blocks[i*8 : i*8+8 : i*8+8]
}

func (b *bloom) add(h uint64) {
	blk := b.block(h)
	x := h*0x9e3779b97f4a7c15 | 1
	for j := 0; j < b.k; j++ {
		pos := x >> 55 // 9 bits: 0-511
		blk[pos>>6] |= 1 << (pos & 63)
		x *= 0xbf58476d1ce4e5b9 // odd multiplier: a new mix of the key per bit
		x ^= x >> 31
	}
	b.keys++
	runtime.KeepAlive(b)
}

func (b *bloom) has(h uint64) bool {
	blk := b.block(h)
	x := h*0x9e3779b97f4a7c15 | 1
	ok := true
	for j := 0; j < b.k; j++ {
		pos := x >> 55
		if blk[pos>>6]&(1<<(pos&63)) == 0 {
			ok = false
			break
		}
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 31
	}
	// The bits are unmapped once b is unreachable: b must outlive blk.
	runtime.KeepAlive(b)
	return ok
}

// dayFilter holds the hashes of the ids received on one UTC day (by
// seen_at): a day leaves the window whole, and its filters are dropped with
// it. Filters are added as the day grows.
type dayFilter struct {
	day     int64 // days since 1970-01-01 (UTC)
	filters []*bloom
}

// has probes the newest filter first: most hashes asked about while
// reading the log are ones this instance learned a moment ago, and those
// are in the newest filter. Oldest first, every re-read id cost one cache
// miss per filter of its day (a quarter of the CPU of ingest under load).
func (d *dayFilter) has(h uint64) bool {
	for i := len(d.filters) - 1; i >= 0; i-- {
		if d.filters[i].has(h) {
			return true
		}
	}
	return false
}

// windowFilter is the filter of the whole window: one dayFilter per UTC
// day. It answers "certainly not stored" (has = false) or "maybe".
//
// Memory is bounded: a filter is never allocated past maxBytes; when the
// next one would not fit, add returns false and the filter is no longer
// complete (the owner stops trusting it and rebuilds it smaller).
type windowFilter struct {
	days       map[int64]*dayFilter
	bitsPerKey float64
	maxBytes   int64
	used       int64
	minChunk   int // smallest filter allocated for a growing day
	keys       int64
}

func newWindowFilter(bitsPerKey float64, maxBytes int64) *windowFilter {
	return &windowFilter{days: map[int64]*dayFilter{}, bitsPerKey: bitsPerKey, maxBytes: maxBytes, minChunk: 1 << 16}
}

// reserve makes day hold a filter sized for capacity keys (a rebuild knows
// each day's count before it reads the hashes).
func (w *windowFilter) reserve(day int64, capacity int) bool {
	if w.used+bloomBytes(capacity, w.bitsPerKey) > w.maxBytes {
		return false
	}
	f := newBloom(capacity, w.bitsPerKey)
	w.used += f.bytes()
	d := w.dayOf(day)
	d.filters = append(d.filters, f)
	return true
}

func (w *windowFilter) dayOf(day int64) *dayFilter {
	d := w.days[day]
	if d == nil {
		d = &dayFilter{day: day}
		w.days[day] = d
	}
	return d
}

// add records h, received on day. It returns false when the memory cap
// left no room for it.
//
// A hash the day already answers "maybe" for is not added again: the log
// is read with some overlap, so most of what it returns is known, and only
// the day's own filters may vouch for it (another day's are dropped at
// another time).
func (w *windowFilter) add(h uint64, day int64) bool {
	d := w.dayOf(day)
	if d.has(h) {
		return true
	}
	var f *bloom
	if len(d.filters) > 0 {
		f = d.filters[len(d.filters)-1]
	}
	if f == nil || f.keys >= f.cap {
		// The next filter of a growing day: as large as the largest day
		// held (days are alike: one filter usually holds a whole day),
		// and at least as large as the day so far, so that a day of n keys
		// has at most about log2(n / minChunk) filters. Every filter of
		// a day is probed: fewer filters, fewer false positives.
		size := max(w.minChunk, d.keys())
		for _, o := range w.days {
			size = max(size, o.keys())
		}
		if w.used+bloomBytes(size, w.bitsPerKey) > w.maxBytes {
			// Near the cap: a smaller filter, if a useful one fits.
			blocks := (w.maxBytes - w.used) / (bloomBlockBits / 8)
			size = int(float64(blocks*bloomBlockBits) / w.bitsPerKey)
			if size < 1024 || w.used+bloomBytes(size, w.bitsPerKey) > w.maxBytes {
				return false
			}
		}
		nf := newBloom(size, w.bitsPerKey)
		w.used += nf.bytes()
		d.filters = append(d.filters, nf)
		f = nf
	}
	f.add(h)
	w.keys++
	return true
}

func (d *dayFilter) keys() int {
	n := 0
	for _, f := range d.filters {
		n += f.keys
	}
	return n
}

func (w *windowFilter) has(h uint64) bool {
	for _, d := range w.days {
		if d.has(h) {
			return true
		}
	}
	return false
}

// dropBefore forgets the days before day (out of the window).
func (w *windowFilter) dropBefore(day int64) {
	for k, d := range w.days {
		if k < day {
			for _, f := range d.filters {
				w.used -= f.bytes()
				w.keys -= int64(f.keys)
			}
			delete(w.days, k)
		}
	}
}

// dayList is the days held, oldest first (for logs and tests).
func (w *windowFilter) dayList() []int64 {
	out := make([]int64, 0, len(w.days))
	for k := range w.days {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
