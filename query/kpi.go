package query

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// KPI is one headline number over one complete period, with the same
// number over the period it is compared with.
type KPI struct {
	Value    float64
	Previous float64
	// ChangePct is (Value-Previous)/Previous*100, 2 decimals, for counts
	// (DAU, WAU, MAU); nil when Previous is 0, and for a ratio.
	ChangePct *float64
	// ChangePP is, for a ratio (stickiness), (Value-Previous)*100: the
	// change in percentage points, 2 decimals; nil for counts.
	ChangePP *float64
	// From and To are the period (inclusive dates), PrevFrom and PrevTo
	// the period it is compared with.
	From, To         time.Time
	PrevFrom, PrevTo time.Time
}

// AssistantKPIs are one assistant's headline numbers, each over the last
// complete period of its length:
//   - DAU: distinct people on the last complete day ("yesterday"), against
//     the same weekday a week before (a Saturday faces a Saturday);
//   - WAU: the last complete ISO week (Monday to Sunday), against the week
//     before;
//   - MAU: the last complete calendar month, against the month before;
//   - Stickiness: the average daily active users over the days of that
//     same month divided by its MAU (4 decimals), against the month
//     before; its change is in percentage points (ChangePP).
type AssistantKPIs struct {
	Assistant                 string
	DAU, WAU, MAU, Stickiness KPI
}

// KPIResult is KPIs' answer: one entry per assistant with events in the
// two months read, sorted by slug.
type KPIResult struct {
	// LastCompleteDay is the day the periods end at the latest (see
	// DataFreshness.LastCompleteDay); zero when nothing is stored.
	LastCompleteDay time.Time
	Freshness       DataFreshness
	TZ              string // "" for UTC
	Approximate     bool   // some distinct counts came from uniq states
	Assistants      []AssistantKPIs
}

// KPIs answers the headline tiles for each assistant of the slice f (an
// assistant filter chooses which assistants; channel and country filters
// restrict the people counted), with days in the zone tz ("" is UTC), at
// the clock now (zero: the current time). Only complete periods are used:
// "yesterday" is the last complete day, the week and month are the last
// ones that ended on or before it.
func KPIs(ctx context.Context, s *store.Store, f Filters, tz string, now time.Time) (KPIResult, error) {
	res := KPIResult{TZ: tz}
	loc, err := location(tz)
	if err != nil {
		return res, err
	}
	fr, err := Freshness(ctx, s, now)
	if err != nil {
		return res, err
	}
	res.Freshness = fr
	if fr.Empty() {
		return res, nil
	}
	last := fr.LastCompleteDay(loc)
	res.LastCompleteDay = last

	// The last complete week and month end on or before last.
	weekEnd := periodStart(last.AddDate(0, 0, 1), Week).AddDate(0, 0, -1)
	monthEnd := periodStart(last.AddDate(0, 0, 1), Month).AddDate(0, 0, -1)
	// Each part reads [from, to]: its period is the last one, the period
	// it is compared with starts at from. A day faces the same weekday a
	// week before (the days between are read and not used: one query).
	type part struct {
		metric   Metric
		iv       Interval
		from, to time.Time
		res      SeriesResult
		err      error
	}
	parts := []*part{
		{metric: ActiveUsers, iv: Day, from: last.AddDate(0, 0, -7), to: last},
		{metric: ActiveUsers, iv: Week, from: periodStart(weekEnd, Week).AddDate(0, 0, -7), to: weekEnd},
		{metric: ActiveUsers, iv: Month, from: periodStart(monthEnd, Month).AddDate(0, -1, 0), to: monthEnd},
		{metric: Stickiness, iv: Month, from: periodStart(monthEnd, Month).AddDate(0, -1, 0), to: monthEnd},
	}
	// prevOf is the period part p is compared with: [p.from, its end].
	prevOf := func(p *part) (time.Time, time.Time) {
		return p.from, nextPeriod(p.from, p.iv).AddDate(0, 0, -1)
	}
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.res, p.err = Series(ctx, s, SeriesRequest{Metric: p.metric, Interval: p.iv, From: p.from, To: p.to,
				By: []Dim{DimAssistant}, Filters: f, TZ: tz, Now: fr.Now, Freshness: &fr})
		}()
	}
	wg.Wait()
	byAssistant := map[string]*AssistantKPIs{}
	for i, p := range parts {
		if p.err != nil {
			return res, p.err
		}
		res.Approximate = res.Approximate || p.res.Approximate
		prevFrom, prevTo := prevOf(p)
		curFrom := periodStart(p.to, p.iv)
		vals := map[string][2]float64{} // assistant: previous, current
		for _, row := range p.res.Rows {
			v := vals[row.Dims[0]]
			switch {
			case row.Period.Equal(curFrom):
				v[1] = row.Value
			case row.Period.Equal(prevFrom):
				v[0] = row.Value
			}
			vals[row.Dims[0]] = v
		}
		for a, v := range vals {
			k := byAssistant[a]
			if k == nil {
				k = &AssistantKPIs{Assistant: a}
				byAssistant[a] = k
			}
			kpi := KPI{Value: v[1], Previous: v[0], From: curFrom, To: p.to, PrevFrom: prevFrom, PrevTo: prevTo}
			switch {
			case v[0] == 0:
				// Nobody in the period compared with (stickiness 0 too):
				// no change to show.
			case p.metric == Stickiness:
				// A ratio changes in points: 0.25 to 0.24 is -1 pp, not -4 %.
				c := round((v[1]-v[0])*100, 2)
				kpi.ChangePP = &c
			default:
				c := round((v[1]-v[0])/v[0]*100, 2)
				kpi.ChangePct = &c
			}
			switch i {
			case 0:
				k.DAU = kpi
			case 1:
				k.WAU = kpi
			case 2:
				k.MAU = kpi
			case 3:
				k.Stickiness = kpi
			}
		}
	}
	for _, k := range byAssistant {
		// An assistant seen only in some of the periods still gets every
		// tile, with zeros and the right dates.
		for i, kp := range []*KPI{&k.DAU, &k.WAU, &k.MAU, &k.Stickiness} {
			if kp.To.IsZero() {
				p := parts[i]
				pf, pt := prevOf(p)
				*kp = KPI{From: periodStart(p.to, p.iv), To: p.to, PrevFrom: pf, PrevTo: pt}
			}
		}
		res.Assistants = append(res.Assistants, *k)
	}
	sort.Slice(res.Assistants, func(i, j int) bool { return res.Assistants[i].Assistant < res.Assistants[j].Assistant })
	return res, nil
}
