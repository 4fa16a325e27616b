package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The default registries: what ingest accepts when ADOPTSCOPE_ASSISTANTS,
// ADOPTSCOPE_CHANNELS and ADOPTSCOPE_EVENT_TYPES are not set. Modalities
// are not configurable.
var (
	DefaultAssistants = []string{"chatgpt", "meta_ai", "copilot", "perplexity"}
	DefaultChannels   = []string{"whatsapp", "ios", "android", "web", "desktop", "messenger", "instagram", "telegram", "phone", "sms", "api"}
	DefaultEventTypes = []string{"message", "session_start", "signup", "account_linked"}
	Modalities        = []string{"text", "voice", "image", "image_generation", "file"}
)

// Registry is the configured assistants, channels and event types; an
// empty list means the default one. The zero Registry is the defaults.
type Registry struct {
	Assistants, Channels, EventTypes []string
}

// Values returns the allowed values of kind: the configured list or the
// default one (Modalities for Modality; nil for Country, which has a form,
// not a list).
func (r Registry) Values(kind Kind) []string {
	pick := func(configured, def []string) []string {
		if len(configured) > 0 {
			return configured
		}
		return def
	}
	switch kind {
	case Assistant:
		return pick(r.Assistants, DefaultAssistants)
	case Channel:
		return pick(r.Channels, DefaultChannels)
	case EventType:
		return pick(r.EventTypes, DefaultEventTypes)
	case Modality:
		return Modalities
	}
	return nil
}

// Check returns nil when value is one of the allowed values of kind. Else
// it says why, as a *RuleError: not a slug (CheckSlug's message), or not
// known, with the known values. A Country is checked by its form
// (CheckCountry).
func (r Registry) Check(kind Kind, value string) error {
	if kind == Country {
		return CheckCountry(value)
	}
	known := r.Values(kind)
	if slices.Contains(known, value) {
		return nil
	}
	if err := CheckSlug(kind, value); err != nil {
		return err
	}
	sorted := slices.Clone(known)
	slices.Sort(sorted)
	return &RuleError{Kind: kind, Value: value,
		msg: fmt.Sprintf("unknown %s %s (known: %s)", kind.noun(), quote(value), strings.Join(sorted, ", "))}
}

// Validate checks that every configured value is a slug: a registry entry
// that is not could never match what ingest stores.
func (r Registry) Validate() error {
	var errs []error
	for _, l := range []struct {
		kind Kind
		v    []string
	}{{Assistant, r.Assistants}, {Channel, r.Channels}, {EventType, r.EventTypes}} {
		for _, s := range l.v {
			if err := CheckSlug(l.kind, s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
