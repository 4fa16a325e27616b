package export

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Table is a query result streamed row by row.
type Table interface {
	// Columns is the header row.
	Columns() []string
	// Each calls fn for every row in order; the slice may be reused after
	// fn returns. An error from fn stops the stream and is returned.
	Each(fn func(row []string) error) error
}

// FileOptions say how a CSV file is written.
type FileOptions struct {
	BOM       bool // UTF-8 byte order mark, so that Excel reads the file as UTF-8
	Delimiter rune // ',' or ';'
}

// partialSuffix marks a named temporary file (used only where the file
// system has no unnamed temporary files); the scheduler removes stale ones.
const partialSuffix = ".partial"

// atomicFile is a file that appears under its final name only when
// complete. Where the kernel supports it (Linux, O_TMPFILE) the data goes to
// an unnamed file in the target folder: a crash at any moment leaves nothing
// behind, because the kernel frees an unnamed file when its last descriptor
// closes. Elsewhere it is a hidden temporary file in the same folder,
// renamed over the target when complete (and swept at start if a crash left
// it).
type atomicFile struct {
	f       *os.File
	dir     string
	named   string // the temporary name, for the fallback
	unnamed bool
}

func createAtomic(dir string) (*atomicFile, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create export folder %s: %w", dir, err)
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o640)
	if err == nil {
		return &atomicFile{f: os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), dir: dir, unnamed: true}, nil
	}
	f, err := os.CreateTemp(dir, ".export-*"+partialSuffix)
	if err != nil {
		return nil, fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	return &atomicFile{f: f, dir: dir, named: f.Name()}, nil
}

// commit syncs the data and gives the file its final name, replacing an
// older file of that name.
func (a *atomicFile) commit(name string) error {
	if err := a.f.Sync(); err != nil {
		a.abort()
		return fmt.Errorf("write %s: %w", name, err)
	}
	final := filepath.Join(a.dir, name)
	if a.unnamed {
		// linkat cannot replace an existing name: link to a temporary
		// name first, then rename over the target (atomic).
		tmp := filepath.Join(a.dir, "."+name+"."+randomHex(4)+partialSuffix)
		proc := "/proc/self/fd/" + strconv.Itoa(int(a.f.Fd()))
		if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW); err != nil {
			a.abort()
			return fmt.Errorf("name %s: %w", final, err)
		}
		a.named = tmp
	}
	if err := a.f.Close(); err != nil {
		a.abort()
		return fmt.Errorf("write %s: %w", final, err)
	}
	if err := os.Rename(a.named, final); err != nil {
		os.Remove(a.named)
		return fmt.Errorf("rename to %s: %w", final, err)
	}
	if d, err := os.Open(a.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// abort drops the data.
func (a *atomicFile) abort() {
	a.f.Close()
	if a.named != "" {
		os.Remove(a.named)
	}
}

// countingWriter counts bytes on their way to the file.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeCSV streams t as RFC 4180 CSV (header row first) into w. It returns
// the data rows and bytes written.
func writeCSV(w io.Writer, t Table, opts FileOptions) (rows, bytes int64, err error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 256<<10)
	if opts.BOM {
		if _, err := bw.WriteString("\uFEFF"); err != nil {
			return 0, 0, err
		}
	}
	c := csv.NewWriter(bw)
	c.UseCRLF = true // RFC 4180, and the same bytes as the query API's CSV
	if opts.Delimiter != 0 {
		c.Comma = opts.Delimiter
	}
	if err := c.Write(t.Columns()); err != nil {
		return 0, 0, err
	}
	if err := t.Each(func(row []string) error {
		rows++
		return c.Write(row)
	}); err != nil {
		return rows, cw.n, err
	}
	c.Flush()
	if err := c.Error(); err != nil {
		return rows, cw.n, err
	}
	if err := bw.Flush(); err != nil {
		return rows, cw.n, err
	}
	return rows, cw.n, nil
}

// WriteFile writes t as CSV to dir/name, whole or not at all. With
// skipEmpty, a result without data rows writes nothing and returns
// written=false.
func WriteFile(dir, name string, t Table, opts FileOptions, skipEmpty bool) (rows, bytes int64, written bool, err error) {
	return writeFile(dir, name, t, opts, skipEmpty, nil)
}

// writeFile is WriteFile that calls before, when the data is written and
// before the file gets its name (the manifest is written there, so that a
// file never appears without it). An error from before drops the file.
func writeFile(dir, name string, t Table, opts FileOptions, skipEmpty bool, before func(rows, bytes int64) error) (rows, bytes int64, written bool, err error) {
	if !ValidFileName(name) {
		return 0, 0, false, fmt.Errorf("file name %q is not safe", name)
	}
	a, err := createAtomic(dir)
	if err != nil {
		return 0, 0, false, err
	}
	rows, bytes, err = writeCSV(a.f, t, opts)
	if err != nil {
		a.abort()
		return rows, bytes, false, err
	}
	if rows == 0 && skipEmpty {
		a.abort()
		return 0, 0, false, nil
	}
	if before != nil {
		if err := before(rows, bytes); err != nil {
			a.abort()
			return rows, bytes, false, err
		}
	}
	if err := a.commit(name); err != nil {
		if before != nil {
			os.Remove(filepath.Join(dir, ManifestName(name)))
		}
		return rows, bytes, false, err
	}
	return rows, bytes, true, nil
}

// ValidFileName reports whether name is a plain .csv file name an export
// may write or serve.
func ValidFileName(name string) bool {
	return fileNameRe.MatchString(name) && !strings.Contains(name, "..")
}

var fileNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.csv$`)

// KeptFile is a file in an export's folder.
type KeptFile struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Files lists the CSV files of export e in dir, newest first.
func Files(dir string, e Export) ([]KeptFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []KeptFile
	prefix := e.Name + "_"
	for _, de := range ents {
		n := de.Name()
		if !de.Type().IsRegular() || !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, ".csv") {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		out = append(out, KeptFile{Name: n, Size: info.Size(), ModTime: info.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].ModTime.Equal(out[j].ModTime) {
			return out[i].ModTime.After(out[j].ModTime)
		}
		return out[i].Name > out[j].Name
	})
	return out, nil
}

// Prune keeps the newest keep files of e in dir and removes the others,
// each with its manifest.
func Prune(dir string, e Export, keep int) ([]string, error) {
	if keep <= 0 {
		keep = DefaultKeep
	}
	fs, err := Files(dir, e)
	if err != nil {
		return nil, err
	}
	var removed []string
	for i := keep; i < len(fs); i++ {
		if err := os.Remove(filepath.Join(dir, fs[i].Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, fs[i].Name)
	}
	return append(removed, pruneManifests(dir, e, removed, 10*time.Minute)...), nil
}

// SweepPartials removes temporary files older than age below root: the
// leftovers of a crash on a file system without unnamed temporary files.
func SweepPartials(root string, age time.Duration) int {
	n := 0
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(d.Name(), partialSuffix) || !strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if info, err := d.Info(); err == nil && time.Since(info.ModTime()) > age {
			if os.Remove(p) == nil {
				n++
			}
		}
		return nil
	})
	return n
}
