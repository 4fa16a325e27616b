package export

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// ErrNotFound is returned for an export id or name that does not exist.
var ErrNotFound = errors.New("export not found")

// Store keeps exports, runs and claims in ClickHouse.
type Store struct {
	s *store.Store
}

// NewStore wraps an open, migrated store.
func NewStore(s *store.Store) *Store { return &Store{s: s} }

const callTimeout = 10 * time.Second

func (st *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout)
}

// version orders the rows of one export or run: nanoseconds, made strictly
// increasing within the process so that two writes in one clock tick keep
// their order.
var lastVersion = make(chan uint64, 1)

func init() { lastVersion <- 0 }

func nextVersion() uint64 {
	v := uint64(time.Now().UnixNano())
	last := <-lastVersion
	if v <= last {
		v = last + 1
	}
	lastVersion <- v
	return v
}

// Create stores a new export after Normalize. The name must be free.
func (st *Store) Create(ctx context.Context, e *Export) error {
	if err := e.Normalize(); err != nil {
		return err
	}
	if _, err := st.ByName(ctx, e.Name); err == nil {
		return fmt.Errorf("name %q: an export of that name exists; delete it first or choose another name", e.Name)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC().Truncate(time.Second)
	}
	return st.write(ctx, *e, false)
}

func (st *Store) write(ctx context.Context, e Export, deleted bool) error {
	ctx, cancel := st.ctx(ctx)
	defer cancel()
	b, err := st.s.Conn.PrepareBatch(ctx, `INSERT INTO exports (id, name, kind, query, range, schedule, timezone, bom,
		delimiter, skip_empty, folder, webhook_url, webhook_secret, keep, created_at, deleted, version)`)
	if err != nil {
		return fmt.Errorf("store export: %w", err)
	}
	defer b.Close()
	if err := b.Append(e.ID, e.Name, e.Kind, e.Query, string(e.Range), e.Schedule, e.Timezone, b2u(e.BOM),
		e.Delimiter, b2u(e.SkipEmpty), e.Folder, e.WebhookURL, e.WebhookSecret, uint32(e.Keep), e.CreatedAt.UTC(),
		b2u(deleted), nextVersion()); err != nil {
		return fmt.Errorf("store export: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("store export: %w", err)
	}
	return nil
}

// Delete marks an export deleted; its files and run history stay.
func (st *Store) Delete(ctx context.Context, id string) error {
	e, err := st.Get(ctx, id)
	if err != nil {
		return err
	}
	return st.write(ctx, e, true)
}

const exportCols = `id, name, kind, query, range, schedule, timezone, bom, delimiter, skip_empty, folder,
	webhook_url, webhook_secret, keep, created_at, deleted`

// List returns the live exports, by name.
func (st *Store) List(ctx context.Context) ([]Export, error) {
	return st.query(ctx, "1", nil)
}

// Get returns the export with id.
func (st *Store) Get(ctx context.Context, id string) (Export, error) {
	es, err := st.query(ctx, "id = ?", []any{id})
	if err != nil {
		return Export{}, err
	}
	if len(es) == 0 {
		return Export{}, fmt.Errorf("%w: id %q", ErrNotFound, id)
	}
	return es[0], nil
}

// ByName returns the live export called name.
func (st *Store) ByName(ctx context.Context, name string) (Export, error) {
	es, err := st.query(ctx, "name = ?", []any{name})
	if err != nil {
		return Export{}, err
	}
	if len(es) == 0 {
		return Export{}, fmt.Errorf("%w: no export named %q (see 'adoptscope export list')", ErrNotFound, name)
	}
	return es[0], nil
}

func (st *Store) query(ctx context.Context, where string, args []any) ([]Export, error) {
	ctx, cancel := st.ctx(ctx)
	defer cancel()
	q := `SELECT ` + exportCols + ` FROM (
		SELECT ` + exportCols + ` FROM exports ORDER BY id, version DESC LIMIT 1 BY id
	) WHERE deleted = 0 AND ` + where + ` ORDER BY name, created_at`
	rows, err := st.s.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read exports: %w", err)
	}
	defer rows.Close()
	var out []Export
	for rows.Next() {
		var e Export
		var rng string
		var bom, skip, deleted uint8
		var keep uint32
		if err := rows.Scan(&e.ID, &e.Name, &e.Kind, &e.Query, &rng, &e.Schedule, &e.Timezone, &bom, &e.Delimiter,
			&skip, &e.Folder, &e.WebhookURL, &e.WebhookSecret, &keep, &e.CreatedAt, &deleted); err != nil {
			return nil, fmt.Errorf("read exports: %w", err)
		}
		e.Range, e.BOM, e.SkipEmpty, e.Keep = Range(rng), bom == 1, skip == 1, int(keep)
		e.CreatedAt = e.CreatedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Run statuses.
const (
	StatusRunning = "running"
	StatusSuccess = "success"
	StatusFailed  = "failed"
	StatusSkipped = "skipped" // empty result with skip_empty
)

// Run is one attempt at one scheduled (or manual) run of an export.
type Run struct {
	ID          string    `json:"id"`
	ExportID    string    `json:"export_id"`
	ExportName  string    `json:"export_name"`
	ScheduledAt time.Time `json:"scheduled_at"`
	Attempt     int       `json:"attempt"`
	Trigger     string    `json:"trigger"` // schedule, catch_up, retry, manual
	Claimer     string    `json:"claimer"`
	Status      string    `json:"status"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	HeartbeatAt time.Time `json:"-"`
	PeriodFrom  string    `json:"period_from"`
	PeriodTo    string    `json:"period_to"`
	Rows        uint64    `json:"rows"`
	Bytes       uint64    `json:"bytes"`
	File        string    `json:"file,omitempty"`
	Synthetic   bool      `json:"synthetic"`
	Webhook     string    `json:"webhook,omitempty"` // delivery outcome
	Error       string    `json:"error,omitempty"`
	// Kept is set by readers that look at the folder: the file is still there.
	Kept bool `json:"kept"`
	// Manifest is set likewise: the name of the file's manifest
	// (<file>.json) while it is there.
	Manifest string `json:"manifest,omitempty"`
}

// SaveRun records the run's current state.
func (st *Store) SaveRun(ctx context.Context, r Run) error {
	ctx, cancel := st.ctx(ctx)
	defer cancel()
	b, err := st.s.Conn.PrepareBatch(ctx, `INSERT INTO export_runs (run_id, export_id, export_name, scheduled_at, attempt,
		trigger, claimer, status, started_at, finished_at, heartbeat_at, period_from, period_to, rows, bytes, file,
		synthetic, webhook, error, version)`)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	defer b.Close()
	from, to := dateOrZero(r.PeriodFrom), dateOrZero(r.PeriodTo)
	if err := b.Append(r.ID, r.ExportID, r.ExportName, r.ScheduledAt.UTC(), uint16(r.Attempt), r.Trigger, r.Claimer,
		r.Status, r.StartedAt.UTC(), r.FinishedAt.UTC(), r.HeartbeatAt.UTC(), from, to, r.Rows, r.Bytes, r.File,
		b2u(r.Synthetic), r.Webhook, r.Error, nextVersion()); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

// dateOrZero parses a YYYY-MM-DD date as midnight UTC (trap 3: a Date
// column stores the calendar date of the value it is given).
func dateOrZero(s string) time.Time {
	t, err := time.Parse(catalog.DateLayout, s)
	if err != nil {
		return time.Unix(0, 0).UTC()
	}
	return t
}

const runCols = `run_id, export_id, export_name, scheduled_at, attempt, trigger, claimer, status, started_at,
	finished_at, heartbeat_at, toString(period_from), toString(period_to), rows, bytes, file, synthetic, webhook, error`

// Runs returns the newest runs of an export (all exports when exportID is
// empty), newest scheduled first.
func (st *Store) Runs(ctx context.Context, exportID string, limit int) ([]Run, error) {
	where, args := "1", []any{}
	if exportID != "" {
		where, args = "export_id = ?", []any{exportID}
	}
	return st.runs(ctx, where, args, limit)
}

// LastRuns returns the latest started run of every export.
func (st *Store) LastRuns(ctx context.Context) (map[string]Run, error) {
	ctx, cancel := st.ctx(ctx)
	defer cancel()
	q := `SELECT ` + runCols + ` FROM (
		SELECT * FROM export_runs ORDER BY run_id, version DESC LIMIT 1 BY run_id
	) ORDER BY export_id, started_at DESC, scheduled_at DESC LIMIT 1 BY export_id`
	list, err := st.scanRuns(ctx, q, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Run, len(list))
	for _, r := range list {
		out[r.ExportID] = r
	}
	return out, nil
}

func (st *Store) runs(ctx context.Context, where string, args []any, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 100
	}
	ctx, cancel := st.ctx(ctx)
	defer cancel()
	q := fmt.Sprintf(`SELECT %s FROM export_runs WHERE %s
		ORDER BY scheduled_at DESC, run_id, version DESC LIMIT 1 BY run_id LIMIT %d`, runCols, where, limit)
	return st.scanRuns(ctx, q, args)
}

func (st *Store) scanRuns(ctx context.Context, q string, args []any) ([]Run, error) {
	rows, err := st.s.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var attempt uint16
		var synth uint8
		if err := rows.Scan(&r.ID, &r.ExportID, &r.ExportName, &r.ScheduledAt, &attempt, &r.Trigger, &r.Claimer,
			&r.Status, &r.StartedAt, &r.FinishedAt, &r.HeartbeatAt, &r.PeriodFrom, &r.PeriodTo, &r.Rows, &r.Bytes,
			&r.File, &synth, &r.Webhook, &r.Error); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		r.Attempt, r.Synthetic = int(attempt), synth == 1
		r.ScheduledAt, r.StartedAt, r.FinishedAt, r.HeartbeatAt = r.ScheduledAt.UTC(), r.StartedAt.UTC(), r.FinishedAt.UTC(), r.HeartbeatAt.UTC()
		if r.FinishedAt.Unix() == 0 {
			r.FinishedAt = time.Time{}
		}
		if r.PeriodFrom == "1970-01-01" {
			r.PeriodFrom, r.PeriodTo = "", ""
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RecentRuns returns the latest state of every run scheduled or finished
// after since, and of every run still marked running however old: a run
// scheduled days ago (a catch-up after downtime, a monthly period) whose
// process was killed must still be found, recorded failed and retried,
// not shown running for ever.
func (st *Store) RecentRuns(ctx context.Context, since time.Time) ([]Run, error) {
	at := since.UTC().Format("2006-01-02 15:04:05")
	// Every version of a run has its scheduled_at; only the final one has
	// a finished_at, so neither condition picks a version that is not the
	// latest; the running ones are chosen by their latest version.
	return st.runs(ctx, `scheduled_at >= toDateTime(?, 'UTC') OR finished_at >= toDateTime(?, 'UTC') OR run_id IN (
		SELECT run_id FROM (SELECT run_id, status FROM export_runs ORDER BY run_id, version DESC LIMIT 1 BY run_id) WHERE status = ?)`,
		[]any{at, at, StatusRunning}, 10000)
}

// LastScheduled returns, per export id, the latest scheduled time that has
// a claim (any attempt): the scheduler starts from there after a restart.
func (st *Store) LastScheduled(ctx context.Context) (map[string]time.Time, error) {
	ctx, cancel := st.ctx(ctx)
	defer cancel()
	rows, err := st.s.Conn.Query(ctx, `SELECT export_id, max(scheduled_at) FROM export_claims GROUP BY export_id`)
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var t time.Time
		if err := rows.Scan(&id, &t); err != nil {
			return nil, err
		}
		out[id] = t.UTC()
	}
	return out, rows.Err()
}

// Claim tries to win the run (exportID, scheduledAt, attempt) for claimer.
// It inserts a claim row, waits settle, and reads the claims back: the
// earliest claim by server time, then by claimer id, wins. Every claimer
// that reads after all claims are visible sees the same winner. A claim
// that arrives when one already exists does not insert at all.
func (st *Store) Claim(ctx context.Context, exportID string, scheduledAt time.Time, attempt int, claimer string, settle time.Duration) (bool, error) {
	at := scheduledAt.UTC().Format("2006-01-02 15:04:05")
	winner, err := st.claimWinner(ctx, exportID, at, attempt)
	if err != nil {
		return false, err
	}
	if winner != "" {
		return winner == claimer, nil
	}
	ictx, cancel := st.ctx(ctx)
	err = st.s.Conn.Exec(ictx, `INSERT INTO export_claims (export_id, scheduled_at, attempt, claimer, claimed_at)
		SELECT ?, toDateTime(?, 'UTC'), toUInt16(?), ?, now()`, exportID, at, attempt, claimer)
	cancel()
	if err != nil {
		return false, fmt.Errorf("claim run: %w", err)
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return false, ctx.Err()
	}
	winner, err = st.claimWinner(ctx, exportID, at, attempt)
	if err != nil {
		return false, err
	}
	return winner == claimer, nil
}

func (st *Store) claimWinner(ctx context.Context, exportID, at string, attempt int) (string, error) {
	ctx, cancel := st.ctx(ctx)
	defer cancel()
	rows, err := st.s.Conn.Query(ctx, `SELECT claimer FROM export_claims
		WHERE export_id = ? AND scheduled_at = toDateTime(?, 'UTC') AND attempt = toUInt16(?)
		ORDER BY claimed_at, claimer LIMIT 1`, exportID, at, attempt)
	if err != nil {
		return "", fmt.Errorf("read claims: %w", err)
	}
	defer rows.Close()
	var w string
	if rows.Next() {
		if err := rows.Scan(&w); err != nil {
			return "", err
		}
	}
	return w, rows.Err()
}

// Claim is a won claim: who runs (export, scheduled time, attempt).
type Claim struct {
	ExportID    string
	ScheduledAt time.Time
	Attempt     int
	Claimer     string
}

// StaleClaims returns the winning claims of runs scheduled since `since`
// that were made more than `age` ago (by the server's clock).
func (st *Store) StaleClaims(ctx context.Context, since time.Time, age time.Duration) ([]Claim, error) {
	ctx, cancel := st.ctx(ctx)
	defer cancel()
	rows, err := st.s.Conn.Query(ctx, `SELECT export_id, scheduled_at, attempt, claimer FROM (
		SELECT export_id, scheduled_at, attempt, claimer, claimed_at FROM export_claims
		WHERE scheduled_at >= toDateTime(?, 'UTC')
		ORDER BY export_id, scheduled_at, attempt, claimed_at, claimer
		LIMIT 1 BY export_id, scheduled_at, attempt
	) WHERE claimed_at < now() - toUInt32(?)`, since.UTC().Format("2006-01-02 15:04:05"), int(age.Seconds()))
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var c Claim
		var a uint16
		if err := rows.Scan(&c.ExportID, &c.ScheduledAt, &a, &c.Claimer); err != nil {
			return nil, err
		}
		c.Attempt, c.ScheduledAt = int(a), c.ScheduledAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
