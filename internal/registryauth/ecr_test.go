package registryauth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// verifySigV4 checks an AWS Signature Version 4 header the way AWS does:
// rebuild the canonical request from what arrived, over the headers the
// signature lists, and compare signatures. Written apart from signV4.
func verifySigV4(r *http.Request, body []byte, secret, wantRegion, wantService string) error {
	auth := r.Header.Get("Authorization")
	const pfx = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, pfx) {
		return fmt.Errorf("authorization %q is not SigV4", auth)
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, pfx), ", ") {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[2] != wantRegion || cred[3] != wantService || cred[4] != "aws4_request" {
		return fmt.Errorf("credential scope %q", fields["Credential"])
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !sort.StringsAreSorted(signed) {
		return fmt.Errorf("signed headers not sorted: %v", signed)
	}
	for _, must := range []string{"host", "x-amz-date", "x-amz-target", "x-amz-security-token"} {
		if !strings.Contains(";"+fields["SignedHeaders"]+";", ";"+must+";") {
			return fmt.Errorf("%s not signed", must)
		}
	}
	var ch strings.Builder
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		ch.WriteString(h + ":" + strings.TrimSpace(v) + "\n")
	}
	ph := sha256Hex(body)
	canon := r.Method + "\n" + r.URL.EscapedPath() + "\n" + r.URL.Query().Encode() + "\n" + ch.String() + "\n" + fields["SignedHeaders"] + "\n" + ph
	date := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", date)
	if err != nil || time.Since(t).Abs() > 5*time.Minute {
		return fmt.Errorf("x-amz-date %q", date)
	}
	sts := "AWS4-HMAC-SHA256\n" + date + "\n" + strings.Join(cred[1:], "/") + "\n" + sha256Hex([]byte(canon))
	k := hmacSHA256([]byte("AWS4"+secret), cred[1])
	for _, p := range cred[2:] {
		k = hmacSHA256(k, p)
	}
	if want := fmt.Sprintf("%x", hmacSHA256(k, sts)); want != fields["Signature"] {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

// fakeAWS stands for AWS STS (AssumeRoleWithWebIdentity, the query API
// with an XML answer), the EKS Pod Identity Agent's credentials endpoint,
// and the ECR API (GetAuthorizationToken, JSON 1.1 protocol, SigV4).
func fakeAWS(t *testing.T, stsCalls, podCalls, ecrCalls *atomic.Int64) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/sts/":
			stsCalls.Add(1)
			f, _ := parseQuery(string(body))
			for k, v := range map[string]string{"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
				"RoleArn": "arn:aws:iam::123456789012:role/drydock", "WebIdentityToken": "eks-sa-jwt"} {
				if f[k] != v {
					t.Errorf("STS %s = %q, want %q", k, f[k], v)
				}
			}
			if !strings.HasPrefix(f["RoleSessionName"], "drydock-") {
				t.Errorf("RoleSessionName %q", f["RoleSessionName"])
			}
			w.Header().Set("Content-Type", "text/xml")
			fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAIRSA</AccessKeyId><SecretAccessKey>irsa-secret</SecretAccessKey><SessionToken>irsa-session</SessionToken><Expiration>%s</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
				time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		case "/v1/credentials":
			podCalls.Add(1)
			if r.Header.Get("Authorization") != "pod-identity-token" {
				t.Errorf("pod identity Authorization %q", r.Header.Get("Authorization"))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": "ASIAPOD", "SecretAccessKey": "pod-secret", "Token": "pod-session",
				"Expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
		case "/ecr/":
			ecrCalls.Add(1)
			if r.Header.Get("X-Amz-Target") != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Errorf("ECR target %q, content type %q", r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"))
			}
			secret := map[string]string{"irsa-session": "irsa-secret", "pod-session": "pod-secret"}[r.Header.Get("X-Amz-Security-Token")]
			if err := verifySigV4(r, body, secret, "eu-west-1", "ecr"); err != nil {
				t.Errorf("ECR request signature: %v", err)
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"__type":"InvalidSignatureException"}`)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"authorizationData": []map[string]any{{
				"authorizationToken": base64.StdEncoding.EncodeToString([]byte("AWS:ecr-password")),
				"expiresAt":          float64(time.Now().Add(12 * time.Hour).Unix()),
				"proxyEndpoint":      "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
			}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func parseQuery(s string) (map[string]string, error) {
	out := map[string]string{}
	r, err := http.NewRequest("GET", "/?"+s, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	return out, nil
}

func TestECR(t *testing.T) {
	var stsCalls, podCalls, ecrCalls atomic.Int64
	aws := fakeAWS(t, &stsCalls, &podCalls, &ecrCalls)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("eks-sa-jwt\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "pod-token"), []byte("pod-identity-token"), 0o600)

	// The registry itself: basic auth with the token's user and password.
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var open atomic.Bool
	regSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !open.Load() && (!ok || u != "AWS" || p != "ecr-password") {
			w.Header().Set("WWW-Authenticate", `Basic realm="https://ecr"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer regSrv.Close()
	host := strings.TrimPrefix(regSrv.URL, "http://")
	ref, _ := name.NewTag(host + "/team/app:1")
	open.Store(true)
	img, _ := random.Image(128, 1)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	open.Store(false)

	for _, tc := range []struct {
		name   string
		source AWSCredentialSource
		calls  *atomic.Int64
	}{
		{"irsa", &IRSA{RoleARN: "arn:aws:iam::123456789012:role/drydock", TokenFile: filepath.Join(dir, "token"), Region: "eu-west-1",
			STSEndpoint: aws.URL + "/sts/", Client: aws.Client()}, &stsCalls},
		{"pod-identity", &PodIdentity{URI: aws.URL + "/v1/credentials", TokenFile: filepath.Join(dir, "pod-token"), Client: aws.Client()}, &podCalls},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ecrCalls.Store(0)
			e := &ECR{Credentials: tc.source, Client: aws.Client(),
				Region:   func(h string) string { return map[string]string{host: "eu-west-1"}[h] },
				Endpoint: func(string) string { return aws.URL + "/ecr/" }}
			var wg sync.WaitGroup
			for range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := remote.Head(ref, remote.WithAuthFromKeychain(e)); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if c, x := tc.calls.Load(), ecrCalls.Load(); c != 1 || x != 1 {
				t.Errorf("6 concurrent pulls: %d credential calls, %d GetAuthorizationToken; want 1 and 1", c, x)
			}
			// 11 h 56 min on, the 12 h token is renewed, with new AWS
			// credentials (theirs lasted 1 h).
			clock := time.Now().Add(11*time.Hour + 56*time.Minute)
			e.now = func() time.Time { return clock }
			e.tokens.now = e.now
			if _, err := e.Resolve(ref.Context()); err != nil {
				t.Fatal(err)
			}
			if c, x := tc.calls.Load(), ecrCalls.Load(); c != 2 || x != 2 {
				t.Errorf("near expiry: %d credential calls, %d GetAuthorizationToken; want 2 and 2", c, x)
			}
		})
	}
	if got := ECRRegion("123456789012.dkr.ecr.eu-west-1.amazonaws.com"); got != "eu-west-1" {
		t.Errorf("ECRRegion = %q", got)
	}
	if got := ECRRegion("registry.example"); got != "" {
		t.Errorf("ECRRegion of a non-ECR host = %q", got)
	}
}
