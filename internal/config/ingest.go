package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
)

// IngestConfig tunes the ingest API and `adoptscope load`.
type IngestConfig struct {
	UserKeySecret string        // empty: generated into DataDir/user-key-secret
	TokensFile    string        // file of ingest tokens, one per line, added to IngestTokens
	BatchRows     int           // flush a batch at this many rows...
	FlushInterval time.Duration // ...or this long after its first event
	Writes        int           // batches written to ClickHouse at once
	MaxBody       int           // bytes per request after decompression
	MaxLine       int           // bytes per NDJSON or CSV line
	DedupWindow   time.Duration // an event_id stored this recently is a duplicate
	// DedupFilter: keep a filter of the window's id hashes in memory and
	// look up in ClickHouse only the ids it cannot call new (single
	// server); DedupFilterBits per id, at most DedupFilterMiB.
	DedupFilter     bool
	DedupFilterBits int
	DedupFilterMiB  int
	// RollupInterval: on a single server the rollups are built behind
	// ingest this often (charts trail ingest by about this much).
	RollupInterval time.Duration
	RollupMaxLag   time.Duration // ...deferred while inserts run, up to this lag
	// TimeZones: the zones with rollups of their own, comma-separated IANA
	// names (UTC always has them); "" is UTC plus the dashboard's zone
	// (Config.Zones).
	TimeZones string
	// Assistants, Channels and EventTypes are the registries (the
	// Registries section); empty: the catalog's defaults.
	Assistants []string
	Channels   []string
	EventTypes []string

	bound           bool // the Ingest section was bound: validate it
	registriesBound bool // the Registries were bound: validate them
}

func (c *Config) bindIngest(f binder) {
	in := &c.Ingest
	in.bound = true
	f.str(&in.UserKeySecret, "user-key-secret", "ADOPTSCOPE_USER_KEY_SECRET", "", "secret that keys the hash replacing user ids (at least 16 bytes); empty: generated once into the data folder (user-key-secret). Changing it changes every user key")
	f.str(&in.TokensFile, "ingest-tokens-file", "ADOPTSCOPE_INGEST_TOKENS_FILE", "", "file of ingest bearer tokens, one per line, in addition to --ingest-tokens; with neither, a local token is generated into the data folder (ingest-token) and printed")
	f.integer(&in.BatchRows, "ingest-batch-rows", "ADOPTSCOPE_INGEST_BATCH_ROWS", 100_000, "write a batch to ClickHouse when it holds this many events")
	f.dur(&in.FlushInterval, "ingest-flush-interval", "ADOPTSCOPE_INGEST_FLUSH_INTERVAL", 200*time.Millisecond, "write a batch at the latest this long after its first event (requests wait for it)")
	f.integer(&in.Writes, "ingest-concurrent-writes", "ADOPTSCOPE_INGEST_CONCURRENT_WRITES", 2, "batches written to ClickHouse at once: the next batch is formed and its event ids looked up while the previous one is written (1: one at a time)")
	f.integer(&in.MaxBody, "ingest-max-body", "ADOPTSCOPE_INGEST_MAX_BODY", 16<<20, "largest request body in bytes, after gzip decompression (413 above)")
	f.integer(&in.MaxLine, "ingest-max-line", "ADOPTSCOPE_INGEST_MAX_LINE", 1<<20, "longest NDJSON or CSV line in bytes (413 above)")
	f.dur(&in.DedupWindow, "ingest-dedup-window", "ADOPTSCOPE_INGEST_DEDUP_WINDOW", 7*24*time.Hour, "an event_id already stored this recently is counted as a duplicate and not written again")
	f.boolean(&in.DedupFilter, "ingest-dedup-filter", "ADOPTSCOPE_INGEST_DEDUP_FILTER", true, "keep a filter of the dedup window's event id hashes in memory and look up in ClickHouse only the ids it cannot call new, so the check costs the same whatever the window holds (single server; false: look every id up, a cost that grows with the window)")
	f.integer(&in.DedupFilterBits, "ingest-dedup-filter-bits", "ADOPTSCOPE_INGEST_DEDUP_FILTER_BITS", 20, "bits of the dedup filter per id in the window; with a 7-day window (eight daily filters probed) 20 pass about 0.1 % of new ids on to ClickHouse, 16 about 0.7 % (lowered when the window would not fit --ingest-dedup-filter-mib)")
	f.integer(&in.DedupFilterMiB, "ingest-dedup-filter-mib", "ADOPTSCOPE_INGEST_DEDUP_FILTER_MIB", 640, "memory cap of the dedup filter in MiB; when the window's ids need more at --ingest-dedup-filter-bits, fewer bits per id are used (at least 4; 640 MiB hold 1 B ids at 4.5 bits per id)")
	f.dur(&in.RollupInterval, "rollup-interval", "ADOPTSCOPE_ROLLUP_INTERVAL", 5*time.Second, "on a single server, build the rollups the charts read from the events stored since the last build this often: charts trail ingest by about this much (on a cluster they are built inside the insert)")
	f.str(&in.TimeZones, "time-zones", "ADOPTSCOPE_TIME_ZONES", "", "time zones whose days get rollups of their own, comma-separated IANA names (UTC always has them): charts in these zones are as fast as in UTC, other zones read raw events; a zone added later is backfilled in the background. Each zone costs about the disk of the UTC rollups. Empty: UTC plus --timezone")
	f.dur(&in.RollupMaxLag, "rollup-max-lag", "ADOPTSCOPE_ROLLUP_MAX_LAG", time.Minute, "while inserts into events are running, leave the rollups to be built until the oldest unbuilt event is this old: a burst of ingest gets the CPU and is built after it, in larger, cheaper windows (at most --rollup-interval: never defer)")
}

// registryFlags are the flags and variables of the registries, in the
// order of registryLists.
var registryFlags = []struct {
	kind            catalog.Kind
	noun, flag, env string
}{
	{catalog.Assistant, "assistant", "assistants", "ADOPTSCOPE_ASSISTANTS"},
	{catalog.Channel, "channel", "channels", "ADOPTSCOPE_CHANNELS"},
	{catalog.EventType, "event type", "event-types", "ADOPTSCOPE_EVENT_TYPES"},
}

func (c *Config) registryLists() []*[]string {
	return []*[]string{&c.Ingest.Assistants, &c.Ingest.Channels, &c.Ingest.EventTypes}
}

func (c *Config) bindRegistries(f binder) {
	c.Ingest.registriesBound = true
	lists := c.registryLists()
	for i, l := range registryFlags {
		def := strings.Join(catalog.Registry{}.Values(l.kind), ",")
		f.list(lists[i], l.flag, l.env, "comma-separated "+l.noun+" slugs ingest accepts (default "+def+")")
	}
	f.str(&c.Owners, "owners", "ADOPTSCOPE_OWNERS", "", "who makes each assistant and owns each channel, for platform dependency: Owner=slug,slug;… (default "+catalog.DefaultOwnersSpec+"); a channel without an owner is every assistant's own")
}

// Registry is the configured registries; empty lists are the catalog's
// defaults.
func (c *Config) Registry() catalog.Registry {
	return catalog.Registry{Assistants: c.Ingest.Assistants, Channels: c.Ingest.Channels, EventTypes: c.Ingest.EventTypes}
}

// validateRegistries holds every registry entry to the slug rule, naming
// the flag and variable to fix.
func (c *Config) validateRegistries() []error {
	var errs []error
	lists := c.registryLists()
	for i, l := range registryFlags {
		for _, s := range *lists[i] {
			if err := catalog.CheckSlug(l.kind, s); err != nil {
				errs = append(errs, fmt.Errorf("--%s / %s: %w", l.flag, l.env, err))
			}
		}
	}
	if _, err := c.OwnersTable(); err != nil {
		errs = append(errs, fmt.Errorf("--owners / ADOPTSCOPE_OWNERS: %w", err))
	}
	return errs
}

// OwnersTable is the owners table of ADOPTSCOPE_OWNERS, its slugs told
// apart by the configured registries; empty: catalog.DefaultOwners.
func (c *Config) OwnersTable() (catalog.Owners, error) {
	return catalog.ParseOwners(c.Owners, c.Registry())
}

// OwnersOrDefault is OwnersTable for a validated configuration (Validate
// reports a bad table); the defaults if it is not.
func (c *Config) OwnersOrDefault() catalog.Owners {
	o, err := c.OwnersTable()
	if err != nil {
		return catalog.DefaultOwners()
	}
	return o
}

func (c *Config) validateIngest() []error {
	in := c.Ingest
	var errs []error
	if in.UserKeySecret != "" && len(in.UserKeySecret) < 16 {
		errs = append(errs, errors.New("--user-key-secret / ADOPTSCOPE_USER_KEY_SECRET: at least 16 bytes (for example: openssl rand -hex 32)"))
	}
	if in.BatchRows < 1 || in.BatchRows > 10_000_000 {
		errs = append(errs, fmt.Errorf("--ingest-batch-rows / ADOPTSCOPE_INGEST_BATCH_ROWS %d: want 1-10000000", in.BatchRows))
	}
	if in.FlushInterval < time.Millisecond || in.FlushInterval > time.Minute {
		errs = append(errs, fmt.Errorf("--ingest-flush-interval / ADOPTSCOPE_INGEST_FLUSH_INTERVAL %s: want 1ms-1m", in.FlushInterval))
	}
	if in.Writes < 1 || in.Writes > 8 {
		errs = append(errs, fmt.Errorf("--ingest-concurrent-writes / ADOPTSCOPE_INGEST_CONCURRENT_WRITES %d: want 1-8", in.Writes))
	}
	if in.MaxBody < 1024 {
		errs = append(errs, fmt.Errorf("--ingest-max-body / ADOPTSCOPE_INGEST_MAX_BODY %d: want at least 1024 bytes", in.MaxBody))
	}
	if in.MaxLine < 256 || in.MaxLine > in.MaxBody {
		errs = append(errs, fmt.Errorf("--ingest-max-line / ADOPTSCOPE_INGEST_MAX_LINE %d: want 256 bytes up to --ingest-max-body", in.MaxLine))
	}
	if in.DedupWindow < time.Minute {
		errs = append(errs, fmt.Errorf("--ingest-dedup-window / ADOPTSCOPE_INGEST_DEDUP_WINDOW %s: want at least 1m", in.DedupWindow))
	}
	if in.DedupFilterBits < 4 || in.DedupFilterBits > 32 {
		errs = append(errs, fmt.Errorf("--ingest-dedup-filter-bits / ADOPTSCOPE_INGEST_DEDUP_FILTER_BITS %d: want 4-32", in.DedupFilterBits))
	}
	if in.DedupFilterMiB < 1 || in.DedupFilterMiB > 1<<20 {
		errs = append(errs, fmt.Errorf("--ingest-dedup-filter-mib / ADOPTSCOPE_INGEST_DEDUP_FILTER_MIB %d: want 1-1048576 (MiB)", in.DedupFilterMiB))
	}
	if in.RollupInterval < 100*time.Millisecond || in.RollupInterval > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--rollup-interval / ADOPTSCOPE_ROLLUP_INTERVAL %s: want 100ms-10m", in.RollupInterval))
	}
	for _, z := range strings.Split(in.TimeZones, ",") {
		z = strings.TrimSpace(z)
		if z == "" {
			continue
		}
		if _, err := time.LoadLocation(z); err != nil || strings.EqualFold(z, "local") {
			errs = append(errs, fmt.Errorf("--time-zones / ADOPTSCOPE_TIME_ZONES %q: want IANA time zones such as Europe/Paris,Asia/Kolkata", z))
		}
	}
	if in.RollupMaxLag < 100*time.Millisecond || in.RollupMaxLag > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--rollup-max-lag / ADOPTSCOPE_ROLLUP_MAX_LAG %s: want 100ms-24h", in.RollupMaxLag))
	}
	return errs
}
