package dashboard

import (
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// countryChoices are the countries the filter bar offers: those present
// in the page's dates, assistants and channels (query.Countries, the same
// answer as GET /api/v1/countries), most people first.
func (h *Handler) countryChoices(pr *pageRequest, f Filters) ([]views.CountryChoice, string) {
	if h.opts.Store == nil {
		return nil, ""
	}
	ctx, cancel := h.queryCtx(pr.c)
	defer cancel()
	res, err := query.Countries(ctx, h.opts.Store, query.Slice{From: f.From, To: f.To, TZ: f.apiZone(),
		Filters: query.Filters{Assistants: f.Assistants, Channels: f.Channels}})
	if err != nil {
		return nil, h.readableErr(pr.c, "countries", err).Error()
	}
	out := make([]views.CountryChoice, len(res.Countries))
	for i, c := range res.Countries {
		out[i] = views.CountryChoice{Code: c.Code, Name: c.Name, People: c.People}
	}
	return out, ""
}
