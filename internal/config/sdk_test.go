package config

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestSDKVariables(t *testing.T) {
	t.Setenv("ADOPTSCOPE_SDK_PROPERTY_ASSISTANT", "ai_product")
	t.Setenv("ADOPTSCOPE_SDK_EVENT_TYPES", "Message Sent=message,$identify=")
	var c Config
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Bind(fs, Ingest)
	if err := fs.Parse([]string{"--sdk-property-channel", "surface"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	m := c.SDKMapping()
	if m.Properties.Assistant != "ai_product" || m.Properties.Channel != "surface" || m.Properties.Count != "count" ||
		m.EventTypes["Message Sent"] != "message" || m.EventTypes["$identify"] != "" || len(m.EventTypes) != 2 {
		t.Errorf("mapping %+v", m)
	}
	for env, want := range map[string]string{
		"Message Sent=share": `"share" is not an event type of ADOPTSCOPE_EVENT_TYPES`,
		"=message":           "ADOPTSCOPE_SDK_EVENT_TYPES",
	} {
		c.SDK.EventTypes = env
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", env, err, want)
		}
	}
	c.SDK.EventTypes = ""
	c.SDK.Properties.Linked = "ai_product"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "ADOPTSCOPE_SDK_PROPERTY_LINKED") {
		t.Errorf("shared property: %v", err)
	}
}
