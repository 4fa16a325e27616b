package queryapi

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPI is the OpenAPI 3.1 description of every route under /v1/ (the
// ingest API, with the Segment-compatible endpoints) and /api/v1/ (this
// API). internal/app's TestOpenAPIMatchesRoutes holds it to the mounted
// routes and the parameters the handlers read; schemathesis fuzzes a live
// instance from it (make test-api).
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the description.
func OpenAPI() []byte { return openAPI }

// ServeOpenAPI answers GET /api/v1/openapi.json. It needs no token: it
// describes the API, not the data.
func ServeOpenAPI(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPI)
}
