package server

import (
	"strings"
	"testing"

	"github.com/drydock/drydock/internal/freshness"
	"github.com/drydock/drydock/internal/jobs"
)

// Push events are accepted for the configured registries (names
// normalised as the crawl does) and for references the freshness loop
// tracks; any other registry is refused with a reason naming it.
func TestPushAcceptor(t *testing.T) {
	accept := pushAcceptor([]jobs.Target{{Registry: "reg.example:5000"}, {Registry: "docker.io"}},
		func(ref string) bool { return ref == "mirror.example/library/debian:12" })
	for _, tc := range []struct {
		ev      freshness.PushEvent
		refused string
	}{
		{freshness.PushEvent{Host: "reg.example:5000", Repository: "team/app", Tag: "1"}, ""},
		{freshness.PushEvent{Repository: "library/debian", Tag: "12"}, ""}, // Docker Hub: no host
		{freshness.PushEvent{Host: "index.docker.io", Repository: "library/debian", Tag: "12"}, ""},
		{freshness.PushEvent{Host: "mirror.example", Repository: "library/debian", Tag: "12"}, ""},
		{freshness.PushEvent{Host: "mirror.example", Repository: "team/app", Tag: "1"}, "registry mirror.example is not in server.registries"},
		{freshness.PushEvent{Host: "reg.example", Repository: "team/app", Tag: "1"}, "registry reg.example is not in server.registries"},
		{freshness.PushEvent{Host: "reg.example:5000", Repository: "UPPER", Tag: "1"}, ""}, // unparsable: dropped and logged later
	} {
		err := accept(tc.ev)
		if tc.refused == "" && err != nil {
			t.Errorf("%+v refused: %v", tc.ev, err)
		}
		if tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)) {
			t.Errorf("%+v: err = %v; want it refused with %q", tc.ev, err, tc.refused)
		}
	}
}
