package registryauth

import (
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
// not probed unasked).
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
	return authn.NewMultiKeychain(kcs...)
}
