package server

import (
	"context"
	"strings"
	"time"

	"github.com/drydock/drydock/internal/inventory"
	"github.com/drydock/drydock/internal/store"
)

// PatchLatency follows one vulnerability from fix to production, from the
// events and findings already stored.
type PatchLatency struct {
	// FirstSeen is when the vulnerability was first found in a stored image.
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	// FixAvailable is when a fixed version was first known for it.
	FixAvailable time.Time `json:"fixAvailable,omitzero"`
	// FixedImageBuilt is when an image of an affected repository without
	// the vulnerability was first scanned after it was found there.
	FixedImageBuilt time.Time `json:"fixedImageBuilt,omitzero"`
	// LastPodOff is when the last running workload moved off an affected
	// digest; empty while one still runs.
	LastPodOff time.Time `json:"lastPodOff,omitzero"`
	// StillRunning says a workload runs an affected digest now.
	StillRunning bool `json:"stillRunning"`
	// Seconds from FixAvailable to FixedImageBuilt and to LastPodOff.
	ToFixedImage float64 `json:"toFixedImageSeconds,omitempty"`
	ToProduction float64 `json:"toProductionSeconds,omitempty"`
	// BaseRebuilt is when a base image of the affected images (a
	// repository some affected image is built on, or one a rebuild event
	// recorded as a base) first had a digest without the vulnerability;
	// AppRebuilt the same for the affected application repositories.
	BaseRebuilt time.Time `json:"baseRebuilt,omitzero"`
	AppRebuilt  time.Time `json:"appRebuilt,omitzero"`
	// Timeline is fix available → base rebuilt → app rebuilt → rolled
	// out, each step with its own latency.
	Timeline []TimelineStep `json:"timeline"`
}

// Timeline steps and their states.
const (
	StepFixAvailable = "fix-available"
	StepBaseRebuilt  = "base-rebuilt"
	StepAppRebuilt   = "app-rebuilt"
	StepRolledOut    = "rolled-out"

	StepDone          = "done"
	StepPending       = "pending"
	StepNotApplicable = "not-applicable"
)

// TimelineStep is one step from fix to production.
type TimelineStep struct {
	Step  string    `json:"step"`
	State string    `json:"state"`
	At    time.Time `json:"at,omitzero"`
	// Seconds is the step's own latency: from the previous step done (the
	// fix, for the first one after it) to this one.
	Seconds float64 `json:"seconds,omitempty"`
	// SinceFix is from the fix being available to this step.
	SinceFix float64 `json:"sinceFixSeconds,omitempty"`
	Note     string  `json:"note,omitempty"`
}

// repositoryOf is the repository a base reference ("host/repo:tag" or
// "host/repo@sha256:…") names.
func repositoryOf(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func patchLatency(ctx context.Context, st Store, id string, fs []store.Finding, images map[string]*store.Image, running bool) (PatchLatency, error) {
	var l PatchLatency
	l.StillRunning = running
	vulnIDs := map[string]bool{id: true}
	affected := map[string]bool{}
	repos := map[string]time.Time{}
	for _, f := range fs {
		vulnIDs[f.ID] = true
		affected[f.Digest] = true
		im := images[f.Digest]
		seen := earliest(im.FirstSeen, im.ScannedAt)
		l.FirstSeen = earliest(l.FirstSeen, seen)
		if f.Fixed != "" {
			l.FixAvailable = earliest(l.FixAvailable, im.ScannedAt)
		}
		for _, r := range repositoriesOf(im) {
			repos[r.Repository] = earliest(repos[r.Repository], seen)
		}
	}
	// History: findings that appeared (with a fix) or disappeared.
	for vid := range vulnIDs {
		evs, err := st.Events(ctx, store.EventFilter{VulnID: vid, Limit: 1000})
		if err != nil {
			return l, err
		}
		for _, e := range evs {
			switch e.Kind {
			case store.EventAppeared:
				l.FirstSeen = earliest(l.FirstSeen, e.At)
				if strings.Contains(e.Detail, "fixed in") {
					l.FixAvailable = earliest(l.FixAvailable, e.At)
				}
			}
		}
	}
	// Lineage: the repositories the affected images are built on are
	// base repositories; the others are applications.
	var baseDigests []string
	for _, f := range fs {
		if d := images[f.Digest].BaseDigest; d != "" {
			baseDigests = append(baseDigests, d)
		}
	}
	var bases map[string]*store.Image
	if len(baseDigests) > 0 {
		var err error
		if bases, err = st.ImagesByDigest(ctx, baseDigests); err != nil {
			return l, err
		}
	}
	baseRepos := map[string]bool{}
	for _, f := range fs {
		im := images[f.Digest]
		if f.FixPath == string(inventory.OriginApp) {
			continue // in the app's own layers: its base cannot fix it
		}
		r := ""
		if b := bases[im.BaseDigest]; b != nil {
			r = b.Repository
		} else if im.BaseName != "" {
			r = repositoryOf(im.BaseName)
		}
		if r != "" {
			baseRepos[r] = true
			// A base counts from when an image built on it was affected.
			repos[r] = earliest(repos[r], earliest(im.FirstSeen, im.ScannedAt))
		}
	}
	// Rebuilds drydock made record whether the image was a base.
	rebuilds, err := st.Events(ctx, store.EventFilter{Kind: store.EventRebuild, Limit: 1000})
	if err != nil {
		return l, err
	}
	rebuiltAt, rebuiltRole := map[string]time.Time{}, map[string]string{}
	for _, e := range rebuilds {
		if e.Digest != "" {
			rebuiltAt[e.Digest] = earliest(rebuiltAt[e.Digest], e.At)
			if e.Role != "" {
				rebuiltRole[e.Digest] = e.Role
			}
		}
	}
	// A fixed image: a later image of an affected or base repository
	// (repos holds both) that is scanned and does not have the
	// vulnerability.
	var repoNames []string
	for r := range repos {
		repoNames = append(repoNames, r)
	}
	ims, err := st.ImagesInRepositories(ctx, repoNames)
	if err != nil {
		return l, err
	}
	for _, im := range ims {
		since, ok := repos[im.Repository]
		if affected[im.Digest] || im.ScannedAt.IsZero() || !ok || im.ScannedAt.Before(since) {
			continue
		}
		// A rebuild drydock pushed is dated by its event, before the scan
		// that proves it.
		at := im.ScannedAt
		if r := rebuiltAt[im.Digest]; !r.IsZero() && !r.Before(since) && r.Before(at) {
			at = r
		}
		isBase := baseRepos[im.Repository]
		if role := rebuiltRole[im.Digest]; role != "" {
			isBase = role == store.RoleBase
		}
		if isBase {
			l.BaseRebuilt = earliest(l.BaseRebuilt, at)
		} else {
			l.AppRebuilt = earliest(l.AppRebuilt, at)
		}
		l.FixedImageBuilt = earliest(l.FixedImageBuilt, at)
	}
	appAffected := false
	for _, f := range fs {
		if !baseRepos[images[f.Digest].Repository] {
			appAffected = true
		}
	}
	if !running && len(affected) > 0 {
		var ds []string
		for d := range affected {
			ds = append(ds, d)
		}
		last, err := st.LastEvent(ctx, store.EventStopped, ds)
		if err != nil {
			return l, err
		}
		for _, at := range last {
			if at.After(l.LastPodOff) {
				l.LastPodOff = at
			}
		}
	}
	if !l.FixAvailable.IsZero() {
		if !l.FixedImageBuilt.IsZero() {
			l.ToFixedImage = l.FixedImageBuilt.Sub(l.FixAvailable).Seconds()
		}
		if !l.LastPodOff.IsZero() {
			l.ToProduction = l.LastPodOff.Sub(l.FixAvailable).Seconds()
		}
	}
	l.Timeline = timeline(l, len(baseRepos) > 0, appAffected, len(affected) > 0)
	return l, nil
}

// timeline lays the latencies out as steps: each step's latency is from
// the latest earlier step done (a rebuilt app may precede its base's
// rebuild when it changed the app itself: its latency is then from the
// fix).
func timeline(l PatchLatency, hasBase, hasApp, anyAffected bool) []TimelineStep {
	steps := []TimelineStep{{Step: StepFixAvailable, At: l.FixAvailable}}
	if l.FixAvailable.IsZero() {
		steps[0].State, steps[0].Note = StepPending, "no fixed version is known yet"
	} else {
		steps[0].State = StepDone
	}
	add := func(step string, at time.Time, applicable bool, na, pending string) {
		st := TimelineStep{Step: step, At: at}
		switch {
		case !at.IsZero():
			st.State = StepDone
		case !applicable:
			st.State, st.Note = StepNotApplicable, na
		default:
			st.State, st.Note = StepPending, pending
		}
		steps = append(steps, st)
	}
	add(StepBaseRebuilt, l.BaseRebuilt, hasBase, "no affected image has a known base image that holds the package", "no rebuilt base without it yet")
	add(StepAppRebuilt, l.AppRebuilt, hasApp, "only base images are affected", "no rebuilt application image without it yet")
	rolled := TimelineStep{Step: StepRolledOut, At: l.LastPodOff}
	switch {
	case l.StillRunning:
		rolled.State, rolled.At, rolled.Note = StepPending, time.Time{}, "a workload still runs an affected digest"
	case !l.LastPodOff.IsZero():
		rolled.State = StepDone
	case anyAffected:
		rolled.State, rolled.Note = StepNotApplicable, "no workload was seen running an affected digest"
	default:
		rolled.State, rolled.Note = StepDone, "no stored image has it any more"
	}
	steps = append(steps, rolled)
	prev := l.FixAvailable
	for i := 1; i < len(steps); i++ {
		s := &steps[i]
		if s.State != StepDone || s.At.IsZero() {
			continue
		}
		if !l.FixAvailable.IsZero() {
			// A step dated before the fix (a rebuild for another reason)
			// took no time after it.
			s.SinceFix = max(0, s.At.Sub(l.FixAvailable).Seconds())
			from := prev
			if s.At.Before(from) {
				from = l.FixAvailable
			}
			s.Seconds = max(0, s.At.Sub(from).Seconds())
		}
		if s.At.After(prev) {
			prev = s.At
		}
	}
	return steps
}
