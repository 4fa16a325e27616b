package ingest_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
)

var sdkNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

func testMapper(t *testing.T, cfg ingest.SDKConfig) *ingest.SDKMapper {
	t.Helper()
	m, err := ingest.NewSDKMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSDKMappingTable covers every row of docs/sdk.md's mapping table, for
// both families: each case is one body and the input (or the skip reason,
// or the field error) it must give.
func TestSDKMappingTable(t *testing.T) {
	ts := "2026-01-15T09:30:00.000Z"
	at := time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)
	custom := ingest.SDKConfig{
		Properties: ingest.SDKProperties{Assistant: "ai_product", Channel: "surface", Modality: "input_kind", Country: "market", Count: "n", Linked: "is_linked"},
		EventTypes: map[string]string{"Message Sent": "message", "Session Started": "session_start", "$identify": "", "noise": ""},
	}
	type want struct {
		in     *ingest.Input
		skip   string
		field  string // of the error
		errHas string
	}
	cases := []struct {
		name   string
		family string
		cfg    ingest.SDKConfig
		segTyp string // Segment endpoint type
		body   string
		want   want
	}{
		// event id
		{"posthog uuid is the event id", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","batch":[{"event":"message","distinct_id":"u1","uuid":"0190c9f3-aaaa-7000-8000-000000000001","timestamp":"` + ts + `","properties":{"assistant":"chatgpt","channel":"whatsapp"}}]}`,
			want{in: &ingest.Input{EventID: "0190c9f3-aaaa-7000-8000-000000000001", Time: at, Assistant: "chatgpt", Channel: "whatsapp", UserID: "u1", EventType: "message"}}},
		{"segment messageId is the event id", ingest.Segment, ingest.SDKConfig{}, "",
			`{"batch":[{"type":"track","event":"message","userId":"u1","messageId":"node-next-1-abc","timestamp":"` + ts + `","properties":{"assistant":"chatgpt","channel":"ios"}}]}`,
			want{in: &ingest.Input{EventID: "node-next-1-abc", Time: at, Assistant: "chatgpt", Channel: "ios", UserID: "u1", EventType: "message"}}},
		// time
		{"segment originalTimestamp when no timestamp", ingest.Segment, ingest.SDKConfig{}, "track",
			`{"event":"message","userId":"u1","messageId":"m1","originalTimestamp":"2026-01-15T09:30:00+01:00","properties":{"assistant":"chatgpt","channel":"ios"}}`,
			want{in: &ingest.Input{EventID: "m1", Time: at.Add(-time.Hour), Assistant: "chatgpt", Channel: "ios", UserID: "u1", EventType: "message"}}},
		{"posthog clock skew corrected by sent_at", ingest.PostHog, ingest.SDKConfig{}, "",
			// the sender's clock is 3 minutes ahead: sent 12:03 by its clock, received 12:00
			`{"api_key":"k","sent_at":"2026-01-15T12:03:00Z","batch":[{"event":"message","distinct_id":"u1","uuid":"e1","timestamp":"2026-01-15T11:53:00Z","properties":{"assistant":"chatgpt","channel":"web"}}]}`,
			want{in: &ingest.Input{EventID: "e1", Time: time.Date(2026, 1, 15, 11, 50, 0, 0, time.UTC), Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "message"}}},
		{"segment clock skew corrected by sentAt", ingest.Segment, ingest.SDKConfig{}, "",
			`{"sentAt":"2026-01-15T11:58:00Z","batch":[{"type":"track","event":"message","userId":"u1","messageId":"m1","timestamp":"2026-01-15T11:48:00Z","properties":{"assistant":"chatgpt","channel":"web"}}]}`,
			want{in: &ingest.Input{EventID: "m1", Time: time.Date(2026, 1, 15, 11, 50, 0, 0, time.UTC), Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "message"}}},
		{"no timestamp: the receive time", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","event":"message","distinct_id":"u1","uuid":"e1","properties":{"assistant":"chatgpt","channel":"web"}}`,
			want{in: &ingest.Input{EventID: "e1", Time: sdkNow, Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "message"}}},
		{"posthog offset: ms before the receive time", ingest.PostHog, ingest.SDKConfig{}, "",
			`[{"event":"message","uuid":"e1","offset":1500,"properties":{"token":"k","distinct_id":"u1","assistant":"chatgpt","channel":"web"}}]`,
			want{in: &ingest.Input{EventID: "e1", Time: sdkNow.Add(-1500 * time.Millisecond), Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "message"}}},
		{"timestamp not a time", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","event":"message","distinct_id":"u1","uuid":"e1","timestamp":"yesterday","properties":{"assistant":"chatgpt","channel":"web"}}`,
			want{field: "time", errHas: `"yesterday"`}},
		// user
		{"posthog properties.distinct_id (posthog-js)", ingest.PostHog, ingest.SDKConfig{}, "",
			`[{"event":"message","uuid":"e1","timestamp":"` + ts + `","properties":{"distinct_id":"u9","token":"k","assistant":"meta_ai","channel":"web"}}]`,
			want{in: &ingest.Input{EventID: "e1", Time: at, Assistant: "meta_ai", Channel: "web", UserID: "u9", EventType: "message"}}},
		{"segment anonymousId without userId", ingest.Segment, ingest.SDKConfig{}, "track",
			`{"event":"message","anonymousId":"anon-1","messageId":"m1","timestamp":"` + ts + `","properties":{"assistant":"chatgpt","channel":"web"}}`,
			want{in: &ingest.Input{EventID: "m1", Time: at, Assistant: "chatgpt", Channel: "web", UserID: "anon-1", EventType: "message"}}},
		{"segment userId wins over anonymousId", ingest.Segment, ingest.SDKConfig{}, "track",
			`{"event":"message","anonymousId":"anon-1","userId":42,"messageId":"m1","timestamp":"` + ts + `","properties":{"assistant":"chatgpt","channel":"web"}}`,
			want{in: &ingest.Input{EventID: "m1", Time: at, Assistant: "chatgpt", Channel: "web", UserID: "42", EventType: "message"}}},
		{"no user", ingest.Segment, ingest.SDKConfig{}, "track",
			`{"event":"message","messageId":"m1","properties":{"assistant":"chatgpt","channel":"web"}}`,
			want{field: "user_id", errHas: "userId or anonymousId"}},
		// assistant, channel, modality, country, count, linked
		{"every property, default names", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","event":"message","distinct_id":"u1","uuid":"e1","timestamp":"` + ts + `","properties":{"assistant":"copilot","channel":"android","modality":"voice","country":"FR","count":3,"linked":true}}`,
			want{in: &ingest.Input{EventID: "e1", Time: at, Assistant: "copilot", Channel: "android", Modality: "voice", Country: "FR", Count: 3, Linked: true, UserID: "u1", EventType: "message"}}},
		{"every property, configured names", ingest.Segment, custom, "track",
			`{"event":"Message Sent","userId":"u1","messageId":"m1","timestamp":"` + ts + `","properties":{"ai_product":"perplexity","surface":"desktop","input_kind":"image","market":"DE","n":2,"is_linked":false,"assistant":"chatgpt"}}`,
			want{in: &ingest.Input{EventID: "m1", Time: at, Assistant: "perplexity", Channel: "desktop", Modality: "image", Country: "DE", Count: 2, UserID: "u1", EventType: "message"}}},
		{"missing assistant names the property to set", ingest.Segment, custom, "track",
			`{"event":"Message Sent","userId":"u1","messageId":"m1","properties":{"surface":"web"}}`,
			want{field: "assistant", errHas: `"ai_product"`}},
		{"missing channel", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","event":"message","distinct_id":"u1","uuid":"e1","properties":{"assistant":"chatgpt"}}`,
			want{field: "channel", errHas: "ADOPTSCOPE_SDK_PROPERTY_CHANNEL"}},
		{"count of the wrong type", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","event":"message","distinct_id":"u1","uuid":"e1","properties":{"assistant":"chatgpt","channel":"web","count":"3"}}`,
			want{field: "count", errHas: "got a string"}},
		{"linked of the wrong type", ingest.Segment, ingest.SDKConfig{}, "track",
			`{"event":"message","userId":"u1","messageId":"m1","properties":{"assistant":"chatgpt","channel":"web","linked":"yes"}}`,
			want{field: "linked", errHas: "true or false"}},
		{"country from context.location.country", ingest.Segment, ingest.SDKConfig{}, "track",
			`{"event":"message","userId":"u1","messageId":"m1","timestamp":"` + ts + `","context":{"location":{"country":"es"}},"properties":{"assistant":"chatgpt","channel":"web"}}`,
			want{in: &ingest.Input{EventID: "m1", Time: at, Assistant: "chatgpt", Channel: "web", Country: "ES", UserID: "u1", EventType: "message"}}},
		{"context country that is not a code is left out", ingest.Segment, ingest.SDKConfig{}, "track",
			`{"event":"message","userId":"u1","messageId":"m1","timestamp":"` + ts + `","context":{"location":{"country":"France"}},"properties":{"assistant":"chatgpt","channel":"web"}}`,
			want{in: &ingest.Input{EventID: "m1", Time: at, Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "message"}}},
		{"country from $geoip_country_code", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","event":"message","distinct_id":"u1","uuid":"e1","timestamp":"` + ts + `","properties":{"assistant":"chatgpt","channel":"web","$geoip_country_code":"BR"}}`,
			want{in: &ingest.Input{EventID: "e1", Time: at, Assistant: "chatgpt", Channel: "web", Country: "BR", UserID: "u1", EventType: "message"}}},
		{"the country property wins over the geo code", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","event":"message","distinct_id":"u1","uuid":"e1","timestamp":"` + ts + `","properties":{"$geoip_country_code":"BR","assistant":"chatgpt","channel":"web","country":"PT"}}`,
			want{in: &ingest.Input{EventID: "e1", Time: at, Assistant: "chatgpt", Channel: "web", Country: "PT", UserID: "u1", EventType: "message"}}},
		// event_type
		{"event name through the mapping", ingest.PostHog, custom, "",
			`{"api_key":"k","event":"Session Started","distinct_id":"u1","uuid":"e1","timestamp":"` + ts + `","properties":{"ai_product":"chatgpt","surface":"web"}}`,
			want{in: &ingest.Input{EventID: "e1", Time: at, Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "session_start"}}},
		{"an event type slug maps to itself", ingest.Segment, custom, "track",
			`{"event":"account_linked","userId":"u1","messageId":"m1","timestamp":"` + ts + `","properties":{"ai_product":"chatgpt","surface":"web"}}`,
			want{in: &ingest.Input{EventID: "m1", Time: at, Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "account_linked"}}},
		// source
		{"source from $lib", ingest.PostHog, ingest.SDKConfig{}, "",
			`{"api_key":"k","event":"message","distinct_id":"u1","uuid":"e1","timestamp":"` + ts + `","properties":{"$lib":"posthog-node","$lib_version":"5.0.0","assistant":"chatgpt","channel":"web"}}`,
			want{in: &ingest.Input{EventID: "e1", Time: at, Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "message", Source: "posthog-node"}}},
		{"source from context.library.name", ingest.Segment, ingest.SDKConfig{}, "track",
			`{"event":"message","userId":"u1","messageId":"m1","timestamp":"` + ts + `","context":{"library":{"name":"@segment/analytics-node","version":"3.1.0"}},"properties":{"assistant":"chatgpt","channel":"web"}}`,
			want{in: &ingest.Input{EventID: "m1", Time: at, Assistant: "chatgpt", Channel: "web", UserID: "u1", EventType: "message", Source: "@segment/analytics-node"}}},
		// skipped
		{"segment identify", ingest.Segment, ingest.SDKConfig{}, "identify", `{"userId":"u1","traits":{"plan":"pro"}}`, want{skip: ingest.SkipIdentify}},
		{"segment page in a batch", ingest.Segment, ingest.SDKConfig{}, "", `{"batch":[{"type":"page","userId":"u1","name":"Home"}]}`, want{skip: ingest.SkipPage}},
		{"segment screen", ingest.Segment, ingest.SDKConfig{}, "screen", `{"userId":"u1","name":"Home"}`, want{skip: ingest.SkipScreen}},
		{"segment group", ingest.Segment, ingest.SDKConfig{}, "group", `{"userId":"u1","groupId":"g"}`, want{skip: ingest.SkipGroup}},
		{"segment alias", ingest.Segment, ingest.SDKConfig{}, "alias", `{"userId":"u1","previousId":"a"}`, want{skip: ingest.SkipAlias}},
		{"segment unknown type", ingest.Segment, ingest.SDKConfig{}, "", `{"batch":[{"type":"merge","userId":"u1"}]}`, want{skip: ingest.SkipUnknownType}},
		{"segment batch message without type", ingest.Segment, ingest.SDKConfig{}, "", `{"batch":[{"event":"message","userId":"u1"}]}`, want{field: "type", errHas: "track, identify"}},
		{"posthog $pageview", ingest.PostHog, ingest.SDKConfig{}, "", `{"api_key":"k","event":"$pageview","distinct_id":"u1"}`, want{skip: ingest.SkipPage}},
		{"posthog $identify", ingest.PostHog, ingest.SDKConfig{}, "", `{"api_key":"k","event":"$identify","distinct_id":"u1"}`, want{skip: ingest.SkipIdentify}},
		{"posthog $identify mapped to nothing", ingest.PostHog, custom, "", `{"api_key":"k","event":"$identify","distinct_id":"u1"}`, want{skip: ingest.SkipConfigured}},
		{"posthog other $ event", ingest.PostHog, ingest.SDKConfig{}, "", `{"api_key":"k","event":"$feature_flag_called","distinct_id":"u1"}`, want{skip: ingest.SkipPostHogSystem}},
		{"unmapped event name", ingest.Segment, ingest.SDKConfig{}, "track", `{"event":"Button Clicked","userId":"u1","properties":{"assistant":"chatgpt","channel":"web"}}`, want{skip: ingest.SkipUnmapped}},
		{"event mapped to nothing", ingest.Segment, custom, "track", `{"event":"noise","userId":"u1"}`, want{skip: ingest.SkipConfigured}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := testMapper(t, c.cfg)
			var b *ingest.SDKBatch
			var err error
			if c.family == ingest.PostHog {
				b, err = m.ParsePostHog([]byte(c.body), sdkNow)
			} else {
				b, err = m.ParseSegment([]byte(c.body), c.segTyp, sdkNow)
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Messages != 1 {
				t.Fatalf("messages = %d, want 1", b.Messages)
			}
			switch {
			case c.want.in != nil:
				if len(b.Inputs) != 1 || len(b.Errors) != 0 || len(b.Skipped) != 0 {
					t.Fatalf("inputs %v, errors %v, skipped %v: want one input", b.Inputs, b.Errors, b.Skipped)
				}
				got := b.Inputs[0]
				if !got.Time.Equal(c.want.in.Time) {
					t.Errorf("time = %s, want %s", got.Time, c.want.in.Time)
				}
				got.Time = c.want.in.Time
				if !reflect.DeepEqual(got, *c.want.in) {
					t.Errorf("input\n got %+v\nwant %+v", got, *c.want.in)
				}
			case c.want.skip != "":
				if len(b.Inputs) != 0 || len(b.Errors) != 0 || b.Skipped[c.want.skip] != 1 {
					t.Fatalf("inputs %v, errors %v, skipped %v: want skipped %s", b.Inputs, b.Errors, b.Skipped, c.want.skip)
				}
			default:
				if len(b.Errors) != 1 || len(b.Inputs) != 0 {
					t.Fatalf("inputs %v, errors %v: want one error", b.Inputs, b.Errors)
				}
				e := b.Errors[0]
				if e.Field != c.want.field || !strings.Contains(e.Error, c.want.errHas) || e.Line != 1 {
					t.Errorf("error = %+v, want field %s containing %q, line 1", e, c.want.field, c.want.errHas)
				}
			}
		})
	}
}

// TestSDKDerivedEventID: a message without uuid / messageId gets an id
// from its content, the same on a retry whose sent_at differs.
func TestSDKDerivedEventID(t *testing.T) {
	m := testMapper(t, ingest.SDKConfig{})
	body := func(sent string) []byte {
		return []byte(`{"api_key":"k","sent_at":"` + sent + `","batch":[{"event":"message","distinct_id":"u1","timestamp":"2026-01-15T09:30:00Z","properties":{"assistant":"chatgpt","channel":"web"}},{"event":"message","distinct_id":"u2","timestamp":"2026-01-15T09:30:00Z","properties":{"assistant":"chatgpt","channel":"web"}}]}`)
	}
	a, err := m.ParsePostHog(body("2026-01-15T12:00:00Z"), sdkNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.ParsePostHog(body("2026-01-15T12:00:05Z"), sdkNow.Add(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Inputs) != 2 || a.Inputs[0].EventID != b.Inputs[0].EventID || a.Inputs[1].EventID != b.Inputs[1].EventID {
		t.Fatalf("ids %v vs %v: want the same on a retry", a.Inputs, b.Inputs)
	}
	if a.Inputs[0].EventID == a.Inputs[1].EventID || !strings.HasPrefix(a.Inputs[0].EventID, "posthog:") {
		t.Fatalf("ids %q %q: want distinct posthog: ids", a.Inputs[0].EventID, a.Inputs[1].EventID)
	}
}

// TestSDKKeysAndShapes: where each family's key is read from, and bodies
// that are not JSON or not the expected shape.
func TestSDKKeysAndShapes(t *testing.T) {
	m := testMapper(t, ingest.SDKConfig{})
	keys := []struct {
		family, body string
		want         []string
	}{
		{ingest.PostHog, `{"api_key":"a","batch":[]}`, []string{"a"}},
		{ingest.PostHog, `{"token":"b","event":"x","distinct_id":"u"}`, []string{"b"}},
		{ingest.PostHog, `[{"event":"x","properties":{"token":"c"}},{"event":"y","properties":{"token":"d"}}]`, []string{"c", "d"}},
		{ingest.PostHog, `{"batch":[{"event":"x","api_key":"e"}]}`, []string{"e"}},
		{ingest.Segment, `{"writeKey":"w","batch":[{"type":"identify","userId":"u"}]}`, []string{"w"}},
		{ingest.Segment, `{"type":"track","event":"x","writeKey":"v"}`, []string{"v"}},
		{ingest.Segment, `{"batch":[]}`, nil},
	}
	for _, k := range keys {
		var b *ingest.SDKBatch
		var err error
		if k.family == ingest.PostHog {
			b, err = m.ParsePostHog([]byte(k.body), sdkNow)
		} else {
			b, err = m.ParseSegment([]byte(k.body), "", sdkNow)
		}
		if err != nil {
			t.Fatalf("%s: %v", k.body, err)
		}
		if !reflect.DeepEqual(b.Keys, k.want) {
			t.Errorf("%s: keys %v, want %v", k.body, b.Keys, k.want)
		}
	}
	for _, bad := range []string{``, `not json`, `{"batch":[`, `{"batch":{"a":1}}`, `"text"`, `[1,`, `{"batch":[]} x`} {
		if _, err := m.ParsePostHog([]byte(bad), sdkNow); err == nil {
			t.Errorf("posthog %q: no error", bad)
		}
		if _, err := m.ParseSegment([]byte(bad), "", sdkNow); err == nil {
			t.Errorf("segment %q: no error", bad)
		}
	}
}

func TestSDKConfigErrors(t *testing.T) {
	if _, err := ingest.ParseSDKEventTypes("Message Sent=message,=x"); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := ingest.ParseSDKEventTypes("a=message,a=signup"); err == nil {
		t.Error("a name listed twice accepted")
	}
	got, err := ingest.ParseSDKEventTypes(" Message Sent = message , $identify= ,")
	if err != nil || !reflect.DeepEqual(got, map[string]string{"Message Sent": "message", "$identify": ""}) {
		t.Errorf("parse = %v, %v", got, err)
	}
	_, err = ingest.NewSDKMapper(ingest.SDKConfig{EventTypes: map[string]string{"Sent": "share"}})
	if err == nil || !strings.Contains(err.Error(), `"share" is not an event type`) {
		t.Errorf("unknown slug: %v", err)
	}
	_, err = ingest.NewSDKMapper(ingest.SDKConfig{Properties: ingest.SDKProperties{Assistant: "product", Channel: "product"}})
	if err == nil || !strings.Contains(err.Error(), "ADOPTSCOPE_SDK_PROPERTY_CHANNEL") {
		t.Errorf("shared property name: %v", err)
	}
}
