package ingest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/adoptscope/adoptscope/catalog"
)

// FieldError says why one event was rejected. Line is 1-based: the NDJSON
// line, the JSON array element index + 1, the physical CSV line (the header
// is line 1), or the index + 1 in a slice given to Submit. Field is empty
// when the line itself is broken.
type FieldError struct {
	Line  int    `json:"line"`
	Field string `json:"field"`
	Error string `json:"error"`
}

// Reason is the metrics label of the error: the field, or "malformed".
func (e FieldError) Reason() string {
	if e.Field == "" {
		return "malformed"
	}
	return e.Field
}

var (
	minTime   = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	maxFuture = 24 * time.Hour
	maxCount  = 1_000_000
)

// setJSON sets one member of a JSON event on in. Unknown keys are ignored;
// null is the same as absent; wrong JSON types are errors, never coerced.
func setJSON(in *Input, key []byte, kind jsonKind, val []byte) *FieldError {
	if kind == kindNull {
		return nil
	}
	switch string(key) {
	case "event_id", "assistant", "channel", "user_id", "event_type", "modality", "country", "source":
		if kind != kindString {
			return &FieldError{Field: string(key), Error: "must be a string, got " + kind.String()}
		}
		setString(in, key, val)
	case "time":
		switch kind {
		case kindString:
			t, err := parseTime(val)
			if err != nil {
				return &FieldError{Field: "time", Error: fmt.Sprintf("%q is not RFC 3339 with an offset (2026-01-15T09:30:00Z) or Unix milliseconds", val)}
			}
			in.Time = t
		case kindNumber:
			ms, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil {
				return &FieldError{Field: "time", Error: fmt.Sprintf("%s is not an integer number of Unix milliseconds", val)}
			}
			in.Time = time.UnixMilli(ms)
		default:
			return &FieldError{Field: "time", Error: "must be an RFC 3339 string or integer Unix milliseconds, got " + kind.String()}
		}
	case "count":
		if kind != kindNumber {
			return &FieldError{Field: "count", Error: "must be an integer 1-1000000, got " + kind.String()}
		}
		return setCount(in, val)
	case "linked":
		switch kind {
		case kindTrue:
			in.Linked = true
		case kindFalse:
			in.Linked = false
		default:
			return &FieldError{Field: "linked", Error: "must be true or false, got " + kind.String()}
		}
	}
	return nil
}

// setText sets one CSV cell: every cell is text, so numbers and booleans
// are parsed from it; an empty cell is absent.
func setText(in *Input, key string, val string) *FieldError {
	if val == "" {
		return nil
	}
	switch key {
	case "event_id", "assistant", "channel", "user_id", "event_type", "modality", "country", "source":
		setString(in, []byte(key), []byte(val))
	case "time":
		if isDigits(val) || (len(val) > 1 && val[0] == '-' && isDigits(val[1:])) {
			ms, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return &FieldError{Field: "time", Error: fmt.Sprintf("%s is out of range", val)}
			}
			in.Time = time.UnixMilli(ms)
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return &FieldError{Field: "time", Error: fmt.Sprintf("%q is not RFC 3339 with an offset (2026-01-15T09:30:00Z) or Unix milliseconds", val)}
		}
		in.Time = t
	case "count":
		return setCount(in, []byte(val))
	case "linked":
		switch val {
		case "true", "1":
			in.Linked = true
		case "false", "0":
			in.Linked = false
		default:
			return &FieldError{Field: "linked", Error: fmt.Sprintf("%q: want true or false", val)}
		}
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func setCount(in *Input, val []byte) *FieldError {
	n, err := strconv.ParseInt(string(val), 10, 64)
	if err != nil || n < 1 || n > int64(maxCount) {
		return &FieldError{Field: "count", Error: fmt.Sprintf("%s: must be an integer 1-1000000", val)}
	}
	in.Count = uint32(n)
	return nil
}

func setString(in *Input, key []byte, val []byte) {
	switch string(key) {
	case "event_id":
		in.EventID = string(val)
	case "assistant":
		in.Assistant = internString(val)
	case "channel":
		in.Channel = internString(val)
	case "user_id":
		in.UserID = string(val)
	case "event_type":
		in.EventType = internString(val)
	case "modality":
		in.Modality = internString(val)
	case "country":
		in.Country = internString(val)
	case "source":
		in.Source = internString(val)
	}
}

// redact keeps a raw user id out of an error text: error texts quote the
// values at fault, and a client may put a user id into any field. Answers
// to idempotent requests are stored, so this keeps them out of storage too.
func redact(msg, userID string) string {
	if userID == "" {
		return msg
	}
	q := strconv.Quote(userID)
	msg = strings.ReplaceAll(msg, q[1:len(q)-1], "<user_id>")
	return strings.ReplaceAll(msg, userID, "<user_id>")
}

// registries are the configured slugs: catalog.Registry.Check is the one
// rule, and its message (not a slug, or unknown with the known values) is
// the field's error.
type registries struct{ catalog.Registry }

func newRegistries(c Config) registries {
	return registries{catalog.Registry{Assistants: c.Assistants, Channels: c.Channels, EventTypes: c.EventTypes}}
}

// check is Registry.Check as a field error.
func (r *registries) check(field string, kind catalog.Kind, v string) *FieldError {
	if err := r.Check(kind, v); err != nil {
		return &FieldError{Field: field, Error: err.Error()}
	}
	return nil
}

// validate checks in and fills ev; it returns the first problem found.
func (r *registries) validate(in *Input, now time.Time, ev *Event) *FieldError {
	switch {
	case in.EventID == "":
		return &FieldError{Field: "event_id", Error: "required"}
	case len(in.EventID) > 128:
		return &FieldError{Field: "event_id", Error: fmt.Sprintf("%d bytes: at most 128", len(in.EventID))}
	}
	switch {
	case in.Time.IsZero():
		return &FieldError{Field: "time", Error: "required"}
	case in.Time.Before(minTime):
		return &FieldError{Field: "time", Error: fmt.Sprintf("%s is before 2015-01-01", in.Time.UTC().Format(time.RFC3339))}
	case in.Time.After(now.Add(maxFuture)):
		return &FieldError{Field: "time", Error: fmt.Sprintf("%s is more than 24 h in the future", in.Time.UTC().Format(time.RFC3339))}
	}
	if in.Assistant == "" {
		return &FieldError{Field: "assistant", Error: "required"}
	}
	if fe := r.check("assistant", catalog.Assistant, in.Assistant); fe != nil {
		return fe
	}
	if in.Channel == "" {
		return &FieldError{Field: "channel", Error: "required"}
	}
	if fe := r.check("channel", catalog.Channel, in.Channel); fe != nil {
		return fe
	}
	switch {
	case in.UserID == "":
		return &FieldError{Field: "user_id", Error: "required"}
	case len(in.UserID) > 256:
		return &FieldError{Field: "user_id", Error: fmt.Sprintf("%d bytes: at most 256", len(in.UserID))}
	}
	et := in.EventType
	if et == "" {
		et = "message"
	} else if fe := r.check("event_type", catalog.EventType, et); fe != nil {
		return fe
	}
	mod := in.Modality
	if mod == "" {
		mod = "text"
	} else if fe := r.check("modality", catalog.Modality, mod); fe != nil {
		return fe
	}
	if in.Country != "" && !isCountry(in.Country) {
		return &FieldError{Field: "country", Error: fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 code in upper case (for example FR)", in.Country)}
	}
	count := in.Count
	if count == 0 {
		count = 1
	} else if count > uint32(maxCount) {
		return &FieldError{Field: "count", Error: fmt.Sprintf("%d: must be an integer 1-1000000", count)}
	}
	if len(in.Source) > 64 {
		return &FieldError{Field: "source", Error: fmt.Sprintf("%d bytes: at most 64", len(in.Source))}
	}
	*ev = Event{
		EventID: in.EventID, Time: in.Time.UTC(), ReceivedAt: now.UTC(),
		Assistant: in.Assistant, Channel: in.Channel, EventType: et, Modality: mod,
		Country: in.Country, Count: count, Linked: in.Linked, Source: in.Source,
	}
	return nil
}

// isCountry accepts codes of the catalog's form that are assigned ISO
// 3166-1 alpha-2 codes (per CLDR via x/text); deprecated aliases such as
// UK are refused.
func isCountry(s string) bool {
	if !catalog.IsCountry(s) {
		return false
	}
	r, err := language.ParseRegion(s)
	return err == nil && r.IsCountry() && r.String() == s
}
