package deploy

import (
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// RESTConfig loads a client configuration the way kubectl does: the
// kubeconfig file named (else $KUBECONFIG, else ~/.kube/config), its
// current context or the one named, and, when there is no kubeconfig at
// all, the in-cluster service account.
func RESTConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext}).ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		// client-go's own advice names a variable kubectl dropped long ago.
		return nil, errors.New("no Kubernetes cluster configured: give --kubeconfig, set KUBECONFIG, or create ~/.kube/config (in a Pod, the service account is used)")
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration: %w", err)
	}
	return cfg, nil
}

// NewClient makes a clientset that speaks protobuf (smaller and cheaper to
// decode than JSON for long Pod lists).
func NewClient(cfg *rest.Config, userAgent string) (kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	if userAgent != "" {
		cfg.UserAgent = userAgent
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}
