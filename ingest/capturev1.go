package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// PostHog's capture v1 protocol (POST /i/v1/analytics/events, sent by
// posthog-python with capture_mode="v1" and posthog-go in
// CaptureModeAnalyticsV1): a {"created_at", "batch": [event, …]} body
// whose events each carry a uuid, answered with one verdict per uuid so
// that the SDK sends again only the events told to retry. The events are
// mapped exactly as /batch/ maps them (the same property names and event
// name mapping); the uuid is the event id, so a resent event is a
// duplicate, answered ok, and stored once.

// The verdicts of capture v1, as PostHog's capture service names them.
const (
	CaptureOK      = "ok"      // stored, or stored before (a duplicate)
	CaptureWarning = "warning" // taken but not stored: not a usage event (details: the skip reason)
	CaptureDrop    = "drop"    // refused for good (details: why); resending it changes nothing
	CaptureRetry   = "retry"   // not stored now (ClickHouse unavailable, ingest full): send it again
)

// Details of a drop found before the mapping, with PostHog's tags; a field
// the mapping refuses is dropped as "invalid_<field>: <error>".
const (
	dropMissingEventName   = "missing_event_name"
	dropEventNameTooLong   = "event_name_too_long"
	dropMissingDistinctID  = "missing_distinct_id"
	dropDistinctIDTooLarge = "distinct_id_too_large"
	dropInvalidTimestamp   = "invalid_event_timestamp"
	dropMalformedProps     = "malformed_event_properties"
	dropInvalidOptions     = "invalid_options"
	// RetryNotPersisted is the details of a retry verdict.
	RetryNotPersisted = "not_persisted"
)

// captureV1MaxName is PostHog's limit on an event name and a distinct_id.
const captureV1MaxName = 200

// CaptureV1Meta is what the request's headers say about its body.
type CaptureV1Meta struct {
	// Library is the SDK's name from PostHog-Sdk-Info ("posthog-python"
	// of "posthog-python/7.91.1"): the source of events that do not name
	// their $lib.
	Library string
	// ClientTime is PostHog-Request-Timestamp, the sender's clock when it
	// sent the request; zero when absent. Event times are moved by the
	// difference to the receive time, as /batch/ does with sent_at.
	ClientTime time.Time
}

// CaptureV1Status is one event's verdict, PostHog's shape.
type CaptureV1Status struct {
	Result  string `json:"result"`
	Details string `json:"details,omitempty"`
}

// CaptureV1Batch is one capture v1 body, decoded and mapped.
type CaptureV1Batch struct {
	SDKBatch
	// UUIDs are the events' uuids in body order, normalized as PostHog
	// answers them (lower case, hyphenated).
	UUIDs []string
	// Status holds the verdicts found while mapping (drop, warning); an
	// event that goes to the pipeline has none yet.
	Status []CaptureV1Status
}

// CaptureV1Answer is the answer to one capture v1 request.
type CaptureV1Answer struct {
	UUIDs  []string
	Status []CaptureV1Status
	// RetryAfter (seconds) is positive when some verdict is retry.
	RetryAfter int
	Result     SDKResult
}

// MarshalJSON writes {"results": {uuid: {"result": …, "details": …}}}, the
// uuids in body order.
func (a CaptureV1Answer) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"results":{`)
	for i, id := range a.UUIDs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quoteJSON(id))
		b.WriteString(`:{"result":`)
		b.WriteString(quoteJSON(a.Status[i].Result))
		if d := a.Status[i].Details; d != "" {
			b.WriteString(`,"details":`)
			b.WriteString(quoteJSON(d))
		}
		b.WriteByte('}')
	}
	b.WriteString("}}")
	return b.Bytes(), nil
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// v1Event is what the scan of one event notes beyond its sdkMessage.
type v1Event struct {
	uuidKind, distinctKind, tsKind, propsKind jsonKind
	uuid                                      string
	optionsBad, noSkew                        bool
	notObject                                 bool
}

type v1Parser struct {
	sdkParser
	events    []v1Event
	ev        *v1Event
	createdAt string
	batch     []sdkMessage
	hasBatch  bool
	badBatch  bool
}

// ParseCaptureV1 decodes a capture v1 body. A body that is not JSON, has no
// events, or holds an event without a valid, distinct uuid is refused whole
// (ErrMalformed), as PostHog refuses it: the answer is keyed by uuid. Every
// other fault is one event's drop. now is the receive time.
func (m *SDKMapper) ParseCaptureV1(body []byte, meta CaptureV1Meta, now time.Time) (*CaptureV1Batch, error) {
	p := &v1Parser{sdkParser: sdkParser{m: m, family: PostHog}}
	notObj, err := p.sc.objectNest(body, p.setTop, p.inTop)
	switch {
	case firstByte(body) == 0:
		return nil, notJSON(PostHog, "empty body")
	case err != nil:
		return nil, notJSON(PostHog, "the body is not valid JSON")
	case notObj:
		return nil, notJSON(PostHog, `want {"created_at": …, "batch": [event, …]}`)
	case p.badBatch || !p.hasBatch:
		return nil, notJSON(PostHog, `"batch" must be an array of events`)
	case len(p.batch) == 0:
		return nil, notJSON(PostHog, `"batch" is empty`)
	case p.createdAt != "":
		if _, err := parseTime([]byte(p.createdAt)); err != nil {
			return nil, notJSON(PostHog, fmt.Sprintf("created_at %q is not RFC 3339", p.createdAt))
		}
	}
	out := &CaptureV1Batch{
		UUIDs:  make([]string, len(p.batch)),
		Status: make([]CaptureV1Status, len(p.batch)),
	}
	out.Messages = len(p.batch)
	out.Inputs = make([]Input, 0, len(p.batch))
	out.Lines = make([]int, 0, len(p.batch))
	seen := make(map[string]int, len(p.batch))
	for i := range p.batch {
		ev := &p.events[i]
		if ev.notObject {
			return nil, notJSON(PostHog, fmt.Sprintf("event %d is not a JSON object", i+1))
		}
		id, ok := normalizeUUID(ev.uuid)
		if ev.uuidKind != kindString || !ok {
			return nil, notJSON(PostHog, fmt.Sprintf("event %d: uuid must be a UUID string (every event needs one: the answer is keyed by it)", i+1))
		}
		if j, dup := seen[id]; dup {
			return nil, notJSON(PostHog, fmt.Sprintf("events %d and %d have the same uuid %s", j+1, i+1, id))
		}
		seen[id] = i
		out.UUIDs[i] = id
	}
	for i := range p.batch {
		msg, ev, line := &p.batch[i], &p.events[i], i+1
		if detail, fe := ev.check(msg); fe != nil {
			fe.Line = line
			out.Errors = append(out.Errors, *fe)
			out.Status[i] = CaptureV1Status{Result: CaptureDrop, Details: detail}
			continue
		}
		msg.id = out.UUIDs[i]
		if !ev.noSkew && !meta.ClientTime.IsZero() {
			msg.sentAt = meta.ClientTime.Format(time.RFC3339Nano)
		}
		if msg.lib == "" {
			msg.lib = meta.Library
		}
		in, reason, fe := p.m.mapMessage(PostHog, msg, now)
		switch {
		case fe != nil:
			fe.Line = line
			fe.Error = redact(fe.Error, in.UserID)
			out.Errors = append(out.Errors, *fe)
			out.Status[i] = CaptureV1Status{Result: CaptureDrop, Details: "invalid_" + fe.Reason() + ": " + fe.Error}
		case reason != "":
			out.skip(reason)
			out.Status[i] = CaptureV1Status{Result: CaptureWarning, Details: reason}
		default:
			out.Inputs = append(out.Inputs, in)
			out.Lines = append(out.Lines, line)
		}
	}
	return out, nil
}

// check applies PostHog's own rules for an event, in its order, and
// returns the drop's tag with the error the metrics count.
func (ev *v1Event) check(msg *sdkMessage) (string, *FieldError) {
	switch {
	case msg.event == "":
		return dropMissingEventName, &FieldError{Field: "event", Error: "required: the name of the event"}
	case len(msg.event) > captureV1MaxName:
		return dropEventNameTooLong, &FieldError{Field: "event", Error: fmt.Sprintf("%d bytes: at most %d", len(msg.event), captureV1MaxName)}
	case ev.distinctKind == 0 || ev.distinctKind == kindNull || (ev.distinctKind == kindString && strings.TrimSpace(msg.user) == ""):
		return dropMissingDistinctID, &FieldError{Field: "user_id", Error: "required: send distinct_id"}
	case len(msg.user) > captureV1MaxName:
		return dropDistinctIDTooLarge, &FieldError{Field: "user_id", Error: fmt.Sprintf("%d bytes: at most %d", len(msg.user), captureV1MaxName)}
	case ev.tsKind != kindString:
		return dropInvalidTimestamp, &FieldError{Field: "time", Error: "timestamp: required, an RFC 3339 string (2026-01-15T09:30:00.000Z)"}
	}
	if _, err := parseTime([]byte(msg.ts)); err != nil {
		return dropInvalidTimestamp, &FieldError{Field: "time", Error: fmt.Sprintf("timestamp %q is not RFC 3339 with an offset (2026-01-15T09:30:00.000Z)", msg.ts)}
	}
	if ev.propsKind != 0 && ev.propsKind != kindObject && ev.propsKind != kindNull {
		return dropMalformedProps, &FieldError{Field: "properties", Error: "must be an object, got " + ev.propsKind.String()}
	}
	if ev.optionsBad {
		return dropInvalidOptions, &FieldError{Field: "options", Error: "must be an object of booleans (disable_skew_correction, …)"}
	}
	return "", nil
}

// normalizeUUID reads a UUID, hyphenated or as 32 hex digits, in either
// case, and writes it as PostHog's answer keys it.
func normalizeUUID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	var hex []byte
	switch len(s) {
	case 36:
		for i := 0; i < len(s); i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if s[i] != '-' {
					return "", false
				}
				continue
			}
			hex = append(hex, s[i])
		}
	case 32:
		hex = []byte(s)
	default:
		return "", false
	}
	out := make([]byte, 0, 36)
	for i, c := range hex {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", false
		}
		if i == 8 || i == 12 || i == 16 || i == 20 {
			out = append(out, '-')
		}
		out = append(out, c)
	}
	return string(out), true
}

// setTop takes a member of the envelope.
func (p *v1Parser) setTop(key []byte, kind jsonKind, val []byte) {
	switch string(key) {
	case "batch":
		// An array was scanned in place (inTop).
		p.hasBatch, p.badBatch = true, true
	case "created_at":
		if kind == kindString {
			p.createdAt = string(val)
		} else if kind != kindNull {
			p.createdAt = string(val) // refused as not RFC 3339
		}
	}
}

// inTop scans the batch in place.
func (p *v1Parser) inTop(key []byte) (bool, error) {
	s := &p.sc
	if string(key) != "batch" || s.i >= len(s.b) || s.b[s.i] != '[' {
		return false, nil
	}
	p.hasBatch = true
	// As in messagesHere: room for every event at once.
	n := max(16, bytes.Count(s.b[s.i:], []byte(`"uuid"`)))
	p.batch = make([]sdkMessage, 0, n)
	p.events = make([]v1Event, 0, n)
	return true, s.elements(func() error {
		if s.i >= len(s.b) {
			return errSyntax
		}
		start := s.i
		p.batch = append(p.batch, sdkMessage{})
		p.events = append(p.events, v1Event{})
		p.cur, p.ev = &p.batch[len(p.batch)-1], &p.events[len(p.events)-1]
		if s.b[s.i] != '{' {
			if _, err := s.value(2); err != nil {
				return err
			}
			p.ev.notObject = true
		} else if err := s.members(2, p.setEvent, p.inEvent); err != nil {
			return err
		}
		p.cur.raw = s.b[start:s.i]
		return nil
	})
}

// inEvent scans an event's properties (through the /batch/ mapping) and
// options in place.
func (p *v1Parser) inEvent(key []byte) (bool, error) {
	s := &p.sc
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false, nil
	}
	switch string(key) {
	case "properties":
		p.ev.propsKind = kindObject
		return p.sdkParser.inEvent(key)
	case "options":
		ev := p.ev
		return true, s.members(3, func(k []byte, kind jsonKind, v []byte) {
			switch string(k) {
			case "disable_skew_correction":
				b, ok := optionBool(kind, v)
				ev.noSkew = ev.noSkew || b
				ev.optionsBad = ev.optionsBad || !ok
			case "cookieless_mode", "process_person_profile":
				_, ok := optionBool(kind, v)
				ev.optionsBad = ev.optionsBad || !ok
			case "product_tour_id":
				ev.optionsBad = ev.optionsBad || !(kind == kindString || kind == kindNumber || kind == kindNull)
			}
		}, nil)
	}
	return false, nil
}

// optionBool reads an option as PostHog coerces it: a boolean, "true" /
// "false" / "1" / "0", a number (non-zero is true), or null (absent).
func optionBool(kind jsonKind, v []byte) (value, ok bool) {
	switch kind {
	case kindTrue:
		return true, true
	case kindFalse, kindNull:
		return false, true
	case kindNumber:
		return strings.Trim(string(v), "0.-eE+") != "", true
	case kindString:
		switch strings.ToLower(strings.TrimSpace(string(v))) {
		case "true", "1":
			return true, true
		case "false", "0":
			return false, true
		}
	}
	return false, false
}

// setEvent takes a member of one event: the members v1 defines, through
// the /batch/ mapping.
func (p *v1Parser) setEvent(key []byte, kind jsonKind, val []byte) {
	ev := p.ev
	switch string(key) {
	case "uuid":
		ev.uuidKind = kind
		if kind == kindString {
			ev.uuid = string(val)
		}
		return
	case "distinct_id":
		ev.distinctKind = kind
	case "timestamp":
		ev.tsKind = kind
		if kind != kindString {
			return
		}
	case "properties":
		if kind != kindObject { // an object was scanned in place
			ev.propsKind = kind
		}
		return
	case "options":
		if kind != kindNull {
			ev.optionsBad = true // an object was scanned in place
		}
		return
	case "event":
	default:
		return // session_id, window_id: not usage fields
	}
	p.sdkParser.setEvent(key, kind, val)
}

// SubmitCaptureV1 writes the events of b and returns every event's
// verdict: ok once committed (or already stored), drop for an event the
// validation refuses, and retry for every event to be written when the
// pipeline could not take or commit them (full, ClickHouse unavailable,
// shutting down). Only an unexpected failure is an error.
func (s *SDK) SubmitCaptureV1(ctx context.Context, endpoint string, b *CaptureV1Batch) (CaptureV1Answer, error) {
	ans := CaptureV1Answer{UUIDs: b.UUIDs, Status: b.Status}
	res, all, err := s.submit(ctx, endpoint, &b.SDKBatch)
	if err != nil {
		retryAfter := 0
		switch {
		case errors.Is(err, ErrBusy), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			retryAfter = 1
		case errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed):
			retryAfter = 5
		default:
			return CaptureV1Answer{}, err
		}
		for _, line := range b.Lines {
			ans.Status[line-1] = CaptureV1Status{Result: CaptureRetry, Details: RetryNotPersisted}
		}
		ans.RetryAfter = retryAfter
		// The drops and skips are final and will not come again: count
		// them now (nothing is written for a batch without inputs).
		res, _, err = s.submit(context.WithoutCancel(ctx), endpoint, &SDKBatch{Errors: b.Errors, Skipped: b.Skipped})
		if err != nil {
			return CaptureV1Answer{}, err
		}
		ans.Result = res
		return ans, nil
	}
	ans.Result = res
	refused := make(map[int]string, len(all))
	for _, e := range all {
		if _, ok := refused[e.Line]; !ok {
			refused[e.Line] = "invalid_" + e.Reason() + ": " + e.Error
		}
	}
	for _, line := range b.Lines {
		if d, ok := refused[line]; ok {
			ans.Status[line-1] = CaptureV1Status{Result: CaptureDrop, Details: d}
		} else {
			ans.Status[line-1] = CaptureV1Status{Result: CaptureOK}
		}
	}
	return ans, nil
}
