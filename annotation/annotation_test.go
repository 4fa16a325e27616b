package annotation

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/catalog"
)

func TestValidate(t *testing.T) {
	reg := catalog.Registry{Assistants: []string{"chatgpt", "meta_ai"}, Channels: []string{"whatsapp", "2g_network"}}
	ok := func() Annotation { return Annotation{Start: "2026-01-15", Title: " ChatGPT leaves WhatsApp "} }
	for _, tc := range []struct {
		name string
		edit func(a *Annotation)
		want string // "" valid; else a part of the message
	}{
		{"minimal", func(a *Annotation) {}, ""},
		{"range and scope", func(a *Annotation) { a.End, a.Assistant, a.Channel = "2026-01-31", "chatgpt", "2g_network" }, ""},
		{"no title", func(a *Annotation) { a.Title = "  " }, "title: required"},
		{"bad start", func(a *Annotation) { a.Start = "15/01/2026" }, `start "15/01/2026": want a date YYYY-MM-DD`},
		{"end before start", func(a *Annotation) { a.End = "2026-01-01" }, "end 2026-01-01 is before start 2026-01-15"},
		{"year out of range", func(a *Annotation) { a.Start = "2200-01-01" }, `start "2200-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"before the date bounds", func(a *Annotation) { a.Start = "1990-01-01" }, `start "1990-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"unknown kind", func(a *Annotation) { a.Kind = "rumour" }, `kind "rumour"`},
		{"javascript link", func(a *Annotation) { a.Link = "javascript:alert(1)" }, "link"},
		{"bad id", func(a *Annotation) { a.ID = "a'b" }, `id "a'b"`},
		{"NUL in title", func(a *Annotation) { a.Title = "\x00=1" }, "title: contains a control character (U+0000 at byte 0)"},
		{"escape in title", func(a *Annotation) { a.Title = "red \x1b[31m" }, "title: contains a control character (U+001B at byte 4)"},
		{"tab in title", func(a *Annotation) { a.Title = "a\tb" }, "title: contains a control character"},
		{"lines in text", func(a *Annotation) { a.Text = "one\r\ntwo\tthree" }, ""},
		{"NUL in text", func(a *Annotation) { a.Text = "one\x00" }, "text: contains a control character other than tab and line breaks"},
		{"unknown assistant", func(a *Annotation) { a.Assistant = "copilot" }, reg.Check(catalog.Assistant, "copilot").Error()},
		{"channel not a slug", func(a *Annotation) { a.Channel = "2G-Network" }, catalog.CheckSlug(catalog.Channel, "2G-Network").Error()},
		{"injection in scope", func(a *Annotation) { a.Channel = "whatsapp' OR 1=1 --" }, "channel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := ok()
			tc.edit(&a)
			err := Validate(&a, reg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if a.Title != "ChatGPT leaves WhatsApp" || a.Kind != "other" || a.End == "" {
					t.Errorf("defaults not filled: %+v", a)
				}
				return
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.HTTPStatus() != http.StatusBadRequest || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want an *InvalidError (400) containing %q", err, tc.want)
			}
		})
	}
}

// The scope is checked against the registry given, not the default one.
func TestScopeFollowsTheRegistry(t *testing.T) {
	custom := catalog.Registry{Channels: []string{"2g_network"}}
	if err := CheckScope(custom, "", "2g_network"); err != nil {
		t.Errorf("a configured channel refused: %v", err)
	}
	if err := CheckScope(catalog.Registry{}, "", "2g_network"); err == nil {
		t.Error("a channel outside the default registry accepted by the default registry")
	}
	if err := CheckScope(custom, "", "whatsapp"); err == nil || err.Error() != custom.Check(catalog.Channel, "whatsapp").Error() {
		t.Errorf("scope outside the configured registry: %v, want the registry's message", err)
	}
	if err := CheckScope(custom, "", ""); err != nil {
		t.Errorf("empty scope (all) refused: %v", err)
	}
	if err := CheckFilter(Filter{From: "yesterday", Channel: "fax"}, custom); err == nil ||
		!strings.Contains(err.Error(), `from "yesterday"`) || !strings.Contains(err.Error(), `unknown channel "fax"`) {
		t.Errorf("filter: %v, want the date and the scope named", err)
	}
}

func TestImpactKindIsAKind(t *testing.T) {
	if !slices.Contains(Kinds, catalog.ImpactKind) {
		t.Errorf("catalog.ImpactKind %q is not one of %v", catalog.ImpactKind, Kinds)
	}
}

func TestCSVRecordDefusesFormulas(t *testing.T) {
	rec := CSVRecord(Annotation{ID: "x", Title: "=HYPERLINK(1)", Text: "+1", Link: "https://example.com"})
	if len(rec) != len(CSVHeader) || rec[3] != "'=HYPERLINK(1)" || rec[4] != "'+1" || rec[5] != "https://example.com" {
		t.Errorf("record %q", rec)
	}
	// A spreadsheet skips leading control characters and spaces: the
	// formula behind them is defused too (annotations stored before the
	// rule refused control characters may hold them).
	for in, want := range map[string]string{"\x00=1": "'\x00=1", "\x01\x02+1": "'\x01\x02+1", " @SUM(1)": "' @SUM(1)",
		"\t-1": "'\t-1", "\r=1": "'\r=1", "\x00plain": "\x00plain", "a=1": "a=1", "": ""} {
		if got := CSVRecord(Annotation{Title: in})[3]; got != want {
			t.Errorf("title %q: cell %q, want %q", in, got, want)
		}
	}
}
