package server

import (
	"context"
	"strings"
	"time"

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
	// A fixed image: a later image of an affected repository that is
	// scanned and does not have the vulnerability.
	var repoNames []string
	for r := range repos {
		repoNames = append(repoNames, r)
	}
	ims, err := st.ImagesInRepositories(ctx, repoNames)
	if err != nil {
		return l, err
	}
	for _, im := range ims {
		if affected[im.Digest] || im.ScannedAt.IsZero() || im.ScannedAt.Before(repos[im.Repository]) {
			continue
		}
		l.FixedImageBuilt = earliest(l.FixedImageBuilt, im.ScannedAt)
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
	return l, nil
}
