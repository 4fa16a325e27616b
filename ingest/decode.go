package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Format is a body or file format.
type Format int

const (
	NDJSON Format = iota + 1
	JSON
	CSV
)

func (f Format) String() string {
	switch f {
	case NDJSON:
		return "ndjson"
	case JSON:
		return "json"
	case CSV:
		return "csv"
	}
	return "unknown"
}

// FormatOfMediaType maps a Content-Type media type (without parameters).
func FormatOfMediaType(mt string) (Format, bool) {
	switch strings.ToLower(mt) {
	case "application/x-ndjson", "application/ndjson", "application/jsonlines", "application/x-jsonlines":
		return NDJSON, true
	case "application/json":
		return JSON, true
	case "text/csv":
		return CSV, true
	}
	return 0, false
}

// FormatOfFile maps a file name (.ndjson, .jsonl, .json, .csv, each
// optionally .gz) and reports whether it is gzip-compressed.
func FormatOfFile(name string) (f Format, gz bool, ok bool) {
	n := strings.ToLower(name)
	if strings.HasSuffix(n, ".gz") {
		gz = true
		n = strings.TrimSuffix(n, ".gz")
	}
	switch filepath.Ext(n) {
	case ".ndjson", ".jsonl":
		return NDJSON, gz, true
	case ".json":
		return JSON, gz, true
	case ".csv":
		return CSV, gz, true
	}
	return 0, gz, false
}

// Record is one decoded event, or the reason it could not be decoded.
type Record struct {
	Input Input
	Line  int
	Err   *FieldError // set when the line could not be decoded
	Raw   []byte      // the line's text when KeepRaw; valid until the next call
}

// Decoder yields the records of one body or file.
type Decoder interface {
	// Next fills rec; it returns io.EOF after the last record, an error
	// wrapping ErrTooLarge or ErrMalformed when the input cannot go on.
	Next(rec *Record) error
}

// NewDecoder reads format f from r. maxLine bounds one NDJSON or CSV line.
// keepRaw makes Record.Raw available (for reject files).
func NewDecoder(f Format, r io.Reader, maxLine int, keepRaw bool) Decoder {
	switch f {
	case NDJSON:
		d := &ndjsonDecoder{br: getReader(r, maxLine), keepRaw: keepRaw}
		d.set = d.setField
		return d
	case JSON:
		d := &jsonDecoder{r: r}
		d.set = d.setField
		return d
	default:
		return newCSVDecoder(r, maxLine, keepRaw, 0)
	}
}

// NewCSVDecoder is NewDecoder for CSV with the delimiter given (',', ';'
// or '\t'; see ParseDelimiter); 0 detects it from the header row.
func NewCSVDecoder(r io.Reader, maxLine int, keepRaw bool, delim rune) Decoder {
	return newCSVDecoder(r, maxLine, keepRaw, delim)
}

// Release returns pooled buffers; the decoder must not be used after it.
func Release(d Decoder) {
	if n, ok := d.(*ndjsonDecoder); ok && n.br != nil {
		readerPool.Put(n.br)
		n.br = nil
	}
}

var readerPool sync.Pool

func getReader(r io.Reader, maxLine int) *bufio.Reader {
	size := maxLine + 2 // the line, "\r\n"
	if br, ok := readerPool.Get().(*bufio.Reader); ok && br.Size() == size {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, size)
}

type ndjsonDecoder struct {
	br      *bufio.Reader
	line    int
	sc      scanner
	keepRaw bool
	cur     *Record
	set     func(key []byte, kind jsonKind, val []byte)
}

func (d *ndjsonDecoder) setField(key []byte, kind jsonKind, val []byte) {
	// Keep reading fields after an error: the user id is needed to keep it
	// out of the error text.
	fe := setJSON(&d.cur.Input, key, kind, val)
	if kind == kindNumber && string(key) == "time" {
		if se := secondsError(val); se != nil {
			fe = se
		}
	}
	if fe != nil && d.cur.Err == nil {
		d.cur.Err = fe
	}
}

func (d *ndjsonDecoder) Next(rec *Record) error {
	for {
		line, err := d.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return &Error{Kind: LineTooLong, Line: d.line + 1, Limit: int64(d.br.Size() - 2)}
		}
		if err != nil && err != io.EOF {
			return err
		}
		if len(line) == 0 && err == io.EOF {
			return io.EOF
		}
		d.line++
		body := bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(body)) == 0 {
			if err == io.EOF {
				return io.EOF
			}
			continue
		}
		*rec = Record{Line: d.line}
		if d.keepRaw {
			rec.Raw = body
		}
		decodeObject(&d.sc, body, rec, d.set, &d.cur)
		return nil
	}
}

// decodeObject fills rec from one JSON object.
func decodeObject(sc *scanner, b []byte, rec *Record, set func([]byte, jsonKind, []byte), cur **Record) {
	*cur = rec
	notObject, err := sc.object(b, set)
	switch {
	case err != nil:
		rec.Err = &FieldError{Error: "not valid JSON"}
	case notObject:
		rec.Err = &FieldError{Error: "not a JSON object"}
	}
	if rec.Err != nil {
		rec.Err.Line = rec.Line
		rec.Err.Error = redact(rec.Err.Error, rec.Input.UserID)
	}
}

type jsonDecoder struct {
	r       io.Reader
	dec     *json.Decoder
	n       int
	started bool
	done    bool
	sc      scanner
	cur     *Record
	set     func(key []byte, kind jsonKind, val []byte)
}

func (d *jsonDecoder) setField(key []byte, kind jsonKind, val []byte) {
	fe := setJSON(&d.cur.Input, key, kind, val)
	if kind == kindNumber && string(key) == "time" {
		if se := secondsError(val); se != nil {
			fe = se
		}
	}
	if fe != nil && d.cur.Err == nil {
		d.cur.Err = fe
	}
}

func (d *jsonDecoder) Next(rec *Record) error {
	if d.done {
		return io.EOF
	}
	if !d.started {
		d.started = true
		br := bufio.NewReader(d.r)
		var first byte
		for {
			c, err := br.ReadByte()
			if err == io.EOF {
				return refuse(BadInput, "empty body")
			}
			if err != nil {
				return err
			}
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				first = c
				_ = br.UnreadByte()
				break
			}
		}
		switch first {
		case '{':
			b, err := io.ReadAll(br)
			if err != nil {
				return err
			}
			d.done = true
			*rec = Record{Line: 1, Raw: b}
			decodeObject(&d.sc, b, rec, d.set, &d.cur)
			if rec.Err != nil && rec.Err.Field == "" {
				return refuse(BadInput, "not valid JSON")
			}
			return nil
		case '[':
			d.dec = json.NewDecoder(br)
			if _, err := d.dec.Token(); err != nil {
				return jsonErr(err) // a read error (a body deadline) keeps its status
			}
		default:
			return refuse(BadInput, "want a JSON array of events or one event object")
		}
	}
	if !d.dec.More() {
		d.done = true
		if _, err := d.dec.Token(); err != nil {
			return jsonErr(err)
		}
		if _, err := d.dec.Token(); err != io.EOF {
			return refuse(BadInput, "data after the closing ]")
		}
		return io.EOF
	}
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		return jsonErr(err)
	}
	d.n++
	*rec = Record{Line: d.n, Raw: raw}
	decodeObject(&d.sc, raw, rec, d.set, &d.cur)
	return nil
}

func jsonErr(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return refuse(BadInput, "not valid JSON")
	}
	return err
}

type csvDecoder struct {
	r       *csv.Reader
	header  []string
	keepRaw bool
	rawBuf  bytes.Buffer
	started bool
}

func newCSVDecoder(r io.Reader, maxLine int, keepRaw bool, delim rune) *csvDecoder {
	br := bufio.NewReaderSize(&lineLimiter{r: r, max: maxLine}, min(maxLine+2, 64<<10))
	// A UTF-8 BOM (spreadsheets write one) is not part of the first name.
	if bom, _ := br.Peek(3); string(bom) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	head, _ := br.Peek(br.Size())
	cr := csv.NewReader(br)
	cr.Comma = delim
	if delim == 0 {
		cr.Comma = detectDelimiter(head)
	}
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	return &csvDecoder{r: cr, keepRaw: keepRaw}
}

// detectDelimiter picks the separator of a CSV file from its header row:
// the most frequent of , ; and tab outside quotes (a spreadsheet in a
// European locale writes ;). Field names hold none of them.
func detectDelimiter(head []byte) rune {
	counts := map[byte]int{}
	quoted := false
	for _, c := range head {
		if c == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if c == '\n' {
			break
		}
		if c == ',' || c == ';' || c == '\t' {
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}

// requiredColumns are the fields every event needs (validate).
var requiredColumns = []string{"event_id", "time", "assistant", "channel", "user_id"}

// checkHeader says which required columns a header lacks, and which it
// has, instead of one "required" error per line.
func (d *csvDecoder) checkHeader() error {
	var missing []string
	for _, want := range requiredColumns {
		found := false
		for _, h := range d.header {
			if h == want {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, want)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	e := refuse(BadInput, "CSV header: no %s column (the header row must name the fields: %s); found %d column(s) separated by %q: %s",
		strings.Join(missing, ", "), strings.Join(requiredColumns, ", "), len(d.header), d.r.Comma, strings.Join(quoteAll(d.header), ", "))
	e.Line, e.Field = 1, missing[0]
	return e
}

func quoteAll(l []string) []string {
	out := make([]string, 0, min(len(l), 20))
	for i, s := range l {
		if i == 20 {
			out = append(out, "…")
			break
		}
		out = append(out, strconv.Quote(s))
	}
	return out
}

// secondsError refuses a time in Unix seconds: read as milliseconds it
// would be a day of January 1970.
func secondsError(val []byte) *FieldError {
	if len(val) < 9 || len(val) > 10 || !isDigits(string(val)) {
		return nil
	}
	return &FieldError{Field: "time", Error: fmt.Sprintf("%s looks like Unix seconds: send Unix milliseconds (%s000) or RFC 3339 (2026-01-15T09:30:00Z)", val, val)}
}

func (d *csvDecoder) Next(rec *Record) error {
	if !d.started {
		d.started = true
		h, err := d.r.Read()
		if err == io.EOF {
			return refuse(BadInput, "empty CSV: want a header row of field names")
		}
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return err
			}
			e := refuse(BadInput, "CSV header: %v", err)
			e.Line = 1
			return e
		}
		d.header = make([]string, len(h))
		for i, name := range h {
			if i == 0 {
				name = strings.TrimPrefix(name, "\ufeff")
			}
			d.header[i] = strings.TrimSpace(name)
		}
		if err := d.checkHeader(); err != nil {
			return err
		}
	}
	fields, err := d.r.Read()
	if err == io.EOF {
		return io.EOF
	}
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		*rec = Record{Line: pe.StartLine, Err: &FieldError{Line: pe.StartLine, Error: "not valid CSV: " + pe.Err.Error()}}
		return nil
	}
	if err != nil {
		return err
	}
	line, _ := d.r.FieldPos(0)
	*rec = Record{Line: line}
	if d.keepRaw {
		d.rawBuf.Reset()
		w := csv.NewWriter(&d.rawBuf)
		_ = w.Write(fields)
		w.Flush()
		rec.Raw = bytes.TrimRight(d.rawBuf.Bytes(), "\n")
	}
	if len(fields) != len(d.header) {
		rec.Err = &FieldError{Line: line, Error: fmt.Sprintf("%d fields, the header has %d", len(fields), len(d.header))}
		return nil
	}
	for i, v := range fields {
		fe := setText(&rec.Input, d.header[i], v)
		if d.header[i] == "time" {
			if se := secondsError([]byte(v)); se != nil {
				fe = se
			}
		}
		if fe != nil && rec.Err == nil {
			fe.Line = line
			rec.Err = fe
		}
	}
	if rec.Err != nil {
		rec.Err.Error = redact(rec.Err.Error, rec.Input.UserID)
	}
	return nil
}

// lineLimiter fails with ErrTooLarge once a line grows past max bytes, so
// that a CSV reader never buffers a huge line.
type lineLimiter struct {
	r    io.Reader
	max  int
	cur  int
	line int // lines ended so far
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.cur = 0
			l.line++
			continue
		}
		l.cur++
		if l.cur > l.max+1 { // +1: a "\r" before the "\n"
			return 0, &Error{Kind: LineTooLong, Line: l.line + 1, Limit: int64(l.max)}
		}
	}
	return n, err
}

// LimitReader fails with ErrTooLarge when r yields more than max bytes, after
// reading at most max+1 of them: a gzip body that expands past the limit is
// cut off there.
func LimitReader(r io.Reader, max int64) io.Reader { return &limitReader{r: r, left: max, max: max} }

type limitReader struct {
	r         io.Reader
	left, max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &Error{Kind: BodyTooLarge, Limit: l.max}
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n - 1, &Error{Kind: BodyTooLarge, Limit: l.max}
	}
	return n, err
}
