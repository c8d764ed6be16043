package registryauth

import (
	"encoding/json"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// tokenClient makes token-endpoint calls; a metadata endpoint that is not
// there must not hold a review for long.
var tokenClient = &http.Client{Timeout: 10 * time.Second}

// NodeKeychain is what the kubelet would use after a pod's own secrets:
// docker config.json and credential helpers, then the cloud registries'
// identities the process has. Azure Container Registry is used with Entra
// workload identity when AZURE_FEDERATED_TOKEN_FILE is set, or with the
// node's managed identity when DRYDOCK_ACR_MANAGED_IDENTITY=true (IMDS is
// not probed unasked). Google's registries are used with a workload
// identity federation file (GOOGLE_APPLICATION_CREDENTIALS of type
// external_account) or, with DRYDOCK_GCP_METADATA=true, the metadata
// server's token (GKE workload identity). Amazon ECR is used with EKS Pod
// Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI) or IRSA (AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE), as the EKS webhooks set them.
func NodeKeychain() authn.Keychain {
	kcs := []authn.Keychain{authn.DefaultKeychain}
	if os.Getenv("AZURE_FEDERATED_TOKEN_FILE") != "" || os.Getenv("DRYDOCK_ACR_MANAGED_IDENTITY") == "true" {
		acr := ACRFromEnv()
		acr.Client = tokenClient
		switch e := acr.Entra.(type) {
		case *WorkloadIdentity:
			e.Client = tokenClient
		case *ManagedIdentity:
			e.Client = tokenClient
		}
		kcs = append(kcs, acr)
	}
	if f := os.Getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" && isExternalAccount(f) {
		kcs = append(kcs, &GCP{Source: &ExternalAccount{File: f, Client: tokenClient}})
	} else if os.Getenv("DRYDOCK_GCP_METADATA") == "true" {
		kcs = append(kcs, &GCP{Source: &MetadataServer{Client: tokenClient}})
	}
	switch {
	case os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "":
		kcs = append(kcs, &ECR{Client: tokenClient, Credentials: &PodIdentity{URI: os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
			TokenFile: os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), Client: tokenClient}})
	case os.Getenv("AWS_ROLE_ARN") != "" && os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "":
		region := os.Getenv("AWS_REGION")
		if region == "" {
			region = os.Getenv("AWS_DEFAULT_REGION")
		}
		if region == "" {
			region = "us-east-1"
		}
		kcs = append(kcs, &ECR{Client: tokenClient, Credentials: &IRSA{RoleARN: os.Getenv("AWS_ROLE_ARN"),
			TokenFile: os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE"), Region: region, Client: tokenClient}})
	}
	return authn.NewMultiKeychain(kcs...)
}

func isExternalAccount(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var f struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(b, &f) == nil && f.Type == "external_account"
}
