package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/panel"
)

// benchPanel is the panel made of the bench's people: the population
// estimates are timed on it.
const benchPanel = "bench_panel"

// makePanel makes benchPanel unless it exists: a sample of the bench's
// people as members, drawn with a skew (people whose main channel is iOS
// and people in France join three times as often as the others), each
// with the country and platform of their events (platform: their main
// channel, the web and desktop as themselves, WhatsApp as android), and as
// population targets every month the counts of all the bench's people by
// country and by platform. Straight into ClickHouse (INSERT … SELECT): the
// upload endpoint keys user ids, and the bench's people have keys only.
func makePanel(ctx context.Context, s *store.Store, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM panel_members WHERE panel = ?", benchPanel).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(w, "panel %s: %d members already\n", benchPanel, n)
		return nil
	}
	start := time.Now()
	people := `SELECT user_key, argMax(country, ev) AS country,
		transform(argMax(channel, ev), ['whatsapp', 'ios', 'android', 'web', 'desktop'], ['android', 'ios', 'android', 'web', 'desktop'], 'android') AS platform
		FROM (SELECT user_key, CAST(country AS String) AS country, CAST(channel AS String) AS channel, sum(events) AS ev FROM rollup_person_day GROUP BY user_key, country, channel)
		GROUP BY user_key`
	if err := s.Conn.Exec(ctx, `INSERT INTO panel_members (panel, user_key, country, platform, age_band, gender, joined, left, version)
		SELECT ?, user_key, country, platform, '', '', toDate('2025-01-01'), toDate('0000-00-00'), 1 FROM (`+people+`)
		WHERE cityHash64(user_key) % 1000 < if(platform = 'ios' OR country = 'FR', 450, 150)`, benchPanel); err != nil {
		return fmt.Errorf("bench panel members: %w", err)
	}
	for _, dim := range []string{"country", "platform"} {
		if err := s.Conn.Exec(ctx, `INSERT INTO panel_targets (panel, month, dimension, category, population, version)
			SELECT ?, month, ?, category, toFloat64(people), 1 FROM (SELECT `+dim+` AS category, count() AS people FROM (`+people+`) GROUP BY category)
			ARRAY JOIN arrayMap(i -> addMonths(toDate('2025-03-01'), i), range(12)) AS month`, benchPanel, dim); err != nil {
			return fmt.Errorf("bench panel targets: %w", err)
		}
	}
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM panel_members WHERE panel = ?", benchPanel).Scan(&n); err != nil {
		return err
	}
	fmt.Fprintf(w, "panel %s: %d members of the bench's people (iOS and France over-represented), targets by country and platform, made in %s\n",
		benchPanel, n, time.Since(start).Round(time.Millisecond))
	return nil
}

// weighPanel computes the panel's weights for the bench's 12 months (the
// rake and 80 bootstrap replicates per month) and says how long a month
// took.
func weighPanel(ctx context.Context, s *store.Store, w io.Writer) error {
	svc := panel.NewService(s, nil)
	var months []time.Time
	for m := benchFrom; !m.After(benchTo); m = m.AddDate(0, 1, 0) {
		months = append(months, time.Date(m.Year(), m.Month(), 1, 0, 0, 0, 0, time.UTC))
	}
	start := time.Now()
	runs, err := svc.EnsureWeights(ctx, benchPanel, months)
	if err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Fprintf(w, "panel %s: weights of %d months in %s (%s a month, when they were not stored yet)\n", benchPanel, len(runs), d.Round(time.Millisecond),
		(d / time.Duration(max(len(months), 1))).Round(time.Millisecond))
	return nil
}

// estimateQueries are the population estimates of benchPanel, as the API's
// estimate=population asks them (UTC days).
func estimateQueries() []benchQuery {
	est := func(name, interval string, from time.Time) benchQuery {
		return benchQuery{name: name, run: func(ctx context.Context, s *store.Store) (int, error) {
			rows, err := panel.NewService(s, nil).Series(ctx, panel.SeriesRequest{Panel: benchPanel, Interval: interval, From: from, To: benchTo, By: []string{"assistant"}})
			return len(rows), err
		}}
	}
	return []benchQuery{
		est("population estimate: 12 months of monthly active people by assistant", "month", benchFrom),
		est("population estimate: 90 days of daily active people by assistant", "day", benchTo.AddDate(0, 0, -89)),
		est("population estimate: 365 days of daily active people by assistant", "day", benchFrom),
	}
}
