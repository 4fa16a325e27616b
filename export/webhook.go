package export

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// Webhook deliveries: the file is the body of an HTTP POST
// (Content-Type: text/csv; charset=utf-8) with these headers:
//
//	X-AdoptScope-Export     the export's name
//	X-AdoptScope-Run        the run id
//	X-AdoptScope-File       the file name
//	X-AdoptScope-Timestamp  Unix seconds when the delivery was signed
//	X-AdoptScope-Signature  sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// A receiver recomputes the HMAC with the export's webhook secret, compares
// in constant time, and rejects timestamps older than a few minutes.
const (
	HeaderSignature = "X-AdoptScope-Signature"
	HeaderTimestamp = "X-AdoptScope-Timestamp"
)

// Sign returns the signature header value for body at timestamp ts.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a delivery's signature header.
func VerifySignature(secret, tsHeader, sigHeader string, body []byte) bool {
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sigHeader))
}

// WebhookPolicy says how often and how patiently a delivery is tried.
type WebhookPolicy struct {
	Attempts int           // total tries, default 4
	Backoff  time.Duration // wait before the second try, doubled each time; default 2s
	Timeout  time.Duration // per try, default 60s
	// To says where deliveries may go (nil: public addresses only).
	To     *Destinations
	client *http.Client
}

func (p WebhookPolicy) withDefaults() WebhookPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 4
	}
	if p.Backoff <= 0 {
		p.Backoff = 2 * time.Second
	}
	if p.Timeout <= 0 {
		p.Timeout = 60 * time.Second
	}
	if p.To == nil {
		p.To = &Destinations{}
	}
	p.client = p.To.client()
	return p
}

// deliver posts the file at path to e's webhook, retrying failures with
// exponential backoff. It returns a short outcome for the run history and
// an error naming the last failure when every try failed.
func deliver(ctx context.Context, p WebhookPolicy, e Export, runID, path string) (string, error) {
	p = p.withDefaults()
	defer p.client.CloseIdleConnections()
	body, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("webhook: read file: %w", err)
	}
	var last error
	wait := p.Backoff
	for i := 1; i <= p.Attempts; i++ {
		retry, err := post(ctx, p, e, runID, path, body)
		if err == nil {
			return fmt.Sprintf("delivered (try %d of %d)", i, p.Attempts), nil
		}
		last = fmt.Errorf("try %d of %d: %w", i, p.Attempts, err)
		if !retry || i == p.Attempts {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return "", fmt.Errorf("webhook %s: %w (then stopped: %v)", URLHost(e.WebhookURL), last, ctx.Err())
		}
		wait *= 2
	}
	return "", fmt.Errorf("webhook %s: %w", URLHost(e.WebhookURL), last)
}

func post(ctx context.Context, p WebhookPolicy, e Export, runID, path string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("webhook_url is not a valid URL")
	}
	ts := time.Now().Unix()
	name := fileBase(path)
	req.Header.Set("Content-Type", "text/csv; charset=utf-8")
	req.Header.Set("User-Agent", "AdoptScope-Export/1")
	req.Header.Set("X-AdoptScope-Export", e.Name)
	req.Header.Set("X-AdoptScope-Run", runID)
	req.Header.Set("X-AdoptScope-File", name)
	req.Header.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(e.WebhookSecret, ts, body))
	resp, err := p.client.Do(req)
	if err != nil {
		// A *url.Error repeats the whole URL (user, password, path,
		// query): the history keeps only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var refused errRefused
		if errors.As(err, &refused) {
			return false, refused
		}
		return true, err
	}
	// The answer's body is not read into the history: whatever the
	// receiver (or whatever the URL really reaches) says stays there.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode/100 == 3:
		return false, fmt.Errorf("HTTP %d %s: redirects are not followed; set webhook_url to the address the receiver redirects to", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	retry = resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
	return retry, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

func fileBase(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
