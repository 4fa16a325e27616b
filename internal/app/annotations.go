package app

import (
	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
)

// registerAnnotationAPI mounts /api/v1/annotations under the query API's
// access policy (reads: read or admin token, or a dashboard session; writes:
// admin token or admin session). Scopes are checked against the ingest
// registries.
func registerAnnotationAPI(d *Deps, a *queryapi.API, g *echo.Group) {
	assistants, channels := d.Cfg.Ingest.Assistants, d.Cfg.Ingest.Channels
	if len(assistants) == 0 {
		assistants = ingest.DefaultAssistants
	}
	if len(channels) == 0 {
		channels = ingest.DefaultChannels
	}
	a.Annotations(assistants, channels).Register(g)
}
