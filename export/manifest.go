package export

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/query"
)

// ManifestSuffix ends the name of the manifest written beside each
// scheduled file: weekly_dau_2026-01-05_2026-02-01.csv.json.
const ManifestSuffix = ".json"

// Manifest says what a scheduled file holds, for whoever reads the file
// without the product at hand: the query and its filters, the zone of its
// days, the range and its dates, which periods are complete, whether demo
// data is in it, and which version of the product wrote it.
type Manifest struct {
	File     string `json:"file"`
	Export   string `json:"export"`
	ExportID string `json:"export_id"`
	RunID    string `json:"run_id"`
	Kind     string `json:"kind"`
	// Query is the query API parameters the run sent, from, to and tz
	// included: GET /api/v1/<kind>?<query>&format=csv answers the file's
	// rows.
	Query string `json:"query"`
	// Filters are the filters applied, by dimension (empty: none).
	Filters  map[string][]string `json:"filters"`
	Timezone string              `json:"timezone"`
	// Range is the export's relative range; From and To its dates for this
	// run (From moved back to the start of its week or month for rows by
	// week or month: see Export.Period).
	Range       string    `json:"range"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	Interval    string    `json:"interval"`
	GeneratedAt time.Time `json:"generated_at"`
	Rows        int64     `json:"rows"`
	Bytes       int64     `json:"bytes"`
	Columns     []string  `json:"columns"`
	// Periods are the file's periods in order with their complete flag
	// (false when any row of the period is incomplete); Incomplete lists
	// the incomplete ones. Both are empty for a migration, whose rows are
	// outcomes.
	Periods    []PeriodState `json:"periods"`
	Incomplete []string      `json:"incomplete_periods"`
	Synthetic  bool          `json:"synthetic"`
	Version    string        `json:"version"`
}

// PeriodState is one period of a file and whether it is complete.
type PeriodState struct {
	Period   string `json:"period"`
	Complete bool   `json:"complete"`
}

// periodWatch wraps a Table and notes each row's period and complete flag
// (from the columns named period and complete) on the way to the file.
type periodWatch struct {
	Table
	periods []PeriodState
	index   map[string]int
}

func (w *periodWatch) Each(fn func([]string) error) error {
	pi, ci := -1, -1
	for i, c := range w.Table.Columns() {
		switch c {
		case "period":
			pi = i
		case "complete":
			ci = i
		}
	}
	w.index = map[string]int{}
	return w.Table.Each(func(row []string) error {
		if pi >= 0 && ci >= 0 && pi < len(row) && ci < len(row) {
			p, done := row[pi], row[ci] == "true"
			if i, ok := w.index[p]; ok {
				w.periods[i].Complete = w.periods[i].Complete && done
			} else {
				w.index[p] = len(w.periods)
				w.periods = append(w.periods, PeriodState{Period: p, Complete: done})
			}
		}
		return fn(row)
	})
}

// newManifest describes the file name of a run of e over params.
func newManifest(e Export, runID, name string, params url.Values, from, to string, columns []string, periods []PeriodState,
	rows, bytes int64, synthetic bool, at time.Time) Manifest {
	m := Manifest{File: name, Export: e.Name, ExportID: e.ID, RunID: runID, Kind: e.Kind, Query: params.Encode(),
		Filters: filtersOf(e.Kind, params), Timezone: e.Timezone, Range: string(e.Range), From: from, To: to,
		Interval: string(e.Interval()), GeneratedAt: at.UTC().Truncate(time.Second), Rows: rows, Bytes: bytes,
		Columns: columns, Periods: periods, Incomplete: []string{}, Synthetic: synthetic, Version: ProductVersion()}
	if m.Kind == "" {
		m.Kind = query.EndpointSeries
	}
	if m.Kind == query.EndpointMigration {
		m.Interval = ""
	}
	if m.Periods == nil {
		m.Periods = []PeriodState{}
	}
	for _, p := range m.Periods {
		if !p.Complete {
			m.Incomplete = append(m.Incomplete, p.Period)
		}
	}
	return m
}

// filtersOf reads the filters of params as the query API does (a
// migration's assistant and channel are its subject, in the query, not
// filters).
func filtersOf(kind string, params url.Values) map[string][]string {
	var f query.Filters
	switch kind {
	case "", query.EndpointSeries:
		if r, err := query.ParseSeries(params); err == nil {
			f = r.Filters
		}
	case query.EndpointRetention:
		if r, err := query.ParseRetention(params); err == nil {
			f = r.Filters
		}
	case query.EndpointLifecycle:
		if r, err := query.ParseLifecycle(params); err == nil {
			f = r.Filters
		}
	case query.EndpointStickiness:
		if r, err := query.ParseStickiness(params); err == nil {
			f = r.Filters
		}
	case query.EndpointOverlap:
		if r, err := query.ParseOverlap(params); err == nil {
			f = r.Filters
		}
	case query.EndpointCountries:
		if sl, err := query.ParseCountries(params, time.Time{}); err == nil {
			f = sl.Filters
		}
	}
	out := map[string][]string{}
	for _, d := range query.Dims {
		if vals := f.Values(d); len(vals) > 0 {
			out[string(d)] = vals
		}
	}
	return out
}

// writeManifest writes m as dir/<m.File>.json, whole or not at all.
func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	a, err := createAtomic(dir)
	if err != nil {
		return err
	}
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		a.abort()
		return err
	}
	return a.commit(m.File + ManifestSuffix)
}

// ManifestName is the name of the manifest of the file named file.
func ManifestName(file string) string { return file + ManifestSuffix }

// validManifestName reports whether name is the manifest of a file an
// export may write.
func validManifestName(name string) bool {
	return strings.HasSuffix(name, ".csv"+ManifestSuffix) && ValidFileName(strings.TrimSuffix(name, ManifestSuffix))
}

// pruneManifests removes the manifests of removed files, and manifests
// whose file is gone and that are older than age (left by a run that
// stopped between writing the two).
func pruneManifests(dir string, e Export, removed []string, age time.Duration) []string {
	var out []string
	for _, f := range removed {
		if err := os.Remove(filepath.Join(dir, ManifestName(f))); err == nil {
			out = append(out, ManifestName(f))
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return out
	}
	for _, de := range ents {
		n := de.Name()
		if !de.Type().IsRegular() || !strings.HasPrefix(n, e.Name+"_") || !validManifestName(n) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(n, ManifestSuffix))); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		if info, err := de.Info(); err == nil && time.Since(info.ModTime()) > age {
			if os.Remove(filepath.Join(dir, n)) == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// ProductVersion is the version of the running program: its module
// version and VCS revision as the Go toolchain recorded them.
func ProductVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && !strings.Contains(v, rev) {
		v += " " + rev
		if dirty {
			v += "+dirty"
		}
	}
	return "adoptscope " + v
}
