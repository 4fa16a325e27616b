package ingest

import (
	"errors"
	"fmt"
	"time"
)

// Default registries and limits. The registries are configurable
// (ADOPTSCOPE_ASSISTANTS, ADOPTSCOPE_CHANNELS, ADOPTSCOPE_EVENT_TYPES).
var (
	DefaultAssistants = []string{"chatgpt", "meta_ai", "copilot", "perplexity"}
	DefaultChannels   = []string{"whatsapp", "ios", "android", "web", "desktop", "messenger", "instagram", "telegram", "phone", "sms", "api"}
	DefaultEventTypes = []string{"message", "session_start", "signup", "account_linked"}
	Modalities        = []string{"text", "voice", "image", "image_generation", "file"}
)

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
	// Registries of allowed slugs; empty means the defaults.
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
	// Writes is how many batches may be committed at once (default 2): the
	// next batch is formed and looked up while the previous one is written.
	Writes int
	// WriteTimeout bounds one flush (dedup lookup plus insert).
	WriteTimeout time.Duration
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if len(c.Assistants) == 0 {
		c.Assistants = DefaultAssistants
	}
	if len(c.Channels) == 0 {
		c.Channels = DefaultChannels
	}
	if len(c.EventTypes) == 0 {
		c.EventTypes = DefaultEventTypes
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
	if c.Writes <= 0 {
		c.Writes = DefaultWrites
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
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
		name, env string
		v         []string
	}{{"assistant", "ADOPTSCOPE_ASSISTANTS", c.Assistants}, {"channel", "ADOPTSCOPE_CHANNELS", c.Channels}, {"event type", "ADOPTSCOPE_EVENT_TYPES", c.EventTypes}} {
		for _, s := range l.v {
			if !isSlug(s) {
				errs = append(errs, fmt.Errorf("ingest: %s %q in %s is not a slug (lower-case letters, digits, underscores, 1-64 bytes)", l.name, s, l.env))
			}
		}
	}
	return errors.Join(errs...)
}

func isSlug(s string) bool {
	if len(s) == 0 || len(s) > 64 {
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
