package annotation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Service reads and writes the annotations of one store, checking scopes
// against one registry (the configured assistants and channels).
type Service struct {
	store    *store.Store
	registry catalog.Registry
}

// New returns the annotations of s, with scopes checked against r.
func New(s *store.Store, r catalog.Registry) *Service {
	return &Service{store: s, registry: r}
}

// Registry is the registry scopes are checked against.
func (s *Service) Registry() catalog.Registry { return s.registry }

// Validate is Validate against the service's registry.
func (s *Service) Validate(a *Annotation) error { return Validate(a, s.registry) }

const timeout = 10 * time.Second

// Save validates a and writes it: a new annotation when a.ID is empty (an
// id is assigned), otherwise a new version of a.ID (created when missing,
// so fixed ids make loading idempotent). It returns what is stored. A
// refused annotation is an *InvalidError.
func (s *Service) Save(ctx context.Context, a Annotation) (Annotation, error) {
	if err := s.Validate(&a); err != nil {
		return Annotation{}, err
	}
	now := time.Now().UTC().Truncate(time.Second) // stored with second precision
	if a.ID == "" {
		a.ID = NewID()
		a.CreatedAt = now
	} else {
		old, err := s.Get(ctx, a.ID)
		switch {
		case err == nil:
			a.CreatedAt = old.CreatedAt
		case errors.Is(err, ErrNotFound):
			a.CreatedAt = now
		default:
			return Annotation{}, err
		}
	}
	a.UpdatedAt = now
	return a, s.write(ctx, a, false)
}

// Delete removes id. It returns ErrNotFound when there is no such
// annotation.
func (s *Service) Delete(ctx context.Context, id string) error {
	a, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	a.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	return s.write(ctx, a, true)
}

// last orders the rows of one id: wall-clock nanoseconds, made strictly
// increasing within this process (whatever Service wrote them).
var last = make(chan int64, 1)

func init() { last <- 0 }

func version() uint64 {
	l := <-last
	v := time.Now().UnixNano()
	if v <= l {
		v = l + 1
	}
	last <- v
	return uint64(v)
}

func (s *Service) write(ctx context.Context, a Annotation, deleted bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	batch, err := s.store.Conn.PrepareBatch(ctx, "INSERT INTO annotations (id, start_date, end_date, title, text, link, assistant, channel, kind, real_world, created_at, updated_at, deleted, version)")
	if err != nil {
		return fmt.Errorf("save annotation: %w", err)
	}
	defer batch.Abort()
	start, _ := time.Parse(catalog.DateLayout, a.Start)
	end, _ := time.Parse(catalog.DateLayout, a.End)
	if err := batch.Append(a.ID, start, end, a.Title, a.Text, a.Link, a.Assistant, a.Channel, a.Kind,
		boolByte(a.RealWorld), a.CreatedAt.UTC(), a.UpdatedAt.UTC(), boolByte(deleted), version()); err != nil {
		return fmt.Errorf("save annotation: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save annotation: %w", err)
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// latest is the latest version of every annotation that is not deleted.
const latest = `SELECT id,
       toString(argMax(start_date, version)) AS s,
       toString(argMax(end_date, version)) AS e,
       argMax(title, version), argMax(text, version), argMax(link, version),
       argMax(assistant, version) AS a, argMax(channel, version) AS c,
       argMax(kind, version), argMax(real_world, version),
       min(created_at), argMax(updated_at, version)
FROM annotations`

// Get returns one annotation, or ErrNotFound.
func (s *Service) Get(ctx context.Context, id string) (Annotation, error) {
	out, err := s.query(ctx, latest+` WHERE id = ? GROUP BY id HAVING argMax(deleted, version) = 0`, id)
	if err != nil {
		return Annotation{}, err
	}
	if len(out) == 0 {
		return Annotation{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return out[0], nil
}

// List returns the annotations that match f, by start date then title. A
// filter that breaks a rule (CheckFilter) is an *InvalidError.
func (s *Service) List(ctx context.Context, f Filter) ([]Annotation, error) {
	if err := CheckFilter(f, s.registry); err != nil {
		return nil, err
	}
	var conds []string
	var args []any
	if f.From != "" {
		conds = append(conds, "e >= ?")
		args = append(args, f.From)
	}
	if f.To != "" {
		conds = append(conds, "s <= ?")
		args = append(args, f.To)
	}
	if f.Assistant != "" {
		conds = append(conds, "(a = '' OR a = ?)")
		args = append(args, f.Assistant)
	}
	if f.Channel != "" {
		conds = append(conds, "(c = '' OR c = ?)")
		args = append(args, f.Channel)
	}
	// Dates compare as YYYY-MM-DD strings (bound dates against Date columns
	// misbehave on 18.16; strings of this form order like dates).
	q := latest + ` GROUP BY id HAVING argMax(deleted, version) = 0`
	if len(conds) > 0 {
		q += " AND " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY s, argMax(title, version), id SETTINGS max_execution_time = 10"
	return s.query(ctx, q, args...)
}

func (s *Service) query(ctx context.Context, q string, args ...any) ([]Annotation, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rows, err := s.store.Conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read annotations: %w", err)
	}
	defer rows.Close()
	var out []Annotation
	for rows.Next() {
		var a Annotation
		var real uint8
		if err := rows.Scan(&a.ID, &a.Start, &a.End, &a.Title, &a.Text, &a.Link, &a.Assistant, &a.Channel,
			&a.Kind, &real, &a.CreatedAt, &a.UpdatedAt); err != nil {
			return nil, fmt.Errorf("read annotations: %w", err)
		}
		a.RealWorld = real == 1
		a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read annotations: %w", err)
	}
	return out, nil
}
