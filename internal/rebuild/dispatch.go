package rebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/template"
	"time"
)

// Dispatch triggers an external CI pipeline and returns at once with
// Result.Pending set: the rebuilt image arrives later as a push of Target.
// Configuration keys:
//
//	provider   webhook | github | azure | jenkins | gitlab
//	url        base URL (github default https://api.github.com, gitlab
//	           https://gitlab.com, azure https://dev.azure.com; jenkins and
//	           webhook: required, webhook: the full URL)
//	token_env  name of the environment variable holding the secret (GitHub
//	           token, Azure PAT, Jenkins API token, GitLab trigger token,
//	           webhook bearer token), read at each dispatch; the secret is never
//	           logged or put in errors
//	token      the secret itself, for callers that already read it from the
//	           environment (drydock's configuration: rebuild.withEnv.token);
//	           takes precedence over token_env
//	params     JSON object of parameter name → template (GitHub inputs, Azure
//	           templateParameters, Jenkins parameters, GitLab variables).
//	           Default for jenkins and gitlab: DRYDOCK_NEW_BASE, DRYDOCK_NEW_BASE_TAG,
//	           DRYDOCK_OLD_BASE, DRYDOCK_TARGET, DRYDOCK_CURRENT, DRYDOCK_REBUILD_ID;
//	           none for github and azure, which reject undeclared inputs
//	timeout    HTTP timeout (default 30s)
//
//	github:  owner, repo, workflow (file name or ID), ref (branch or tag, default main)
//	azure:   org, project, pipeline (ID), ref (refName, default refs/heads/main), user (default empty)
//	jenkins: job ("folder/name" for folders), user, crumb ("true" fetches a CSRF crumb first)
//	gitlab:  project (ID or "group/name"), ref (default main)
//	webhook: method (default POST), body (text/template of a JSON document;
//	         default a JSON object of all request fields; the function json
//	         quotes a value), headers (JSON object), token_header (the header
//	         carrying the raw token; default "Authorization: Bearer <token>")
//
// Templates see .NewBase .NewBaseTag .OldBase .Target .Current .ID .Name .Env.
type Dispatch struct {
	provider string
	cfg      map[string]string
	params   map[string]*template.Template
	body     *template.Template
	headers  map[string]string
	client   *http.Client
}

var defaultBaseURLs = map[string]string{
	"github": "https://api.github.com",
	"gitlab": "https://gitlab.com",
	"azure":  "https://dev.azure.com",
}

var required = map[string][]string{
	"webhook": {"url"},
	"github":  {"owner", "repo", "workflow", "token_env"},
	"azure":   {"org", "project", "pipeline", "token_env"},
	"jenkins": {"url", "job", "user", "token_env"},
	"gitlab":  {"project", "token_env"},
}

var defaultParams = map[string]string{
	"DRYDOCK_NEW_BASE":     "{{.NewBase}}",
	"DRYDOCK_NEW_BASE_TAG": "{{.NewBaseTag}}",
	"DRYDOCK_OLD_BASE":     "{{.OldBase}}",
	"DRYDOCK_TARGET":       "{{.Target}}",
	"DRYDOCK_CURRENT":      "{{.Current}}",
	"DRYDOCK_REBUILD_ID":   "{{.ID}}",
}

const defaultWebhookBody = `{"name":{{json .Name}},"target":{{json .Target}},"current":{{json .Current}},"oldBase":{{json .OldBase}},"newBase":{{json .NewBase}},"newBaseTag":{{json .NewBaseTag}},"id":{{json .ID}}}`

var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

func newDispatch(cfg map[string]string) (Executor, error) {
	p := cfg["provider"]
	req, ok := required[p]
	if !ok {
		return nil, fmt.Errorf("dispatch: provider %q: want webhook, github, azure, jenkins or gitlab", p)
	}
	for _, k := range req {
		if cfg[k] == "" && !(k == "token_env" && cfg["token"] != "") {
			return nil, fmt.Errorf("dispatch %s: %s (or token) is required", p, k)
		}
	}
	x := &Dispatch{provider: p, cfg: map[string]string{}, params: map[string]*template.Template{}, headers: map[string]string{}}
	for k, v := range cfg {
		x.cfg[k] = v
	}
	if x.cfg["url"] == "" {
		x.cfg["url"] = defaultBaseURLs[p]
	}
	if _, err := url.Parse(x.cfg["url"]); err != nil {
		return nil, fmt.Errorf("dispatch %s: url: %w", p, err)
	}
	x.cfg["url"] = strings.TrimSuffix(x.cfg["url"], "/")
	timeout := 30 * time.Second
	if v := cfg["timeout"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("dispatch %s: timeout %q: want a positive duration like 30s", p, v)
		}
		timeout = d
	}
	x.client = &http.Client{
		Timeout: timeout,
		// A redirect would replay the request (and its credentials)
		// somewhere not configured; report it instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	params := map[string]string{}
	if v := cfg["params"]; v != "" {
		if err := json.Unmarshal([]byte(v), &params); err != nil {
			return nil, fmt.Errorf("dispatch %s: params must be a JSON object of strings: %w", p, err)
		}
	} else if p == "jenkins" || p == "gitlab" {
		params = defaultParams
	}
	for k, v := range params {
		t, err := template.New(k).Funcs(templateFuncs).Option("missingkey=error").Parse(v)
		if err != nil {
			return nil, fmt.Errorf("dispatch %s: params %s: %w", p, k, err)
		}
		x.params[k] = t
	}
	if p == "webhook" {
		body := cfg["body"]
		if body == "" {
			body = defaultWebhookBody
		}
		t, err := template.New("body").Funcs(templateFuncs).Option("missingkey=error").Parse(body)
		if err != nil {
			return nil, fmt.Errorf("dispatch webhook: body: %w", err)
		}
		x.body = t
		if v := cfg["headers"]; v != "" {
			if err := json.Unmarshal([]byte(v), &x.headers); err != nil {
				return nil, fmt.Errorf("dispatch webhook: headers must be a JSON object of strings: %w", err)
			}
		}
	}
	return x, nil
}

// Name is "dispatch".
func (x *Dispatch) Name() string { return "dispatch" }

// Rebuild sends the trigger request.
func (x *Dispatch) Rebuild(ctx context.Context, req Request) (Result, error) {
	data := buildData{NewBase: req.NewBase, NewBaseTag: req.NewBaseTag, OldBase: req.OldBase, Target: req.Target, Current: req.Current, ID: req.ID, Name: req.Name, Env: req.Env}
	if data.Env == nil {
		data.Env = map[string]string{}
	}
	token := x.cfg["token"]
	if env := x.cfg["token_env"]; token == "" && env != "" {
		token = os.Getenv(env)
		if token == "" {
			return Result{}, fmt.Errorf("dispatch %s: environment variable %s (token_env) is empty", x.provider, env)
		}
	}
	params := map[string]string{}
	for k, t := range x.params {
		var b strings.Builder
		if err := t.Execute(&b, data); err != nil {
			return Result{}, fmt.Errorf("dispatch %s: params %s: %w", x.provider, k, err)
		}
		params[k] = b.String()
	}
	hr, what, err := x.request(ctx, data, params, token)
	if err != nil {
		return Result{}, err
	}
	resp, err := x.client.Do(hr)
	if err != nil {
		return Result{}, fmt.Errorf("dispatch %s: %s: %s", x.provider, what, redact(transportError(err), token))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{}, fmt.Errorf("dispatch %s: %s: HTTP %d: %s", x.provider, what, resp.StatusCode, redact(snippet(body), token))
	}
	log := fmt.Sprintf("dispatched %s (HTTP %d)", what, resp.StatusCode)
	if loc := resp.Header.Get("Location"); loc != "" {
		log += "; queued at " + loc
	}
	var created struct {
		WebURL string `json:"web_url"`
		Links  struct {
			Web struct {
				Href string `json:"href"`
			} `json:"web"`
		} `json:"_links"`
	}
	if json.Unmarshal(body, &created) == nil {
		if u := firstNonEmpty(created.WebURL, created.Links.Web.Href); u != "" {
			log += "; " + u
		}
	}
	return Result{Pending: true, Log: redact(log, token)}, nil
}

// request builds the provider's HTTP request and a short description of it.
func (x *Dispatch) request(ctx context.Context, data buildData, params map[string]string, token string) (*http.Request, string, error) {
	c := x.cfg
	base := c["url"]
	jsonReq := func(u string, v any) (*http.Request, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		r.Header.Set("Content-Type", "application/json")
		return r, nil
	}
	formReq := func(u string, f url.Values) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(f.Encode()))
		if err != nil {
			return nil, err
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r, nil
	}
	var (
		r    *http.Request
		err  error
		what string
	)
	switch x.provider {
	case "github":
		ref := firstNonEmpty(c["ref"], "main")
		u := fmt.Sprintf("%s/repos/%s/%s/actions/workflows/%s/dispatches", base, url.PathEscape(c["owner"]), url.PathEscape(c["repo"]), url.PathEscape(c["workflow"]))
		r, err = jsonReq(u, map[string]any{"ref": ref, "inputs": params})
		if err == nil {
			r.Header.Set("Authorization", "Bearer "+token)
			r.Header.Set("Accept", "application/vnd.github+json")
			r.Header.Set("X-GitHub-Api-Version", "2022-11-28")
		}
		what = fmt.Sprintf("GitHub Actions workflow %s on %s/%s@%s", c["workflow"], c["owner"], c["repo"], ref)
	case "azure":
		ref := firstNonEmpty(c["ref"], "refs/heads/main")
		u := fmt.Sprintf("%s/%s/%s/_apis/pipelines/%s/runs?api-version=7.1", base, url.PathEscape(c["org"]), url.PathEscape(c["project"]), url.PathEscape(c["pipeline"]))
		body := map[string]any{
			"resources":          map[string]any{"repositories": map[string]any{"self": map[string]any{"refName": ref}}},
			"templateParameters": params,
		}
		r, err = jsonReq(u, body)
		if err == nil {
			r.SetBasicAuth(c["user"], token)
			r.Header.Set("Accept", "application/json")
		}
		what = fmt.Sprintf("Azure Pipelines pipeline %s in %s/%s on %s", c["pipeline"], c["org"], c["project"], ref)
	case "jenkins":
		var segs []string
		for _, s := range strings.Split(strings.Trim(c["job"], "/"), "/") {
			segs = append(segs, "job", url.PathEscape(s))
		}
		u := base + "/" + strings.Join(segs, "/") + "/buildWithParameters"
		f := url.Values{}
		for k, v := range params {
			f.Set(k, v)
		}
		r, err = formReq(u, f)
		if err == nil {
			r.SetBasicAuth(c["user"], token)
			if c["crumb"] == "true" {
				field, crumb, cerr := x.jenkinsCrumb(ctx, token)
				if cerr != nil {
					return nil, "", cerr
				}
				r.Header.Set(field, crumb)
			}
		}
		what = fmt.Sprintf("Jenkins job %s", c["job"])
	case "gitlab":
		ref := firstNonEmpty(c["ref"], "main")
		u := fmt.Sprintf("%s/api/v4/projects/%s/trigger/pipeline", base, url.PathEscape(c["project"]))
		f := url.Values{}
		f.Set("token", token)
		f.Set("ref", ref)
		for k, v := range params {
			f.Set("variables["+k+"]", v)
		}
		r, err = formReq(u, f)
		what = fmt.Sprintf("GitLab pipeline of project %s on %s", c["project"], ref)
	case "webhook":
		var b bytes.Buffer
		if err := x.body.Execute(&b, data); err != nil {
			return nil, "", fmt.Errorf("dispatch webhook: body: %w", err)
		}
		if !json.Valid(b.Bytes()) {
			return nil, "", errors.New("dispatch webhook: the body template did not produce valid JSON (quote values with the json function)")
		}
		method := firstNonEmpty(c["method"], http.MethodPost)
		r, err = http.NewRequestWithContext(ctx, method, base, &b)
		if err == nil {
			r.Header.Set("Content-Type", "application/json")
			keys := make([]string, 0, len(x.headers))
			for k := range x.headers {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				r.Header.Set(k, x.headers[k])
			}
			if token != "" {
				if h := c["token_header"]; h != "" {
					r.Header.Set(h, token)
				} else {
					r.Header.Set("Authorization", "Bearer "+token)
				}
			}
		}
		what = "webhook " + hostOf(base)
	}
	if err != nil {
		return nil, "", fmt.Errorf("dispatch %s: %s", x.provider, redact(err.Error(), token))
	}
	return r, what, nil
}

func (x *Dispatch) jenkinsCrumb(ctx context.Context, token string) (string, string, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, x.cfg["url"]+"/crumbIssuer/api/json", nil)
	if err != nil {
		return "", "", fmt.Errorf("dispatch jenkins: crumb: %s", redact(err.Error(), token))
	}
	r.SetBasicAuth(x.cfg["user"], token)
	resp, err := x.client.Do(r)
	if err != nil {
		return "", "", fmt.Errorf("dispatch jenkins: crumb: %s", redact(transportError(err), token))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("dispatch jenkins: crumb: HTTP %d: %s", resp.StatusCode, redact(snippet(body), token))
	}
	var c struct {
		Crumb             string `json:"crumb"`
		CrumbRequestField string `json:"crumbRequestField"`
	}
	if err := json.Unmarshal(body, &c); err != nil || c.Crumb == "" || c.CrumbRequestField == "" {
		return "", "", errors.New("dispatch jenkins: crumb: the crumb issuer's answer has no crumb")
	}
	return c.CrumbRequestField, c.Crumb, nil
}

// transportError says what failed without the URL, whose path or query may
// carry a secret (webhook URLs often do).
func transportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + hostOf(ue.URL) + ": " + ue.Err.Error()
	}
	return err.Error()
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return "(url)"
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// redact removes the secret from s, should a server or library echo it.
func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}
