package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

const loadSummary = "load NDJSON, CSV or JSON files (optionally .gz) through ingest's validation and writer"

func runLoad(ctx context.Context, args []string, e *env) error {
	var cfg config.Config
	fs := newFlagSet("load", loadSummary+"\n\nArguments: FILE... (.ndjson, .jsonl, .json or .csv, optionally .gz; flags come first).\nRejected lines go with their errors to FILE.rejects.ndjson. Loading a file again loads nothing twice (within the dedup window).\nWith --api URL --token T the files go through a running instance's ingest API in chunks (no need to stop `up`); run the same command again to resume after a failure.", e)
	cfg.Bind(fs, config.Data|config.ClickHouse|config.Ingest|config.Logging)
	format := fs.String("format", "", "file format when the name does not say it: ndjson, json or csv")
	progress := fs.String("progress", "auto", "progress display: auto (bar on a terminal, log lines otherwise), bar, log, off")
	// With --api the files go through a running instance (load_api.go).
	apiURL := fs.String("api", os.Getenv("ADOPTSCOPE_API_URL"), "base URL of a running instance (for example http://127.0.0.1:8080) to send the files through its POST /v1/events in chunks, while it runs [$ADOPTSCOPE_API_URL]; empty: open the store directly")
	token := fs.String("token", os.Getenv("ADOPTSCOPE_TOKEN"), "ingest token for --api (one of the instance's ADOPTSCOPE_INGEST_TOKENS) [$ADOPTSCOPE_TOKEN]")
	retries := fs.Int("retries", 10, "with --api: attempts after the first for a chunk the instance refuses for now (503, honouring Retry-After) or cannot be reached")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return errors.New("load: name at least one file: adoptscope load events.ndjson [more.csv.gz ...]")
	}
	var forced ingest.Format
	switch *format {
	case "":
	case "ndjson":
		forced = ingest.NDJSON
	case "json":
		forced = ingest.JSON
	case "csv":
		forced = ingest.CSV
	default:
		return fmt.Errorf("load: --format %q: want ndjson, json or csv", *format)
	}
	for _, f := range files {
		if _, _, ok := ingest.FormatOfFile(f); !ok && forced == 0 {
			return fmt.Errorf("load: %s: cannot tell the format from the name (.ndjson, .jsonl, .json, .csv, optionally .gz): pass --format", f)
		}
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("load: %w", err)
		}
	}
	if *apiURL != "" {
		return runLoadAPI(ctx, cfg, *apiURL, *token, *retries, files, forced, *progress, e)
	}
	log := logger(cfg, e.stderr)
	b, p, err := app.OpenWriter(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer b.Close()
	finish := b.BuildBehind(e.stdout)
	closed := false
	defer func() {
		if closed {
			return
		}
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = p.Close(cctx)
	}()
	mode := progressMode(*progress, e)
	var total ingest.Result
	var failed []error
	for _, f := range files {
		r, err := loadFile(ctx, p, f, forced, mode, e, log)
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
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	closed = true
	if err := p.Close(cctx); err != nil {
		failed = append(failed, fmt.Errorf("flush: %w", err))
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer rcancel()
	return errors.Join(append(failed, finish(rctx))...)
}

// countingReader counts the bytes read from the file (compressed bytes for
// .gz), for progress and ETA.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type chunk struct {
	inputs     []ingest.Input
	lines      []int
	raws       map[int][]byte
	users      map[int]string // raw user ids, for the keyed hash in the rejects file
	decodeErrs []ingest.FieldError
	bytes      int64
}

func loadFile(ctx context.Context, p *ingest.Pipeline, path string, forced ingest.Format, mode string, e *env, log *slog.Logger) (ingest.Result, error) {
	var res ingest.Result
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	st, _ := f.Stat()
	size := st.Size()
	format, gz, _ := ingest.FormatOfFile(path)
	if forced != 0 {
		format = forced
	}
	cr, r, done, err := openInput(f, gz)
	if err != nil {
		return res, err
	}
	defer done()
	rejects := newRejectsFile(path)
	defer rejects.close()

	// The same display as load --api (load_progress.go).
	pr := newLoadProgress(mode, path, size, start, e, log)
	rows := 0
	report := func(done int64) { pr.report(done, rows) }

	// Decode in one goroutine, submit in this one: the next chunk is
	// decoded while the previous one is committed.
	batch := p.Config().BatchRows
	chunks := make(chan chunk, 1)
	decErr := make(chan error, 1)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(chunks)
		d := ingest.NewDecoder(format, r, p.Config().MaxLine, true)
		defer ingest.Release(d)
		var rec ingest.Record
		c := chunk{raws: map[int][]byte{}, users: map[int]string{}}
		send := func() bool {
			c.bytes = cr.n
			select {
			case chunks <- c:
			case <-dctx.Done():
				return false
			}
			c = chunk{raws: map[int][]byte{}, users: map[int]string{}}
			return true
		}
		for {
			err := d.Next(&rec)
			if err == io.EOF {
				send()
				decErr <- nil
				return
			}
			if err != nil {
				send()
				decErr <- err
				return
			}
			c.raws[rec.Line] = append([]byte(nil), rec.Raw...)
			c.users[rec.Line] = rec.Input.UserID
			if rec.Err != nil {
				c.decodeErrs = append(c.decodeErrs, *rec.Err)
			} else {
				c.inputs = append(c.inputs, rec.Input)
				c.lines = append(c.lines, rec.Line)
			}
			if len(c.inputs)+len(c.decodeErrs) >= batch && !send() {
				decErr <- dctx.Err()
				return
			}
		}
	}()

	for c := range chunks {
		var all []ingest.FieldError
		var r ingest.Result
		for attempt := 0; ; attempt++ {
			r, all, err = p.SubmitLines(ctx, c.inputs, c.lines, c.decodeErrs)
			if err == nil {
				break
			}
			// Retrying is safe: events already committed come back as
			// duplicates.
			if (errors.Is(err, ingest.ErrBusy) || errors.Is(err, ingest.ErrUnavailable)) && attempt < 10 && ctx.Err() == nil {
				log.Warn("load: batch not committed; retrying", "file", path, "attempt", attempt+1, "error", err)
				time.Sleep(time.Duration(attempt+1) * time.Second)
				continue
			}
			return res, err
		}
		res.Accepted += r.Accepted
		res.Duplicates += r.Duplicates
		res.Rejected += r.Rejected
		rows += len(c.inputs) + len(c.decodeErrs)
		if len(all) > 0 {
			w, err := rejects.writer()
			if err != nil {
				return res, err
			}
			if err := writeRejects(w, all, c.raws, c.users, p.UserKey); err != nil {
				return res, fmt.Errorf("rejects file: %w", err)
			}
		}
		report(c.bytes)
	}
	if err := <-decErr; err != nil {
		return res, fmt.Errorf("line %d onwards not loaded: %w (the lines before it are stored; load the file again after fixing it: nothing is stored twice)", rows+1, err)
	}
	pr.finish()
	took := time.Since(start)
	msg := fmt.Sprintf("%s: %d rows: %d accepted, %d duplicates, %d rejected in %s (%.0f rows/s)",
		path, rows, res.Accepted, res.Duplicates, res.Rejected, took.Round(time.Millisecond), float64(rows)/max(took.Seconds(), 1e-9))
	if res.Rejected > 0 {
		msg += "; rejects with their errors in " + rejects.path
	}
	fmt.Fprintln(e.stdout, msg)
	return res, nil
}

type rejectLine struct {
	Line   int             `json:"line"`
	Errors []rejectErr     `json:"errors"`
	Raw    json.RawMessage `json:"raw,omitempty"`
	Text   string          `json:"text,omitempty"`
	// UserKey is the keyed hash of the line's user_id (never the id);
	// Omitted says why the text is left out.
	UserKey *uint64 `json:"user_key,omitempty"`
	Omitted string  `json:"omitted,omitempty"`
}

type rejectErr struct {
	Field string `json:"field"`
	Error string `json:"error"`
}

// writeRejects writes one line per rejected input line: its line number,
// errors and the original text (as JSON when it is, else as a string),
// with the user id replaced by its keyed hash (redactRaw).
func writeRejects(w io.Writer, errs []ingest.FieldError, raws map[int][]byte, users map[int]string, userKey func(string) uint64) error {
	enc := json.NewEncoder(w)
	for i := 0; i < len(errs); {
		j := i
		rl := rejectLine{Line: errs[i].Line}
		for ; j < len(errs) && errs[j].Line == errs[i].Line; j++ {
			rl.Errors = append(rl.Errors, rejectErr{Field: errs[j].Field, Error: errs[j].Error})
		}
		rl.Raw, rl.Text, rl.Omitted, rl.UserKey = redactRaw(raws[errs[i].Line], users[errs[i].Line], userKey)
		if err := enc.Encode(rl); err != nil {
			return err
		}
		i = j
	}
	return nil
}
