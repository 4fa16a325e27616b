package rollup

import (
	"github.com/adoptscope/adoptscope/catalog"

	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Daily finals (query/README.md): each day's exact distinct people for
// every grain (combination of assistant, channel, country), computed once
// from the person-day rollup and stamped with the day's event sum at that
// time. The query layer uses a day's finals only while rollup_version_day
// still holds that sum; other days (today, a day that received late events)
// come from the uniq states, until the next Finalize.

// finalsTimeout bounds each statement of Finalize, on the client and, via
// max_execution_time in the SQL, on the server (a cancelled context does
// not stop a query on the server).
const (
	finalsTimeout  = 60 * time.Second
	finalsSettings = " SETTINGS max_execution_time = 60"
)

// Finalize computes the finals of up to maxDays days before today (UTC)
// whose finals are missing or out of date, newest first, and returns how
// many it did. Today keeps changing and comes from the states. The web
// process runs it in the background (Finalizer); the query benchmark runs it
// after loading. On a cluster it does nothing (the states answer).
func Finalize(ctx context.Context, s *store.Store, maxDays int) (int, error) {
	if s.Cluster != "" || maxDays <= 0 {
		return 0, nil
	}
	// The days to do: those whose event sum (rollup_version_day) has no
	// finals yet. Their finals are stamped below with the sum read from
	// rollup_person_day itself, not from rollup_version_day: the two are
	// written by different views of one insert, which may run in any
	// order or at once (parallel_view_processing), so the version table
	// may already count events the person-day table does not hold yet.
	qctx, cancel := context.WithTimeout(ctx, finalsTimeout)
	rows, err := s.Conn.Query(qctx, "SELECT toString(day), events FROM (SELECT day, sum(events) AS events FROM rollup_version_day GROUP BY day) "+
		"WHERE day < toDate(?) AND (day, events) NOT IN (SELECT day, version FROM rollup_users_final WHERE grain = 0) ORDER BY day DESC LIMIT ?"+finalsSettings,
		time.Now().UTC().Format(catalog.DateLayout), maxDays)
	if err != nil {
		cancel()
		return 0, fmt.Errorf("rollup: finalize: %w", err)
	}
	var days []string
	for rows.Next() {
		var d string
		var v uint64
		if err := rows.Scan(&d, &v); err != nil {
			rows.Close()
			cancel()
			return 0, fmt.Errorf("rollup: finalize: %w", err)
		}
		days = append(days, d)
	}
	rows.Close()
	cancel()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	const batch = 16
	for i := 0; i < len(days); i += batch {
		end := min(i+batch, len(days))
		ds := days[i:end]
		dayArgs := strings.TrimSuffix(strings.Repeat("toDate(?), ", len(ds)), ", ")
		// The version of a day's finals is its event sum in the person-day
		// table, read before the finals are computed from that table: the
		// table only grows, so the finals cover at least what the version
		// counts. Queries use them while rollup_version_day agrees.
		vs, err := personDaySums(ctx, s, ds, dayArgs)
		if err != nil {
			return i, err
		}
		args := []any{ds, vs}
		for _, d := range ds {
			args = append(args, d)
		}
		ictx, icancel := context.WithTimeout(ctx, finalsTimeout)
		err = s.Conn.Exec(ictx, "INSERT INTO rollup_users_final (day, grain, assistant, channel, country, users, version) "+
			"SELECT day, g, if(bitAnd(g, 1) = 1, CAST(assistant AS String), '') AS fa, "+
			"if(bitAnd(g, 2) = 2, CAST(channel AS String), '') AS fc, if(bitAnd(g, 4) = 4, CAST(country AS String), '') AS fk, "+
			"uniqExact(user_key), toUInt64(transform(toString(day), ?, ?, '0')) FROM rollup_person_day ARRAY JOIN range(8) AS g "+
			"WHERE day IN ("+dayArgs+") GROUP BY day, g, fa, fc, fk"+finalsSettings, args...)
		icancel()
		if err != nil {
			return i, fmt.Errorf("rollup: finalize %s..%s: %w", ds[len(ds)-1], ds[0], err)
		}
	}
	return len(days), nil
}

// personDaySums returns the event sum of each of days in rollup_person_day,
// in the order of days ("0" for a day it does not hold).
func personDaySums(ctx context.Context, s *store.Store, days []string, dayArgs string) ([]string, error) {
	qctx, cancel := context.WithTimeout(ctx, finalsTimeout)
	defer cancel()
	args := make([]any, len(days))
	for i, d := range days {
		args[i] = d
	}
	rows, err := s.Conn.Query(qctx, "SELECT toString(day), sum(events) FROM rollup_person_day WHERE day IN ("+dayArgs+") GROUP BY day"+finalsSettings, args...)
	if err != nil {
		return nil, fmt.Errorf("rollup: finalize: read the person-day sums: %w", err)
	}
	defer rows.Close()
	sums := map[string]uint64{}
	for rows.Next() {
		var d string
		var v uint64
		if err := rows.Scan(&d, &v); err != nil {
			return nil, fmt.Errorf("rollup: finalize: %w", err)
		}
		sums[d] = v
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]string, len(days))
	for i, d := range days {
		out[i] = strconv.FormatUint(sums[d], 10)
	}
	return out, nil
}

// Finalizer keeps the daily finals up to date in the background of a
// process that serves charts: every Every, it finalizes 31 days per call
// until nothing is left.
type Finalizer struct {
	store  *store.Store
	log    *slog.Logger
	every  time.Duration
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// DefaultFinalizeEvery is how often a Finalizer looks for days to finalize.
const DefaultFinalizeEvery = 30 * time.Second

// StartFinalizer starts finalizing in the background; Stop ends it.
func StartFinalizer(s *store.Store, every time.Duration, log *slog.Logger) *Finalizer {
	if every <= 0 {
		every = DefaultFinalizeEvery
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Finalizer{store: s, log: log, every: every, cancel: cancel}
	f.wg.Add(1)
	go f.run(ctx)
	return f
}

func (f *Finalizer) run(ctx context.Context) {
	defer f.wg.Done()
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		for {
			start := time.Now()
			n, err := Finalize(ctx, f.store, 31)
			if err != nil {
				if ctx.Err() == nil {
					f.log.Warn("finalizing daily active users failed; charts read the uniq states meanwhile", "error", err)
				}
				break
			}
			if n > 0 {
				f.log.Debug("finalized daily active users", "days", n, "took", time.Since(start).Round(time.Millisecond))
			}
			if n < 31 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Stop ends the background work and waits for it.
func (f *Finalizer) Stop(context.Context) error {
	f.cancel()
	f.wg.Wait()
	return nil
}
