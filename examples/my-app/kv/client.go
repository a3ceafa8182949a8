package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the database's port when an address names none.
const DefaultPort = "5432"

// DefaultTimeout bounds a request of a Client made without an HTTPClient:
// a database that hangs must not hang the web app's requests with it.
const DefaultTimeout = 10 * time.Second

// ParseURL turns a database address into its base URL: a host
// ("db-service"), a host:port, or a URL ("http://db:5432"). The port
// defaults to DefaultPort, the scheme to http.
func ParseURL(addr string) (*url.URL, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil, errors.New("empty database address")
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("database address: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("database address %q: scheme must be http or https", addr)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("database address %q: no host", addr)
	}
	if u.Port() == "" && u.Scheme == "http" {
		u.Host = net.JoinHostPort(u.Hostname(), DefaultPort)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u, nil
}

// ClientOptions configure a Client.
type ClientOptions struct {
	// URL is the database address, as ParseURL takes it.
	URL            string
	User, Password string
	// HTTPClient defaults to a client with its own connection pool and
	// DefaultTimeout per request.
	HTTPClient *http.Client
}

// Client calls a database's HTTP API. Errors match ErrNotFound and
// ErrInvalid (with errors.Is) when the database answered 404 or 400.
type Client struct {
	base           *url.URL
	user, password string
	http           *http.Client
}

// NewClient checks opts and returns a Client.
func NewClient(opts ClientOptions) (*Client, error) {
	base, err := ParseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: DefaultTimeout}
	}
	return &Client{base: base, user: opts.User, password: opts.Password, http: hc}, nil
}

// BaseURL returns the database URL the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// Healthy returns nil if the database answers its health check.
func (c *Client) Healthy(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/healthz", nil)
	return err
}

// Get returns key's value.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	return c.do(ctx, http.MethodGet, "/kv/"+url.PathEscape(key), nil)
}

// Put sets key to value.
func (c *Client) Put(ctx context.Context, key string, value []byte) error {
	_, err := c.do(ctx, http.MethodPut, "/kv/"+url.PathEscape(key), value)
	return err
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key string) error {
	_, err := c.do(ctx, http.MethodDelete, "/kv/"+url.PathEscape(key), nil)
	return err
}

// Incr adds delta to the counter at key and returns its new value.
func (c *Client) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	body, err := c.do(ctx, http.MethodPost, "/incr/"+url.PathEscape(key)+"?by="+strconv.FormatInt(delta, 10), nil)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(body)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("incr %q: answer %q: %w", key, body, err)
	}
	return n, nil
}

// do sends one request and returns the body of a 2xx answer.
func (c *Client) do(ctx context.Context, method, pathAndQuery string, body []byte) ([]byte, error) {
	target := c.base.String() + pathAndQuery
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if c.user != "" || c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxValueSize+1))
	if err != nil {
		return nil, fmt.Errorf("database: %s %s: %w", method, pathAndQuery, err)
	}
	if resp.StatusCode/100 == 2 {
		return data, nil
	}
	msg := strings.TrimSpace(string(data))
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, fmt.Errorf("database: %s: %w", msg, ErrNotFound)
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return nil, fmt.Errorf("database: %s: %w", msg, ErrInvalid)
	}
	return nil, fmt.Errorf("database: %s %s: %s: %s", method, pathAndQuery, resp.Status, msg)
}
