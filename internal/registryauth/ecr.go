package registryauth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/sync/singleflight"
)

// Amazon ECR without secrets: AWS credentials from IRSA (STS
// AssumeRoleWithWebIdentity with the projected service account token) or
// EKS Pod Identity (the agent's credentials endpoint), then ECR's
// GetAuthorizationToken (signed with Signature Version 4) for the
// registry's region, whose token is "AWS:<password>" for 12 hours.

// AWSCredentials are temporary AWS credentials.
type AWSCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expires                                    time.Time
}

// AWSCredentialSource returns AWS credentials.
type AWSCredentialSource interface {
	AWSCredentials(ctx context.Context) (AWSCredentials, error)
}

// IRSA is IAM Roles for Service Accounts: AssumeRoleWithWebIdentity.
type IRSA struct {
	RoleARN, TokenFile, Region string
	// STSEndpoint defaults to https://sts.<Region>.amazonaws.com/.
	STSEndpoint string
	Client      *http.Client
}

// AWSCredentials implements AWSCredentialSource.
func (i *IRSA) AWSCredentials(ctx context.Context) (AWSCredentials, error) {
	tok, err := os.ReadFile(i.TokenFile)
	if err != nil {
		return AWSCredentials{}, fmt.Errorf("irsa: web identity token: %w", err)
	}
	ep := i.STSEndpoint
	if ep == "" {
		ep = "https://sts." + i.Region + ".amazonaws.com/"
	}
	form := url.Values{
		"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {i.RoleARN},
		"RoleSessionName": {"drydock-" + fmt.Sprint(time.Now().Unix())}, "WebIdentityToken": {strings.TrimSpace(string(tok))},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep, strings.NewReader(form.Encode()))
	if err != nil {
		return AWSCredentials{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hc := i.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return AWSCredentials{}, fmt.Errorf("irsa: %s: %w", redact(req.URL), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `xml:"Error"`
		}
		xml.Unmarshal(b, &e)
		return AWSCredentials{}, fmt.Errorf("irsa: AssumeRoleWithWebIdentity: %s: %s %s", resp.Status, e.Error.Code, e.Error.Message)
	}
	var out struct {
		Creds struct {
			AccessKeyID     string    `xml:"AccessKeyId"`
			SecretAccessKey string    `xml:"SecretAccessKey"`
			SessionToken    string    `xml:"SessionToken"`
			Expiration      time.Time `xml:"Expiration"`
		} `xml:"AssumeRoleWithWebIdentityResult>Credentials"`
	}
	if err := xml.Unmarshal(b, &out); err != nil || out.Creds.AccessKeyID == "" {
		return AWSCredentials{}, fmt.Errorf("irsa: AssumeRoleWithWebIdentity: no credentials in the answer")
	}
	c := out.Creds
	return AWSCredentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expiration}, nil
}

// PodIdentity is EKS Pod Identity (and the ECS container credentials
// endpoint): GET AWS_CONTAINER_CREDENTIALS_FULL_URI with the token from
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
type PodIdentity struct {
	URI, TokenFile string
	Client         *http.Client
}

// AWSCredentials implements AWSCredentialSource.
func (p *PodIdentity) AWSCredentials(ctx context.Context) (AWSCredentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URI, nil)
	if err != nil {
		return AWSCredentials{}, fmt.Errorf("pod identity: %w", err)
	}
	if p.TokenFile != "" {
		tok, err := os.ReadFile(p.TokenFile)
		if err != nil {
			return AWSCredentials{}, fmt.Errorf("pod identity: authorization token: %w", err)
		}
		req.Header.Set("Authorization", strings.TrimSpace(string(tok)))
	}
	var out struct {
		AccessKeyID     string    `json:"AccessKeyId"`
		SecretAccessKey string    `json:"SecretAccessKey"`
		Token           string    `json:"Token"`
		Expiration      time.Time `json:"Expiration"`
	}
	if err := doJSON(p.Client, req, &out); err != nil {
		return AWSCredentials{}, fmt.Errorf("pod identity: %w", err)
	}
	if out.AccessKeyID == "" {
		return AWSCredentials{}, errors.New("pod identity: no credentials in the answer")
	}
	return AWSCredentials{out.AccessKeyID, out.SecretAccessKey, out.Token, out.Expiration}, nil
}

var ecrHost = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// ECRRegion returns the region of an ECR registry host, or "".
func ECRRegion(host string) string {
	h, _, _ := strings.Cut(host, ":")
	if m := ecrHost.FindStringSubmatch(h); m != nil {
		return m[2]
	}
	return ""
}

// ECR is a keychain for Amazon ECR.
type ECR struct {
	Credentials AWSCredentialSource
	// Region returns a registry host's region, "" when it is not ECR
	// (default ECRRegion).
	Region func(host string) string
	// Endpoint returns the ECR API endpoint of a region (default
	// https://api.ecr.<region>.amazonaws.com/).
	Endpoint func(region string) string
	Client   *http.Client
	now      func() time.Time

	credMu     sync.Mutex
	cred       AWSCredentials
	credFlight singleflight.Group
	tokens     tokenCache // per region
}

// awsCredentials are cached until shortly before they expire and fetched
// once under concurrent use, like the tokens.
func (e *ECR) awsCredentials(ctx context.Context) (AWSCredentials, error) {
	now := time.Now
	if e.now != nil {
		now = e.now
	}
	e.credMu.Lock()
	c := e.cred
	e.credMu.Unlock()
	if c.AccessKeyID != "" && now().Add(refreshMargin).Before(c.Expires) {
		return c, nil
	}
	v, err, _ := e.credFlight.Do("aws", func() (any, error) {
		c, err := e.Credentials.AWSCredentials(ctx)
		if err != nil {
			return AWSCredentials{}, err
		}
		e.credMu.Lock()
		e.cred = c
		e.credMu.Unlock()
		return c, nil
	})
	if err != nil {
		return AWSCredentials{}, err
	}
	return v.(AWSCredentials), nil
}

var _ authn.ContextKeychain = (*ECR)(nil)

// Resolve implements authn.Keychain.
func (e *ECR) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return e.ResolveContext(context.Background(), r)
}

// ResolveContext implements authn.ContextKeychain.
func (e *ECR) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	regionOf := e.Region
	if regionOf == nil {
		regionOf = ECRRegion
	}
	region := regionOf(r.RegistryStr())
	if region == "" {
		return authn.Anonymous, nil
	}
	tok, err := e.tokens.get(ctx, region, func(ctx context.Context) (string, time.Time, error) {
		return e.authorizationToken(ctx, region)
	})
	if err != nil {
		return nil, fmt.Errorf("ecr %s: %w", r.RegistryStr(), err)
	}
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return nil, fmt.Errorf("ecr %s: authorization token is not base64", r.RegistryStr())
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, fmt.Errorf("ecr %s: authorization token is not user:password", r.RegistryStr())
	}
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: pass}), nil
}

func (e *ECR) authorizationToken(ctx context.Context, region string) (string, time.Time, error) {
	c, err := e.awsCredentials(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	ep := "https://api.ecr." + region + ".amazonaws.com/"
	if e.Endpoint != nil {
		ep = e.Endpoint(region)
	}
	body := []byte("{}")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep, bytes.NewReader(body))
	if err != nil {
		return "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
	// Signed at the real time (AWS refuses more than 5 minutes of skew),
	// whatever clock the caches are tested with.
	signV4(req, body, c, region, "ecr", time.Now().UTC())
	var out struct {
		AuthorizationData []struct {
			AuthorizationToken string  `json:"authorizationToken"`
			ExpiresAt          float64 `json:"expiresAt"`
		} `json:"authorizationData"`
	}
	if err := doJSON(e.Client, req, &out); err != nil {
		return "", time.Time{}, fmt.Errorf("GetAuthorizationToken: %w", err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == "" {
		return "", time.Time{}, errors.New("GetAuthorizationToken: no authorization data")
	}
	d := out.AuthorizationData[0]
	return d.AuthorizationToken, time.Unix(int64(d.ExpiresAt), 0), nil
}

// signV4 signs req with AWS Signature Version 4 (header form).
func signV4(req *http.Request, body []byte, c AWSCredentials, region, service string, t time.Time) {
	amzDate := t.Format("20060102T150405Z")
	day := t.Format("20060102")
	req.Header.Set("X-Amz-Date", amzDate)
	if c.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.SessionToken)
	}
	payloadHash := sha256Hex(body)
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	headers := map[string]string{"host": req.URL.Host}
	for k, v := range req.Header {
		headers[strings.ToLower(k)] = strings.TrimSpace(strings.Join(v, ","))
	}
	var names []string
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	var canonHeaders strings.Builder
	for _, k := range names {
		canonHeaders.WriteString(k + ":" + headers[k] + "\n")
	}
	signed := strings.Join(names, ";")
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon := strings.Join([]string{req.Method, path, req.URL.Query().Encode(), canonHeaders.String(), signed, payloadHash}, "\n")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + sha256Hex([]byte(canon))
	k := hmacSHA256([]byte("AWS4"+c.SecretAccessKey), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	sig := hex.EncodeToString(hmacSHA256(k, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+c.AccessKeyID+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
}

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}
