package views

import (
	"hash/fnv"
	"strings"

	"github.com/a-h/templ"
)

// The one palette of the dashboard: every chart colours a series through
// ColorOf, so ChatGPT, Meta AI, WhatsApp or iOS have the same colour on
// every page. Within a kind no two entries share a hue family: the four
// assistants are green, blue, amber and violet; the eleven channels are
// told apart from each other (iOS and Desktop no longer share a grey).
var palette = map[string]string{
	// assistants
	"chatgpt": "#10a37f", "meta_ai": "#0866ff", "copilot": "#f59e0b", "perplexity": "#7c3aed",
	// channels
	"whatsapp": "#25a244", "ios": "#6b7280", "android": "#a3b40f", "web": "#06b6d4", "desktop": "#1e3a8a",
	"messenger": "#c026d3", "instagram": "#e11d48", "telegram": "#2563eb", "phone": "#92400e",
	"sms": "#f97316", "api": "#0f766e",
	// modalities
	"text": "#64748b", "voice": "#f97316", "image": "#0ea5e9", "image_generation": "#d946ef", "file": "#65a30d",
	// migration outcomes
	"stayed": "#10a37f", "inactive": "#9ca3af",
}

// spare colours for slugs the palette does not know (configured
// assistants or channels): picked by a hash of the slug, so a slug keeps
// its colour from page to page.
var spare = []string{"#be123c", "#4d7c0f", "#0369a1", "#a21caf", "#b45309", "#115e59", "#4338ca", "#9f1239"}

// slugOf maps a display name back to its slug (Label's inverse) for the
// names the catalog knows; other names are their own key.
var slugOf = func() map[string]string {
	m := map[string]string{}
	for slug := range palette {
		m[Label(slug)] = slug
	}
	return m
}()

// ColorOf is the colour of a series named by a slug or a display name. A
// name "X on Y" (assistant on channel) takes the colour of X; a name with
// PreviousSuffix or YearSuffix the colour of the series it repeats.
func ColorOf(name string) string {
	name = strings.TrimSuffix(strings.TrimSuffix(name, PreviousSuffix), YearSuffix)
	if a, _, ok := strings.Cut(name, " on "); ok {
		name = a
	}
	if c, ok := palette[name]; ok {
		return c
	}
	if s, ok := slugOf[name]; ok {
		return palette[s]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return spare[h.Sum32()%uint32(len(spare))]
}

// swatchStyle is the inline style of a colour swatch (the KPI tiles).
func swatchStyle(name string) templ.SafeCSS {
	return templ.SafeCSS("background:" + ColorOf(name))
}
