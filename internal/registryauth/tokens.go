package registryauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// refreshMargin is how long before its expiry a cached token is replaced.
const refreshMargin = 5 * time.Minute

// tokenCache keeps tokens until shortly before they expire, and fetches
// each one once however many callers want it at the same time.
type tokenCache struct {
	mu     sync.Mutex
	items  map[string]cachedToken
	flight singleflight.Group
	now    func() time.Time
}

type cachedToken struct {
	token   string
	expires time.Time
}

func (c *tokenCache) get(ctx context.Context, key string, fetch func(ctx context.Context) (string, time.Time, error)) (string, error) {
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	c.mu.Lock()
	if c.items == nil {
		c.items = map[string]cachedToken{}
	}
	t, ok := c.items[key]
	c.mu.Unlock()
	if ok && now().Add(refreshMargin).Before(t.expires) {
		return t.token, nil
	}
	v, err, _ := c.flight.Do(key, func() (any, error) {
		tok, exp, err := fetch(ctx)
		if err != nil {
			return "", err
		}
		c.mu.Lock()
		c.items[key] = cachedToken{tok, exp}
		c.mu.Unlock()
		return tok, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// maxTokenResponse bounds what a token endpoint may send.
const maxTokenResponse = 1 << 20

// postForm posts form to u and decodes the JSON answer into out. Errors
// name the endpoint and status, never the form (it carries credentials).
func postForm(ctx context.Context, hc *http.Client, u string, form url.Values, header http.Header, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return doJSON(hc, req, out)
}

func doJSON(hc *http.Client, req *http.Request, out any) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, redact(req.URL), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, redact(req.URL), err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", req.Method, redact(req.URL), resp.Status, errorText(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", req.Method, redact(req.URL), err)
	}
	return nil
}

// redact drops a URL's query, which may carry tokens.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	return c.String()
}

// errorText keeps the OAuth error fields of an answer, nothing else.
func errorText(b []byte) string {
	var e struct {
		Error       any    `json:"error"`
		Description string `json:"error_description"`
		Errors      []struct {
			Code, Message string
		} `json:"errors"`
		Type    string `json:"__type"` // AWS JSON protocol errors
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &e) != nil {
		return "(no error details)"
	}
	var parts []string
	if s, ok := e.Error.(string); ok && s != "" {
		parts = append(parts, s)
	}
	if e.Description != "" {
		parts = append(parts, e.Description)
	}
	if e.Type != "" {
		parts = append(parts, e.Type)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	for _, x := range e.Errors {
		parts = append(parts, x.Code+" "+x.Message)
	}
	if len(parts) == 0 {
		return "(no error details)"
	}
	s := strings.Join(parts, ": ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// jwtExpiry reads the exp claim of a JWT without verifying it (the token is
// the issuer's business; this only decides when to ask for a new one).
func jwtExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return time.Time{}, false
	}
	return time.Unix(c.Exp, 0), true
}
