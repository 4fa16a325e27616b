package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
)

// Default limits. The default registries are the catalog's
// (catalog.DefaultAssistants, ...).
const (
	DefaultBatchRows     = 100_000
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultMaxBody       = 16 << 20
	DefaultMaxLine       = 1 << 20
	DefaultDedupWindow   = 7 * 24 * time.Hour
	DefaultWrites        = 2
)

// Config tunes a Pipeline and the HTTP handler.
type Config struct {
	// Secret keys the user id hash. Required: the app loads or generates it.
	Secret []byte
	// Registries of allowed slugs (ADOPTSCOPE_ASSISTANTS, ...); empty means
	// the catalog's defaults.
	Assistants []string
	Channels   []string
	EventTypes []string
	// BatchRows: a batch is flushed when it holds this many rows...
	BatchRows int
	// ...or when its oldest event has waited FlushInterval.
	FlushInterval time.Duration
	// BufferRows bounds the events accepted but not yet committed; over it,
	// Submit fails with ErrBusy (HTTP 503). Default 3 × BatchRows.
	BufferRows int
	// MaxBody is the decompressed size limit of one request or file chunk,
	// MaxLine the limit of one NDJSON/CSV line.
	MaxBody int64
	MaxLine int
	// DedupWindow: an event_id stored this recently is a duplicate.
	DedupWindow time.Duration
	// NoDedupFilter turns the in-memory filter of the window's ids off:
	// every id of every batch is then looked up in ClickHouse (a cost that
	// grows with the window). On a cluster there is no filter.
	NoDedupFilter bool
	// DedupFilterBits is the filter's bits per id (default 20), lowered
	// when the window would not fit DedupFilterMemory (default 640 MiB).
	DedupFilterBits   int
	DedupFilterMemory int64
	// Writes is how many batches may be committed at once (default 2): the
	// next batch is formed and looked up while the previous one is written.
	Writes int
	// WriteTimeout bounds one flush (dedup lookup plus insert).
	WriteTimeout time.Duration
	// DecodeWait is how long a body waits for a decoding slot before it is
	// refused with ErrBusy (default DefaultDecodeWait).
	DecodeWait time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if len(c.Assistants) == 0 {
		c.Assistants = catalog.DefaultAssistants
	}
	if len(c.Channels) == 0 {
		c.Channels = catalog.DefaultChannels
	}
	if len(c.EventTypes) == 0 {
		c.EventTypes = catalog.DefaultEventTypes
	}
	if c.BatchRows <= 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.BufferRows <= 0 {
		c.BufferRows = 3 * c.BatchRows
	}
	if c.BufferRows < c.BatchRows {
		c.BufferRows = c.BatchRows
	}
	if c.MaxBody <= 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxLine <= 0 {
		c.MaxLine = DefaultMaxLine
	}
	if c.DedupWindow <= 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.DedupFilterBits <= 0 {
		c.DedupFilterBits = DefaultDedupFilterBits
	}
	if c.DedupFilterMemory <= 0 {
		c.DedupFilterMemory = DefaultDedupFilterMemory
	}
	if c.Writes <= 0 {
		c.Writes = DefaultWrites
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.DecodeWait <= 0 {
		c.DecodeWait = DefaultDecodeWait
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate checks a configuration before use.
func (c Config) Validate() error {
	var errs []error
	if len(c.Secret) < 16 {
		errs = append(errs, errors.New("ingest: the user key secret must be at least 16 bytes (ADOPTSCOPE_USER_KEY_SECRET)"))
	}
	for _, l := range []struct {
		kind catalog.Kind
		env  string
		v    []string
	}{{catalog.Assistant, "ADOPTSCOPE_ASSISTANTS", c.Assistants}, {catalog.Channel, "ADOPTSCOPE_CHANNELS", c.Channels}, {catalog.EventType, "ADOPTSCOPE_EVENT_TYPES", c.EventTypes}} {
		for _, s := range l.v {
			if err := catalog.CheckSlug(l.kind, s); err != nil {
				errs = append(errs, fmt.Errorf("ingest: %s: %w", l.env, err))
			}
		}
	}
	return errors.Join(errs...)
}
