package app

import (
	"context"
	"net/http"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/api"
)

// startAnnotations mounts /api/v1/annotations when the mode runs the web
// side. Reads take a read or admin token, or a dashboard session; writes
// take an admin token (the dashboard writes through its own forms).
func startAnnotations(ctx context.Context, d *Deps, mode Mode) (part, error) {
	if !mode.Web {
		return nil, nil
	}
	tokenRead, canWrite := api.AnnotationTokenAccess(d.Cfg.ReadTokens, d.Cfg.AdminTokens)
	canRead := func(r *http.Request) bool {
		if tokenRead(r) && (len(d.Cfg.ReadTokens)+len(d.Cfg.AdminTokens) > 0 || d.DashboardAuth == nil) {
			return true
		}
		if d.DashboardAuth != nil {
			if s, ok := d.DashboardAuth.SessionFromRequest(r); ok && s.Role != "" {
				return true
			}
		}
		return false
	}
	assistants, channels := d.Cfg.Ingest.Assistants, d.Cfg.Ingest.Channels
	if len(assistants) == 0 {
		assistants = ingest.DefaultAssistants
	}
	if len(channels) == 0 {
		channels = ingest.DefaultChannels
	}
	h := &api.AnnotationHandlers{Store: d.Backend.Store, Log: d.Log, CanRead: canRead, CanWrite: canWrite,
		Assistants: assistants, Channels: channels}
	h.Register(d.Echo.Group("/api/v1"))
	return nil, nil
}
