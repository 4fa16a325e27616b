package sdkapi

import (
	"bytes"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"

	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// posthogForm unwraps the form bodies posthog-js and older SDKs send:
// data=<JSON or base64 of JSON>, urlencoded. A JSON body (whatever its
// Content-Type: posthog-js posts text/plain to avoid a CORS preflight)
// is returned as it is.
func posthogForm(r *http.Request, body []byte) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if mt != "application/x-www-form-urlencoded" && !bytes.HasPrefix(trimmed, []byte("data=")) {
		return body, nil
	}
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, httperr.New(http.StatusBadRequest, "posthog: the form body cannot be read: "+err.Error())
	}
	data := form.Get("data")
	if data == "" {
		return nil, httperr.New(http.StatusBadRequest, "posthog: a form body needs a data field holding the JSON events")
	}
	if data[0] == '{' || data[0] == '[' {
		return []byte(data), nil
	}
	dec, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		if dec, err = base64.RawStdEncoding.DecodeString(data); err != nil {
			return nil, httperr.New(http.StatusBadRequest, "posthog: data is neither JSON nor base64 of JSON")
		}
	}
	return dec, nil
}
