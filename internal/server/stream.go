package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/drydock/drydock/internal/store"
)

// The event stream (GET /api/v1/events/stream) sends the event history as
// Server-Sent Events as it grows. It reads the store, not an in-process
// bus, so an event recorded by any replica reaches every stream; a client
// that reconnects sends Last-Event-ID and misses nothing.

const (
	// maxStreams bounds the open streams (each polls the store).
	maxStreams = 64
	// streamLife ends a stream after a while; EventSource reconnects with
	// Last-Event-ID, which also frees connections a proxy left dangling.
	streamLife = 10 * time.Minute
	heartbeat  = 15 * time.Second
)

func (a *API) streamPoll() time.Duration {
	if a.StreamPoll > 0 {
		return a.StreamPoll
	}
	return time.Second
}

func (a *API) eventStream(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		if k != "kind" && k != "after" {
			return bad("unknown parameter %q (want kind, after)", k)
		}
	}
	kind := q.Get("kind")
	if len(kind) > 64 {
		return bad("kind: at most 64 characters")
	}
	var last int64
	from := q.Get("after")
	if h := r.Header.Get("Last-Event-ID"); h != "" {
		from = h
	}
	ctx := r.Context()
	if from != "" {
		n, err := strconv.ParseInt(from, 10, 64)
		if err != nil || n < 0 {
			return bad("after (or Last-Event-ID) %q: want an event id", from)
		}
		last = n
	} else {
		// Only what happens from now on.
		evs, err := a.Store.Events(ctx, store.EventFilter{Limit: 1})
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			last = evs[0].ID
		}
	}
	if a.streams.Add(1) > maxStreams {
		a.streams.Add(-1)
		w.Header().Set("Retry-After", "30")
		fail(w, http.StatusServiceUnavailable, fmt.Sprintf("too many event streams open (%d): poll GET /api/v1/events instead", maxStreams))
		return nil
	}
	defer a.streams.Add(-1)

	rc := http.NewResponseController(w)
	// The server's write timeout is for requests, not streams: each write
	// sets its own deadline, so a vanished client is still noticed (within
	// a heartbeat and the write deadline).
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// From here on an error ends the stream; the client reconnects.
	write := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprint(w, s); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 2000\n\n") {
		return nil
	}
	poll := time.NewTicker(a.streamPoll())
	defer poll.Stop()
	end := time.NewTimer(streamLife)
	defer end.Stop()
	beat := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-end.C:
			return nil
		case <-poll.C:
		}
		for {
			evs, err := a.Store.Events(ctx, store.EventFilter{After: last, Kind: kind, Limit: 100})
			if err != nil {
				return nil
			}
			for _, e := range evs {
				b, err := json.Marshal(e)
				if err != nil {
					return nil
				}
				// JSON has no raw newlines: one data line per event.
				if !write(fmt.Sprintf("id: %d\ndata: %s\n\n", e.ID, b)) {
					return nil
				}
				last = e.ID
				beat = time.Now()
			}
			if len(evs) < 100 {
				break
			}
		}
		if time.Since(beat) >= heartbeat {
			if !write(": keep-alive\n\n") {
				return nil
			}
			beat = time.Now()
		}
	}
}
