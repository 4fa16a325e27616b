package catalog

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSlugRule(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"chatgpt", true},
		{"meta_ai", true},
		{"2g_network", true}, // a digit first is a slug: ingest stores it
		{"_", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"2G-Network", false},
		{"ChatGPT", false},
		{"chat-gpt", false},
		{"chat.gpt", false},
		{"chatgpt' OR 1=1 --", false},
		{"chatgpt\x00", false},
		{"café", false},
	} {
		if got := IsSlug(tc.s); got != tc.want {
			t.Errorf("IsSlug(%q) = %v, want %v", tc.s, got, tc.want)
		}
		if err := CheckSlug(Channel, tc.s); (err == nil) != tc.want {
			t.Errorf("CheckSlug(%q) = %v, want ok=%v", tc.s, err, tc.want)
		}
	}
	err := CheckSlug(Channel, "2G-Network")
	if want := `channel "2G-Network" is not a slug: use 1-64 lower-case letters, digits or underscores`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	var re *RuleError
	if !errors.As(err, &re) || re.Kind != Channel || re.Value != "2G-Network" || re.HTTPStatus() != http.StatusBadRequest {
		t.Errorf("error %#v: want a *RuleError for channel 2G-Network answered 400", err)
	}
	if msg := CheckSlug(EventType, strings.Repeat("x", 200)).Error(); len(msg) > 200 || !strings.HasPrefix(msg, "event_type ") {
		t.Errorf("a long value should be cut and the kind named as the parameter: %q", msg)
	}
}

func TestCountryRule(t *testing.T) {
	for s, want := range map[string]bool{"FR": true, "EG": true, "fr": false, "F": false, "FRA": false, "F1": false, "": false} {
		if IsCountry(s) != want || (CheckCountry(s) == nil) != want {
			t.Errorf("country %q: IsCountry %v, CheckCountry %v; want %v", s, IsCountry(s), CheckCountry(s), want)
		}
	}
	if !strings.Contains(CheckCountry("fr").Error(), `country "fr"`) {
		t.Errorf("message %q should name the parameter and the value", CheckCountry("fr"))
	}
}

func TestRegistry(t *testing.T) {
	var def Registry
	if got := def.Values(Channel); len(got) != len(DefaultChannels) || got[0] != DefaultChannels[0] {
		t.Errorf("zero registry channels %v, want the defaults", got)
	}
	r := Registry{Channels: []string{"web", "2g_network"}}
	for _, tc := range []struct {
		kind  Kind
		value string
		want  string // "" accepted
	}{
		{Channel, "2g_network", ""},
		{Channel, "whatsapp", `unknown channel "whatsapp" (known: 2g_network, web)`},
		{Channel, "2G-Network", `channel "2G-Network" is not a slug: use 1-64 lower-case letters, digits or underscores`},
		{Assistant, "chatgpt", ""}, // not configured: the defaults
		{Assistant, "chatgtp", `unknown assistant "chatgtp" (known: chatgpt, copilot, meta_ai, perplexity)`},
		{EventType, "click", `unknown event type "click" (known: account_linked, message, session_start, signup)`},
		{Modality, "video", `unknown modality "video" (known: file, image, image_generation, text, voice)`},
		{Country, "FR", ""},
		{Country, "fr", CheckCountry("fr").Error()},
	} {
		err := r.Check(tc.kind, tc.value)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Check(%s, %q) = %v, want nil", tc.kind, tc.value, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want):
			t.Errorf("Check(%s, %q) = %v, want %q", tc.kind, tc.value, err, tc.want)
		}
	}
	if err := (Registry{Channels: []string{"web", "Fax"}, EventTypes: []string{"a-b"}}).Validate(); err == nil ||
		!strings.Contains(err.Error(), `channel "Fax"`) || !strings.Contains(err.Error(), `event_type "a-b"`) {
		t.Errorf("Validate: %v, want both bad entries named", err)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("Validate of a good registry: %v", err)
	}
}

func TestFacts(t *testing.T) {
	if d, err := time.Parse(DateLayout, "2026-01-15"); err != nil || d.Format(DateLayout) != "2026-01-15" {
		t.Errorf("DateLayout round trip: %v %v", d, err)
	}
	if DefaultLaunch.Format(DateLayout) != "2024-06-01" {
		t.Errorf("DefaultLaunch %s", DefaultLaunch)
	}
	for _, l := range [][]string{DefaultAssistants, DefaultChannels, DefaultEventTypes, Modalities} {
		for _, s := range l {
			if !IsSlug(s) {
				t.Errorf("default %q is not a slug", s)
			}
		}
	}
	// Every assistant, channel and modality shown has its proper name.
	for _, l := range [][]string{DefaultAssistants, DefaultChannels, Modalities} {
		for _, s := range l {
			if _, ok := Name(s); !ok {
				t.Errorf("default %q has no name", s)
			}
		}
	}
	if !ThirdParty("whatsapp") || ThirdParty("ios") {
		t.Error("WhatsApp is a platform's channel, iOS an app's")
	}
	if Registry.Check(Registry{}, Assistant, ImpactAssistant) != nil || Registry.Check(Registry{}, Channel, ImpactChannel) != nil {
		t.Errorf("the Impact defaults %s on %s are not in the default registry", ImpactAssistant, ImpactChannel)
	}
}

func TestOwners(t *testing.T) {
	o := DefaultOwners()
	for _, tc := range []struct {
		assistant, channel string
		controls           bool
	}{
		{"meta_ai", "whatsapp", true}, {"meta_ai", "instagram", true}, {"meta_ai", "telegram", false}, {"meta_ai", "ios", true},
		{"chatgpt", "whatsapp", false}, {"chatgpt", "web", true}, {"copilot", "messenger", false}, {"grok", "whatsapp", false}, {"grok", "web", true},
	} {
		if got := o.Controls(tc.assistant, tc.channel); got != tc.controls {
			t.Errorf("Controls(%s, %s) = %v, want %v", tc.assistant, tc.channel, got, tc.controls)
		}
	}
	if o.Maker("meta_ai") != "Meta" || o.Maker("chatgpt") != "OpenAI" || o.Owner("whatsapp") != "Meta" || o.Owner("web") != "" {
		t.Errorf("default owners %+v", o)
	}
	reg := Registry{Assistants: []string{"chatgpt", "grok"}, Channels: []string{"web", "x"}}
	c, err := ParseOwners("xAI=grok,x; OpenAI=chatgpt", reg)
	if err != nil || !c.Controls("grok", "x") || c.Controls("chatgpt", "x") {
		t.Errorf("configured owners %+v, %v", c, err)
	}
	if _, err := ParseOwners("xAI=grok,fax", reg); err == nil || !strings.Contains(err.Error(), `"fax" is neither`) {
		t.Errorf("unknown slug: %v", err)
	}
	if _, err := ParseOwners("no equals sign", reg); err == nil {
		t.Error("malformed spec accepted")
	}
	if d, err := ParseOwners("", reg); err != nil || d.Maker("chatgpt") != "OpenAI" {
		t.Errorf("default table on another registry: %+v, %v", d, err)
	}
}

func TestCheckPrintable(t *testing.T) {
	f := func(value, allowed string, ok bool) {
		t.Helper()
		err := CheckPrintable("title", value, allowed)
		if (err == nil) != ok {
			t.Errorf("CheckPrintable(%q, %q) = %v, want ok=%v", value, allowed, err, ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "title: ") {
			t.Errorf("CheckPrintable(%q): %q does not name the field first", value, err)
		}
	}
	f("Launch in FR — été", "", true)
	f("", "", true)
	f("\x00=1", "", false)
	f("a\tb", "", false)
	f("a\nb", "", false)
	f("a\x1b[31mb", "", false)
	f("a\x7f", "", false)
	f("a\u0085b", "", false)
	f("two\nlines\ttab\r\n", "\t\n\r", true)
	f("nul\x00", "\t\n\r", false)
}

func TestDateRule(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		s    string
		want time.Time
		msg  string
	}{
		{"2026-01-15", day(2026, 1, 15), ""},
		{"2000-01-01", day(2000, 1, 1), ""},
		{"2100-12-31", day(2100, 12, 31), ""},
		{"1999-12-31", time.Time{}, `from "1999-12-31": want a date from 2000-01-01 to 2100-12-31`},
		{"1990-01-01", time.Time{}, `from "1990-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"2101-01-01", time.Time{}, `from "2101-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"9999-12-31", time.Time{}, `from "9999-12-31": want a date from 2000-01-01 to 2100-12-31`},
		{"0001-01-01", time.Time{}, `from "0001-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"15/01/2026", time.Time{}, `from "15/01/2026": want a date YYYY-MM-DD, for example 2026-01-15`},
		{"2026-02-30", time.Time{}, `from "2026-02-30": want a date YYYY-MM-DD, for example 2026-01-15`},
		{"", time.Time{}, `from "": want a date YYYY-MM-DD, for example 2026-01-15`},
	} {
		got, err := ParseDate("from", tc.s)
		if tc.msg == "" {
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("ParseDate(%q) = %v, %v; want %v", tc.s, got, err, tc.want)
			}
			continue
		}
		var re *RuleError
		if !errors.As(err, &re) || err.Error() != tc.msg || re.HTTPStatus() != http.StatusBadRequest {
			t.Errorf("ParseDate(%q) error %v, want a 400 RuleError %q", tc.s, err, tc.msg)
		}
	}
}

func TestCountryName(t *testing.T) {
	for code, want := range map[string]string{"BR": "Brazil", "IN": "India", "US": "United States", "GB": "United Kingdom", "XK": "Kosovo", "QQ": "QQ"} {
		if got := CountryName(code); got != want {
			t.Errorf("CountryName(%q) = %q, want %q", code, got, want)
		}
	}
	// Reserved and withdrawn codes are not countries.
	for _, code := range []string{"UN", "EU", "UK", "BU", "AC"} {
		if got := CountryName(code); got != code {
			t.Errorf("CountryName(%q) = %q, want the code itself", code, got)
		}
	}
	if len(countryNames) != 250 { // ISO 3166-1's 249 and Kosovo's XK
		t.Errorf("%d country names, want 250", len(countryNames))
	}
}
