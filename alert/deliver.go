package alert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/query"
)

// SMTP is the mail server e-mail destinations go through.
type SMTP struct {
	Host, User, Password, From string
	Port                       int // default 587
}

// Sender delivers notifications. Every destination, the SMTP server
// included, obeys the webhook address rules of To (export.Destinations:
// public addresses only, the allow-list, never this instance's or
// ClickHouse's ports).
type Sender struct {
	To   *export.Destinations
	SMTP SMTP
	// PublicURL is where the dashboard is reached (links in notifications).
	PublicURL string
	// Attempts per destination (default 4), Backoff before the second
	// (default 2 s, doubled each time), Timeout per try (default 30 s).
	Attempts int
	Backoff  time.Duration
	Timeout  time.Duration
}

// Notice is what a notification says.
type Notice struct {
	Rule       Rule
	State      string // firing, resolved
	Day        string // the period's first day
	Value      float64
	Comparison float64
	ChangePct  float64
	Detail     string
	Test       bool
}

// ChartURL links to the chart of the rule's metric, zone and slice,
// around the day, with the day marked (alert_day).
func (s Sender) ChartURL(n Notice) string {
	day, _ := time.Parse(catalog.DateLayout, n.Day)
	sl := query.Slice{Range: query.RangeCustom, From: day.AddDate(0, 0, -27), To: day.AddDate(0, 0, 7), Interval: n.Rule.Interval,
		TZ: n.Rule.Timezone, Filters: n.Rule.Filters()}
	if n.Rule.Interval == query.Week {
		sl.From, sl.To = day.AddDate(0, 0, -7*12), day.AddDate(0, 0, 7*4+6)
	}
	v := sl.Values()
	v.Set("alert_day", n.Day)
	return strings.TrimRight(s.PublicURL, "/") + "/?" + v.Encode()
}

// Subject is the notification in a line.
func (n Notice) Subject() string {
	head := "Alert"
	switch {
	case n.Test:
		head = "Test alert"
	case n.State == StateResolved:
		head = "Resolved"
	}
	return fmt.Sprintf("%s: %s (%s, %s)", head, n.Rule.Name, n.Rule.SliceWords(), n.Day)
}

// Text is the notification's body in words.
func (n Notice) Text(chart string) string {
	var b strings.Builder
	b.WriteString(n.Subject() + "\n")
	if n.Test {
		b.WriteString("A sample notification sent on request: nothing happened in the data.\n")
	}
	switch n.State {
	case StateFiring:
		fmt.Fprintf(&b, "The rule holds: %s.\n", n.Rule.Describe())
	case StateResolved:
		fmt.Fprintf(&b, "The rule no longer holds: %s.\n", n.Rule.Describe())
	}
	b.WriteString(n.Detail + "\n")
	b.WriteString("Chart: " + chart + "\n")
	return b.String()
}

// payload is the generic webhook's JSON body.
type payload struct {
	Rule struct {
		ID        string  `json:"id"`
		Name      string  `json:"name"`
		Metric    string  `json:"metric"`
		Interval  string  `json:"interval"`
		Timezone  string  `json:"timezone"`
		Assistant string  `json:"assistant,omitempty"`
		Channel   string  `json:"channel,omitempty"`
		Country   string  `json:"country,omitempty"`
		Condition string  `json:"condition"`
		Direction string  `json:"direction,omitempty"`
		Value     float64 `json:"value"`
	} `json:"rule"`
	State      string   `json:"state"`
	Day        string   `json:"day"`
	Value      float64  `json:"value"`
	Threshold  float64  `json:"threshold"`
	ChangePct  *float64 `json:"change_pct,omitempty"`
	Comparison string   `json:"comparison"`
	Text       string   `json:"text"`
	URL        string   `json:"url"`
	Test       bool     `json:"test"`
}

func (s Sender) payload(n Notice, chart string) []byte {
	var p payload
	r := n.Rule
	p.Rule.ID, p.Rule.Name, p.Rule.Metric, p.Rule.Interval, p.Rule.Timezone = r.ID, r.Name, string(r.Metric), string(r.Interval), r.Timezone
	p.Rule.Assistant, p.Rule.Channel, p.Rule.Country, p.Rule.Condition, p.Rule.Direction, p.Rule.Value = r.Assistant, r.Channel, r.Country, r.Condition, r.Direction, r.Value
	if p.Rule.Timezone == "" {
		p.Rule.Timezone = "UTC"
	}
	p.State, p.Day, p.Value, p.Threshold, p.Comparison, p.URL, p.Test = n.State, n.Day, n.Value, n.Comparison, r.Describe(), chart, n.Test
	p.Text = n.Text(chart)
	if !math.IsNaN(n.ChangePct) && r.Condition != Threshold {
		c := math.Round(n.ChangePct*10) / 10
		p.ChangePct = &c
	}
	b, _ := json.Marshal(p)
	return b
}

// Send delivers n to every destination of its rule, each tried with
// backoff, and says how each went.
func (s Sender) Send(ctx context.Context, n Notice) []Delivery {
	chart := s.ChartURL(n)
	out := make([]Delivery, len(n.Rule.To))
	for i, d := range n.Rule.To {
		out[i] = s.deliver(ctx, d, n, chart)
	}
	return out
}

func (s Sender) deliver(ctx context.Context, d Destination, n Notice, chart string) Delivery {
	attempts, wait, timeout := s.Attempts, s.Backoff, s.Timeout
	if attempts <= 0 {
		attempts = 4
	}
	if wait <= 0 {
		wait = 2 * time.Second
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	dl := Delivery{Destination: d.Name(), Status: DeliveryFailed}
	client := s.To.Client()
	defer client.CloseIdleConnections()
	for i := 1; i <= attempts; i++ {
		dl.Attempts = i
		tctx, cancel := context.WithTimeout(ctx, timeout)
		retry, err := s.try(tctx, client, d, n, chart)
		cancel()
		if err == nil {
			dl.Status, dl.Error = DeliverySent, ""
			return dl
		}
		dl.Error = err.Error()
		if !retry || i == attempts {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			dl.Error += " (then stopped: " + ctx.Err().Error() + ")"
			return dl
		}
		wait *= 2
	}
	return dl
}

func (s Sender) try(ctx context.Context, client *http.Client, d Destination, n Notice, chart string) (retry bool, err error) {
	switch d.Kind {
	case KindEmail:
		return s.mail(ctx, d, n, chart)
	case KindSlack:
		body, _ := json.Marshal(map[string]string{"text": slackText(n, chart)})
		return post(ctx, client, d.URL, body, nil)
	}
	body := s.payload(n, chart)
	ts := time.Now().Unix()
	return post(ctx, client, d.URL, body, map[string]string{
		"X-AdoptScope-Alert":   n.Rule.ID,
		export.HeaderTimestamp: strconv.FormatInt(ts, 10),
		export.HeaderSignature: export.Sign(d.Secret, ts, body),
	})
}

// slackText is the message of a Slack-compatible webhook, with a link in
// Slack's <url|label> form.
func slackText(n Notice, chart string) string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	lines := strings.Split(strings.TrimSpace(n.Text("")), "\n")
	lines = lines[:len(lines)-1] // the plain "Chart:" line
	for i := range lines {
		lines[i] = esc.Replace(lines[i])
	}
	lines[0] = "*" + lines[0] + "*"
	return strings.Join(lines, "\n") + "\n<" + chart + "|Open the chart>"
}

func post(ctx context.Context, client *http.Client, target string, body []byte, headers map[string]string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("not a valid URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "AdoptScope-Alert/1")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		// A *url.Error repeats the whole URL: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return !export.IsRefused(err), err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode/100 == 3:
		return false, fmt.Errorf("HTTP %d: redirects are not followed", resp.StatusCode)
	}
	retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
	return retry, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// mail sends n over SMTP: STARTTLS when the server offers it (required
// before a password is sent), AUTH PLAIN when a user is set.
func (s Sender) mail(ctx context.Context, d Destination, n Notice, chart string) (bool, error) {
	c := s.SMTP
	if c.Host == "" || c.From == "" {
		return false, errors.New("no mail server: set ADOPTSCOPE_SMTP_HOST and ADOPTSCOPE_SMTP_FROM")
	}
	port := c.Port
	if port == 0 {
		port = 587
	}
	conn, err := s.To.Dial(ctx, "tcp", net.JoinHostPort(c.Host, strconv.Itoa(port)))
	if err != nil {
		return !export.IsRefused(err), fmt.Errorf("SMTP %s: %w", c.Host, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	cl, err := smtp.NewClient(conn, c.Host)
	if err != nil {
		conn.Close()
		return true, fmt.Errorf("SMTP %s: %w", c.Host, err)
	}
	defer cl.Close()
	if ok, _ := cl.Extension("STARTTLS"); ok {
		if err := cl.StartTLS(&tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12}); err != nil {
			return true, fmt.Errorf("SMTP %s: STARTTLS: %w", c.Host, err)
		}
	}
	if c.User != "" {
		if _, tlsOn := cl.TLSConnectionState(); !tlsOn {
			return false, fmt.Errorf("SMTP %s offers no STARTTLS: the password is not sent in clear", c.Host)
		}
		if err := cl.Auth(smtp.PlainAuth("", c.User, c.Password, c.Host)); err != nil {
			return false, fmt.Errorf("SMTP %s: %w", c.Host, err)
		}
	}
	if err := cl.Mail(c.From); err != nil {
		return true, fmt.Errorf("SMTP %s: MAIL FROM: %w", c.Host, err)
	}
	if err := cl.Rcpt(d.To); err != nil {
		return false, fmt.Errorf("SMTP %s: RCPT TO: %w", c.Host, err)
	}
	w, err := cl.Data()
	if err != nil {
		return true, fmt.Errorf("SMTP %s: DATA: %w", c.Host, err)
	}
	msg := "From: " + c.From + "\r\nTo: " + d.To + "\r\nSubject: " + mime.QEncoding.Encode("utf-8", headerSafe(n.Subject())) +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
		strings.ReplaceAll(n.Text(chart), "\n", "\r\n")
	if _, err := io.WriteString(w, msg); err != nil {
		return true, fmt.Errorf("SMTP %s: %w", c.Host, err)
	}
	if err := w.Close(); err != nil {
		return true, fmt.Errorf("SMTP %s: %w", c.Host, err)
	}
	_ = cl.Quit()
	return false, nil
}

func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}
