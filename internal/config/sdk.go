package config

import (
	"fmt"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/ingest"
)

// SDKConfig maps the messages of PostHog and Segment SDKs onto events
// (bound with the Ingest section).
type SDKConfig struct {
	// Properties are the event property names read for each field.
	Properties ingest.SDKProperties
	// EventTypes is ADOPTSCOPE_SDK_EVENT_TYPES as given: NAME=slug,…
	EventTypes string
}

// sdkPropertyFlags are the property name flags and variables.
func (c *Config) sdkPropertyFlags() []struct {
	p          *string
	flag, env  string
	field, def string
} {
	d := ingest.DefaultSDKProperties()
	p := &c.SDK.Properties
	return []struct {
		p          *string
		flag, env  string
		field, def string
	}{
		{&p.Assistant, "sdk-property-assistant", "ADOPTSCOPE_SDK_PROPERTY_ASSISTANT", "assistant", d.Assistant},
		{&p.Channel, "sdk-property-channel", "ADOPTSCOPE_SDK_PROPERTY_CHANNEL", "channel", d.Channel},
		{&p.Modality, "sdk-property-modality", "ADOPTSCOPE_SDK_PROPERTY_MODALITY", "modality", d.Modality},
		{&p.Country, "sdk-property-country", "ADOPTSCOPE_SDK_PROPERTY_COUNTRY", "country", d.Country},
		{&p.Count, "sdk-property-count", "ADOPTSCOPE_SDK_PROPERTY_COUNT", "count", d.Count},
		{&p.Linked, "sdk-property-linked", "ADOPTSCOPE_SDK_PROPERTY_LINKED", "linked", d.Linked},
	}
}

func (c *Config) bindSDK(f binder) {
	for _, pf := range c.sdkPropertyFlags() {
		f.str(pf.p, pf.flag, pf.env, pf.def, "PostHog / Segment SDKs: the event property that holds the "+pf.field)
	}
	f.str(&c.SDK.EventTypes, "sdk-event-types", "ADOPTSCOPE_SDK_EVENT_TYPES", "", "PostHog / Segment SDKs: event name to event type, comma-separated NAME=event_type ('Message Sent=message,$identify='; NAME= skips it); each event type slug maps to itself; other names are skipped")
}

// SDKMapping is the domain's mapping configuration; the event types were
// checked by Validate.
func (c *Config) SDKMapping() ingest.SDKConfig {
	types, _ := ingest.ParseSDKEventTypes(c.SDK.EventTypes)
	return ingest.SDKConfig{Properties: c.SDK.Properties, EventTypes: types, KnownEventTypes: c.Registry().Values(catalog.EventType)}
}

func (c *Config) validateSDK() []error {
	var errs []error
	for _, pf := range c.sdkPropertyFlags() {
		if *pf.p == "" {
			errs = append(errs, fmt.Errorf("--%s / %s: empty: name the event property that holds the %s (default %q)", pf.flag, pf.env, pf.field, pf.def))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	cfg := c.SDKMapping()
	types, err := ingest.ParseSDKEventTypes(c.SDK.EventTypes)
	if err != nil {
		return []error{fmt.Errorf("--sdk-event-types / ADOPTSCOPE_SDK_EVENT_TYPES: %w", err)}
	}
	cfg.EventTypes = types
	if _, err := ingest.NewSDKMapper(cfg); err != nil {
		errs = append(errs, err)
	}
	return errs
}
