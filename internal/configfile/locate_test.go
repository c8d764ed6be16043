package configfile

import (
	"strings"
	"testing"
	"time"
)

type testDuration struct{ time.Duration }

func (d *testDuration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

type testConfig struct {
	Watch struct {
		PollInterval *testDuration `json:"pollInterval"`
		Jitter       float64       `json:"jitter"`
	} `json:"watch"`
	Images []struct {
		Name    string            `json:"name"`
		With    map[string]string `json:"with"`
		Rebuild struct {
			Kind string `json:"kind"`
		} `json:"rebuild"`
	} `json:"images"`
}

func TestDecodeYAMLErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field with a suggestion", "watch:\n  pollintervall: 5m\n", "line 2: watch.pollintervall: unknown field (did you mean pollInterval?)"},
		{"unknown field in a list", "images:\n  - name: a\n  - name: b\n    rebiuld: {kind: rebase}\n", "line 4: images[1].rebiuld: unknown field (did you mean rebuild?)"},
		{"unknown field, nothing near", "images:\n  - name: a\n    colour: blue\n", "line 3: images[0].colour: unknown field"},
		{"bad duration", "watch:\n  jitter: 0.1\n  pollInterval: 3x\n", `line 3: watch.pollInterval: "3x": want a duration like 90s, 5m, 24h or 30d`},
		{"wrong shape", "watch:\n  jitter: [1]\n", "line 2: watch.jitter: got a list, want a string"},
		{"whole document", "- a\n", "got a list, want a mapping"},
		{"duplicate key", "watch: {}\nwatch: {}\n", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c testConfig
			_, err := DecodeYAML([]byte(tt.doc), &c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
			for _, leak := range []string{"Go value", "configfile.", "json:", "error unmarshaling", "error converting"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks %q", err, leak)
				}
			}
		})
	}
	var c testConfig
	if empty, err := DecodeYAML([]byte("# nothing\n"), &c); !empty || err != nil {
		t.Errorf("comment-only document: empty %v, err %v", empty, err)
	}
	if _, err := DecodeYAML([]byte("watch:\n  pollInterval: 2d\nimages:\n  - name: a\n    with: {x: z}\n"), &c); err != nil || c.Watch.PollInterval.Duration != 48*time.Hour {
		t.Errorf("valid document: %v, %+v", err, c)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 720 * time.Hour, "1d12h": 36 * time.Hour, "90s": 90 * time.Second} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "d", "1x", "-2d", "1d1d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}
