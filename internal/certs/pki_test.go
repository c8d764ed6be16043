package certs

import (
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRenewDue(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &x509.Certificate{NotBefore: start, NotAfter: start.Add(90 * 24 * time.Hour)}
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, false},
		{59 * 24 * time.Hour, false},
		{61 * 24 * time.Hour, true},
		{91 * 24 * time.Hour, true},
	} {
		if got := renewDue(c, start.Add(tc.at)); got != tc.want {
			t.Errorf("renewDue at +%s = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestServingCertificate(t *testing.T) {
	now := time.Now()
	ca, err := newCA("test-ca", now, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	names := ServiceDNSNames("drydock-admission", "drydock-system")
	leaf, err := newServing(ca, names, []net.IP{net.ParseIP("127.0.0.1")}, now, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !signedBy(leaf.cert, ca.cert, now) {
		t.Error("serving certificate does not verify against its CA")
	}
	if !coversNames(leaf.cert, names, []net.IP{net.ParseIP("127.0.0.1")}) {
		t.Errorf("serving certificate names %v %v", leaf.cert.DNSNames, leaf.cert.IPAddresses)
	}
	if coversNames(leaf.cert, []string{"other.drydock-system.svc"}, nil) {
		t.Error("serving certificate covers a name it was not made for")
	}
	if leaf.cert.NotAfter.After(ca.cert.NotAfter) {
		t.Errorf("serving certificate outlives its CA: %s > %s", leaf.cert.NotAfter, ca.cert.NotAfter)
	}
	other, _ := newCA("other-ca", now, time.Hour)
	if signedBy(leaf.cert, other.cert, now) {
		t.Error("serving certificate verifies against a CA that did not sign it")
	}
	back, err := parsePair(leaf.certPEM, leaf.keyPEM)
	if err != nil || !back.cert.Equal(leaf.cert) {
		t.Errorf("parsePair round trip: %v", err)
	}
	if _, err := parsePair(leaf.certPEM, ca.keyPEM); err == nil {
		t.Error("parsePair accepted a key that does not match the certificate")
	}
}

func TestNextBundle(t *testing.T) {
	now := time.Now()
	mk := func(name string, validity time.Duration) *x509.Certificate {
		p, err := newCA(name, now.Add(-validity/2), validity)
		if err != nil {
			t.Fatal(err)
		}
		return p.cert
	}
	a, b, c := mk("a", time.Hour), mk("b", time.Hour), mk("c", time.Hour)
	old, err := newCA("expired", now.Add(-2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired := old.cert
	names := func(cs []*x509.Certificate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Subject.CommonName)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		ca       *x509.Certificate
		previous []*x509.Certificate
		want     []string
	}{
		{"first", a, nil, []string{"a"}},
		{"rotation keeps the previous CA", b, []*x509.Certificate{a}, []string{"b", "a"}},
		{"at most two", c, []*x509.Certificate{b, a}, []string{"c", "b"}},
		{"expired dropped", b, []*x509.Certificate{expired, a}, []string{"b", "a"}},
		{"no duplicates", a, []*x509.Certificate{a, a}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := names(nextBundle(tc.ca, tc.previous, now, 2))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("bundle (-want +got):\n%s", d)
			}
			bundle := encodeBundle(nextBundle(tc.ca, tc.previous, now, 2))
			if !bundleHas(bundle, tc.ca) {
				t.Error("encoded bundle lacks the current CA")
			}
		})
	}
	fresh, _ := newCA("fresh", now, time.Hour)
	if !newerCA(encodeBundle([]*x509.Certificate{fresh.cert}), mk("older", 4*time.Hour), now) {
		t.Error("newerCA: a bundle with a later CA not noticed")
	}
	if newerCA(encodeBundle([]*x509.Certificate{a}), a, now) {
		t.Error("newerCA: the same CA counted as newer")
	}
	future, _ := newCA("future", now.Add(24*time.Hour), time.Hour)
	if newerCA(encodeBundle([]*x509.Certificate{future.cert}), a, now) {
		t.Error("newerCA: a CA from the future (skewed clock) blocks the bundle forever")
	}
}
