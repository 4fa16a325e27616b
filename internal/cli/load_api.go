package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/config"
)

// apiChunkBytes and apiChunkRows bound one request of load --api: well
// under the instance's ADOPTSCOPE_INGEST_MAX_BODY (a quarter of it, at
// most 4 MiB), and few enough rows that every error of a chunk is listed
// in its answer (ingest.MaxAllErrors of at most ingest.MaxErrorsPerLine a
// row).
const (
	apiChunkBytes = 4 << 20
	apiChunkRows  = ingest.MaxAllErrors / ingest.MaxErrorsPerLine
)

// apiLoader sends files through a running instance's POST /v1/events, a
// chunk a request: the instance keeps running (`up` holds the store), its
// pipeline validates, deduplicates and commits, and each answer comes
// after the commit.
type apiLoader struct {
	hc         *http.Client
	url        string // …/v1/events?errors=all
	token      string
	retries    int
	chunkBytes int
	chunkRows  int
	maxLine    int
	maxWait    time.Duration // longest wait between two attempts
	mode       string
	e          *env
	log        *slog.Logger
}

// runLoadAPI is `load --api URL --token T FILE…`.
func runLoadAPI(ctx context.Context, cfg config.Config, apiURL, token string, retries int, files []string, forced ingest.Format, progress string, e *env) error {
	c, err := newAPIClient(apiURL, token, 5*time.Minute)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if token == "" {
		return errors.New("load --api: give an ingest token with --token (ADOPTSCOPE_TOKEN): one of the instance's ADOPTSCOPE_INGEST_TOKENS, or the token `adoptscope up` printed and keeps in DATA_DIR/ingest-token")
	}
	if retries < 0 {
		return fmt.Errorf("load: --retries %d: want 0 or more", retries)
	}
	l := &apiLoader{
		hc: c.hc, url: c.base + "/v1/events?errors=all", token: token, retries: retries,
		chunkBytes: int(min(int64(cfg.Ingest.MaxBody)/4, apiChunkBytes)), chunkRows: apiChunkRows,
		maxLine: cfg.Ingest.MaxLine, maxWait: time.Minute,
		mode: progressMode(progress, e), e: e, log: logger(cfg, e.stderr),
	}
	var total ingest.Result
	var failed []error
	for _, f := range files {
		r, err := l.loadFile(ctx, f, forced)
		total.Accepted += r.Accepted
		total.Duplicates += r.Duplicates
		total.Rejected += r.Rejected
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", f, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	if len(files) > 1 {
		fmt.Fprintf(e.stdout, "total: %d accepted, %d duplicates, %d rejected in %d files\n", total.Accepted, total.Duplicates, total.Rejected, len(files))
	}
	return errors.Join(failed...)
}

// apiChunk is one request: a body of whole records (after the CSV header
// row, repeated in every chunk), with where each of its lines is in the
// file.
type apiChunk struct {
	index     int
	body      []byte
	headerLen int // bytes of the CSV header at the start of body
	records   int
	// fileLine[i] is the file line (an element's number for a JSON array)
	// of line i+1 of body; 0 for the CSV header.
	fileLine []int
	// raw is each record's text by its first line in body.
	raw   map[int][2]int
	read  int64 // bytes of the file read once the chunk is complete
	first int   // file line of the first record
	last  int   // file line of the last record
}

// chunker cuts a file into chunks.
type chunker struct {
	l      *apiLoader
	format ingest.Format
	br     *bufio.Reader
	read   func() int64
	line   int // file lines read
	header []byte
	index  int
	cur    *apiChunk
	// JSON
	dec      *json.Decoder
	jsonDone bool
	element  int
}

func (l *apiLoader) newChunker(format ingest.Format, r io.Reader, read func() int64) *chunker {
	return &chunker{l: l, format: format, br: bufio.NewReaderSize(r, l.maxLine+2), read: read}
}

func (k *chunker) start() {
	k.cur = &apiChunk{index: k.index, raw: map[int][2]int{}}
	k.index++
	if len(k.header) > 0 {
		k.cur.body = append(k.cur.body, k.header...)
		k.cur.headerLen = len(k.header)
		for range bytes.Count(k.header, []byte("\n")) {
			k.cur.fileLine = append(k.cur.fileLine, 0)
		}
	}
}

// add appends one record (its text ending in "\n") that starts at file
// line first.
func (k *chunker) add(rec []byte, first int) {
	c := k.cur
	if c.records == 0 {
		c.first = first
	}
	bodyLine := len(c.fileLine) + 1
	off := len(c.body)
	c.body = append(c.body, rec...)
	c.raw[bodyLine] = [2]int{off, len(c.body)}
	n := bytes.Count(rec, []byte("\n"))
	for i := range n {
		c.fileLine = append(c.fileLine, first+i)
	}
	c.last = first + max(n-1, 0)
	c.records++
}

func (k *chunker) full() bool {
	return k.cur.records >= k.l.chunkRows || len(k.cur.body) >= k.l.chunkBytes
}

// next returns the next chunk, or io.EOF after the last. An error other
// than io.EOF stops the file at the line it names.
func (k *chunker) next() (*apiChunk, error) {
	if k.cur == nil {
		if k.format == ingest.CSV {
			if err := k.readHeader(); err != nil {
				return nil, err
			}
		}
	}
	k.start()
	for !k.full() {
		var err error
		switch k.format {
		case ingest.CSV:
			err = k.csvRecord()
		case ingest.JSON:
			err = k.jsonElement()
		default:
			err = k.ndjsonLine()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	c := k.cur
	c.read = k.read()
	if c.records == 0 {
		return nil, io.EOF
	}
	return c, nil
}

// physLine reads one line with its "\n" (added at the end of the file).
func (k *chunker) physLine() ([]byte, error) {
	line, err := k.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("line %d is longer than %d bytes (ADOPTSCOPE_INGEST_MAX_LINE): %w", k.line+1, k.l.maxLine, ingest.ErrTooLarge)
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if len(line) == 0 && err == io.EOF {
		return nil, io.EOF
	}
	k.line++
	out := make([]byte, 0, len(line)+1)
	out = append(out, line...)
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out, nil
}

func (k *chunker) ndjsonLine() error {
	for {
		line, err := k.physLine()
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines are not sent; the file's numbering is kept
		}
		k.add(line, k.line)
		return nil
	}
}

// csvLines reads one CSV record: lines until the quotes are balanced
// (a quoted field may hold line breaks). A record that grows past a line's
// limit without its closing quote ends there: the instance then reports
// its broken quoting.
func (k *chunker) csvLines() ([]byte, int, error) {
	var rec []byte
	first := 0
	quoted := false
	for {
		line, err := k.physLine()
		if err == io.EOF && rec != nil {
			return rec, first, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if rec == nil {
			first = k.line
		}
		rec = append(rec, line...)
		if bytes.Count(line, []byte(`"`))%2 == 1 {
			quoted = !quoted
		}
		if !quoted || len(rec) > k.l.maxLine {
			return rec, first, nil
		}
	}
}

func (k *chunker) readHeader() error {
	for {
		rec, _, err := k.csvLines()
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(bytes.TrimPrefix(rec, []byte("\ufeff")))) == 0 {
			continue
		}
		k.header = rec
		return nil
	}
}

func (k *chunker) csvRecord() error {
	for {
		rec, first, err := k.csvLines()
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(rec)) == 0 {
			continue
		}
		k.add(rec, first)
		return nil
	}
}

// jsonElement reads one element of a JSON array (or the one object of
// the file) and sends it as an NDJSON line, numbered as `load` numbers
// elements.
func (k *chunker) jsonElement() error {
	if k.jsonDone {
		return io.EOF
	}
	if k.dec == nil {
		k.dec = json.NewDecoder(k.br)
		first, err := k.br.Peek(1)
		for err == nil && (first[0] == ' ' || first[0] == '\t' || first[0] == '\r' || first[0] == '\n' || first[0] == 0xef || first[0] == 0xbb || first[0] == 0xbf) {
			_, _ = k.br.ReadByte()
			first, err = k.br.Peek(1)
		}
		if err != nil {
			return fmt.Errorf("empty file: want a JSON array of events or one event object: %w", ingest.ErrMalformed)
		}
		switch first[0] {
		case '{':
			k.jsonDone = true
			return k.jsonValue()
		case '[':
			if _, err := k.dec.Token(); err != nil {
				return fmt.Errorf("not valid JSON: %w", ingest.ErrMalformed)
			}
		default:
			return fmt.Errorf("want a JSON array of events or one event object: %w", ingest.ErrMalformed)
		}
	}
	if !k.dec.More() {
		k.jsonDone = true
		if _, err := k.dec.Token(); err != nil {
			return fmt.Errorf("element %d onwards: not valid JSON: %w", k.element+1, ingest.ErrMalformed)
		}
		return io.EOF
	}
	return k.jsonValue()
}

func (k *chunker) jsonValue() error {
	var raw json.RawMessage
	if err := k.dec.Decode(&raw); err != nil {
		return fmt.Errorf("element %d: not valid JSON (%v): %w", k.element+1, err, ingest.ErrMalformed)
	}
	k.element++
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return fmt.Errorf("element %d: not valid JSON: %w", k.element, ingest.ErrMalformed)
	}
	if b.Len() > k.l.maxLine {
		return fmt.Errorf("element %d is longer than %d bytes (ADOPTSCOPE_INGEST_MAX_LINE): %w", k.element, k.l.maxLine, ingest.ErrTooLarge)
	}
	b.WriteByte('\n')
	k.add(b.Bytes(), k.element)
	return nil
}

// chunkAnswer is the instance's answer to one chunk.
type chunkAnswer struct {
	ingest.Result
	replayed bool // answered from the answer stored for its Idempotency-Key
	attempts int  // requests sent for it
}

// loadFile sends one file and prints its summary line.
func (l *apiLoader) loadFile(ctx context.Context, path string, forced ingest.Format) (ingest.Result, error) {
	var res ingest.Result
	start := time.Now()
	format, gz, _ := ingest.FormatOfFile(path)
	if forced != 0 {
		format = forced
	}
	// The file's hash names its chunks: loaded again, or resumed after a
	// failure, each chunk carries the same Idempotency-Key and is answered
	// from the instance's stored answer (within its dedup window).
	sum, size, err := fileHash(path)
	if err != nil {
		return res, err
	}
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	cr, r, done, err := openInput(f, gz)
	if err != nil {
		return res, err
	}
	defer done()
	rejects := newRejectsFile(path)
	defer rejects.close()
	pr := newLoadProgress(l.mode, path, size, start, l.e, l.log)
	keyBase := fmt.Sprintf("adoptscope-load-%s-%d-%d", hex.EncodeToString(sum[:12]), l.chunkBytes, l.chunkRows)

	// Cut in one goroutine, send in this one: the next chunk is read and
	// compressed while the instance commits the previous one.
	type cut struct {
		c   *apiChunk
		gz  []byte
		err error
	}
	cuts := make(chan cut, 1)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(cuts)
		k := l.newChunker(format, r, func() int64 { return cr.n })
		for {
			c, err := k.next()
			var z []byte
			if err == nil {
				z, err = gzipBytes(c.body)
			}
			select {
			case cuts <- cut{c, z, err}:
			case <-cctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	rows, chunks, replayed, nextLine := 0, 0, 0, 1
	contentType := "application/x-ndjson"
	if format == ingest.CSV {
		contentType = "text/csv"
	}
	for ct := range cuts {
		if ct.err == io.EOF {
			break
		}
		if ct.err != nil {
			return res, fmt.Errorf("%w; the lines before line %d are stored: fix the file and run the same command again (nothing is stored twice)", ct.err, nextLine)
		}
		c := ct.c
		ans, err := l.send(ctx, c, ct.gz, contentType, keyBase+"-"+strconv.Itoa(c.index))
		if err != nil {
			return res, fmt.Errorf("lines %d-%d: %w; the lines before line %d are stored: run the same command again to go on (nothing is stored twice)", c.first, c.last, err, c.first)
		}
		chunks++
		if ans.replayed && ans.attempts == 1 {
			// Loaded by an earlier run: its events were stored then. (A
			// replay on a retry answers this run's own earlier attempt,
			// committed but not answered.)
			replayed++
			ans.Duplicates += ans.Accepted
			ans.Accepted = 0
		}
		res.Accepted += ans.Accepted
		res.Duplicates += ans.Duplicates
		res.Rejected += ans.Rejected
		rows += ans.Accepted + ans.Duplicates + ans.Rejected
		if len(ans.Errors) > 0 {
			w, err := rejects.writer()
			if err != nil {
				return res, err
			}
			errs, raws := c.fileErrors(ans.Errors)
			if err := l.writeRejects(w, format, c, errs, raws); err != nil {
				return res, fmt.Errorf("rejects file: %w", err)
			}
		}
		nextLine = c.last + 1
		pr.report(c.read, rows)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("interrupted (%w); the lines before line %d are stored: run the same command again to go on (nothing is stored twice)", err, nextLine)
	}
	pr.finish()
	took := time.Since(start)
	msg := fmt.Sprintf("%s: %d rows: %d accepted, %d duplicates, %d rejected in %s (%.0f rows/s)",
		path, rows, res.Accepted, res.Duplicates, res.Rejected, took.Round(time.Millisecond), float64(rows)/max(took.Seconds(), 1e-9))
	if res.Rejected > 0 {
		msg += "; rejects with their errors in " + rejects.path
	}
	if replayed > 0 {
		msg += fmt.Sprintf("; %d of %d chunks were loaded before (the instance answered them from their Idempotency-Key)", replayed, chunks)
	}
	fmt.Fprintln(l.e.stdout, msg)
	return res, nil
}

// writeRejects writes one line per rejected line, as `load` does: its
// line number in the file, its errors and its text. The user id's keyed
// hash needs the instance's secret, so the text shows <user_id> in its
// place, or is left out when the id cannot be replaced safely.
func (l *apiLoader) writeRejects(w io.Writer, format ingest.Format, c *apiChunk, errs []ingest.FieldError, raws map[int][]byte) error {
	enc := json.NewEncoder(w)
	for i := 0; i < len(errs); {
		j := i
		rl := rejectLine{Line: errs[i].Line}
		for ; j < len(errs) && errs[j].Line == errs[i].Line; j++ {
			rl.Errors = append(rl.Errors, rejectErr{Field: errs[j].Field, Error: errs[j].Error})
		}
		raw := raws[errs[i].Line]
		rl.Raw, rl.Text, rl.Omitted = redactAPIRaw(raw, l.userIDOf(format, c, raw))
		if err := enc.Encode(rl); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// userIDOf decodes a rejected record again, to learn its user id.
func (l *apiLoader) userIDOf(format ingest.Format, c *apiChunk, raw []byte) string {
	var d ingest.Decoder
	if format == ingest.CSV {
		rec := io.MultiReader(bytes.NewReader(c.body[:c.headerLen]), bytes.NewReader(raw), strings.NewReader("\n"))
		d = ingest.NewCSVDecoder(rec, l.maxLine, false, 0)
	} else {
		d = ingest.NewDecoder(ingest.NDJSON, bytes.NewReader(raw), l.maxLine, false)
	}
	defer ingest.Release(d)
	var rec ingest.Record
	if d.Next(&rec) != nil {
		return ""
	}
	return rec.Input.UserID
}

// redactAPIRaw is the text of a rejected line with its user id replaced
// by <user_id>: a JSON object's user_id and any value equal to it, a CSV
// line's cells equal to it; omitted says why the text is left out.
func redactAPIRaw(raw []byte, userID string) (obj json.RawMessage, text, omitted string) {
	const mark = "<user_id>"
	if len(raw) == 0 {
		return nil, "", ""
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		for name, v := range m {
			var s string
			if name == "user_id" || (userID != "" && json.Unmarshal(v, &s) == nil && s == userID) {
				m[name] = json.RawMessage(`"` + mark + `"`)
			}
		}
		out, err := json.Marshal(m)
		if err != nil || (userID != "" && bytes.Contains(out, []byte(userID))) {
			return nil, "", rawOmitted
		}
		return out, "", ""
	}
	s := string(raw)
	if userID == "" {
		if strings.Contains(s, "user_id") {
			return nil, "", rawOmitted // a broken JSON line may name one
		}
		return nil, s, ""
	}
	s = strings.ReplaceAll(s, userID, mark)
	if len(userID) < 3 {
		return nil, "", rawOmitted // too short to replace without damage
	}
	return nil, s, ""
}

// fileErrors turns the errors of an answer (lines of the chunk's body)
// into the file's lines, with each record's text.
func (c *apiChunk) fileErrors(errs []ingest.FieldError) ([]ingest.FieldError, map[int][]byte) {
	out := make([]ingest.FieldError, 0, len(errs))
	raws := map[int][]byte{}
	for _, e := range errs {
		bodyLine := e.Line
		if bodyLine >= 1 && bodyLine <= len(c.fileLine) && c.fileLine[bodyLine-1] > 0 {
			e.Line = c.fileLine[bodyLine-1]
		}
		if span, ok := c.raw[bodyLine]; ok {
			raws[e.Line] = bytes.TrimRight(c.body[span[0]:span[1]], "\r\n")
		}
		out = append(out, e)
	}
	return out, raws
}

// send posts one chunk and retries what may succeed later: 503 (the
// instance's buffer is full or ClickHouse is down) after its Retry-After,
// 408 and 429, and a connection that failed (an instance restarting),
// at most l.retries times. The Idempotency-Key makes a retry safe: a chunk
// committed whose answer was lost is answered from the stored answer.
func (l *apiLoader) send(ctx context.Context, c *apiChunk, body []byte, contentType, key string) (chunkAnswer, error) {
	var last string
	for attempt := 0; ; attempt++ {
		ans, wait, err := l.post(ctx, body, contentType, key)
		if err == nil {
			ans.attempts = attempt + 1
			return ans, nil
		}
		if wait < 0 || ctx.Err() != nil {
			return chunkAnswer{}, err
		}
		last = err.Error()
		if attempt >= l.retries {
			return chunkAnswer{}, fmt.Errorf("not stored after %d attempts (--retries %d), the last: %s", attempt+1, l.retries, last)
		}
		if wait == 0 {
			wait = min(time.Duration(1<<min(attempt, 5))*time.Second, l.maxWait)
		}
		wait = min(wait, l.maxWait)
		l.log.Warn("load: chunk not stored yet; retrying", "lines", fmt.Sprintf("%d-%d", c.first, c.last),
			"attempt", attempt+1, "of", l.retries+1, "in", wait, "error", last)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return chunkAnswer{}, ctx.Err()
		}
	}
}

// post sends one attempt. wait is how long to wait before a retry (0: the
// loader's backoff), or -1 when retrying cannot help.
func (l *apiLoader) post(ctx context.Context, body []byte, contentType, key string) (chunkAnswer, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(body))
	if err != nil {
		return chunkAnswer{}, -1, err
	}
	req.Header.Set("Authorization", "Bearer "+l.token)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Idempotency-Key", key)
	resp, err := l.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return chunkAnswer{}, -1, ctx.Err()
		}
		return chunkAnswer{}, 0, fmt.Errorf("POST %s: %w", l.url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return chunkAnswer{}, 0, fmt.Errorf("POST %s: reading the answer: %w", l.url, err)
	}
	var ans struct {
		ingest.Result
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &ans)
	msg := ans.Error
	if msg == "" {
		msg = strings.TrimSpace(string(raw))
	}
	switch {
	case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusBadRequest && ans.Error == "" && ans.Rejected > 0:
		// 400 with counts: every line of the chunk was rejected.
		return chunkAnswer{Result: ans.Result, replayed: resp.Header.Get("Idempotent-Replayed") == "true"}, 0, nil
	case resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return chunkAnswer{}, retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("%s: %s", resp.Status, msg)
	case resp.StatusCode == http.StatusUnauthorized:
		return chunkAnswer{}, -1, fmt.Errorf("%s: %s (--token / ADOPTSCOPE_TOKEN)", resp.Status, msg)
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return chunkAnswer{}, -1, fmt.Errorf("%s: %s (chunks are sent %d bytes at most, a quarter of --ingest-max-body; set --ingest-max-body / ADOPTSCOPE_INGEST_MAX_BODY to the instance's value)", resp.Status, msg, l.chunkBytes)
	case resp.StatusCode >= 500:
		return chunkAnswer{}, 0, fmt.Errorf("%s: %s", resp.Status, msg)
	}
	return chunkAnswer{}, -1, fmt.Errorf("%s: %s", resp.Status, msg)
}

// retryAfter reads Retry-After (seconds or an HTTP date); 0 when absent.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return max(time.Duration(s)*time.Second, 100*time.Millisecond)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 100*time.Millisecond)
	}
	return 0
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fileHash is the SHA-256 of the file as it is on disk, and its size.
func fileHash(path string) ([sha256.Size]byte, int64, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return sum, 0, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}
