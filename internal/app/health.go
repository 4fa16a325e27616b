package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/schema"
)

// Health is the body of GET /healthz.
type Health struct {
	Status     string `json:"status"`
	ClickHouse string `json:"clickhouse,omitempty"`
	Schema     int    `json:"schema"`
	Error      string `json:"error,omitempty"`
}

func healthHandler(b *Backend) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if st := b.server.ManagedState(); !st.Running {
			return c.JSON(http.StatusServiceUnavailable, Health{Status: "unavailable", Schema: b.Schema, Error: st.Reason})
		}
		if err := b.Store.Ping(ctx, 2*time.Second); err != nil {
			return c.JSON(http.StatusServiceUnavailable, Health{Status: "unavailable", Schema: b.Schema,
				Error: fmt.Sprintf("clickhouse at %s does not answer: %v", b.Store.Addr, err)})
		}
		v, err := schema.CurrentVersion(ctx, b.Store)
		if err != nil {
			return c.JSON(http.StatusServiceUnavailable, Health{Status: "unavailable", Schema: b.Schema,
				Error: "read schema version: " + err.Error()})
		}
		return c.JSON(http.StatusOK, Health{Status: "ok", ClickHouse: b.Store.Version.String(), Schema: v})
	}
}
