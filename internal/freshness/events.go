package freshness

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// PushEvent is one pushed tag, whatever registry reported it.
type PushEvent struct {
	Host       string `json:"host,omitempty"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest,omitempty"`
}

// Event sources, as in the endpoint paths /events/<kind>.
const (
	SourceDistribution = "distribution"
	SourceACR          = "acr"
	SourceHarbor       = "harbor"
	SourceDockerHub    = "dockerhub"
)

// ErrMalformed marks a body that is not the format the endpoint takes.
var ErrMalformed = errors.New("malformed event")

// MaxEventBody bounds what the endpoint reads.
const MaxEventBody = 1 << 20

// Decoders turn a request body into push events. Events that are not tag
// pushes (pulls, deletes, blob pushes, pushes by digest) are dropped.
var Decoders = map[string]func([]byte) ([]PushEvent, error){
	SourceDistribution: DecodeDistribution,
	SourceACR:          DecodeACR,
	SourceHarbor:       DecodeHarbor,
	SourceDockerHub:    DecodeDockerHub,
}

func strictJSON(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// DecodeDistribution reads the distribution (Docker registry) notification
// envelope: {"events":[{"action":"push","target":{...},"request":{"host"}}]}.
func DecodeDistribution(b []byte) ([]PushEvent, error) {
	var env struct {
		Events *[]struct {
			Action string `json:"action"`
			Target struct {
				MediaType  string `json:"mediaType"`
				Digest     string `json:"digest"`
				Repository string `json:"repository"`
				Tag        string `json:"tag"`
			} `json:"target"`
			Request struct {
				Host string `json:"host"`
			} `json:"request"`
		} `json:"events"`
	}
	if err := strictJSON(b, &env); err != nil {
		return nil, err
	}
	if env.Events == nil {
		return nil, fmt.Errorf("%w: no \"events\" array", ErrMalformed)
	}
	var out []PushEvent
	for _, e := range *env.Events {
		if e.Action != "push" || e.Target.Tag == "" || e.Target.Repository == "" {
			continue
		}
		out = append(out, PushEvent{Host: e.Request.Host, Repository: e.Target.Repository, Tag: e.Target.Tag, Digest: e.Target.Digest})
	}
	return out, nil
}

// DecodeACR reads an Azure Container Registry webhook:
// {"action":"push","target":{"repository","tag","digest"},"request":{"host"}}.
func DecodeACR(b []byte) ([]PushEvent, error) {
	var e struct {
		Action *string `json:"action"`
		Target struct {
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
			Digest     string `json:"digest"`
		} `json:"target"`
		Request struct {
			Host string `json:"host"`
		} `json:"request"`
	}
	if err := strictJSON(b, &e); err != nil {
		return nil, err
	}
	if e.Action == nil {
		return nil, fmt.Errorf("%w: no \"action\"", ErrMalformed)
	}
	if *e.Action != "push" || e.Target.Tag == "" || e.Target.Repository == "" {
		return nil, nil
	}
	return []PushEvent{{Host: e.Request.Host, Repository: e.Target.Repository, Tag: e.Target.Tag, Digest: e.Target.Digest}}, nil
}

// DecodeHarbor reads a Harbor webhook (PUSH_ARTIFACT):
// {"type":"PUSH_ARTIFACT","event_data":{"resources":[{"digest","tag","resource_url"}],"repository":{"repo_full_name"}}}.
func DecodeHarbor(b []byte) ([]PushEvent, error) {
	var e struct {
		Type      *string `json:"type"`
		EventData struct {
			Resources []struct {
				Digest      string `json:"digest"`
				Tag         string `json:"tag"`
				ResourceURL string `json:"resource_url"`
			} `json:"resources"`
			Repository struct {
				RepoFullName string `json:"repo_full_name"`
			} `json:"repository"`
		} `json:"event_data"`
	}
	if err := strictJSON(b, &e); err != nil {
		return nil, err
	}
	if e.Type == nil {
		return nil, fmt.Errorf("%w: no \"type\"", ErrMalformed)
	}
	if *e.Type != "PUSH_ARTIFACT" || e.EventData.Repository.RepoFullName == "" {
		return nil, nil
	}
	var out []PushEvent
	for _, r := range e.EventData.Resources {
		if r.Tag == "" {
			continue
		}
		host := ""
		if i := strings.IndexByte(r.ResourceURL, '/'); i > 0 {
			host = r.ResourceURL[:i]
		}
		out = append(out, PushEvent{Host: host, Repository: e.EventData.Repository.RepoFullName, Tag: r.Tag, Digest: r.Digest})
	}
	return out, nil
}

// DecodeDockerHub reads a Docker Hub webhook:
// {"push_data":{"tag"},"repository":{"repo_name"}}.
func DecodeDockerHub(b []byte) ([]PushEvent, error) {
	var e struct {
		PushData *struct {
			Tag string `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoName string `json:"repo_name"`
		} `json:"repository"`
	}
	if err := strictJSON(b, &e); err != nil {
		return nil, err
	}
	if e.PushData == nil {
		return nil, fmt.Errorf("%w: no \"push_data\"", ErrMalformed)
	}
	if e.PushData.Tag == "" || e.Repository.RepoName == "" {
		return nil, nil
	}
	repo := e.Repository.RepoName
	if !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	return []PushEvent{{Host: "index.docker.io", Repository: repo, Tag: e.PushData.Tag}}, nil
}

// EventHandler serves POST /events/<source>. Every request must carry the
// shared token ("Authorization: Bearer <token>", the bare token in
// Authorization as Harbor sends it, or "?token=<token>" as Docker Hub and
// registries without header support do). With no token configured, every
// request is refused.
type EventHandler struct {
	Token string
	// OnPush receives the decoded pushes of an authenticated request.
	OnPush func(source string, evs []PushEvent)
	// Accept, when set, judges each push before any is delivered: a
	// refused push never reaches OnPush (a registry the receiver was not
	// configured for must not make it pull images) and its reason is
	// listed in the reply's "ignored".
	Accept func(source string, ev PushEvent) error
}

func (h *EventHandler) authorized(r *http.Request) bool {
	if h.Token == "" {
		return false
	}
	var got string
	if a := r.Header.Get("Authorization"); a != "" {
		got = a
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			got = strings.TrimSpace(a[7:])
		}
	} else {
		got = r.URL.Query().Get("token")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.Token)) == 1
}

func (h *EventHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	source := strings.TrimPrefix(r.URL.Path, "/events/")
	dec, ok := Decoders[source]
	if !ok {
		http.Error(w, "unknown event source; use /events/distribution, /events/acr, /events/harbor or /events/dockerhub", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="drydock"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEventBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	evs, err := dec(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var ignored []string
	if h.Accept != nil {
		kept := evs[:0:0]
		for _, ev := range evs {
			if err := h.Accept(source, ev); err != nil {
				ignored = append(ignored, err.Error())
				continue
			}
			kept = append(kept, ev)
		}
		evs = kept
	}
	if len(evs) > 0 && h.OnPush != nil {
		h.OnPush(source, evs)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(eventReply{Pushes: len(evs), Ignored: ignored})
}

// eventReply answers an authenticated event request. Ignored pushes are
// reported in a 2xx reply, not refused with a 4xx: registries (Distribution,
// Harbor) deliver their notifications in order and retry one that was not
// accepted, so a refusal would stall every later event of that registry.
type eventReply struct {
	Pushes  int      `json:"pushes"`
	Ignored []string `json:"ignored,omitempty"`
}
