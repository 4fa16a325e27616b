package cli

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// openInput reads f through a byte counter (the progress bar's position in
// the file), decompressing it when it is gzip by its name (gz) or by its
// magic bytes. Call done when finished.
func openInput(f io.Reader, gz bool) (cr *countingReader, r io.Reader, done func(), err error) {
	cr = &countingReader{r: f}
	br := bufio.NewReaderSize(cr, 1<<20)
	if magic, _ := br.Peek(2); gz || (len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("not gzip data: %w", err)
		}
		return cr, zr, func() { zr.Close() }, nil
	}
	return cr, br, func() {}, nil
}

// rejectsFile is FILE.rejects.ndjson: created on the first rejected line,
// and always the last load's (a new load of FILE removes the old one).
type rejectsFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

func newRejectsFile(input string) *rejectsFile {
	r := &rejectsFile{path: input + ".rejects.ndjson"}
	_ = os.Remove(r.path)
	return r
}

// writer returns the file's writer, creating the file on first use.
func (r *rejectsFile) writer() (*bufio.Writer, error) {
	if r.w == nil {
		f, err := os.Create(r.path)
		if err != nil {
			return nil, fmt.Errorf("rejects file: %w", err)
		}
		r.f, r.w = f, bufio.NewWriter(f)
	}
	return r.w, nil
}

func (r *rejectsFile) close() {
	if r.w != nil {
		r.w.Flush()
		r.f.Close()
	}
}
