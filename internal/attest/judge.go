package attest

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// judge decides which of the checked verdicts counts, and records the
// outcome in each one's Err: the deciding verdict keeps Err nil when it is
// accepted; every other validly signed verdict wraps ErrSuperseded (or
// ErrExpired when it is the future-dated word of its key). It sorts all by
// signed time, deciding verdict first, and returns the deciding verdict (nil
// when no drydock verdict checked out).
//
// The rule, from signed data only:
//   - copies of one signed statement count once;
//   - per trusted key, the newest verdict by signed time is the key's word
//     (equal times: the failing one);
//   - a key's word dated more than the clock skew in the future is
//     rejected, and that key does not pass;
//   - if any key's word fails, records no decision or is rejected, the
//     newest such word decides: a newer FAIL is never outvoted by an older
//     PASS, nor by another key's PASS;
//   - otherwise the newest word decides; it is then checked against the
//     maximum age and, with WithRequirePass, for a pass.
//
// With WithCosign, cosign signatures decide only when no drydock verdict
// checked out: they carry no time to be ordered by.
func judge(all []*Verdict, o *options) *Verdict {
	var valid []*Verdict
	for _, vd := range all {
		if vd.Kind == KindVerdict && vd.valid {
			valid = append(valid, vd)
		}
	}
	slices.SortStableFunc(valid, newerFirst)

	now := o.now()
	type copyKey struct {
		key    string
		signed [32]byte
	}
	copies := map[copyKey]*Verdict{}
	words := map[string]*Verdict{}
	var order []*Verdict // each key's word, newest first
	for _, vd := range valid {
		if first, ok := copies[copyKey{vd.KeyID, vd.signed}]; ok {
			vd.Err = fmt.Errorf("%w: a copy of the statement signed at %s, already counted (%s)", ErrSuperseded, stamp(first.Created), first.Location)
			vd.Statement = lighten(vd.Statement)
			continue
		}
		copies[copyKey{vd.KeyID, vd.signed}] = vd
		if w, ok := words[vd.KeyID]; ok {
			vd.Err = fmt.Errorf("%w by the verdict signed at %s (%s)", ErrSuperseded, stamp(w.Created), w.Location)
			vd.Statement = lighten(vd.Statement)
			continue
		}
		words[vd.KeyID] = vd
		order = append(order, vd)
	}

	var decider *Verdict
	for _, w := range order {
		if w.Created.After(now.Add(o.skew)) {
			w.Err = fmt.Errorf("%w: signed time %s is in the future (more than %s ahead of this clock)", ErrExpired, stamp(w.Created), o.skew)
		}
		if decider == nil && (w.Err != nil || !w.Passed()) {
			decider = w
		}
	}
	if decider == nil && len(order) > 0 {
		decider = order[0]
	}
	for _, w := range order {
		if w == decider || w.Err != nil {
			continue
		}
		if !decider.Passed() || decider.Err != nil {
			w.Err = fmt.Errorf("%w: another trusted key's newest verdict (%s) did not pass", ErrSuperseded, decider.Location)
		} else {
			w.Err = fmt.Errorf("%w by a newer verdict of another trusted key (%s)", ErrSuperseded, decider.Location)
		}
	}
	if decider != nil {
		decider.Decides = true
	}
	if decider != nil && decider.Err == nil {
		t := decider.Created
		switch {
		case o.maxAge > 0 && now.Sub(t) > o.maxAge:
			decider.Err = fmt.Errorf("%w: made %s, older than %s (re-attest the image)", ErrExpired, stamp(t), o.maxAge)
		case o.requirePass && decider.Statement.Predicate.Outcome() == ResultNone:
			decider.Err = fmt.Errorf("%w: the verdict records no policy decision (policy %q)", ErrPolicyFailed, decider.Statement.Predicate.Policy.Name)
		case o.requirePass && !decider.Passed():
			decider.Err = fmt.Errorf("%w (policy %q)", ErrPolicyFailed, decider.Statement.Predicate.Policy.Name)
		}
	}
	if decider != nil {
		for _, vd := range all {
			if vd.Kind != KindVerdict && vd.Err == nil {
				vd.Err = fmt.Errorf("%w: a signed drydock verdict for this digest decides", ErrSuperseded)
			}
		}
	}

	slices.SortStableFunc(all, func(a, b *Verdict) int {
		switch {
		case a == decider:
			return -1
		case b == decider:
			return 1
		}
		return b.Created.Compare(a.Created)
	})
	return decider
}

// newerFirst orders verdicts by signed time, newest first; at equal times
// a failing verdict first (the safe reading), then by location so that the
// order is stable.
func newerFirst(a, b *Verdict) int {
	return cmp.Or(
		b.Created.Compare(a.Created),
		boolRank(a.Passed())-boolRank(b.Passed()),
		cmp.Compare(a.Location, b.Location),
	)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// lighten keeps what a listing of a superseded verdict shows (policy,
// counts, time) and drops the findings, bounding memory when a key has
// signed many verdicts for one digest.
func lighten(st *Statement) *Statement {
	if st == nil {
		return nil
	}
	c := *st
	c.Predicate.Details, c.Predicate.Findings = nil, nil
	return &c
}
