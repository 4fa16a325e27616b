package ingest

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every key added is found (a Bloom filter never forgets), and keys never
// added are "maybe" at about the rate a Bloom filter of that many bits per
// key has: (1 - e^(-k/b))^k for an unblocked one; blocks of 512 bits cost a
// little more (about 1.8 times at 16 bits per key), allowed here up to 2.2.
func TestBloomHasEveryKeyAndFalsePositivesAsSized(t *testing.T) {
	for _, bitsPerKey := range []float64{6, 10, 16} {
		const n = 200_000
		b := newBloom(n, bitsPerKey)
		r := rand.New(rand.NewPCG(1, uint64(bitsPerKey)))
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = r.Uint64()
			b.add(keys[i])
		}
		for _, k := range keys {
			if !b.has(k) {
				t.Fatalf("bits %v: key %x added but not found", bitsPerKey, k)
			}
		}
		const probes = 1_000_000
		fp := 0
		for i := 0; i < probes; i++ {
			if b.has(r.Uint64()) {
				fp++
			}
		}
		k := float64(bloomK(bitsPerKey))
		ideal := math.Pow(1-math.Exp(-k/bitsPerKey), k)
		got := float64(fp) / probes
		t.Logf("bits/key %v, k %v: false positives %.4f%% (unblocked Bloom %.4f%%), %d bytes", bitsPerKey, k, 100*got, 100*ideal, b.bytes())
		if got > 2.2*ideal+3.0/probes {
			t.Errorf("bits/key %v: false-positive rate %.5f, want at most 2.2 × %.5f", bitsPerKey, got, ideal)
		}
		if want := int64(math.Ceil(n*bitsPerKey/512)) * 64; b.bytes() != want {
			t.Errorf("bits/key %v: %d bytes, want %d", bitsPerKey, b.bytes(), want)
		}
	}
}

// A growing day gets filters as it grows, the window's memory never passes
// the cap (add says so instead), and a day dropped out of the window gives
// its memory back.
func TestWindowFilterGrowsWithinTheCapAndDropsDays(t *testing.T) {
	w := newWindowFilter(8, 1<<20) // 1 MiB: about a million keys at 8 bits
	w.minChunk = 1000
	r := rand.New(rand.NewPCG(2, 2))
	var kept []uint64
	added := 0
	for day := int64(100); day < 103; day++ {
		for i := 0; i < 100_000; i++ {
			h := r.Uint64()
			if !w.add(h, day) {
				t.Fatalf("day %d key %d: refused under the cap (used %d)", day, i, w.used)
			}
			added++
			if i%1000 == 0 {
				kept = append(kept, h)
			}
		}
	}
	// Keys a day already answers "maybe" for are not added again: a few
	// percent at 8 bits per key.
	if w.keys > int64(added) || w.keys < int64(added)*9/10 {
		t.Errorf("keys %d, want %d less the few the filter already held", w.keys, added)
	}
	for _, h := range kept {
		if !w.has(h) {
			t.Fatalf("key %x not found", h)
		}
	}
	// The first day grows from 1,000 keys, doubling; the next ones start
	// as large as it.
	if n := len(w.days[100].filters); n < 2 || n > 9 {
		t.Errorf("the first day of 100,000 keys from chunks of 1,000 has %d filters, want 2-9 (each as large as the day so far)", n)
	}
	if n := len(w.days[102].filters); n > 2 {
		t.Errorf("the third day has %d filters, want 1 or 2 (sized like the first)", n)
	}
	// Past the cap: add refuses, memory stays under it.
	refused := false
	for i := 0; i < 2_000_000 && !refused; i++ {
		refused = !w.add(r.Uint64(), 103)
	}
	if !refused || w.used > w.maxBytes {
		t.Errorf("refused %v, used %d of %d bytes", refused, w.used, w.maxBytes)
	}
	before := w.used
	w.dropBefore(101)
	if _, ok := w.days[100]; ok || w.used >= before {
		t.Errorf("after dropping day 100: days %v, used %d (before %d)", w.dayList(), w.used, before)
	}
	var sum int64
	for _, d := range w.days {
		for _, f := range d.filters {
			sum += f.bytes()
		}
	}
	if sum != w.used {
		t.Errorf("used %d bytes, filters hold %d", w.used, sum)
	}
}

// TestBloomBitsOffTheHeapAndReturned: a filter's bits are not Go heap (the
// collector would let the heap grow by as much again before collecting),
// and the memory of a filter that is dropped goes back to the system.
func TestBloomBitsOffTheHeapAndReturned(t *testing.T) {
	const mib = 1 << 20
	heapObjects := func() uint64 {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		runtime.GC()
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	vmKB := func() int64 {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Skip("no /proc/self/status")
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmSize:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				return n
			}
		}
		t.Skip("no VmSize")
		return 0
	}
	before := heapObjects()
	// 20 bits per key: 64 MiB for this many keys.
	b := newBloom(64*mib*8/20, 20)
	if got := b.bytes(); got < 64*mib-512 || got > 64*mib+512 {
		t.Fatalf("filter of %d bytes, want 64 MiB", got)
	}
	for i := uint64(0); i < 1_000_000; i++ {
		b.add(i * 0x9e3779b97f4a7c15)
	}
	if grew := int64(heapObjects()) - int64(before); grew > 4*mib {
		t.Errorf("the Go heap grew by %.1f MiB for a 64 MiB filter: its bits are on the heap", float64(grew)/mib)
	}
	if k := uint64(12345); !b.has(k * 0x9e3779b97f4a7c15) {
		t.Fatal("a key added is not found")
	}

	// 32 filters of 64 MiB, each dropped: 2 GiB mapped in all, never more
	// than a few at a time once the cleanups have run.
	start := vmKB()
	for range 32 {
		f := newBloom(64*mib*8/20, 20)
		f.add(1)
		runtime.GC()
	}
	deadline := time.Now().Add(10 * time.Second)
	for vmKB()-start > 512*1024 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
	}
	if grew := vmKB() - start; grew > 512*1024 {
		t.Errorf("after dropping 32 filters of 64 MiB the address space is %d MiB larger: their memory is not returned", grew/1024)
	}
	runtime.KeepAlive(b)
}
