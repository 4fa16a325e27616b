package cli

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressMode resolves --progress auto: a bar on a terminal, log lines
// otherwise.
func progressMode(mode string, e *env) string {
	if mode != "auto" {
		return mode
	}
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return "bar"
	}
	return "log"
}

// loadProgress shows how far the load of one file is, the same way
// whether it writes to the store or sends through an instance's API: a
// bar of the file's bytes (compressed bytes for .gz) with rows and rows/s,
// or a log line every 5 s with an ETA.
type loadProgress struct {
	bar     *progressbar.ProgressBar
	mode    string
	path    string
	size    int64
	start   time.Time
	lastLog time.Time
	log     *slog.Logger
}

func newLoadProgress(mode, path string, size int64, start time.Time, e *env, log *slog.Logger) *loadProgress {
	p := &loadProgress{mode: mode, path: path, size: size, start: start, lastLog: time.Now(), log: log}
	if mode == "bar" {
		p.bar = progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(e.stderr), progressbar.OptionShowBytes(true), progressbar.OptionSetWidth(30),
			progressbar.OptionSetDescription(path), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
	}
	return p
}

// report shows done bytes of the file read and rows loaded.
func (p *loadProgress) report(done int64, rows int) {
	el := time.Since(p.start).Seconds()
	rate := float64(rows) / max(el, 1e-9)
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s  %d rows  %.0f rows/s", p.path, rows, rate))
		_ = p.bar.Set64(done)
		return
	}
	if p.mode == "log" && time.Since(p.lastLog) >= 5*time.Second {
		p.lastLog = time.Now()
		eta := "unknown"
		if done > 0 && p.size > 0 {
			eta = time.Duration(el * float64(p.size-done) / float64(done) * float64(time.Second)).Round(time.Second).String()
		}
		p.log.Info("loading", "file", p.path, "rows", rows, "bytes", done, "of", p.size, "rows_per_s", int(rate), "eta", eta)
	}
}

func (p *loadProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
