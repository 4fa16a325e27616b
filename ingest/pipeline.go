package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// MaxListedErrors bounds Result.Errors; the counts are always complete.
const MaxListedErrors = 100

// Result is the outcome of one submission.
type Result struct {
	Accepted   int          `json:"accepted"`
	Duplicates int          `json:"duplicates"`
	Rejected   int          `json:"rejected"`
	Errors     []FieldError `json:"errors"`
}

// Pipeline validates, pseudonymizes, deduplicates and writes events in
// group commits. One writer goroutine owns the batches; Submit returns once
// its events are committed (or refused).
type Pipeline struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger
	reg   registries

	mu      sync.RWMutex // Submit holds it shared while it enqueues; Close exclusively
	closed  bool
	queue   chan *pending
	pending atomic.Int64 // rows reserved in the buffer
	done    chan struct{}
	stopJan chan struct{}
	now     chan struct{} // Flush: write the filling batch at once

	hashLookup bool // ingest_event_ids has id_hash
	// filter answers "certainly new" for most ids without ClickHouse
	// (dedupfilter.go); nil on a cluster or when turned off.
	filter *dedupFilter
	// legacy: ids that may be in ingest_event_ids alone (single server).
	legacy legacyIDs

	// Writes in flight (Config.Writes at most): the writer forms the next
	// batch, and looks its ids up, while earlier batches are written.
	slots chan struct{}
	// decoding bounds the bodies SubmitBody decodes at once.
	decoding chan struct{}
	flushing sync.WaitGroup
	// inFlight maps the event ids of batches not yet finished to their
	// flush: a later batch must not write them too (its lookup in
	// ClickHouse cannot see them before they are committed).
	inFlightMu sync.Mutex
	inFlight   map[string]*flushJob

	hashes  sync.Pool
	metrics *Metrics
	stats   *stats
}

type pending struct {
	events []Event
	dup    []bool // set by the writer
	done   chan error
}

// NewPipeline starts the writer. Close flushes and stops it.
func NewPipeline(s *store.Store, cfg Config, log *slog.Logger) (*Pipeline, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Pipeline{
		cfg: cfg, store: s, log: log, reg: newRegistries(cfg),
		queue:    make(chan *pending, 4096),
		done:     make(chan struct{}),
		stopJan:  make(chan struct{}),
		now:      make(chan struct{}, 1),
		stats:    newStats(),
		slots:    make(chan struct{}, cfg.Writes),
		decoding: make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0))),
		inFlight: map[string]*flushJob{},
	}
	secret := append([]byte(nil), cfg.Secret...)
	p.hashes.New = func() any { return hmac.New(sha256.New, secret) }
	p.metrics = newMetrics(p)
	p.hashLookup = p.hasHashColumn()
	if s.Cluster == "" {
		p.readLegacy()
		if !cfg.NoDedupFilter {
			p.filter = newDedupFilter(p)
			p.filter.start()
		}
		go p.logJanitor()
	}
	go p.writer()
	go p.janitor()
	return p, nil
}

// Config returns the effective configuration (defaults filled in).
func (p *Pipeline) Config() Config { return p.cfg }

// UserKey is the pseudonymous key stored for a raw user id: the first 8
// bytes of HMAC-SHA-256(secret, user id).
func (p *Pipeline) UserKey(userID string) uint64 {
	h := p.hashes.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(userID))
	var sum [sha256.Size]byte
	k := binary.BigEndian.Uint64(h.Sum(sum[:0]))
	p.hashes.Put(h)
	return k
}

// Submit validates and writes events given directly (demo generator, tests).
// Errors name the index + 1 as line.
func (p *Pipeline) Submit(ctx context.Context, inputs []Input) (Result, error) {
	res, _, err := p.SubmitLines(ctx, inputs, nil, nil)
	return res, err
}

// SubmitLines is Submit for decoded bodies and files: lines[i] is the line
// of inputs[i] (nil: i+1) and decodeErrs are the records that could not be
// decoded, counted as rejected. It also returns every error, uncapped and
// sorted by line (for reject files).
func (p *Pipeline) SubmitLines(ctx context.Context, inputs []Input, lines []int, decodeErrs []FieldError) (Result, []FieldError, error) {
	return p.submit(ctx, inputs, lines, decodeErrs, nil)
}

// submit is SubmitLines calling done (when not nil) once inputs and lines
// are read for the last time, before the wait for the commit: a request
// waits about as long as a batch takes to write, and its decoded inputs
// (about 200 bytes an event) are then free for the next request instead
// of being held by a waiting one.
func (p *Pipeline) submit(ctx context.Context, inputs []Input, lines []int, decodeErrs []FieldError, done func()) (Result, []FieldError, error) {
	now := p.cfg.Now()
	errs := decodeErrs
	invalid := 0 // inputs that failed validation
	events := make([]Event, 0, len(inputs))
	seen := make(map[string]struct{}, len(inputs))
	var res Result
	h := p.hashes.Get().(hash.Hash)
	var sum [sha256.Size]byte
	for i := range inputs {
		in := &inputs[i]
		var ev Event
		if fes := p.reg.validate(in, now, &ev); fes != nil {
			line := i + 1
			if lines != nil {
				line = lines[i]
			}
			for _, fe := range fes {
				fe.Line = line
				errs = append(errs, fe)
			}
			invalid++
			continue
		}
		if _, dup := seen[ev.EventID]; dup {
			res.Duplicates++
			continue
		}
		seen[ev.EventID] = struct{}{}
		h.Reset()
		h.Write([]byte(in.UserID))
		ev.UserKey = binary.BigEndian.Uint64(h.Sum(sum[:0]))
		events = append(events, ev)
	}
	p.hashes.Put(h)
	if done != nil {
		done()
	}
	// A line is rejected once, whatever the number of its errors; the
	// reason counted is its first error's.
	res.Rejected = len(decodeErrs) + invalid
	if len(errs) > 0 {
		sort.SliceStable(errs, func(a, b int) bool { return errs[a].Line < errs[b].Line })
		for k, e := range errs {
			if k > 0 && errs[k-1].Line == e.Line {
				continue
			}
			p.stats.reject(e.Reason())
			p.metrics.rejected.WithLabelValues(e.Reason()).Inc()
		}
	}
	res.Errors = errs
	if len(res.Errors) > MaxListedErrors {
		res.Errors = res.Errors[:MaxListedErrors:MaxListedErrors]
	}
	if res.Errors == nil {
		res.Errors = []FieldError{}
	}
	p.metrics.events.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	if len(events) == 0 {
		return res, errs, nil
	}
	pd := &pending{events: events, done: make(chan error, 1)}
	if err := p.enqueue(ctx, pd); err != nil {
		return Result{}, nil, err
	}
	select {
	case err := <-pd.done:
		if err != nil {
			return Result{}, nil, err
		}
	case <-ctx.Done():
		// The events may still be committed; they are not acknowledged.
		return Result{}, nil, interrupted(ctx.Err())
	}
	for _, d := range pd.dup {
		if d {
			res.Duplicates++
		} else {
			res.Accepted++
		}
	}
	return res, errs, nil
}

func (p *Pipeline) enqueue(ctx context.Context, pd *pending) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return &Error{Kind: ShuttingDown}
	}
	n := int64(len(pd.events))
	if after := p.pending.Add(n); after > int64(p.cfg.BufferRows) && after != n {
		p.pending.Add(-n)
		p.metrics.busy.Inc()
		return refuse(Busy, "the ingest buffer is full")
	}
	select {
	case p.queue <- pd:
		return nil
	case <-ctx.Done():
		p.pending.Add(-n)
		return interrupted(ctx.Err())
	}
}

// Flush makes the writer write the batch it is filling without waiting
// for the interval: a process that begins to shut down calls it so that the
// requests in flight are answered at once.
func (p *Pipeline) Flush() {
	select {
	case p.now <- struct{}{}:
	default:
	}
}

// Close stops taking submissions, flushes what was accepted and waits for
// the writer, at most until ctx ends.
func (p *Pipeline) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.queue)
		close(p.stopJan)
	}
	p.mu.Unlock()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ingest: flush on shutdown: %w", ctx.Err())
	}
}

// writer owns the batches. A batch is ready when it holds BatchRows, when
// its first submission has waited FlushInterval, or, once it holds a tenth
// of BatchRows, as soon as no submission arrived for FlushInterval/20:
// submitters wait for their commit, so under load the queue goes quiet
// exactly when every client is waiting, and waiting longer would only
// delay them. Small batches (light load) still wait the full interval, so
// ClickHouse does not get a stream of tiny inserts.
//
// A ready batch goes as soon as a write slot is free, and keeps taking
// submissions until then: under load every slot is busy, and what arrives
// meanwhile joins the waiting batch instead of starting the next one.
// Bigger batches are cheaper per event for the server (one dedup lookup
// reads the whole window whatever the batch size; fewer parts to merge).
func (p *Pipeline) writer() {
	defer func() {
		p.flushing.Wait()
		if p.filter != nil {
			p.filter.close()
		}
		close(p.done)
	}()
	early := max(p.cfg.BatchRows/10, 1)
	quiet := max(p.cfg.FlushInterval/20, time.Millisecond)
	timer := time.NewTimer(time.Hour)
	idle := time.NewTimer(time.Hour)
	timer.Stop()
	idle.Stop()
	for {
		first, ok := <-p.queue
		if !ok {
			return
		}
		batch := []*pending{first}
		rows := len(first.events)
		timer.Reset(p.cfg.FlushInterval)
		open, ready := true, false
	fill:
		for {
			var queueC <-chan *pending
			if open && rows < p.cfg.BatchRows {
				queueC = p.queue
			}
			var idleC <-chan time.Time
			if !ready && rows >= early {
				idle.Reset(quiet)
				idleC = idle.C
			}
			var slotC chan<- struct{}
			if ready || queueC == nil {
				slotC = p.slots // at most Config.Writes in flight
			}
			select {
			case pd, ok := <-queueC:
				if !ok {
					open = false
					continue
				}
				batch = append(batch, pd)
				rows += len(pd.events)
			case <-timer.C:
				ready = true
			case <-idleC:
				ready = true
			case <-p.now:
				ready = true
			case slotC <- struct{}{}:
				break fill
			}
		}
		timer.Stop()
		idle.Stop()
		p.flushing.Add(1)
		p.startFlush(batch, rows)
		if !open {
			return
		}
	}
}

// opEarlierBatch names a batch refused because an earlier batch in flight,
// holding some of its event ids, was not committed.
const opEarlierBatch = "earlier batch"

// flushJob is one batch being committed.
type flushJob struct {
	done chan struct{} // closed when the batch is committed or refused
	ok   bool          // committed; read after done
}

// startFlush runs in the writer: it drops the ids repeated inside the batch
// or held by a batch still in flight, registers the rest as in flight, and
// commits the batch in the background.
func (p *Pipeline) startFlush(batch []*pending, rows int) {
	job := &flushJob{done: make(chan struct{})}
	var deps []*flushJob
	ids := make([]string, 0, rows)
	p.inFlightMu.Lock()
	for _, pd := range batch {
		pd.dup = make([]bool, len(pd.events))
		for i := range pd.events {
			id := pd.events[i].EventID
			if j, ok := p.inFlight[id]; ok {
				pd.dup[i] = true
				if j != job && !slices.Contains(deps, j) {
					deps = append(deps, j)
				}
				continue
			}
			p.inFlight[id] = job
			ids = append(ids, id)
		}
	}
	p.inFlightMu.Unlock()
	go p.flush(job, deps, batch, rows, ids)
}

// flush commits one batch: look its new ids up in the dedup window, insert
// the events not stored yet (a materialized view records their ids), and
// answer every submission. Events counted as duplicates of a batch still in
// flight are answered only once that batch is committed: if it is not,
// neither is this answer (503, and a retry finds what was stored).
func (p *Pipeline) flush(job *flushJob, deps []*flushJob, batch []*pending, rows int, ids []string) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.WriteTimeout)
	defer cancel()
	defer func() {
		<-p.slots
		p.flushing.Done()
	}()
	n, cols, op, err := p.commit(ctx, deps, batch, ids)
	if p.filter != nil && cols != nil {
		p.filter.learn(cols) // before the ids leave inFlight
	}
	// The books before the answers: a client answered must find the
	// buffer room and the ids of this batch released.
	job.ok = err == nil
	p.inFlightMu.Lock()
	for _, id := range ids {
		delete(p.inFlight, id)
	}
	p.inFlightMu.Unlock()
	close(job.done)
	p.pending.Add(-int64(rows))
	if err != nil {
		p.fail(batch, op, err)
		return
	}
	took := time.Since(start)
	p.metrics.flushSeconds.Observe(took.Seconds())
	p.metrics.batchRows.Observe(float64(n))
	p.metrics.events.WithLabelValues("accepted").Add(float64(n))
	p.metrics.events.WithLabelValues("duplicate").Add(float64(rows - n))
	p.stats.accepted(batch, n, p.cfg.Now())
	p.log.Debug("ingest batch committed", "rows", n, "duplicates", rows-n, "took", took.Round(time.Millisecond))
	for _, pd := range batch {
		pd.done <- nil
	}
}

// commit writes the events of batch not stored yet and returns how many it
// wrote, or the step that failed; cols is what it tried to insert (nil
// when nothing was tried).
func (p *Pipeline) commit(ctx context.Context, deps []*flushJob, batch []*pending, ids []string) (n int, cols *columns, op string, err error) {
	lookStart := time.Now()
	stored, err := p.lookup(ctx, ids)
	p.metrics.lookupSeconds.Observe(time.Since(lookStart).Seconds())
	if err != nil {
		return 0, nil, "lookup", err
	}
	cols = newColumns(len(ids)-len(stored), p.filter != nil)
	for _, pd := range batch {
		for i := range pd.events {
			if pd.dup[i] {
				continue
			}
			if _, ok := stored[pd.events[i].EventID]; ok {
				pd.dup[i] = true
				continue
			}
			cols.add(&pd.events[i])
		}
	}
	// After the insert only n, and (learn) the rows' id hashes, are read:
	// clickhouse-go copies the rows chunk by chunk into its own columns.
	n = cols.len()
	if n == 0 {
		cols = nil
	} else if err := p.insert(ctx, cols); err != nil {
		return 0, cols, "insert", err
	}
	for _, d := range deps {
		<-d.done
		if !d.ok {
			// Not a ClickHouse error of its own: the earlier batch's
			// failure was counted where it happened.
			return 0, cols, opEarlierBatch, errors.New("an earlier batch holding some of these event ids was not committed")
		}
	}
	return n, cols, "", nil
}

func (p *Pipeline) fail(batch []*pending, op string, err error) {
	if op != opEarlierBatch {
		p.metrics.chErrors.WithLabelValues(op).Inc()
	}
	p.log.Warn("ingest batch not committed: answering 503", "op", op, "submissions", len(batch), "error", err)
	for _, pd := range batch {
		pd.done <- &Error{Kind: Unavailable, Msg: "ClickHouse did not take the batch (" + op + ")", Err: err}
	}
}

// settings are the insert settings: on a cluster, inserts go through the
// Distributed table (named like the table on one server), synchronously.
func (p *Pipeline) settings(ctx context.Context) context.Context {
	if p.store.Cluster == "" {
		return ctx
	}
	// Distributed inserts are asynchronous by default; the answer must
	// wait for the shards.
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
}

// columns is a batch to insert: the events, handed to clickhouse-go a
// chunk of rows at a time through scratch slices reused from chunk to chunk
// (clickhouse-go copies what it is given). Column slices of the whole batch
// were a second copy of it (14 MB live at 32 clients). Chunks rather than
// one pass over the whole batch per column: that reads every event twelve
// times from memory (a batch is ~9 MB), while a chunk is read once and
// stays in the cache.
//
// With track (the dedup filter), it also keeps each row's id hash, for the
// filter, and the fingerprint the server will record of the insert in
// ingest_dedup_marks (sums modulo 2^64, as the server's sum of UInt64).
type columns struct {
	rows   []*Event
	track  bool
	hashes []uint64
	fp     fingerprint
}

func newColumns(n int, track bool) *columns {
	c := &columns{rows: make([]*Event, 0, max(n, 0)), track: track}
	if track {
		c.hashes = make([]uint64, 0, max(n, 0))
	}
	return c
}

func (c *columns) add(e *Event) {
	c.rows = append(c.rows, e)
	if c.track {
		h := sipHash64(e.EventID)
		c.hashes = append(c.hashes, h)
		c.fp.rows++
		c.fp.hashSum += h
		c.fp.seenSum += uint64(uint32(e.ReceivedAt.Unix()))
	}
}

func (c *columns) len() int { return len(c.rows) }

// appendChunk is how many rows go to clickhouse-go per Append.
const appendChunk = 4096

// appendTo appends every row, column by column in the order of
// InsertColumns, a chunk at a time.
func (c *columns) appendTo(b driver.Batch) error {
	m := min(len(c.rows), appendChunk)
	var (
		ids                = make([]string, m)
		at, recv           = make([]time.Time, m), make([]time.Time, m)
		asst, chn, et, mod = make([]any, m), make([]any, m), make([]any, m), make([]any, m)
		country, src       = make([]any, m), make([]any, m)
		users              = make([]uint64, m)
		counts             = make([]uint32, m)
		linked             = make([]uint8, m)
		boxes              = make(map[string]any)
	)
	for lo := 0; lo < len(c.rows); lo += appendChunk {
		rows := c.rows[lo:min(lo+appendChunk, len(c.rows))]
		k := len(rows)
		for j, e := range rows {
			ids[j], at[j], recv[j] = e.EventID, e.Time, e.ReceivedAt
			asst[j], chn[j] = lowCard(e.Assistant, boxes), lowCard(e.Channel, boxes)
			et[j], mod[j] = lowCard(e.EventType, boxes), lowCard(e.Modality, boxes)
			users[j], country[j], counts[j] = e.UserKey, lowCard(e.Country, boxes), e.Count
			linked[j] = 0
			if e.Linked {
				linked[j] = 1
			}
			src[j] = lowCard(e.Source, boxes)
		}
		for i, v := range []any{ids[:k], at[:k], recv[:k], asst[:k], chn[:k], et[:k], mod[:k], users[:k], country[:k], counts[:k], linked[:k], src[:k]} {
			if err := b.Column(i).Append(v); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
	}
	return nil
}

// lowCard returns s as an interface value, each distinct string boxed
// once. clickhouse-go appends a LowCardinality column row by row as
// interface values (reflection): handed a []string it boxes, so
// allocates, every row; handed shared boxes it allocates nothing. A
// quarter of ingest's CPU per event went there.
func lowCard(s string, boxes map[string]any) any {
	b, ok := boxes[s]
	if !ok {
		b = s
		boxes[s] = b
	}
	return b
}

// InsertColumns is the column list of every insert into events.
const InsertColumns = "event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source"

func (p *Pipeline) insert(ctx context.Context, c *columns) error {
	if p.filter != nil {
		ctx = p.filter.insertCtx(ctx, c.fp)
	}
	b, err := p.store.Conn.PrepareBatch(p.settings(ctx), "INSERT INTO events ("+InsertColumns+")")
	if err != nil {
		return err
	}
	defer b.Close()
	if err := c.appendTo(b); err != nil {
		return err
	}
	return b.Send()
}

// InsertBatch writes events into table with one clickhouse-go batch,
// column by column or row by row: the raw baseline of `bench ingest`,
// written like the pipeline's own insert.
func InsertBatch(ctx context.Context, s *store.Store, table string, events []Event, columnar bool) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+InsertColumns+")")
	if err != nil {
		return err
	}
	defer b.Close()
	if columnar {
		c := newColumns(len(events), false)
		for i := range events {
			c.add(&events[i])
		}
		if err := c.appendTo(b); err != nil {
			return err
		}
		return b.Send()
	}
	for i := range events {
		e := &events[i]
		var l uint8
		if e.Linked {
			l = 1
		}
		if err := b.Append(e.EventID, e.Time, e.ReceivedAt, e.Assistant, e.Channel, e.EventType, e.Modality, e.UserKey, e.Country, e.Count, l, e.Source); err != nil {
			return err
		}
	}
	return b.Send()
}
