package query

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// AnnotationKinds are the allowed values of Annotation.Kind.
var AnnotationKinds = []string{"launch", "feature", "policy", "shutdown", "other"}

// Annotation is a dated note drawn on time charts. Title and Text are user
// input: stored as given, escaped wherever they are shown.
type Annotation struct {
	ID        string    `json:"id"`
	Start     string    `json:"start"` // YYYY-MM-DD
	End       string    `json:"end"`   // YYYY-MM-DD, equal to Start for one day
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	Link      string    `json:"link"`
	Assistant string    `json:"assistant"` // empty: all assistants
	Channel   string    `json:"channel"`   // empty: all channels
	Kind      string    `json:"kind"`
	RealWorld bool      `json:"real_world"` // a real-world fact; false: synthetic (demo scenario)
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AnnotationFilter selects annotations that overlap [From, To] (inclusive
// dates, empty: open) and apply to Assistant and Channel (an annotation
// scoped to all matches every filter; empty filter: any scope).
type AnnotationFilter struct {
	From, To           string
	Assistant, Channel string
}

// ErrAnnotationNotFound is returned for an unknown or deleted id.
var ErrAnnotationNotFound = errors.New("annotation not found")

const annotationTimeout = 10 * time.Second

// AnnotationValidate checks a and fills defaults (End = Start, Kind =
// other). Assistant and channel must be slugs; the callers check them
// against their registries.
func AnnotationValidate(a *Annotation) error {
	var errs []error
	a.Title = strings.TrimSpace(a.Title)
	start, err := time.Parse(time.DateOnly, a.Start)
	if err != nil {
		errs = append(errs, fmt.Errorf("start %q: want a date YYYY-MM-DD", a.Start))
	}
	if a.End == "" {
		a.End = a.Start
	}
	end, err2 := time.Parse(time.DateOnly, a.End)
	if err2 != nil {
		errs = append(errs, fmt.Errorf("end %q: want a date YYYY-MM-DD", a.End))
	}
	if err == nil && err2 == nil && end.Before(start) {
		errs = append(errs, fmt.Errorf("end %s is before start %s", a.End, a.Start))
	}
	if err == nil && (start.Year() < 1970 || start.Year() > 2105) {
		errs = append(errs, fmt.Errorf("start %s: want a year between 1970 and 2105", a.Start))
	}
	if err2 == nil && (end.Year() < 1970 || end.Year() > 2105) {
		errs = append(errs, fmt.Errorf("end %s: want a year between 1970 and 2105", a.End))
	}
	switch n := utf8.RuneCountInString(a.Title); {
	case a.Title == "":
		errs = append(errs, errors.New("title: required"))
	case n > 200:
		errs = append(errs, fmt.Errorf("title: %d characters, at most 200", n))
	}
	if n := utf8.RuneCountInString(a.Text); n > 5000 {
		errs = append(errs, fmt.Errorf("text: %d characters, at most 5000", n))
	}
	if !utf8.ValidString(a.Title) || !utf8.ValidString(a.Text) {
		errs = append(errs, errors.New("title and text must be UTF-8"))
	}
	if a.Link != "" {
		u, err := url.Parse(a.Link)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(a.Link) > 2000 {
			errs = append(errs, fmt.Errorf("link %q: want an http:// or https:// URL (at most 2000 bytes)", a.Link))
		}
	}
	for _, f := range []struct{ name, v string }{{"assistant", a.Assistant}, {"channel", a.Channel}} {
		if f.v != "" && !isAnnotationSlug(f.v) {
			errs = append(errs, fmt.Errorf("%s %q: want a slug such as chatgpt or whatsapp, or empty for all", f.name, f.v))
		}
	}
	if a.Kind == "" {
		a.Kind = "other"
	}
	if !slices.Contains(AnnotationKinds, a.Kind) {
		errs = append(errs, fmt.Errorf("kind %q: want one of %s", a.Kind, strings.Join(AnnotationKinds, ", ")))
	}
	if a.ID != "" && (len(a.ID) > 128 || !isAnnotationID(a.ID)) {
		errs = append(errs, fmt.Errorf("id %q: letters, digits, '-' and '_', at most 128", a.ID))
	}
	return errors.Join(errs...)
}

func isAnnotationSlug(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func isAnnotationID(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// AnnotationNewID is a random id for a new annotation.
func AnnotationNewID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// AnnotationSave validates a and writes it: a new annotation when a.ID is
// empty (an id is assigned), otherwise a new version of a.ID (created when
// missing, so fixed ids make loading idempotent). It returns what is stored.
func AnnotationSave(ctx context.Context, s *store.Store, a Annotation) (Annotation, error) {
	if err := AnnotationValidate(&a); err != nil {
		return Annotation{}, err
	}
	now := time.Now().UTC().Truncate(time.Second) // stored with second precision
	if a.ID == "" {
		a.ID = AnnotationNewID()
		a.CreatedAt = now
	} else {
		old, err := AnnotationGet(ctx, s, a.ID)
		switch {
		case err == nil:
			a.CreatedAt = old.CreatedAt
		case errors.Is(err, ErrAnnotationNotFound):
			a.CreatedAt = now
		default:
			return Annotation{}, err
		}
	}
	a.UpdatedAt = now
	return a, annotationWrite(ctx, s, a, false)
}

// AnnotationDelete removes id. It returns ErrAnnotationNotFound when there
// is no such annotation.
func AnnotationDelete(ctx context.Context, s *store.Store, id string) error {
	a, err := AnnotationGet(ctx, s, id)
	if err != nil {
		return err
	}
	a.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	return annotationWrite(ctx, s, a, true)
}

// annotationVersion orders the rows of one id: wall-clock nanoseconds, made
// strictly increasing within this process.
var annotationLast = make(chan int64, 1)

func init() { annotationLast <- 0 }

func annotationVersion() uint64 {
	last := <-annotationLast
	v := time.Now().UnixNano()
	if v <= last {
		v = last + 1
	}
	annotationLast <- v
	return uint64(v)
}

func annotationWrite(ctx context.Context, s *store.Store, a Annotation, deleted bool) error {
	ctx, cancel := context.WithTimeout(ctx, annotationTimeout)
	defer cancel()
	batch, err := s.Conn.PrepareBatch(ctx, "INSERT INTO annotations (id, start_date, end_date, title, text, link, assistant, channel, kind, real_world, created_at, updated_at, deleted, version)")
	if err != nil {
		return fmt.Errorf("save annotation: %w", err)
	}
	defer batch.Abort()
	start, _ := time.Parse(time.DateOnly, a.Start)
	end, _ := time.Parse(time.DateOnly, a.End)
	if err := batch.Append(a.ID, start, end, a.Title, a.Text, a.Link, a.Assistant, a.Channel, a.Kind,
		boolByte(a.RealWorld), a.CreatedAt.UTC(), a.UpdatedAt.UTC(), boolByte(deleted), annotationVersion()); err != nil {
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

// annotationLatest is the latest version of every annotation that is not
// deleted.
const annotationLatest = `SELECT id,
       toString(argMax(start_date, version)) AS s,
       toString(argMax(end_date, version)) AS e,
       argMax(title, version), argMax(text, version), argMax(link, version),
       argMax(assistant, version) AS a, argMax(channel, version) AS c,
       argMax(kind, version), argMax(real_world, version),
       min(created_at), argMax(updated_at, version)
FROM annotations`

// AnnotationGet returns one annotation.
func AnnotationGet(ctx context.Context, s *store.Store, id string) (Annotation, error) {
	out, err := annotationQuery(ctx, s, annotationLatest+` WHERE id = ? GROUP BY id HAVING argMax(deleted, version) = 0`, id)
	if err != nil {
		return Annotation{}, err
	}
	if len(out) == 0 {
		return Annotation{}, fmt.Errorf("%w: %q", ErrAnnotationNotFound, id)
	}
	return out[0], nil
}

// AnnotationList returns the annotations that match f, by start date then
// title.
func AnnotationList(ctx context.Context, s *store.Store, f AnnotationFilter) ([]Annotation, error) {
	var conds []string
	var args []any
	if f.From != "" {
		if _, err := time.Parse(time.DateOnly, f.From); err != nil {
			return nil, fmt.Errorf("from %q: want a date YYYY-MM-DD", f.From)
		}
		conds = append(conds, "e >= ?")
		args = append(args, f.From)
	}
	if f.To != "" {
		if _, err := time.Parse(time.DateOnly, f.To); err != nil {
			return nil, fmt.Errorf("to %q: want a date YYYY-MM-DD", f.To)
		}
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
	q := annotationLatest + ` GROUP BY id HAVING argMax(deleted, version) = 0`
	if len(conds) > 0 {
		q += " AND " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY s, argMax(title, version), id SETTINGS max_execution_time = 10"
	return annotationQuery(ctx, s, q, args...)
}

func annotationQuery(ctx context.Context, s *store.Store, q string, args ...any) ([]Annotation, error) {
	ctx, cancel := context.WithTimeout(ctx, annotationTimeout)
	defer cancel()
	rows, err := s.Conn.Query(ctx, q, args...)
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

// AnnotationCSVHeader and AnnotationCSVRecord give the CSV form shared by
// the API and exports.
var AnnotationCSVHeader = []string{"id", "start", "end", "title", "text", "link", "assistant", "channel", "kind", "real_world", "created_at", "updated_at"}

// AnnotationCSVRecord is a's CSV row, in AnnotationCSVHeader order.
func AnnotationCSVRecord(a Annotation) []string {
	return []string{a.ID, a.Start, a.End, annotationCell(a.Title), annotationCell(a.Text), annotationCell(a.Link), a.Assistant, a.Channel, a.Kind,
		fmt.Sprint(a.RealWorld), a.CreatedAt.Format(time.RFC3339), a.UpdatedAt.Format(time.RFC3339)}
}

// annotationCell keeps a spreadsheet from reading user text as a formula:
// a cell starting with = + - @ or a control character gets a leading '.
func annotationCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
