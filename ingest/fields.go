package ingest

import (
	"fmt"
	"slices"
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

// MaxErrorsPerLine bounds the field errors listed for one line; the line
// is counted once in Rejected whatever the number.
const MaxErrorsPerLine = 10

// setJSON sets one member of a JSON event on in. Unknown keys are ignored;
// null is the same as absent; wrong JSON types are errors, never coerced.
// A field's error is kept on in (validate lists it with the other fields'
// errors), so that every error of a line is reported, not only the first.
func setJSON(in *Input, key []byte, kind jsonKind, val []byte) *FieldError {
	if fe := setJSONField(in, key, kind, val); fe != nil {
		in.addFieldError(*fe)
	}
	return nil
}

func setJSONField(in *Input, key []byte, kind jsonKind, val []byte) *FieldError {
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
				return &FieldError{Field: "time", Error: mark(string(val)) + " is not RFC 3339 with an offset (2026-01-15T09:30:00Z) or Unix milliseconds"}
			}
			in.Time = t
		case kindNumber:
			ms, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil {
				return &FieldError{Field: "time", Error: markBare(string(val)) + " is not an integer number of Unix milliseconds"}
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
// are parsed from it; an empty cell is absent. Like setJSON, it keeps a
// cell's error on in.
func setText(in *Input, key string, val string) *FieldError {
	if fe := setTextField(in, key, val); fe != nil {
		in.addFieldError(*fe)
	}
	return nil
}

func setTextField(in *Input, key string, val string) *FieldError {
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
				return &FieldError{Field: "time", Error: markBare(val) + " is out of range"}
			}
			in.Time = time.UnixMilli(ms)
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, val)
		if err != nil {
			return &FieldError{Field: "time", Error: mark(val) + " is not RFC 3339 with an offset (2026-01-15T09:30:00Z) or Unix milliseconds"}
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
			return &FieldError{Field: "linked", Error: mark(val) + ": want true or false"}
		}
	}
	return nil
}

// printable is catalog.CheckPrintable as a field error: ids and sources
// are shown in pages, logs and files, where a control character is never
// meant.
func printable(field, v string) *FieldError {
	err := catalog.CheckPrintable(field, v, "")
	if err == nil {
		return nil
	}
	return &FieldError{Field: field, Error: strings.TrimPrefix(err.Error(), field+": ")}
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
		return &FieldError{Field: "count", Error: markBare(string(val)) + ": must be an integer 1-1000000"}
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

// A value quoted in an error text is marked where the text is written,
// before the line's user id may be known (decoding reads fields in any
// order); redact then prints each marked value, or <user_id> in its place
// when it is the user id. Only the marked values are ever looked at: the
// rest of the text is never altered (replacing the id's text afterwards
// turned user_id "1" into "must be an integer <user_id>-<user_id>000000").
const (
	markOpen  = "\x00\x01"
	markClose = "\x01\x00"
)

// mark wraps a value for redact, printed quoted; markBare prints it as it
// is (numbers).
func mark(v string) string     { return markOpen + "q" + v + markClose }
func markBare(v string) string { return markOpen + "b" + v + markClose }

// shown is how an error text prints value v of a line whose user id is
// userID: quoted, or <user_id> when it is the user id or holds it (a
// client may put a user id, such as a phone number, into any field; ids
// shorter than 6 bytes are hidden only when the whole value equals them,
// so that "1" does not hide every number).
func shown(v, userID string) string {
	if userID != "" && (v == userID || (len(userID) >= 6 && strings.Contains(v, userID))) {
		return "<user_id>"
	}
	return strconv.Quote(v)
}

// redact prints the marked values of msg (see mark). A text without marks
// is returned as it is.
func redact(msg, userID string) string {
	if !strings.Contains(msg, markOpen) {
		return msg
	}
	var b strings.Builder
	for {
		i := strings.Index(msg, markOpen)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		j := strings.Index(msg[i+len(markOpen):], markClose)
		if j < 0 {
			b.WriteString(msg)
			return b.String()
		}
		b.WriteString(msg[:i])
		v := msg[i+len(markOpen) : i+len(markOpen)+j]
		switch out := shown(v[1:], userID); {
		case out == "<user_id>" || v[0] == 'q':
			b.WriteString(out)
		default:
			b.WriteString(v[1:])
		}
		msg = msg[i+len(markOpen)+j+len(markClose):]
	}
}

// addFieldError keeps a decoding error of one field on in; only the first
// error of a field is kept.
func (in *Input) addFieldError(fe FieldError) {
	if in.fieldErrs == nil {
		in.fieldErrs = &fieldErrors{}
	}
	for _, e := range in.fieldErrs.list {
		if e.Field == fe.Field {
			return
		}
	}
	in.fieldErrs.list = append(in.fieldErrs.list, fe)
}

// registries are the configured slugs: catalog.Registry.Check is the one
// rule, and its message (not a slug, or unknown with the known values) is
// the field's error.
type registries struct{ catalog.Registry }

func newRegistries(c Config) registries {
	return registries{catalog.Registry{Assistants: c.Assistants, Channels: c.Channels, EventTypes: c.EventTypes}}
}

// check is Registry.Check as a field error. Its message quotes the value;
// when the value is the line's user id, the message says so instead.
func (r *registries) check(field string, kind catalog.Kind, v, userID string) *FieldError {
	err := r.Check(kind, v)
	if err == nil {
		return nil
	}
	if shown(v, userID) == "<user_id>" {
		known := slices.Clone(r.Values(kind))
		slices.Sort(known)
		return &FieldError{Field: field, Error: fmt.Sprintf("holds the user_id value (<user_id>): want one of %s", strings.Join(known, ", "))}
	}
	return &FieldError{Field: field, Error: err.Error()}
}

// validate checks in and fills ev. It returns every problem of the line
// (at most MaxErrorsPerLine), the decoding errors of its fields first;
// nil when the event is valid.
func (r *registries) validate(in *Input, now time.Time, ev *Event) []FieldError {
	var errs []FieldError
	if in.fieldErrs != nil {
		errs = append(errs, in.fieldErrs.list...)
	}
	failed := func(field string) bool {
		for _, e := range errs {
			if e.Field == field {
				return true
			}
		}
		return false
	}
	add := func(fe *FieldError) {
		if fe != nil && !failed(fe.Field) {
			errs = append(errs, *fe)
		}
	}
	uid := in.UserID
	switch {
	case in.EventID == "":
		add(&FieldError{Field: "event_id", Error: "required"})
	case len(in.EventID) > 128:
		add(&FieldError{Field: "event_id", Error: fmt.Sprintf("%d bytes: at most 128", len(in.EventID))})
	default:
		add(printable("event_id", in.EventID))
	}
	switch {
	case in.Time.IsZero():
		add(&FieldError{Field: "time", Error: "required"})
	case in.Time.Before(minTime):
		add(&FieldError{Field: "time", Error: fmt.Sprintf("%s is before 2015-01-01", in.Time.UTC().Format(time.RFC3339))})
	case in.Time.After(now.Add(maxFuture)):
		add(&FieldError{Field: "time", Error: fmt.Sprintf("%s is more than 24 h in the future", in.Time.UTC().Format(time.RFC3339))})
	}
	if in.Assistant == "" {
		add(&FieldError{Field: "assistant", Error: "required"})
	} else {
		add(r.check("assistant", catalog.Assistant, in.Assistant, uid))
	}
	if in.Channel == "" {
		add(&FieldError{Field: "channel", Error: "required"})
	} else {
		add(r.check("channel", catalog.Channel, in.Channel, uid))
	}
	switch {
	case in.UserID == "":
		add(&FieldError{Field: "user_id", Error: "required"})
	case len(in.UserID) > 256:
		add(&FieldError{Field: "user_id", Error: fmt.Sprintf("%d bytes: at most 256", len(in.UserID))})
	}
	et := in.EventType
	if et == "" {
		et = "message"
	} else {
		add(r.check("event_type", catalog.EventType, et, uid))
	}
	mod := in.Modality
	if mod == "" {
		mod = "text"
	} else {
		add(r.check("modality", catalog.Modality, mod, uid))
	}
	if in.Country != "" && !isCountry(in.Country) {
		add(&FieldError{Field: "country", Error: shown(in.Country, uid) + " is not an ISO 3166-1 alpha-2 code in upper case (for example FR)"})
	}
	count := in.Count
	if count == 0 {
		count = 1
	} else if count > uint32(maxCount) {
		add(&FieldError{Field: "count", Error: fmt.Sprintf("%d: must be an integer 1-1000000", count)})
	}
	if len(in.Source) > 64 {
		add(&FieldError{Field: "source", Error: fmt.Sprintf("%d bytes: at most 64", len(in.Source))})
	} else {
		add(printable("source", in.Source))
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Error = redact(errs[i].Error, uid)
		}
		if len(errs) > MaxErrorsPerLine {
			errs = errs[:MaxErrorsPerLine]
		}
		return errs
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
