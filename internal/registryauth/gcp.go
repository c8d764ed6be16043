package registryauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Google Artifact Registry and Container Registry without secrets: an
// OAuth access token for the cloud-platform scope, from the GCE metadata
// server (GKE workload identity serves it there too) or from a workload
// identity federation credential file (STS token exchange, optionally
// impersonating a service account), presented as the password of the user
// "oauth2accesstoken", as gcloud's credential helper does.

const gcpScope = "https://www.googleapis.com/auth/cloud-platform"

// GCPTokenSource returns a Google OAuth access token.
type GCPTokenSource interface {
	GCPToken(ctx context.Context) (token string, expires time.Time, err error)
}

// MetadataServer is the GCE metadata server's default service account
// token endpoint.
type MetadataServer struct {
	// Host defaults to $GCE_METADATA_HOST, else metadata.google.internal.
	Host   string
	Client *http.Client
}

// GCPToken implements GCPTokenSource.
func (m *MetadataServer) GCPToken(ctx context.Context) (string, time.Time, error) {
	host := m.Host
	if host == "" {
		host = os.Getenv("GCE_METADATA_HOST")
	}
	if host == "" {
		host = "metadata.google.internal"
	}
	u := "http://" + host + "/computeMetadata/v1/instance/service-accounts/default/token?scopes=" + url.QueryEscape(gcpScope)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Metadata-Flavor", "Google")
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := doJSON(m.Client, req, &out); err != nil {
		return "", time.Time{}, fmt.Errorf("metadata server: %w", err)
	}
	if out.AccessToken == "" {
		return "", time.Time{}, errors.New("metadata server: no access_token")
	}
	return out.AccessToken, time.Now().Add(time.Duration(out.ExpiresIn) * time.Second), nil
}

// ExternalAccount is a workload identity federation credential file
// ("type": "external_account") whose subject token is read from a file.
type ExternalAccount struct {
	File   string
	Client *http.Client
}

type externalAccountFile struct {
	Type                           string `json:"type"`
	Audience                       string `json:"audience"`
	SubjectTokenType               string `json:"subject_token_type"`
	TokenURL                       string `json:"token_url"`
	ServiceAccountImpersonationURL string `json:"service_account_impersonation_url"`
	CredentialSource               struct {
		File   string `json:"file"`
		Format struct {
			Type                  string `json:"type"`
			SubjectTokenFieldName string `json:"subject_token_field_name"`
		} `json:"format"`
	} `json:"credential_source"`
}

// GCPToken implements GCPTokenSource.
func (e *ExternalAccount) GCPToken(ctx context.Context) (string, time.Time, error) {
	b, err := os.ReadFile(e.File)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("workload identity federation: %w", err)
	}
	var f externalAccountFile
	if err := json.Unmarshal(b, &f); err != nil {
		return "", time.Time{}, fmt.Errorf("workload identity federation: %s: %w", e.File, err)
	}
	if f.Type != "external_account" || f.CredentialSource.File == "" {
		return "", time.Time{}, fmt.Errorf("workload identity federation: %s: want type external_account with a credential_source.file", e.File)
	}
	for _, u := range []string{f.TokenURL, f.ServiceAccountImpersonationURL} {
		if p, err := url.Parse(u); u != "" && (err != nil || p.Scheme != "https") {
			return "", time.Time{}, fmt.Errorf("workload identity federation: %s: endpoint %q is not https", e.File, u)
		}
	}
	raw, err := os.ReadFile(f.CredentialSource.File)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("workload identity federation: subject token: %w", err)
	}
	subject := strings.TrimSpace(string(raw))
	if f.CredentialSource.Format.Type == "json" {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return "", time.Time{}, fmt.Errorf("workload identity federation: subject token file: %w", err)
		}
		subject, _ = m[f.CredentialSource.Format.SubjectTokenFieldName].(string)
	}
	if subject == "" {
		return "", time.Time{}, errors.New("workload identity federation: empty subject token")
	}
	form := url.Values{
		"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"audience":             {f.Audience},
		"scope":                {gcpScope},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"subject_token":        {subject},
		"subject_token_type":   {f.SubjectTokenType},
	}
	var sts struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := postForm(ctx, e.Client, f.TokenURL, form, nil, &sts); err != nil {
		return "", time.Time{}, fmt.Errorf("workload identity federation: token exchange: %w", err)
	}
	if sts.AccessToken == "" {
		return "", time.Time{}, errors.New("workload identity federation: token exchange returned no access_token")
	}
	if f.ServiceAccountImpersonationURL == "" {
		return sts.AccessToken, time.Now().Add(time.Duration(sts.ExpiresIn) * time.Second), nil
	}
	body, _ := json.Marshal(map[string]any{"scope": []string{gcpScope}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.ServiceAccountImpersonationURL, bytes.NewReader(body))
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+sts.AccessToken)
	var imp struct {
		AccessToken string    `json:"accessToken"`
		ExpireTime  time.Time `json:"expireTime"`
	}
	if err := doJSON(e.Client, req, &imp); err != nil {
		return "", time.Time{}, fmt.Errorf("workload identity federation: impersonate service account: %w", err)
	}
	if imp.AccessToken == "" {
		return "", time.Time{}, errors.New("workload identity federation: impersonation returned no accessToken")
	}
	return imp.AccessToken, imp.ExpireTime, nil
}

// GCP is a keychain for Artifact Registry and Container Registry.
type GCP struct {
	Source GCPTokenSource
	// IsRegistry reports whether a host is Google's (default: gcr.io,
	// *.gcr.io, *.pkg.dev).
	IsRegistry func(host string) bool
	cache      tokenCache
}

var _ authn.ContextKeychain = (*GCP)(nil)

// IsGCPHost reports whether host is a Google registry.
func IsGCPHost(host string) bool {
	h, _, _ := strings.Cut(host, ":")
	return h == "gcr.io" || strings.HasSuffix(h, ".gcr.io") || strings.HasSuffix(h, "-docker.pkg.dev")
}

// Resolve implements authn.Keychain.
func (g *GCP) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return g.ResolveContext(context.Background(), r)
}

// ResolveContext implements authn.ContextKeychain.
func (g *GCP) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	is := g.IsRegistry
	if is == nil {
		is = IsGCPHost
	}
	if !is(r.RegistryStr()) {
		return authn.Anonymous, nil
	}
	tok, err := g.cache.get(ctx, "gcp", g.Source.GCPToken)
	if err != nil {
		return nil, fmt.Errorf("google registry %s: %w", r.RegistryStr(), err)
	}
	return authn.FromConfig(authn.AuthConfig{Username: "oauth2accesstoken", Password: tok}), nil
}
