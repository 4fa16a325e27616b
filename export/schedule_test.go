package export

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// fakeClock steps through time one minute at a time and collects the runs
// a schedule produces, the way the scheduler asks for them.
func runsBetween(s Schedule, from, to time.Time) []time.Time {
	var out []time.Time
	next := s.Next(from)
	for now := from; !now.After(to); now = now.Add(time.Minute) {
		if !next.IsZero() && !next.After(now) {
			out = append(out, next)
			next = s.Next(now)
		}
	}
	return out
}

func TestScheduleDST(t *testing.T) {
	// Expected instants are written out by hand from the zone rules:
	// Europe/Paris springs forward 2026-03-29 02:00 CET -> 03:00 CEST
	// (01:00 UTC) and falls back 2026-10-25 03:00 CEST -> 02:00 CET
	// (01:00 UTC); America/New_York springs forward 2026-03-08 02:00 EST ->
	// 03:00 EDT (07:00 UTC) and falls back 2026-11-01 02:00 EDT -> 01:00
	// EST (06:00 UTC).
	cases := []struct {
		name, expr, zone string
		from, to         string
		want             []string
	}{
		{"spring forward: 02:30 runs once at 03:00", "30 2 * * *", "Europe/Paris",
			"2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
		{"fall back: 02:30 runs once, at its first occurrence", "30 2 * * *", "Europe/Paris",
			"2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
		{"spring forward: slots inside the gap collapse into one run", "0,15,30,45 2 * * *", "Europe/Paris",
			"2026-03-28T23:00:00Z", "2026-03-29T05:00:00Z",
			[]string{"2026-03-29T01:00:00Z"}},
		{"spring forward: a slot at 03:00 absorbs the gap's", "30 2,3 * * *", "Europe/Paris",
			"2026-03-28T23:00:00Z", "2026-03-29T05:00:00Z",
			[]string{"2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"}},
		{"New York spring forward", "30 2 * * *", "America/New_York",
			"2026-03-07T12:00:00Z", "2026-03-08T23:00:00Z",
			[]string{"2026-03-08T07:00:00Z"}},
		{"New York fall back 01:30 once", "30 1 * * *", "America/New_York",
			"2026-10-31T12:00:00Z", "2026-11-01T23:00:00Z",
			[]string{"2026-11-01T05:30:00Z"}},
		{"weekly Monday 06:00 Paris across spring forward", "0 6 * * MON", "Europe/Paris",
			"2026-03-20T00:00:00Z", "2026-04-07T00:00:00Z",
			[]string{"2026-03-23T05:00:00Z", "2026-03-30T04:00:00Z", "2026-04-06T04:00:00Z"}},
		{"every minute through fall back keeps each wall minute once", "*/30 * * * *", "Europe/Paris",
			"2026-10-24T23:50:00Z", "2026-10-25T02:10:00Z",
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSchedule(c.expr, c.zone)
			if err != nil {
				t.Fatal(err)
			}
			got := runsBetween(s, utc(c.from), utc(c.to))
			if len(got) != len(c.want) {
				t.Fatalf("runs = %v, want %v", got, c.want)
			}
			for i := range got {
				if !got[i].Equal(utc(c.want[i])) {
					t.Errorf("run %d = %s, want %s", i, got[i].Format(time.RFC3339), c.want[i])
				}
			}
		})
	}
}

func TestSchedulePrev(t *testing.T) {
	s, err := ParseSchedule("30 2 * * *", "Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ at, want string }{
		{"2026-03-29T05:00:00Z", "2026-03-29T01:00:00Z"},
		{"2026-03-29T00:59:00Z", "2026-03-28T01:30:00Z"},
		{"2026-10-25T01:00:00Z", "2026-10-25T00:30:00Z"},
	}
	for _, c := range cases {
		if got := s.Prev(utc(c.at), 48*time.Hour); !got.Equal(utc(c.want)) {
			t.Errorf("Prev(%s) = %s, want %s", c.at, got.Format(time.RFC3339), c.want)
		}
	}
	if got := s.Prev(utc("2026-03-29T05:00:00Z"), time.Hour); !got.IsZero() {
		t.Errorf("Prev outside the window = %s, want zero", got)
	}
}

// TestRobfigDSTDiffers records why the next run is not robfig/cron's own:
// its Next (v3.0.1) does not give the product's rule on these days.
func TestRobfigDSTDiffers(t *testing.T) {
	s, err := ParseSchedule("30 2 * * *", "Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	rob := *s.spec
	rob.Location = mustLoc(t, "Europe/Paris")
	// Spring forward.
	from := utc("2026-03-28T12:00:00Z")
	theirs := rob.Next(from).UTC()
	ours := s.Next(from)
	t.Logf("spring forward: robfig/cron Next = %s, ours = %s", theirs.Format(time.RFC3339), ours.Format(time.RFC3339))
	if !ours.Equal(utc("2026-03-29T01:00:00Z")) {
		t.Errorf("ours = %s", ours)
	}
	// Fall back: count runs robfig would give within the day.
	var got []time.Time
	at := utc("2026-10-24T12:00:00Z")
	for i := 0; i < 3; i++ {
		at = rob.Next(at).UTC()
		got = append(got, at)
	}
	t.Logf("fall back: robfig/cron gives %v", got)
	// Measured with v3.0.1: the spring-forward run is skipped (next is the
	// day after) and the fall-back run happens twice.
	if theirs.Equal(ours) {
		t.Errorf("robfig/cron now follows the spring-forward rule; its Next could be used")
	}
	if !got[1].Before(utc("2026-10-26T00:00:00Z")) {
		t.Errorf("robfig/cron no longer runs twice on fall-back day: %v", got)
	}
}

func TestParseScheduleRejects(t *testing.T) {
	for _, c := range []struct{ expr, zone string }{
		{"", "UTC"}, {"0 6 * *", "UTC"}, {"0 6 * * MON", "Mars/Olympus"}, {"@every 5m", "UTC"},
		{"CRON_TZ=UTC 0 6 * * *", "UTC"}, {"61 * * * *", "UTC"}, {"0 0 6 * * MON", "UTC"},
	} {
		if _, err := ParseSchedule(c.expr, c.zone); err == nil {
			t.Errorf("ParseSchedule(%q, %q) accepted", c.expr, c.zone)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, c := range []struct{ expr, zone, want string }{
		{"0 6 * * MON", "Europe/Paris", "Mondays at 06:00 Europe/Paris"},
		{"0 6 * * *", "UTC", "Every day at 06:00 UTC"},
		{"* * * * *", "UTC", "Every minute UTC"},
		{"*/15 * * * *", "UTC", "Every 15 minutes UTC"},
		{"30 7 * * 1-5", "America/New_York", "Weekdays at 07:30 America/New_York"},
		{"0 8 1 * *", "UTC", "On day 1 of the month at 08:00 UTC"},
		{"0 6 * * MON,THU", "UTC", "Mondays and Thursdays at 06:00 UTC"},
		{"@daily", "UTC", "Every day at 00:00 UTC"},
		{"5 4 * 2 *", "UTC", `cron "5 4 * 2 *" in UTC`},
	} {
		s, err := ParseSchedule(c.expr, c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Describe(); got != c.want {
			t.Errorf("Describe(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

func TestRangePeriod(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	// Monday 2026-02-02 06:00 Paris.
	at := time.Date(2026, 2, 2, 6, 0, 0, 0, paris)
	for _, c := range []struct {
		r        Range
		from, to string
	}{
		{"last_7_days", "2026-01-26", "2026-02-01"},
		{"last_28_days", "2026-01-05", "2026-02-01"},
		{"previous_week", "2026-01-26", "2026-02-01"},
		{"previous_month", "2026-01-01", "2026-01-31"},
		{"month_to_date", "2026-02-01", "2026-02-01"},
		{"since:2026-01-15", "2026-01-15", "2026-02-01"},
	} {
		f, to, err := c.r.Period(at, paris)
		if err != nil {
			t.Fatal(err)
		}
		if f.Format("2006-01-02") != c.from || to.Format("2006-01-02") != c.to {
			t.Errorf("%s: %s..%s, want %s..%s", c.r, f.Format("2006-01-02"), to.Format("2006-01-02"), c.from, c.to)
		}
	}
	// 00:30 Paris on 2026-02-02 is still 2026-02-01 in UTC: days count in the zone.
	f, to, _ := Range("last_7_days").Period(time.Date(2026, 2, 2, 0, 30, 0, 0, paris), paris)
	if f.Format("2006-01-02") != "2026-01-26" || to.Format("2006-01-02") != "2026-02-01" {
		t.Errorf("zone day: %s..%s", f, to)
	}
	for _, bad := range []Range{"last_week", "since:2026-13-01", "since:"} {
		if bad.Validate() == nil {
			t.Errorf("range %q accepted", bad)
		}
	}
}

func TestNamesStayInside(t *testing.T) {
	for _, n := range []string{"../../etc/x", "a/b", "/etc/passwd", "..", ".hidden", "a..b", `a\b`, "", "x y", "é"} {
		e := Export{Name: n, Schedule: "* * * * *"}
		if err := e.Normalize(); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	for _, f := range []string{"../x", "/tmp", "a/../../b"} {
		e := Export{Name: "ok", Schedule: "* * * * *", Folder: f}
		if err := e.Normalize(); err == nil {
			t.Errorf("folder %q accepted", f)
		}
	}
	e := Export{Name: "weekly-dau_v2.1", Schedule: "0 6 * * MON", Timezone: "Europe/Paris"}
	if err := e.Normalize(); err != nil {
		t.Fatal(err)
	}
	dir, err := e.Dir("/data/exports")
	if err != nil || dir != "/data/exports/weekly-dau_v2.1" {
		t.Errorf("Dir = %q, %v", dir, err)
	}
	if _, err := OpenFile("/data/exports", e, "../../../etc/passwd"); err == nil {
		t.Error("OpenFile served a path outside the folder")
	}
	if ValidFileName("../x.csv") || ValidFileName("a/b.csv") || !ValidFileName("a_2026-01-01_2026-01-07_synthetic.csv") {
		t.Error("ValidFileName")
	}
}
