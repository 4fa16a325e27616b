package views

import (
	"context"

	"github.com/adoptscope/adoptscope/query"
)

// runSeries executes req through package query and lays out its rows.
func (h *Handler) runSeries(ctx context.Context, req query.SeriesRequest) (seriesResult, error) {
	return seriesResult{Req: req}, errQueryNotReady
}

// runMigration executes a migration request through package query.
func (h *Handler) runMigration(ctx context.Context, req query.MigrationRequest) (migrationResult, error) {
	return migrationResult{}, errQueryNotReady
}

// runRetention executes a retention request through package query.
func (h *Handler) runRetention(ctx context.Context, req query.RetentionRequest) ([]retentionCohort, error) {
	return nil, errQueryNotReady
}
