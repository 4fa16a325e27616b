package export

import (
	"fmt"
	"math/bits"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a five-field cron expression read in an IANA time zone.
//
// robfig/cron parses the expression; the next run is computed here, on the
// wall clock of the zone, because cron's own Next does not follow the
// product's daylight-saving rules (see TestRobfigDSTDiffers):
//   - a wall time that does not exist (spring forward: 02:30 in Europe/Paris
//     on the last Sunday of March) runs once, at the first instant after the
//     gap (03:00 local); several times inside one gap collapse into that one
//     run;
//   - a wall time that occurs twice (fall back: 02:30 on the last Sunday of
//     October) runs once, at its first occurrence.
//
// Each wall-clock slot of the expression therefore runs at most once a day.
type Schedule struct {
	Expr string
	Zone string
	spec *cron.SpecSchedule
	loc  *time.Location
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule checks expr (five fields: minute hour day-of-month month
// day-of-week, or @daily/@weekly/@monthly/@hourly) and zone (an IANA name
// such as Europe/Paris; empty means UTC).
func ParseSchedule(expr, zone string) (Schedule, error) {
	expr = strings.TrimSpace(expr)
	if zone == "" {
		zone = "UTC"
	}
	if expr == "" {
		return Schedule{}, fmt.Errorf("schedule: empty; want a cron expression such as \"0 6 * * MON\"")
	}
	if strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ=") {
		return Schedule{}, fmt.Errorf("schedule %q: give the time zone in the timezone field, not in the expression", expr)
	}
	if strings.HasPrefix(expr, "@every") {
		return Schedule{}, fmt.Errorf("schedule %q: @every is not supported; use a cron expression such as \"*/5 * * * *\"", expr)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return Schedule{}, fmt.Errorf("timezone %q: not an IANA time zone name (for example Europe/Paris, America/New_York, UTC)", zone)
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule %q: %v; want five fields: minute hour day-of-month month day-of-week, for example \"0 6 * * MON\"", expr, err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return Schedule{}, fmt.Errorf("schedule %q: not a calendar schedule", expr)
	}
	if spec.Second&^(1|starBit) != 0 || spec.Second&1 == 0 {
		return Schedule{}, fmt.Errorf("schedule %q: seconds are not supported", expr)
	}
	return Schedule{Expr: expr, Zone: zone, spec: spec, loc: loc}, nil
}

const starBit = 1 << 63

// Location is the schedule's time zone.
func (s Schedule) Location() *time.Location { return s.loc }

// Next is the first run strictly after t, or the zero time when there is
// none within five years (for example "0 0 30 2 *").
func (s Schedule) Next(t time.Time) time.Time {
	if s.spec == nil {
		return time.Time{}
	}
	wallT := wallAsUTC(t, s.loc)
	// A slot's instant lies at most a few hours from its wall time read as
	// UTC shifted by the offset, and a gap moves it forward by at most the
	// gap: slots whose wall time is well before t's cannot follow t.
	skipBefore := wallT.Add(-4 * time.Hour)
	day := time.Date(wallT.Year(), wallT.Month(), wallT.Day()-1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5*366+2; i++ {
		d := day.AddDate(0, 0, i)
		if !s.dayMatches(d) {
			continue
		}
		for h := 0; h < 24; h++ {
			if s.spec.Hour&(1<<uint(h)) == 0 {
				continue
			}
			for m := 0; m < 60; m++ {
				if s.spec.Minute&(1<<uint(m)) == 0 {
					continue
				}
				if time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, time.UTC).Before(skipBefore) {
					continue
				}
				at := wallInstant(d.Year(), d.Month(), d.Day(), h, m, s.loc)
				if at.After(t) {
					return at
				}
			}
		}
	}
	return time.Time{}
}

// Prev is the latest run at or before t and after t-limit (zero time when
// there is none).
func (s Schedule) Prev(t time.Time, limit time.Duration) time.Time {
	if s.spec == nil {
		return time.Time{}
	}
	from := t.Add(-limit)
	wallT := wallAsUTC(t, s.loc)
	skipAfter := wallT.Add(4 * time.Hour)
	day := time.Date(wallT.Year(), wallT.Month(), wallT.Day()+1, 0, 0, 0, 0, time.UTC)
	stop := wallAsUTC(from, s.loc).Add(-48 * time.Hour)
	for d := day; !d.Before(stop); d = d.AddDate(0, 0, -1) {
		if !s.dayMatches(d) {
			continue
		}
		for h := 23; h >= 0; h-- {
			if s.spec.Hour&(1<<uint(h)) == 0 {
				continue
			}
			for m := 59; m >= 0; m-- {
				if s.spec.Minute&(1<<uint(m)) == 0 {
					continue
				}
				if time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, time.UTC).After(skipAfter) {
					continue
				}
				at := wallInstant(d.Year(), d.Month(), d.Day(), h, m, s.loc)
				if at.After(t) {
					continue
				}
				if !at.After(from) {
					return time.Time{}
				}
				return at
			}
		}
	}
	return time.Time{}
}

func (s Schedule) dayMatches(d time.Time) bool {
	if s.spec.Month&(1<<uint(d.Month())) == 0 {
		return false
	}
	dom := s.spec.Dom&(1<<uint(d.Day())) != 0
	dow := s.spec.Dow&(1<<uint(d.Weekday())) != 0
	if s.spec.Dom&starBit != 0 || s.spec.Dow&starBit != 0 {
		return dom && dow
	}
	return dom || dow
}

// wallInstant is the instant a wall-clock time in loc stands for: its first
// occurrence when it occurs twice, and the end of the gap when it does not
// occur at all.
func wallInstant(y int, mo time.Month, d, h, mi int, loc *time.Location) time.Time {
	asUTC := time.Date(y, mo, d, h, mi, 0, 0, time.UTC)
	// The offsets in force shortly before and after: a transition moves the
	// offset at most once in a few hours in every zone in use.
	_, offBefore := asUTC.Add(-14 * time.Hour).In(loc).Zone()
	_, offAfter := asUTC.Add(14 * time.Hour).In(loc).Zone()
	var valid []time.Time
	for _, off := range []int{offBefore, offAfter} {
		cand := asUTC.Add(-time.Duration(off) * time.Second)
		l := cand.In(loc)
		if l.Year() == y && l.Month() == mo && l.Day() == d && l.Hour() == h && l.Minute() == mi {
			valid = append(valid, cand)
		}
	}
	switch {
	case len(valid) == 2 && valid[1].Before(valid[0]):
		return valid[1]
	case len(valid) > 0:
		return valid[0]
	}
	// In a gap: the first instant whose wall time is later than the asked
	// one. Between the two candidate instants the wall clock jumps; find
	// the jump by bisection (to the second).
	lo := asUTC.Add(-time.Duration(max(offBefore, offAfter)) * time.Second)
	hi := asUTC.Add(-time.Duration(min(offBefore, offAfter)) * time.Second)
	want := asUTC
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
		if wallAsUTC(mid, loc).Before(want) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func wallAsUTC(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
}

var dayNames = []string{"Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays"}

// Describe says the schedule in words, for example "Mondays at 06:00
// Europe/Paris". Shapes it cannot put simply come back as the expression
// with the zone.
func (s Schedule) Describe() string {
	if s.spec == nil {
		return s.Expr
	}
	sp := s.spec
	allMonths := sp.Month&starBit != 0 || onesIn(sp.Month, 1, 12)
	domStar := sp.Dom&starBit != 0
	dowStar := sp.Dow&starBit != 0
	minutes := setBits(sp.Minute, 0, 59)
	hours := setBits(sp.Hour, 0, 23)
	zone := " " + s.Zone

	var when string
	switch {
	case len(minutes) == 60 && len(hours) == 24:
		when = "every minute"
	case len(hours) == 24 && len(minutes) == 1:
		when = fmt.Sprintf("every hour at :%02d", minutes[0])
	case len(hours) == 24 && isStep(minutes, 0, 59):
		when = fmt.Sprintf("every %d minutes", minutes[1]-minutes[0])
	case len(hours) <= 3 && len(minutes) == 1:
		var ts []string
		for _, h := range hours {
			ts = append(ts, fmt.Sprintf("%02d:%02d", h, minutes[0]))
		}
		when = "at " + joinWords(ts)
	default:
		return fmt.Sprintf("cron %q in %s", s.Expr, s.Zone)
	}

	var days string
	switch {
	case domStar && dowStar:
		days = "every day"
	case domStar:
		dows := setBits(sp.Dow, 0, 6)
		if len(dows) == 5 && dows[0] == 1 && dows[4] == 5 {
			days = "weekdays"
		} else {
			var names []string
			for _, d := range dows {
				names = append(names, dayNames[d])
			}
			days = joinWords(names)
		}
	case dowStar:
		doms := setBits(sp.Dom, 1, 31)
		var ns []string
		for _, d := range doms {
			ns = append(ns, fmt.Sprint(d))
		}
		days = "on day " + joinWords(ns) + " of the month"
	default:
		return fmt.Sprintf("cron %q in %s", s.Expr, s.Zone)
	}
	if !allMonths {
		return fmt.Sprintf("cron %q in %s", s.Expr, s.Zone)
	}
	var out string
	if days == "every day" {
		if strings.HasPrefix(when, "every") {
			out = when
		} else {
			out = "every day " + when
		}
	} else {
		out = days + " " + when
	}
	return strings.ToUpper(out[:1]) + out[1:] + zone
}

func setBits(v uint64, lo, hi int) []int {
	var out []int
	for i := lo; i <= hi; i++ {
		if v&(1<<uint(i)) != 0 {
			out = append(out, i)
		}
	}
	return out
}

func onesIn(v uint64, lo, hi int) bool { return bits.OnesCount64(v&^starBit) >= hi-lo+1 }

func isStep(xs []int, lo, hi int) bool {
	if len(xs) < 2 || xs[0] != lo {
		return false
	}
	step := xs[1] - xs[0]
	for i := 1; i < len(xs); i++ {
		if xs[i]-xs[i-1] != step {
			return false
		}
	}
	return xs[len(xs)-1]+step > hi
}

func joinWords(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}
