package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient talks to a running instance's API for the commands that would
// otherwise open the store (which `up` holds locked): annotate, export.
type apiClient struct {
	base, token string
	hc          *http.Client
}

// newAPIClient checks base (the --api flag) and returns a client for it.
func newAPIClient(base, token string, timeout time.Duration) (apiClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return apiClient{}, fmt.Errorf("--api / ADOPTSCOPE_API_URL %q: want a URL such as http://127.0.0.1:8080", base)
	}
	return apiClient{base: strings.TrimRight(base, "/"), token: token, hc: &http.Client{Timeout: timeout}}, nil
}

// do sends body as JSON (when not nil) and decodes the answer into out
// (when not nil). A non-2xx answer becomes an error carrying the API's
// own message.
func (c apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode/100 != 2 {
		var eb struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &eb) == nil && (eb.Error != "" || eb.Message != "") {
			return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, eb.Error+eb.Message)
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, strings.TrimSpace(string(b)))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: read answer: %w", method, path, err)
		}
	}
	return nil
}
