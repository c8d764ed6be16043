package admission

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CertReloader serves a certificate from files and reloads it when either
// file changes. Changes are noticed on the next TLS handshake after the
// check interval: the files' modification times and sizes are compared, and
// a pair that does not load (a half-written rotation) keeps the old
// certificate until it does.
type CertReloader struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	stamp     string
	checkedAt time.Time
}

// NewCertReloader loads the pair once and fails when it does not load.
// interval ≤ 0 means one second.
func NewCertReloader(certFile, keyFile string, interval time.Duration) (*CertReloader, error) {
	if interval <= 0 {
		interval = time.Second
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, interval: interval, now: time.Now}
	stamp, err := r.fileStamp()
	if err != nil {
		return nil, err
	}
	if err := r.load(stamp); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *CertReloader) fileStamp() (string, error) {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}

func (r *CertReloader) load(stamp string) error {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.stamp = &c, stamp
	return nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checkedAt) >= r.interval {
		r.checkedAt = now
		if stamp, err := r.fileStamp(); err != nil {
			slog.Warn("admission: tls files unreadable, keeping the loaded certificate", "err", err)
		} else if stamp != r.stamp {
			if err := r.load(stamp); err != nil {
				slog.Warn("admission: tls reload failed, keeping the loaded certificate", "err", err)
			} else {
				slog.Info("admission: reloaded tls certificate", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}

// TLSConfig is a server configuration using the reloader (TLS 1.2 or later).
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}
