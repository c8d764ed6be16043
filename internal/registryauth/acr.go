package registryauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Azure Container Registry without secrets: a Microsoft Entra token (from
// workload identity or the managed identity) is exchanged at
// https://<registry>/oauth2/exchange for an ACR refresh token, which the
// registry's own token endpoint (/oauth2/token) turns into an access token
// per repository scope when go-containerregistry presents it as the
// password of the null-GUID user, as "az acr login" and the kubelet's ACR
// provider do.

// acrUser is the user name ACR expects with a refresh token as password.
const acrUser = "00000000-0000-0000-0000-000000000000"

// acrResource is the Entra resource (audience) of ACR tokens.
const acrResource = "https://containerregistry.azure.net"

// EntraTokenSource returns a Microsoft Entra access token for ACR.
type EntraTokenSource interface {
	EntraToken(ctx context.Context) (token string, expires time.Time, err error)
}

// WorkloadIdentity is Entra workload identity: the projected service
// account token in TokenFile is the client assertion of a client
// credentials grant at <AuthorityHost>/<TenantID>/oauth2/v2.0/token.
type WorkloadIdentity struct {
	AuthorityHost, TenantID, ClientID, TokenFile string
	Client                                       *http.Client
}

// EntraToken implements EntraTokenSource.
func (w *WorkloadIdentity) EntraToken(ctx context.Context) (string, time.Time, error) {
	assertion, err := os.ReadFile(w.TokenFile)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("workload identity: federated token file: %w", err)
	}
	host := w.AuthorityHost
	if host == "" {
		host = "https://login.microsoftonline.com/"
	}
	u, err := url.JoinPath(host, url.PathEscape(w.TenantID), "oauth2/v2.0/token")
	if err != nil {
		return "", time.Time{}, fmt.Errorf("workload identity: AZURE_AUTHORITY_HOST: %w", err)
	}
	form := url.Values{
		"client_id":             {w.ClientID},
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {strings.TrimSpace(string(assertion))},
		"scope":                 {acrResource + "/.default"},
	}
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := postForm(ctx, w.Client, u, form, nil, &out); err != nil {
		return "", time.Time{}, fmt.Errorf("workload identity: %w", err)
	}
	if out.AccessToken == "" {
		return "", time.Time{}, errors.New("workload identity: the token endpoint returned no access_token")
	}
	return out.AccessToken, time.Now().Add(time.Duration(out.ExpiresIn) * time.Second), nil
}

// ManagedIdentity is the Azure Instance Metadata Service token endpoint
// of a VM's (a node's) managed identity.
type ManagedIdentity struct {
	// Endpoint defaults to the IMDS token endpoint.
	Endpoint string
	// ClientID picks a user-assigned identity (empty: system-assigned).
	ClientID string
	Client   *http.Client
}

// EntraToken implements EntraTokenSource.
func (m *ManagedIdentity) EntraToken(ctx context.Context) (string, time.Time, error) {
	ep := m.Endpoint
	if ep == "" {
		ep = "http://169.254.169.254/metadata/identity/oauth2/token"
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("managed identity: endpoint: %w", err)
	}
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {acrResource}}
	if m.ClientID != "" {
		q.Set("client_id", m.ClientID)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Metadata", "true")
	var out struct {
		AccessToken string `json:"access_token"`
		ExpiresOn   string `json:"expires_on"` // seconds since the epoch, as a string
	}
	if err := doJSON(m.Client, req, &out); err != nil {
		return "", time.Time{}, fmt.Errorf("managed identity: %w", err)
	}
	if out.AccessToken == "" {
		return "", time.Time{}, errors.New("managed identity: IMDS returned no access_token")
	}
	exp := time.Now().Add(time.Hour)
	if s, err := strconv.ParseInt(out.ExpiresOn, 10, 64); err == nil {
		exp = time.Unix(s, 0)
	}
	return out.AccessToken, exp, nil
}

// ACR is a keychain for Azure Container Registry.
type ACR struct {
	Entra    EntraTokenSource
	TenantID string
	// IsRegistry reports whether a host is an ACR registry (default: the
	// azurecr.io, azurecr.cn and azurecr.us domains).
	IsRegistry func(host string) bool
	// Client makes the exchange calls (HTTPS).
	Client *http.Client

	entra, refresh tokenCache
}

var _ authn.ContextKeychain = (*ACR)(nil)

// IsACRHost reports whether host is in an ACR domain.
func IsACRHost(host string) bool {
	h, _, _ := strings.Cut(host, ":")
	for _, d := range []string{".azurecr.io", ".azurecr.cn", ".azurecr.us"} {
		if strings.HasSuffix(h, d) {
			return true
		}
	}
	return false
}

// ACRFromEnv is the ACR keychain of the pod's Entra workload identity
// (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, optional
// AZURE_AUTHORITY_HOST), else of the node's managed identity
// (AZURE_CLIENT_ID picks a user-assigned one).
func ACRFromEnv() *ACR {
	if f := os.Getenv("AZURE_FEDERATED_TOKEN_FILE"); f != "" {
		return &ACR{TenantID: os.Getenv("AZURE_TENANT_ID"), Entra: &WorkloadIdentity{
			AuthorityHost: os.Getenv("AZURE_AUTHORITY_HOST"), TenantID: os.Getenv("AZURE_TENANT_ID"),
			ClientID: os.Getenv("AZURE_CLIENT_ID"), TokenFile: f,
		}}
	}
	return &ACR{TenantID: os.Getenv("AZURE_TENANT_ID"), Entra: &ManagedIdentity{ClientID: os.Getenv("AZURE_CLIENT_ID")}}
}

// Resolve implements authn.Keychain.
func (a *ACR) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return a.ResolveContext(context.Background(), r)
}

// ResolveContext implements authn.ContextKeychain.
func (a *ACR) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	is := a.IsRegistry
	if is == nil {
		is = IsACRHost
	}
	if !is(host) {
		return authn.Anonymous, nil
	}
	rt, err := a.refresh.get(ctx, host, func(ctx context.Context) (string, time.Time, error) {
		at, err := a.entra.get(ctx, "entra", a.Entra.EntraToken)
		if err != nil {
			return "", time.Time{}, err
		}
		return a.exchange(ctx, host, at)
	})
	if err != nil {
		return nil, fmt.Errorf("acr %s: %w", host, err)
	}
	// As an identity token, go-containerregistry trades it at the realm
	// (/oauth2/token) with grant_type=refresh_token for each scope.
	return authn.FromConfig(authn.AuthConfig{Username: acrUser, IdentityToken: rt}), nil
}

// exchange trades an Entra access token for an ACR refresh token.
func (a *ACR) exchange(ctx context.Context, host, entraToken string) (string, time.Time, error) {
	form := url.Values{"grant_type": {"access_token"}, "service": {host}, "access_token": {entraToken}}
	if a.TenantID != "" {
		form.Set("tenant", a.TenantID)
	}
	var out struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := postForm(ctx, a.Client, "https://"+host+"/oauth2/exchange", form, nil, &out); err != nil {
		return "", time.Time{}, fmt.Errorf("exchange the Entra token for a refresh token: %w", err)
	}
	if out.RefreshToken == "" {
		return "", time.Time{}, errors.New("exchange: no refresh_token in the answer")
	}
	exp, ok := jwtExpiry(out.RefreshToken)
	if !ok {
		exp = time.Now().Add(time.Hour)
	}
	return out.RefreshToken, exp, nil
}
