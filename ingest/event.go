// Package ingest turns usage events sent by clients (HTTP bodies, files, the
// demo generator) into rows in ClickHouse: decode, validate, pseudonymize,
// batch, write, exactly once.
package ingest

import "time"

// Input is one event as a client describes it, after decoding and before
// validation. Decoders fill it; the demo generator builds it directly.
type Input struct {
	EventID   string
	Time      time.Time
	Assistant string
	Channel   string
	UserID    string // raw user id: never stored, see Pseudonymizer
	EventType string // empty: "message"
	Modality  string // empty: "text"
	Country   string // empty: unknown
	Count     uint32 // 0: 1
	Linked    bool
	Source    string

	// fieldErrs are the fields the decoder could not read (a wrong JSON
	// type, a malformed time or count); validate lists them with the
	// others. A pointer keeps Input comparable; nil for most inputs.
	fieldErrs *fieldErrors
}

type fieldErrors struct{ list []FieldError }

// Event is a validated, pseudonymized event: one row of the events table.
type Event struct {
	EventID    string
	Time       time.Time // UTC
	ReceivedAt time.Time // UTC
	Assistant  string
	Channel    string
	EventType  string
	Modality   string
	UserKey    uint64 // keyed hash of the raw user id
	Country    string
	Count      uint32
	Linked     bool
	Source     string
}
