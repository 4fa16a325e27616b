package catalog

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Kind names what a value is: the field of an event, the parameter of a
// query, the scope of an annotation. Messages name the value by its kind.
type Kind string

const (
	Assistant Kind = "assistant"
	Channel   Kind = "channel"
	EventType Kind = "event_type"
	Modality  Kind = "modality"
	Country   Kind = "country"
	Panel     Kind = "panel"
)

// noun is the kind in a sentence: "event type".
func (k Kind) noun() string { return strings.ReplaceAll(string(k), "_", " ") }

// MaxSlug is the longest slug in bytes.
const MaxSlug = 64

// IsSlug reports whether s is a slug: 1 to 64 lower-case ASCII letters,
// digits and underscores. Every assistant, channel, event type and
// modality stored is one, so a value that is not cannot match stored data.
func IsSlug(s string) bool {
	if len(s) == 0 || len(s) > MaxSlug {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// CheckSlug returns nil when value is a slug, else a *RuleError that names
// kind and value and says what a slug is.
func CheckSlug(kind Kind, value string) error {
	if IsSlug(value) {
		return nil
	}
	return &RuleError{Kind: kind, Value: value,
		msg: fmt.Sprintf("%s %s is not a slug: use 1-%d lower-case letters, digits or underscores", kind, quote(value), MaxSlug)}
}

// IsCountry reports whether s has the form of a country code: two
// upper-case ASCII letters (ISO 3166-1 alpha-2, for example FR).
func IsCountry(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// CheckCountry returns nil when value has the form of a country code, else
// a *RuleError.
func CheckCountry(value string) error {
	if IsCountry(value) {
		return nil
	}
	return &RuleError{Kind: Country, Value: value,
		msg: fmt.Sprintf("country %s is not a country code: use two upper-case letters (ISO 3166-1 alpha-2), for example FR", quote(value))}
}

// RuleError is a value refused by a rule of the catalog. Its message names
// the kind and the value and says what is allowed; the adapters show it as
// it is, so the same mistake reads the same in the API, on a page and in
// the CLI.
type RuleError struct {
	Kind  Kind
	Value string
	msg   string
}

func (e *RuleError) Error() string { return e.msg }

// HTTPStatus is 400: the request, not the server, is at fault.
func (e *RuleError) HTTPStatus() int { return http.StatusBadRequest }

// quote quotes a value for a message, cut to 80 bytes: values come from
// URLs and request bodies.
func quote(v string) string {
	if len(v) > 80 {
		return strconv.Quote(v[:80]) + "…"
	}
	return strconv.Quote(v)
}

// A control character (C0, DEL or C1) in a title, an id or a source is
// never meant: a NUL or an escape sequence shown raw in a page or a
// terminal, or a "\x00=1" cell that a spreadsheet reads as a formula.
// CheckPrintable is the one rule that refuses them, used by ingest (event
// ids, sources), annotations (titles, text) and every adapter through
// them.

// ControlChar returns the first control character of s and its byte
// offset, ok false when s has none. Those in allowed (for example "\n\t"
// for a multi-line text) are skipped.
func ControlChar(s, allowed string) (r rune, at int, ok bool) {
	for i, c := range s {
		if (c < 0x20 || c == 0x7f || c >= 0x80 && c <= 0x9f) && !strings.ContainsRune(allowed, c) {
			return c, i, true
		}
	}
	return 0, 0, false
}

// CheckPrintable returns nil when value holds no control character but
// those in allowed, else a *RuleError that names field and the character.
func CheckPrintable(field, value, allowed string) error {
	r, at, bad := ControlChar(value, allowed)
	if !bad {
		return nil
	}
	what := "a control character"
	if allowed != "" {
		what = "a control character other than tab and line breaks"
	}
	return &RuleError{Kind: Kind(field), Value: value,
		msg: fmt.Sprintf("%s: contains %s (U+%04X at byte %d): remove it", field, what, r, at)}
}
