package views

import (
	"strings"

	"github.com/adoptscope/adoptscope/catalog"
)

// outcomeLabels name the migration outcomes that are not a place.
var outcomeLabels = map[string]string{"stayed": "Stayed", "inactive": "Inactive"}

// Label is the display name of a slug (assistant, channel, modality): the
// catalog's proper name when it has one, else the slug made readable.
func Label(slug string) string {
	if l, ok := catalog.Name(slug); ok {
		return l
	}
	if l, ok := outcomeLabels[slug]; ok {
		return l
	}
	if slug == "" {
		return "(none)"
	}
	return strings.ToUpper(slug[:1]) + strings.ReplaceAll(slug[1:], "_", " ")
}
