package panel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Platforms a member may be counted on, and the dimensions a panel is
// raked by (targets name them).
var (
	Platforms  = []string{"ios", "android", "desktop", "web"}
	Dimensions = []string{"country", "platform", "age_band", "gender"}
)

// Limits of one upload.
const (
	MaxUploadRows = 1_000_000
	maxErrors     = 100
	dbTimeout     = 60 * time.Second
)

// Service keeps panels' members and targets in the store and weights a
// panel's members for a month.
type Service struct {
	store *store.Store
	// userKey keys a raw user id exactly as ingest does, so that a member
	// is found among the events by its key.
	userKey func(string) uint64
	now     func() time.Time
}

// NewService returns the panel service; userKey is ingest's keyed hash
// of user ids (ingest.Pipeline.UserKey).
func NewService(s *store.Store, userKey func(string) uint64) *Service {
	return &Service{store: s, userKey: userKey, now: time.Now}
}

// FieldError is one refused row: its line (1 is the first data row after
// a CSV header), the field and why, as ingest says it.
type FieldError struct {
	Line  int    `json:"line"`
	Field string `json:"field"`
	Error string `json:"error"`
}

// Result is the answer to an upload: rows stored, rows refused, the first
// errors.
type Result struct {
	Accepted int          `json:"accepted"`
	Rejected int          `json:"rejected"`
	Errors   []FieldError `json:"errors"`
}

// memberRow is a valid member, keyed.
type memberRow struct {
	panel, country, platform, ageBand, gender string
	userKey                                   uint64
	joined, left                              time.Time
}

type targetRow struct {
	panel, dimension, category string
	month                      time.Time
	population                 float64
}

// readRows yields the rows of an NDJSON body, or a CSV body with a header,
// as field maps; the line numbers count data rows from 1.
func readRows(body io.Reader, csvBody bool, fn func(line int, row map[string]string, err error)) error {
	if csvBody {
		r := csv.NewReader(body)
		r.FieldsPerRecord = -1
		head, err := r.Read()
		if err != nil {
			return fmt.Errorf("the CSV body has no header row: %w", err)
		}
		for i := range head {
			head[i] = strings.TrimSpace(strings.TrimPrefix(head[i], "\ufeff"))
		}
		for line := 1; ; line++ {
			rec, err := r.Read()
			if err == io.EOF {
				return nil
			}
			if line > MaxUploadRows {
				return fmt.Errorf("more than %d rows: send them in several uploads", MaxUploadRows)
			}
			if err != nil {
				fn(line, nil, fmt.Errorf("not a CSV row: %v", err))
				continue
			}
			row := map[string]string{}
			for i, v := range rec {
				if i < len(head) {
					row[head[i]] = strings.TrimSpace(v)
				}
			}
			fn(line, row, nil)
		}
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		line++
		if line > MaxUploadRows {
			return fmt.Errorf("more than %d rows: send them in several uploads", MaxUploadRows)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			fn(line, nil, errors.New("not a JSON object"))
			continue
		}
		row := map[string]string{}
		for k, v := range raw {
			switch x := v.(type) {
			case string:
				row[k] = strings.TrimSpace(x)
			case float64:
				row[k] = strconv.FormatFloat(x, 'f', -1, 64)
			case nil:
			default:
				row[k] = fmt.Sprint(x)
			}
		}
		fn(line, row, nil)
	}
	return sc.Err()
}

func (res *Result) refuse(line int, field, msg string) {
	res.Rejected++
	if len(res.Errors) < maxErrors {
		res.Errors = append(res.Errors, FieldError{Line: line, Field: field, Error: msg})
	}
}

// SubmitMembers validates and stores members (NDJSON, or CSV with a
// header): panel, user_id, country, platform, and optionally age_band,
// gender, joined, left. A member sent again replaces its earlier row.
// Valid rows are stored even when others are refused.
func (s *Service) SubmitMembers(ctx context.Context, body io.Reader, csvBody bool) (Result, error) {
	res := Result{Errors: []FieldError{}}
	var rows []memberRow
	err := readRows(body, csvBody, func(line int, row map[string]string, err error) {
		if err != nil {
			res.refuse(line, "", err.Error())
			return
		}
		m, field, msg := parseMember(row, s.userKey)
		if msg != "" {
			res.refuse(line, field, msg)
			return
		}
		rows = append(rows, m)
	})
	if err != nil {
		return res, &InputError{Msg: err.Error()}
	}
	if err := s.insertMembers(ctx, rows); err != nil {
		return res, err
	}
	res.Accepted = len(rows)
	return res, nil
}

// epoch stands for "no date" in joined and left (Date has no null).
var epoch = time.Unix(0, 0).UTC()

func parseMember(row map[string]string, userKey func(string) uint64) (memberRow, string, string) {
	m := memberRow{joined: epoch, left: epoch}
	if err := catalog.CheckSlug(catalog.Panel, row["panel"]); err != nil {
		return m, "panel", err.Error()
	}
	m.panel = row["panel"]
	uid := row["user_id"]
	if uid == "" {
		return m, "user_id", "user_id is required"
	}
	if err := catalog.CheckPrintable("user_id", uid, ""); err != nil {
		return m, "user_id", err.Error()
	}
	m.userKey = userKey(uid)
	if err := catalog.CheckCountry(row["country"]); err != nil {
		return m, "country", err.Error()
	}
	m.country = row["country"]
	m.platform = row["platform"]
	if !contains(Platforms, m.platform) {
		return m, "platform", fmt.Sprintf("platform %q: want one of %s", m.platform, strings.Join(Platforms, ", "))
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"age_band", &m.ageBand}, {"gender", &m.gender}} {
		v := row[f.name]
		if len(v) > 32 {
			return m, f.name, fmt.Sprintf("%s: at most 32 characters", f.name)
		}
		if err := catalog.CheckPrintable(f.name, v, ""); err != nil {
			return m, f.name, err.Error()
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"joined", &m.joined}, {"left", &m.left}} {
		if v := row[f.name]; v != "" {
			d, err := catalog.ParseDate(f.name, v)
			if err != nil {
				return m, f.name, err.Error()
			}
			*f.dst = d
		}
	}
	if m.left != epoch && m.left.Before(m.joined) {
		return m, "left", "left is before joined"
	}
	return m, "", ""
}

func (s *Service) insertMembers(ctx context.Context, rows []memberRow) error {
	if len(rows) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	b, err := s.store.Conn.PrepareBatch(ctx, "INSERT INTO panel_members (panel, user_key, country, platform, age_band, gender, joined, left, version)")
	if err != nil {
		return fmt.Errorf("panel: store members: %w", err)
	}
	defer b.Abort()
	v := uint64(s.now().UnixNano())
	for _, m := range rows {
		if err := b.Append(m.panel, m.userKey, m.country, m.platform, m.ageBand, m.gender, m.joined, m.left, v); err != nil {
			return fmt.Errorf("panel: store members: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("panel: store members: %w", err)
	}
	return nil
}

// SubmitTargets validates and stores population targets (NDJSON, or CSV
// with a header): panel, month (YYYY-MM), dimension, category,
// population. A target sent again replaces its earlier row.
func (s *Service) SubmitTargets(ctx context.Context, body io.Reader, csvBody bool) (Result, error) {
	res := Result{Errors: []FieldError{}}
	var rows []targetRow
	err := readRows(body, csvBody, func(line int, row map[string]string, err error) {
		if err != nil {
			res.refuse(line, "", err.Error())
			return
		}
		t, field, msg := parseTarget(row)
		if msg != "" {
			res.refuse(line, field, msg)
			return
		}
		rows = append(rows, t)
	})
	if err != nil {
		return res, &InputError{Msg: err.Error()}
	}
	if len(rows) > 0 {
		ctx, cancel := context.WithTimeout(ctx, dbTimeout)
		defer cancel()
		b, err := s.store.Conn.PrepareBatch(ctx, "INSERT INTO panel_targets (panel, month, dimension, category, population, version)")
		if err != nil {
			return res, fmt.Errorf("panel: store targets: %w", err)
		}
		defer b.Abort()
		v := uint64(s.now().UnixNano())
		for _, t := range rows {
			if err := b.Append(t.panel, t.month, t.dimension, t.category, t.population, v); err != nil {
				return res, fmt.Errorf("panel: store targets: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return res, fmt.Errorf("panel: store targets: %w", err)
		}
	}
	res.Accepted = len(rows)
	return res, nil
}

func parseTarget(row map[string]string) (targetRow, string, string) {
	var t targetRow
	if err := catalog.CheckSlug(catalog.Panel, row["panel"]); err != nil {
		return t, "panel", err.Error()
	}
	t.panel = row["panel"]
	m, err := ParseMonth("month", row["month"])
	if err != nil {
		return t, "month", err.Error()
	}
	t.month = m
	t.dimension = row["dimension"]
	if !contains(Dimensions, t.dimension) {
		return t, "dimension", fmt.Sprintf("dimension %q: want one of %s", t.dimension, strings.Join(Dimensions, ", "))
	}
	t.category = row["category"]
	if t.category == "" {
		return t, "category", "category is required"
	}
	if err := catalog.CheckPrintable("category", t.category, ""); err != nil {
		return t, "category", err.Error()
	}
	p, err := strconv.ParseFloat(row["population"], 64)
	if err != nil || p < 0 || math.IsInf(p, 0) || math.IsNaN(p) {
		return t, "population", fmt.Sprintf("population %q: want a number of people, 0 or more", row["population"])
	}
	t.population = p
	return t, "", ""
}

// ParseMonth reads YYYY-MM within the catalog's date bounds.
func ParseMonth(field, v string) (time.Time, error) {
	d, err := catalog.ParseDate(field, v+"-01")
	if err != nil || len(v) != 7 {
		return time.Time{}, &InputError{Msg: fmt.Sprintf("%s %q: want a month YYYY-MM from 2000-01 to 2100-12", field, v)}
	}
	return d, nil
}

// InputError is a body or parameter that cannot be used: 400.
type InputError struct{ Msg string }

func (e *InputError) Error() string   { return e.Msg }
func (e *InputError) HTTPStatus() int { return 400 }

// Report is the weighting of a panel for a month, as the API shows it.
type Report struct {
	Panel        string
	Month        time.Time
	TargetsMonth time.Time // the month whose targets were used
	Members      int
	Dimensions   []string
	Weights      Weights
	LowNEff      bool
}

// Members returns the members of panel in month (joined on or before its
// last day, not left before its first), with their categories in dims.
func (s *Service) members(ctx context.Context, panel string, month time.Time, dims []string) ([]Member, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	end := month.AddDate(0, 1, -1)
	rows, err := s.store.Conn.Query(ctx, `SELECT user_key, CAST(country AS String), CAST(platform AS String), CAST(age_band AS String), CAST(gender AS String)
FROM (SELECT user_key, argMax(country, version) AS country, argMax(platform, version) AS platform, argMax(age_band, version) AS age_band,
             argMax(gender, version) AS gender, argMax(joined, version) AS j, argMax(left, version) AS l
      FROM panel_members WHERE panel = ? GROUP BY user_key)
WHERE (j = toDate(0) OR j <= toDate(?)) AND (l = toDate(0) OR l >= toDate(?))
ORDER BY user_key SETTINGS max_execution_time = 60`, panel, end.Format(catalog.DateLayout), month.Format(catalog.DateLayout))
	if err != nil {
		return nil, fmt.Errorf("panel: read members: %w", err)
	}
	defer rows.Close()
	var out []Member
	for rows.Next() {
		var m Member
		var attrs [4]string
		if err := rows.Scan(&m.Key, &attrs[0], &attrs[1], &attrs[2], &attrs[3]); err != nil {
			return nil, fmt.Errorf("panel: read members: %w", err)
		}
		for _, d := range dims {
			m.Cats = append(m.Cats, attrs[indexOf(Dimensions, d)])
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// targets returns the targets of panel for month: its own, or the latest
// earlier month's; the month used is returned too (zero: none).
func (s *Service) targets(ctx context.Context, panel string, month time.Time) (Targets, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	var used time.Time
	if err := s.store.Conn.QueryRow(ctx, "SELECT max(month) FROM panel_targets WHERE panel = ? AND month <= toDate(?) SETTINGS max_execution_time = 60",
		panel, month.Format(catalog.DateLayout)).Scan(&used); err != nil {
		return nil, time.Time{}, fmt.Errorf("panel: read targets: %w", err)
	}
	if used.Year() < 2000 {
		return nil, time.Time{}, nil
	}
	rows, err := s.store.Conn.Query(ctx, `SELECT CAST(dimension AS String), category, argMax(population, version) FROM panel_targets
WHERE panel = ? AND month = toDate(?) GROUP BY dimension, category SETTINGS max_execution_time = 60`, panel, used.Format(catalog.DateLayout))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("panel: read targets: %w", err)
	}
	defer rows.Close()
	t := Targets{}
	for rows.Next() {
		var d, c string
		var p float64
		if err := rows.Scan(&d, &c, &p); err != nil {
			return nil, time.Time{}, fmt.Errorf("panel: read targets: %w", err)
		}
		if t[d] == nil {
			t[d] = map[string]float64{}
		}
		t[d][c] = p
	}
	return t, time.Date(used.Year(), used.Month(), 1, 0, 0, 0, 0, time.UTC), rows.Err()
}

// Weigh rakes the members of panel in month to the month's targets (or
// the latest earlier month's), on every dimension that has targets.
func (s *Service) Weigh(ctx context.Context, panel string, month time.Time) (Report, error) {
	rep := Report{Panel: panel, Month: month}
	t, used, err := s.targets(ctx, panel, month)
	if err != nil {
		return rep, err
	}
	if len(t) == 0 {
		return rep, &NotFoundError{Msg: fmt.Sprintf("panel %q has no targets for %s or any earlier month: POST them to /api/v1/panel/targets", panel, month.Format("2006-01"))}
	}
	rep.TargetsMonth = used
	for _, d := range Dimensions {
		if len(t[d]) > 0 {
			rep.Dimensions = append(rep.Dimensions, d)
		}
	}
	ms, err := s.members(ctx, panel, month, rep.Dimensions)
	if err != nil {
		return rep, err
	}
	rep.Members = len(ms)
	if len(ms) == 0 {
		return rep, &NotFoundError{Msg: fmt.Sprintf("panel %q has no members in %s: POST them to /api/v1/panel/members", panel, month.Format("2006-01"))}
	}
	w, err := Rake(rep.Dimensions, ms, t, RakeOptions{})
	if err != nil && !errors.Is(err, ErrNoMembers) {
		return rep, err
	}
	rep.Weights = w
	rep.LowNEff = w.NEff < MinNEff
	return rep, nil
}

// NotFoundError: nothing to weigh (404).
type NotFoundError struct{ Msg string }

func (e *NotFoundError) Error() string   { return e.Msg }
func (e *NotFoundError) HTTPStatus() int { return 404 }

func contains(xs []string, x string) bool { return indexOf(xs, x) >= 0 }

func indexOf(xs []string, x string) int {
	for i, s := range xs {
		if s == x {
			return i
		}
	}
	return -1
}

// Panels lists the panels that have members, by name.
func (s *Service) Panels(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	rows, err := s.store.Conn.Query(ctx, "SELECT DISTINCT CAST(panel AS String) AS p FROM panel_members ORDER BY p SETTINGS max_execution_time = 60")
	if err != nil {
		return nil, fmt.Errorf("panel: list panels: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("panel: list panels: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
