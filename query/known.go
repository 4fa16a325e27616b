package query

import (
	"net/url"

	"github.com/adoptscope/adoptscope/catalog"
)

// CheckKnown holds the assistant, channel, event type and modality values
// of f to the configured registry: a value that is a slug but not known
// (assistant=bard, a typo such as chatgtp) is a 400 naming the known
// values, instead of an answer of zeros. The parsers check only the slug
// rule (they have no registry); every adapter that has one calls this
// after parsing. Countries are held to their form by the parsers.
func CheckKnown(reg catalog.Registry, f Filters) error {
	for _, d := range []Dim{DimAssistant, DimChannel, DimEventType, DimModality} {
		for _, v := range f.Values(d) {
			if err := reg.Check(catalog.Kind(d), v); err != nil {
				return &ParamError{Param: string(d), Value: v, Err: err}
			}
		}
	}
	return nil
}

// CheckKnownMigration is CheckKnown for a migration's source.
func CheckKnownMigration(reg catalog.Registry, r MigrationRequest) error {
	return CheckKnown(reg, Filters{Assistants: []string{r.Assistant}, Channels: []string{r.Channel}})
}

// ParseKPIs reads the parameters of KPIs: assistant, channel, country
// (comma lists) and tz.
func ParseKPIs(v url.Values) (Filters, string, error) {
	f, err := parseFilters(v, []Dim{DimAssistant, DimChannel, DimCountry})
	if err != nil {
		return f, "", err
	}
	for _, d := range []Dim{DimModality, DimEventType} {
		if len(v[string(d)]) > 0 {
			return f, "", &ParamError{Param: string(d), Value: one(v, string(d)), Allowed: "the KPIs slice by assistant, channel and country only"}
		}
	}
	tz, err := parseTZ(v)
	return f, tz, err
}
