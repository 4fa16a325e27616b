package ingest

import (
	"time"

	"golang.org/x/text/language"

	"github.com/adoptscope/adoptscope/catalog"
)

// intern maps every value a slug field can validly hold (registries,
// modalities, country codes) to one shared string, so that decoding the
// common case allocates nothing for those fields: a map lookup keyed by
// string(bytes) does not allocate.
var intern = func() map[string]string {
	m := map[string]string{}
	for _, l := range [][]string{catalog.DefaultAssistants, catalog.DefaultChannels, catalog.DefaultEventTypes, catalog.Modalities} {
		for _, s := range l {
			m[s] = s
		}
	}
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			s := string([]rune{a, b})
			if r, err := language.ParseRegion(s); err == nil && r.IsCountry() && r.String() == s {
				m[s] = s
			}
		}
	}
	return m
}()

func internString(b []byte) string {
	if s, ok := intern[string(b)]; ok {
		return s
	}
	return string(b)
}

// parseTime parses RFC 3339 with an offset. The usual shapes
// (2026-01-15T09:30:00Z and 2026-01-15T09:30:00+01:00) are read by hand
// without allocating; anything else goes to time.Parse, which then decides.
func parseTime(b []byte) (time.Time, error) {
	if t, ok := fastRFC3339(b); ok {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, string(b))
}

// fastRFC3339 reads YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9
// digits (the SDKs send milliseconds: 2026-01-15T09:30:00.000Z), and Z
// or ±HH:MM. Anything else is left to time.Parse.
func fastRFC3339(b []byte) (time.Time, bool) {
	if len(b) < 20 {
		return time.Time{}, false
	}
	if b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	s, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	if d > time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, false
	}
	i, ns := 19, 0
	if b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		digits := i - start
		if digits < 1 || digits > 9 {
			return time.Time{}, false
		}
		ns, _ = num(start, digits)
		for ; digits < 9; digits++ {
			ns *= 10
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	rest := b[i:]
	if len(rest) == 1 {
		return t, rest[0] == 'Z'
	}
	if len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return time.Time{}, false
	}
	oh, ok1 := num(i+1, 2)
	om, ok2 := num(i+4, 2)
	if !ok1 || !ok2 || oh > 23 || om > 59 {
		return time.Time{}, false
	}
	off := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
	if rest[0] == '-' {
		off = -off
	}
	return t.Add(-off), true
}
