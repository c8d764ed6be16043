package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/drydock/drydock/internal/store"
)

// GET /api/v1/events/stream needs the same token as other reads, resumes
// after Last-Event-ID in order, and sends events recorded later (by this
// or any replica: it reads the store) without a new request.
func TestEventStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "s.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, d := range []string{"one", "two", "three"} {
		if err := st.AddEvent(ctx, store.Event{Kind: store.EventDBUpdate, Detail: d}); err != nil {
			t.Fatal(err)
		}
	}
	api := &API{Store: st, Token: "secret", StreamPoll: 20 * time.Millisecond}
	// The server's own timeouts (server.Run sets 30 s and 60 s) must not
	// end a stream: here they are short and the stream outlives them.
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	defer srv.Close()

	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/api/v1/events/stream", "", 401},
		{"/api/v1/events/stream", "wrong", 401},
		{"/api/v1/events/stream?after=x", "secret", 400},
		{"/api/v1/events/stream?colour=red", "secret", 400},
	} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+tc.path, nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s (token %q) = %d; want %d", tc.path, tc.token, resp.StatusCode, tc.want)
		}
	}

	all, err := st.Events(ctx, store.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	first := all[len(all)-1].ID
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("Last-Event-ID", strconv.FormatInt(first, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, ct)
	}
	rd := bufio.NewReader(resp.Body)
	next := func() (string, string) {
		t.Helper()
		var id, data string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && data != "":
				var e store.Event
				if err := json.Unmarshal([]byte(data), &e); err != nil {
					t.Fatalf("event %q: %v", data, err)
				}
				if id != strconv.FormatInt(e.ID, 10) {
					t.Errorf("id line %s for event %d", id, e.ID)
				}
				return id, e.Detail
			}
		}
	}
	var got []string
	for range 2 {
		_, d := next()
		got = append(got, d)
	}
	time.Sleep(time.Second) // past both timeouts: the stream stays open
	if err := st.AddEvent(ctx, store.Event{Kind: store.EventRebuild, Detail: "four", Role: store.RoleBase}); err != nil {
		t.Fatal(err)
	}
	_, d := next()
	got = append(got, d)
	if diff := cmp.Diff([]string{"two", "three", "four"}, got); diff != "" {
		t.Errorf("streamed (-want +got):\n%s", diff)
	}
}
