// Package catalog holds the product's facts: the default registries of
// assistants, channels, event types and modalities, the one rule a slug and
// a country code follow, the date layout, the display names of the known
// slugs and which channels belong to a platform, the launch default and the
// story the Impact page opens on.
//
// Every adapter (ingest, the query API, the dashboard, the CLI) asks this
// package, so the same input gets the same answer, with the same message,
// everywhere. It imports nothing of the product.
package catalog

import "time"

// DateLayout is the form of every date parameter, date label and period
// label: YYYY-MM-DD.
const DateLayout = "2006-01-02"

// DefaultLaunch is where "since launch" starts: the first day the product
// has data for (the demo data set starts here too). It will later be read
// from the store's first event.
var DefaultLaunch = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

// The Impact page, opened without a choice, shows the latest annotation of
// kind ImpactKind (the story the product tells: an assistant leaving a
// channel) and, when that annotation has no scope, ImpactAssistant on
// ImpactChannel.
const (
	ImpactAssistant = "chatgpt"
	ImpactChannel   = "whatsapp"
	ImpactKind      = "shutdown"
)
