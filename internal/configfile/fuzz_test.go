package configfile

import "testing"

// FuzzDecode runs YAML the user wrote through the strict conversion and
// decoding every drydock config file goes through.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("name: a\nlist: [x]\nmap: {k: v}\ninner: {enabled: true}\n"))
	f.Add([]byte("a: 1\na: 2\n"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("list: {a: b}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, empty, err := ToJSON(b)
		if err != nil || empty {
			return
		}
		var v struct {
			Name  string            `json:"name"`
			List  []string          `json:"list"`
			Map   map[string]string `json:"map"`
			Inner struct {
				Enabled bool `json:"enabled"`
			} `json:"inner"`
		}
		_ = DecodeJSON(j, &v)
		var anything any
		if err := DecodeJSON(j, &anything); err != nil {
			t.Fatalf("valid JSON from ToJSON does not decode into any: %v\n%s", err, j)
		}
	})
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"2026-01-02", "2026-01-02T03:04:05Z", "", "9999-99-99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ParseExpiry(s)
	})
}
