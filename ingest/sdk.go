package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SDK events: what PostHog's capture API and Segment's HTTP Tracking API
// carry, mapped onto Input. The wire formats are parsed with the same
// allocation-free scanner as /v1/events (jsonscan.go), one scanner per
// nesting level (an object scan resets its scanner).

// SDK families, as the metrics and errors name them.
const (
	PostHog = "posthog"
	Segment = "segment"
)

// SDKProperties are the names of the event properties read for the fields
// of an event (ADOPTSCOPE_SDK_PROPERTY_*). Empty names take the defaults,
// which are the field names.
type SDKProperties struct {
	Assistant, Channel, Modality, Country, Count, Linked string
}

// DefaultSDKProperties reads each field from the property of its name.
func DefaultSDKProperties() SDKProperties {
	return SDKProperties{Assistant: "assistant", Channel: "channel", Modality: "modality", Country: "country", Count: "count", Linked: "linked"}
}

// SDKConfig is the mapping of SDK events onto events.
type SDKConfig struct {
	Properties SDKProperties
	// EventTypes maps an SDK event name to an event type slug, or to ""
	// to skip the event (ADOPTSCOPE_SDK_EVENT_TYPES). Every configured
	// event type slug maps to itself unless listed.
	EventTypes map[string]string
	// Registry of event type slugs the mapping may name (empty: the
	// catalog's defaults); normally the pipeline's.
	KnownEventTypes []string
}

// Skip reasons: an SDK message accepted (2xx) but not stored, because it
// is not a usage event. A fixed set, so that metrics labels stay bounded.
const (
	SkipIdentify      = "identify"           // Segment identify, PostHog $identify / $set
	SkipPage          = "page"               // Segment page, PostHog $pageview / $pageleave
	SkipScreen        = "screen"             // Segment screen, PostHog $screen
	SkipGroup         = "group"              // Segment group, PostHog $groupidentify
	SkipAlias         = "alias"              // Segment alias, PostHog $create_alias
	SkipUnmapped      = "unmapped_event"     // an event name the mapping does not know
	SkipConfigured    = "skipped_by_mapping" // an event name the mapping maps to nothing
	SkipUnknownType   = "unknown_type"       // a Segment message type that is none of the above nor track
	SkipPostHogSystem = "posthog_internal"   // another $-event of PostHog ($feature_flag_called, $autocapture, ...)
)

// SkipReasons lists every skip reason (metrics, the Ingest page).
var SkipReasons = []string{SkipIdentify, SkipPage, SkipScreen, SkipGroup, SkipAlias, SkipUnmapped, SkipConfigured, SkipUnknownType, SkipPostHogSystem}

// posthogSkips are PostHog's own events that are not usage events, unless
// the mapping names them.
var posthogSkips = map[string]string{
	"$identify": SkipIdentify, "$set": SkipIdentify, "$pageview": SkipPage, "$pageleave": SkipPage,
	"$screen": SkipScreen, "$groupidentify": SkipGroup, "$create_alias": SkipAlias, "$merge_dangerously": SkipAlias,
}

// ParseSDKEventTypes reads ADOPTSCOPE_SDK_EVENT_TYPES: comma-separated
// NAME=SLUG entries (NAME= skips the event). Names are taken as written,
// spaces inside included ("Message Sent=message").
func ParseSDKEventTypes(s string) (map[string]string, error) {
	m := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, slug, ok := strings.Cut(part, "=")
		name, slug = strings.TrimSpace(name), strings.TrimSpace(slug)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q: want EVENT NAME=event_type (or EVENT NAME= to skip it), for example 'Message Sent=message,$identify='", strings.TrimSpace(part))
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("%q is listed twice", name)
		}
		m[name] = slug
	}
	return m, nil
}

// SDKMapper turns SDK request bodies into inputs. It holds no state but
// its configuration: safe for concurrent use.
type SDKMapper struct {
	props      SDKProperties
	types      map[string]string
	configured map[string]bool // names the configuration lists (NAME= included)
}

// NewSDKMapper checks cfg: property names non-empty and distinct, every
// mapped slug a known event type.
func NewSDKMapper(cfg SDKConfig) (*SDKMapper, error) {
	def := DefaultSDKProperties()
	p := cfg.Properties
	for _, f := range []struct {
		v   *string
		def string
	}{{&p.Assistant, def.Assistant}, {&p.Channel, def.Channel}, {&p.Modality, def.Modality}, {&p.Country, def.Country}, {&p.Count, def.Count}, {&p.Linked, def.Linked}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
	var errs []error
	seen := map[string]string{}
	for _, f := range []struct{ field, name string }{{"ASSISTANT", p.Assistant}, {"CHANNEL", p.Channel}, {"MODALITY", p.Modality}, {"COUNTRY", p.Country}, {"COUNT", p.Count}, {"LINKED", p.Linked}} {
		if other, dup := seen[f.name]; dup {
			errs = append(errs, fmt.Errorf("ADOPTSCOPE_SDK_PROPERTY_%s and ADOPTSCOPE_SDK_PROPERTY_%s both name the property %q: give each field its own", other, f.field, f.name))
		}
		seen[f.name] = f.field
	}
	known := cfg.KnownEventTypes
	if len(known) == 0 {
		known = newRegistries(Config{}.withDefaults()).EventTypes
	}
	types := map[string]string{}
	for _, s := range known {
		types[s] = s
	}
	configured := map[string]bool{}
	for name, slug := range cfg.EventTypes {
		if slug != "" && !contains(known, slug) {
			errs = append(errs, fmt.Errorf("ADOPTSCOPE_SDK_EVENT_TYPES: %q=%q: %q is not an event type of ADOPTSCOPE_EVENT_TYPES (%s)", name, slug, slug, strings.Join(known, ", ")))
		}
		types[name] = slug
		configured[name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &SDKMapper{props: p, types: types, configured: configured}, nil
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func (c Config) withDefaults() Config { c.setDefaults(); return c }

// Properties returns the effective property names.
func (m *SDKMapper) Properties() SDKProperties { return m.props }

// EventTypes returns the effective event name mapping, sorted by name
// (docs/sdk.md, the Ingest page).
func (m *SDKMapper) EventTypes() [][2]string {
	out := make([][2]string, 0, len(m.types))
	for k, v := range m.types {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// SDKBatch is one SDK request body, decoded and mapped.
type SDKBatch struct {
	// Keys are the distinct API keys / write keys found in the body
	// (envelope and events); the adapter checks each.
	Keys []string
	// Messages is how many messages the body held.
	Messages int
	Inputs   []Input
	Lines    []int // the message's position in the body, 1-based
	// Errors are the messages rejected while mapping (wrong types,
	// a missing assistant or channel, ...), with their Line.
	Errors []FieldError
	// Skipped counts the messages that are not usage events, by reason.
	Skipped map[string]int
}

func (b *SDKBatch) addKey(k string) {
	if k == "" {
		return
	}
	for _, have := range b.Keys {
		if have == k {
			return
		}
	}
	b.Keys = append(b.Keys, k)
}

func (b *SDKBatch) skip(reason string) {
	if b.Skipped == nil {
		b.Skipped = map[string]int{}
	}
	b.Skipped[reason]++
}

// SkippedTotal is the number of skipped messages.
func (b *SDKBatch) SkippedTotal() int {
	n := 0
	for _, v := range b.Skipped {
		n += v
	}
	return n
}

// sdkMessage is one message as read from the wire, before mapping.
type sdkMessage struct {
	typ                 string // Segment type; PostHog: empty
	event               string
	id                  string
	user, anon          string
	ts, sentAt          string // raw timestamps (RFC 3339); ts may be set from a number
	tsMillis            int64  // timestamp given as Unix milliseconds
	offsetMs            int64  // PostHog offset: ms before the receive time
	hasOffset           bool
	lib                 string
	ctxCountry, geoCode string
	propUser            string // PostHog properties.distinct_id
	key                 string // api_key / token / writeKey of this message
	in                  Input  // assistant, channel, modality, country, count, linked
	err                 *FieldError
	// raw is the message's JSON (a slice of the body, not a copy): a
	// message without uuid / messageId gets an id from a fingerprint of
	// it, computed only then.
	raw         []byte
	top         bool // raw is the whole body: the envelope's members are not the message's
	fingerprint []byte
}

func (m *sdkMessage) fail(fe *FieldError) {
	if m.err == nil {
		m.err = fe
	}
}

// sdkParser holds the scanners of one body.
type sdkParser struct {
	m      *SDKMapper
	family string
	// sc walks the body once, nested objects in place; fp re-reads a
	// message without an id for its fingerprint.
	sc, fp            scanner
	cur               *sdkMessage
	envKey, envSentAt string
	batch             []sdkMessage // the envelope's batch, scanned in place
	hasBatch          bool
	badBatch          bool   // "batch" is there but not an array
	defaultType       string // Segment: the endpoint's type (/v1/track: track)
	lastLib           string // every event of a batch names the same library: one copy
}

// notJSON is a body that is not JSON, or not the shape the API takes.
func notJSON(family, msg string) error {
	return refuse(BadInput, "%s: %s", family, msg)
}

// ParsePostHog decodes a PostHog capture body: {"api_key"|"token": KEY,
// "batch": [event, …], "sent_at": …}, one event object carrying its key,
// or a JSON array of events. now is the receive time.
func (m *SDKMapper) ParsePostHog(body []byte, now time.Time) (*SDKBatch, error) {
	p := &sdkParser{m: m, family: PostHog}
	return p.parse(body, now)
}

// ParseSegment decodes a Segment HTTP Tracking API body: {"batch":
// [message, …], "sentAt": …, "writeKey": …} or one message. defaultType
// is the type of a message without one (/v1/track: "track"; /v1/batch:
// empty, each message must say).
func (m *SDKMapper) ParseSegment(body []byte, defaultType string, now time.Time) (*SDKBatch, error) {
	p := &sdkParser{m: m, family: Segment, defaultType: defaultType}
	return p.parse(body, now)
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

func (p *sdkParser) parse(body []byte, now time.Time) (*SDKBatch, error) {
	out := &SDKBatch{}
	var msgs []sdkMessage
	switch firstByte(body) {
	case '[':
		var err error
		if msgs, err = p.messages(body); err != nil {
			return nil, err
		}
	case '{':
		// The envelope and a single message share the top level: scan it
		// as a message that also notes the envelope's members.
		var single sdkMessage
		p.cur = &single
		notObj, err := p.sc.objectNest(body, p.setTop, p.inTop)
		if err != nil || notObj {
			return nil, notJSON(p.family, "the body is not valid JSON")
		}
		if p.hasBatch {
			if p.badBatch {
				return nil, notJSON(p.family, `"batch" must be an array of events`)
			}
			msgs = p.batch
		} else {
			single.raw, single.top = body, true
			msgs = []sdkMessage{single}
		}
	case 0:
		return nil, notJSON(p.family, "empty body")
	default:
		what := `{"batch": [...]} or one event object`
		if p.family == PostHog {
			what = `{"api_key": KEY, "batch": [...]}, one event object or a JSON array of events`
		}
		return nil, notJSON(p.family, "the body is not JSON: want "+what)
	}
	out.addKey(p.envKey)
	out.Messages = len(msgs)
	out.Inputs = make([]Input, 0, len(msgs))
	out.Lines = make([]int, 0, len(msgs))
	for i := range msgs {
		msg := &msgs[i]
		if msg.id == "" {
			msg.fingerprint = p.fingerprint(msg)
		}
		out.addKey(msg.key)
		if msg.sentAt == "" {
			msg.sentAt = p.envSentAt
		}
		if msg.typ == "" {
			msg.typ = p.defaultType // /v1/track: a message need not say it is a track
		}
		in, reason, fe := p.m.mapMessage(p.family, msg, now)
		switch {
		case fe != nil:
			fe.Line = i + 1
			fe.Error = redact(fe.Error, in.UserID)
			out.Errors = append(out.Errors, *fe)
		case reason != "":
			out.skip(reason)
		default:
			out.Inputs = append(out.Inputs, in)
			out.Lines = append(out.Lines, i+1)
		}
	}
	return out, nil
}

// messages scans a body that is a JSON array of message objects.
func (p *sdkParser) messages(b []byte) ([]sdkMessage, error) {
	s := &p.sc
	s.b, s.i = b, 0
	s.ws()
	if s.i >= len(b) || b[s.i] != '[' {
		return nil, notJSON(p.family, "want a JSON array of events")
	}
	msgs, err := p.messagesHere()
	if err != nil {
		return nil, notJSON(p.family, "the body is not valid JSON")
	}
	s.ws()
	if s.i != len(b) {
		return nil, notJSON(p.family, "data after the closing ]")
	}
	return msgs, nil
}

// messagesHere scans the array of messages at the scanner's position
// (its '['), each message in place, and moves past it.
func (p *sdkParser) messagesHere() ([]sdkMessage, error) {
	s := &p.sc
	// Room for every message at once: each has an "event" member in
	// practice, and growing a slice of these structs copied them over and
	// over (a quarter of the parse).
	msgs := make([]sdkMessage, 0, max(16, bytes.Count(s.b[s.i:], []byte(`"event"`))))
	err := s.elements(func() error {
		if s.i >= len(s.b) {
			return errSyntax
		}
		start := s.i
		msgs = append(msgs, sdkMessage{})
		msg := &msgs[len(msgs)-1]
		if s.b[s.i] == '{' {
			p.cur = msg
			if err := s.members(2, p.setEvent, p.inEvent); err != nil {
				return err
			}
		} else {
			if _, err := s.value(2); err != nil {
				return err
			}
			msg.fail(&FieldError{Error: "not a JSON object"})
		}
		msg.raw = s.b[start:s.i]
		return nil
	})
	return msgs, err
}

// inTop scans the envelope's batch in place; the top level's other
// nested objects are the single message's.
func (p *sdkParser) inTop(key []byte) (bool, error) {
	if string(key) != "batch" {
		return p.inEvent(key)
	}
	if p.sc.i >= len(p.sc.b) || p.sc.b[p.sc.i] != '[' {
		return false, nil // null, or not an array: setTop says which
	}
	single := p.cur
	msgs, err := p.messagesHere()
	p.cur = single // members after the batch are the envelope's (or the single message's)
	if err != nil {
		return true, err
	}
	p.batch, p.hasBatch, p.badBatch = msgs, true, false
	return true, nil
}

// inEvent scans a message's properties (and Segment's context) in place.
func (p *sdkParser) inEvent(key []byte) (bool, error) {
	s := &p.sc
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false, nil
	}
	switch string(key) {
	case "properties":
		return true, s.members(3, p.setProperty, nil)
	case "context":
		if p.family == Segment {
			return true, s.members(3, nil, p.inContext)
		}
	}
	return false, nil
}

// inContext scans context.library and context.location in place.
func (p *sdkParser) inContext(key []byte) (bool, error) {
	s := &p.sc
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false, nil
	}
	m := p.cur
	switch string(key) {
	case "library":
		return true, s.members(4, func(k []byte, kind jsonKind, v []byte) {
			if string(k) == "name" && kind == kindString {
				m.lib = p.library(v)
			}
		}, nil)
	case "location":
		return true, s.members(4, func(k []byte, kind jsonKind, v []byte) {
			if string(k) == "country" && kind == kindString {
				m.ctxCountry = string(v)
			}
		}, nil)
	}
	return false, nil
}

// setTop takes a member of the top-level object: the envelope's, or the
// single message's.
func (p *sdkParser) setTop(key []byte, kind jsonKind, val []byte) {
	switch string(key) {
	case "batch":
		// An array was scanned in place (inTop); anything else but null
		// is refused.
		if kind != kindNull {
			p.hasBatch, p.badBatch, p.batch = true, true, nil
		}
		return
	case "sent_at", "sentAt":
		if kind == kindString {
			p.envSentAt = string(val)
		}
		return
	case "api_key", "token", "writeKey":
		if kind == kindString {
			p.envKey = string(val)
		}
		return
	}
	p.setEvent(key, kind, val)
}

func wantString(m *sdkMessage, field string, kind jsonKind) bool {
	if kind == kindString {
		return true
	}
	if kind != kindNull {
		m.fail(&FieldError{Field: field, Error: "must be a string, got " + kind.String()})
	}
	return false
}

// setEvent takes a member of one message object.
func (p *sdkParser) setEvent(key []byte, kind jsonKind, val []byte) {
	m := p.cur
	switch string(key) {
	case "type":
		if p.family == Segment && wantString(m, "type", kind) {
			m.typ = internString(val)
		}
	case "event":
		if wantString(m, "event", kind) {
			m.event = internString(val)
		}
	case "uuid", "messageId":
		if wantString(m, "event_id", kind) {
			m.id = string(val)
		}
	case "distinct_id":
		if p.family == PostHog {
			m.user = sdkUserString(m, kind, val)
		}
	case "userId":
		if p.family == Segment {
			m.user = sdkUserString(m, kind, val)
		}
	case "anonymousId":
		if p.family == Segment {
			m.anon = sdkUserString(m, kind, val)
		}
	case "timestamp", "originalTimestamp":
		if string(key) == "originalTimestamp" && (m.ts != "" || m.tsMillis != 0) {
			return // timestamp wins, whatever the order
		}
		switch kind {
		case kindString:
			m.ts, m.tsMillis = string(val), 0
		case kindNumber:
			ms, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil {
				m.fail(&FieldError{Field: "time", Error: fmt.Sprintf("%s: %s is not an integer number of Unix milliseconds", key, val)})
				return
			}
			m.ts, m.tsMillis = "", ms
		case kindNull:
		default:
			m.fail(&FieldError{Field: "time", Error: fmt.Sprintf("%s must be an RFC 3339 string, got %s", key, kind)})
		}
	case "sent_at", "sentAt":
		if kind == kindString {
			m.sentAt = string(val)
		}
	case "offset":
		if p.family == PostHog && kind == kindNumber {
			if ms, err := strconv.ParseInt(string(val), 10, 64); err == nil {
				m.offsetMs, m.hasOffset = ms, true
			}
		}
	case "api_key", "token", "writeKey":
		if kind == kindString {
			m.key = string(val)
		}
	case "properties":
		// An object was scanned in place (inEvent).
		if kind != kindNull {
			m.fail(&FieldError{Field: "properties", Error: "must be an object, got " + kind.String()})
		}
	case "library":
		// posthog-python and older SDKs name themselves at the top level.
		if p.family == PostHog && kind == kindString && m.lib == "" {
			m.lib = p.library(val)
		}
	}
}

func sdkUserString(m *sdkMessage, kind jsonKind, val []byte) string {
	switch kind {
	case kindString:
		return string(val)
	case kindNumber:
		// Numeric user ids are common (userId: 42): the same person as "42".
		return string(val)
	case kindNull:
		return ""
	}
	m.fail(&FieldError{Field: "user_id", Error: "must be a string or a number, got " + kind.String()})
	return ""
}

// setProperty takes one member of properties. The key is compared as
// string(key) == name, which does not copy it; it is copied only into a
// message.
func (p *sdkParser) setProperty(key []byte, kind jsonKind, val []byte) {
	m := p.cur
	props := &p.m.props
	var str *string
	field := ""
	switch {
	case string(key) == props.Assistant:
		str, field = &m.in.Assistant, "assistant"
	case string(key) == props.Channel:
		str, field = &m.in.Channel, "channel"
	case string(key) == props.Modality:
		str, field = &m.in.Modality, "modality"
	case string(key) == props.Country:
		str, field = &m.in.Country, "country"
	}
	switch {
	case str != nil:
		switch kind {
		case kindNull:
		case kindString:
			*str = internString(val)
		default:
			m.fail(&FieldError{Field: field, Error: fmt.Sprintf("property %q must be a string, got %s", key, kind)})
		}
	case string(key) == props.Count:
		switch kind {
		case kindNull:
		case kindNumber:
			if fe := setCount(&m.in, val); fe != nil {
				fe.Error = fmt.Sprintf("property %q: %s", key, fe.Error)
				m.fail(fe)
			}
		default:
			m.fail(&FieldError{Field: "count", Error: fmt.Sprintf("property %q must be an integer 1-1000000, got %s", key, kind)})
		}
	case string(key) == props.Linked:
		switch kind {
		case kindNull:
		case kindTrue:
			m.in.Linked = true
		case kindFalse:
			m.in.Linked = false
		default:
			m.fail(&FieldError{Field: "linked", Error: fmt.Sprintf("property %q must be true or false, got %s", key, kind)})
		}
	}
	if p.family != PostHog || kind != kindString {
		return
	}
	switch string(key) {
	case "$lib":
		m.lib = p.library(val)
	case "distinct_id":
		m.propUser = string(val)
	case "$geoip_country_code":
		m.geoCode = string(val)
	case "token":
		// posthog-js puts the project key into each event's properties.
		m.key = string(val)
	}
}

// library is an SDK's name as a string, copied once per batch rather
// than once per event.
func (p *sdkParser) library(b []byte) string {
	if string(b) != p.lastLib {
		p.lastLib = string(b)
	}
	return p.lastLib
}

// fingerprint is the content of a message without an id, member by member,
// less what changes on every retry (and, for a message that is the whole
// body, the envelope's members).
func (p *sdkParser) fingerprint(m *sdkMessage) []byte {
	var fp []byte
	_, _ = p.fp.object(m.raw, func(key []byte, kind jsonKind, val []byte) {
		if m.top {
			switch string(key) {
			case "batch", "sent_at", "sentAt", "api_key", "token", "writeKey":
				return
			}
		}
		fp = appendFingerprint(fp, key, val)
	})
	return fp
}

// appendFingerprint feeds a member into the content fingerprint of a
// message without an id. Only the bytes are kept, the hash is taken once.
func appendFingerprint(fp []byte, key, val []byte) []byte {
	if string(key) == "sent_at" || string(key) == "sentAt" || string(key) == "offset" {
		return fp // they change on every retry
	}
	fp = append(fp, key...)
	fp = append(fp, 0)
	fp = append(fp, val...)
	return append(fp, 0)
}

// mapMessage is the mapping table: a message becomes an input, a skip
// reason, or a field error.
func (m *SDKMapper) mapMessage(family string, msg *sdkMessage, now time.Time) (Input, string, *FieldError) {
	in := msg.in
	if family == Segment {
		switch msg.typ {
		case "track":
		case "identify":
			return in, SkipIdentify, nil
		case "page":
			return in, SkipPage, nil
		case "screen":
			return in, SkipScreen, nil
		case "group":
			return in, SkipGroup, nil
		case "alias":
			return in, SkipAlias, nil
		case "":
			return in, "", &FieldError{Field: "type", Error: "required in a batch: track, identify, page, screen, group or alias"}
		default:
			return in, SkipUnknownType, nil
		}
	}
	// event_type ← the event name through the mapping.
	slug, mapped := m.types[msg.event]
	switch {
	case msg.event == "" && msg.err == nil:
		return in, "", &FieldError{Field: "event", Error: "required: the name of the event"}
	case mapped && slug == "":
		return in, SkipConfigured, nil
	case !mapped && family == PostHog && strings.HasPrefix(msg.event, "$"):
		if r, ok := posthogSkips[msg.event]; ok {
			return in, r, nil
		}
		return in, SkipPostHogSystem, nil
	case !mapped:
		return in, SkipUnmapped, nil
	}
	in.EventType = slug
	// user ← distinct_id (or properties.distinct_id) / userId, else anonymousId.
	in.UserID = msg.user
	if in.UserID == "" {
		in.UserID = msg.propUser
	}
	if in.UserID == "" {
		in.UserID = msg.anon
	}
	if msg.err != nil {
		return in, "", msg.err
	}
	if in.UserID == "" {
		want := "distinct_id"
		if family == Segment {
			want = "userId or anonymousId"
		}
		return in, "", &FieldError{Field: "user_id", Error: "required: send " + want}
	}
	// event id ← uuid / messageId; a message without one gets an id made
	// from its content, so that a retry of it is still a duplicate.
	in.EventID = msg.id
	if in.EventID == "" {
		sum := sha256.Sum256(append([]byte(family+"\x00"), msg.fingerprint...))
		in.EventID = family + ":" + hex.EncodeToString(sum[:16])
	}
	// time ← timestamp, corrected by the sender's clock skew.
	t, fe := messageTime(msg, now)
	if fe != nil {
		return in, "", fe
	}
	in.Time = t
	if in.Assistant == "" {
		return in, "", &FieldError{Field: "assistant", Error: fmt.Sprintf("required: set the event property %q (its name is ADOPTSCOPE_SDK_PROPERTY_ASSISTANT)", m.props.Assistant)}
	}
	if in.Channel == "" {
		return in, "", &FieldError{Field: "channel", Error: fmt.Sprintf("required: set the event property %q (its name is ADOPTSCOPE_SDK_PROPERTY_CHANNEL)", m.props.Channel)}
	}
	// country ← the property, else context.location.country (Segment) or
	// $geoip_country_code (PostHog) when they are ISO codes: those come
	// from the SDK or a geo lookup, not from the sender's choice, so one
	// that is not a code ("France") is left out rather than rejected.
	if in.Country == "" {
		for _, c := range []string{msg.ctxCountry, msg.geoCode} {
			if c = strings.ToUpper(strings.TrimSpace(c)); c != "" && isCountry(c) {
				in.Country = internString([]byte(c))
				break
			}
		}
	}
	// source ← the SDK's library name.
	in.Source = msg.lib
	if len(in.Source) > 64 {
		in.Source = in.Source[:64]
	}
	return in, "", nil
}

// messageTime is the event time: timestamp (else originalTimestamp; else
// the receive time less PostHog's offset, else the receive time), moved by
// the difference between the receive time and sent_at when both are
// given: a sender whose clock is ahead by a minute stamps both a minute
// ahead.
func messageTime(msg *sdkMessage, now time.Time) (time.Time, *FieldError) {
	var t time.Time
	switch {
	case msg.ts != "":
		var err error
		t, err = parseTime([]byte(msg.ts))
		if err != nil {
			return t, &FieldError{Field: "time", Error: fmt.Sprintf("timestamp %q is not ISO 8601 / RFC 3339 with an offset (2026-01-15T09:30:00.000Z)", msg.ts)}
		}
	case msg.tsMillis != 0:
		t = time.UnixMilli(msg.tsMillis)
	case msg.hasOffset:
		return now.Add(-time.Duration(msg.offsetMs) * time.Millisecond), nil
	default:
		return now, nil
	}
	if msg.sentAt != "" {
		if sent, err := parseTime([]byte(msg.sentAt)); err == nil {
			t = now.Add(t.Sub(sent))
		}
	}
	return t, nil
}
