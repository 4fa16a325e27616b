package catalog

import (
	"fmt"
	"time"
)

// FirstDate and LastDate bound every date a user gives (a query's from,
// to and date, an export's since:, an annotation's start): data cannot lie
// outside them, and a date far outside them overflows the store's Date
// columns (a 500 instead of an answer) or makes every chart fail.
var (
	FirstDate = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	LastDate  = time.Date(2100, 12, 31, 0, 0, 0, 0, time.UTC)
)

// DateBounds is the allowed span in words, for messages.
const DateBounds = "from 2000-01-01 to 2100-12-31"

// InDateBounds reports whether the day of t lies in [FirstDate, LastDate].
func InDateBounds(t time.Time) bool {
	return !t.Before(FirstDate) && t.Before(LastDate.AddDate(0, 0, 1))
}

// ParseDate reads a date given in field: the form YYYY-MM-DD and a day
// inside the bounds. The error is a *RuleError that names the field and
// says what to give instead.
func ParseDate(field, value string) (time.Time, error) {
	t, err := time.Parse(DateLayout, value)
	if err != nil {
		return time.Time{}, &RuleError{Kind: Kind(field), Value: value,
			msg: fmt.Sprintf("%s %s: want a date YYYY-MM-DD, for example 2026-01-15", field, quote(value))}
	}
	if !InDateBounds(t) {
		return time.Time{}, &RuleError{Kind: Kind(field), Value: value,
			msg: fmt.Sprintf("%s %s: want a date %s", field, quote(value), DateBounds)}
	}
	return t, nil
}
