// Package bench holds the benchmarks behind `adoptscope bench NAME`. Each
// takes its options, a context and the writer its report goes to, and opens
// ClickHouse through internal/app, as the product does.
package bench

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// quiet is for the connections whose log lines would only interleave with
// the report.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// settle writes the dirty pages of what ran before (the previous phase,
// the previous run's server and its deleted folder) to disk before a timed
// phase starts, so that the kernel's writeback of them cannot run inside
// it. Hygiene: runs of two builds in a fixed order favoured the one run
// first (5-8 %, five pairs of five), but this is not shown to be why.
func settle() { syscall.Sync() }

// procStatusKB reads a kB field (VmRSS:, VmHWM:) of /proc/PID/status; 0
// where there is none.
func procStatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}
