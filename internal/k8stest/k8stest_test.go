package k8stest_test

import (
	"context"
	"os/exec"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/drydock/drydock/internal/k8stest"
)

func TestStartServesAPIAndKubeconfig(t *testing.T) {
	c := k8stest.Start(t, k8stest.Options{})
	cs := c.Client(t)
	ns, err := cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get namespace default: %v", err)
	}
	if ns.Name != "default" {
		t.Errorf("namespace %q", ns.Name)
	}
	if _, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.Command("kubectl", "--kubeconfig", c.Kubeconfig, "get", "ns", "default").CombinedOutput()
		if err != nil {
			t.Errorf("kubectl with the kubeconfig: %v\n%s", err, out)
		}
	}
}
