package vulndb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The stored form of an Advisory. A lookup decodes every advisory naming
// the package, and AlmaLinux's kernel advisories list over a hundred
// subpackages each, so decoding deflated JSON cost tens of milliseconds per
// package (inflate, then the reflection-driven JSON decoder). This form is
// cheap to read instead:
//
//	format byte (recordFormat)
//	uvarint n, n × uvarint string length, the n strings' bytes concatenated
//	uvarint total ranges, events, versions (so they are allocated at once)
//	the fields of Advisory in declaration order
//
// Every string is an index into the string table, so the strings a record
// repeats (the ecosystem, the fixed version of each subpackage) are stored
// once, and decoding slices them out of one string with no copy. Slice and
// map lengths are stored plus one, zero meaning nil, so that a decoded
// Advisory equals the one the JSON gave, down to nil versus empty. Adding
// a field to Advisory therefore needs a SchemaVersion bump.
const recordFormat = 1

var errRecord = errors.New("malformed stored record")

type recordEncoder struct {
	strs  []string
	index map[string]int
	body  []byte
	// totals of the slices the decoder allocates in one piece.
	ranges, events, versions int
}

func encodeRecord(adv *Advisory) ([]byte, error) {
	e := &recordEncoder{index: map[string]int{"": 0}, strs: []string{""}}
	if err := e.advisory(adv); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(e.body)+64+8*len(e.strs))
	out = append(out, recordFormat)
	out = binary.AppendUvarint(out, uint64(len(e.strs)))
	for _, s := range e.strs {
		out = binary.AppendUvarint(out, uint64(len(s)))
	}
	for _, s := range e.strs {
		out = append(out, s...)
	}
	for _, n := range []int{e.ranges, e.events, e.versions} {
		out = binary.AppendUvarint(out, uint64(n))
	}
	return append(out, e.body...), nil
}

func (e *recordEncoder) uint(n int) { e.body = binary.AppendUvarint(e.body, uint64(n)) }

func (e *recordEncoder) str(s string) {
	i, ok := e.index[s]
	if !ok {
		i = len(e.strs)
		e.strs = append(e.strs, s)
		e.index[s] = i
	}
	e.uint(i)
}

// length writes n+1 for a non-nil slice or map, 0 for nil.
func (e *recordEncoder) length(n int, isNil bool) {
	if isNil {
		e.uint(0)
		return
	}
	e.uint(n + 1)
}

func (e *recordEncoder) stringList(ss []string) {
	e.length(len(ss), ss == nil)
	for _, s := range ss {
		e.str(s)
	}
}

func (e *recordEncoder) time(t time.Time) error {
	b, err := t.MarshalBinary()
	if err != nil {
		return err
	}
	e.str(string(b))
	return nil
}

func (e *recordEncoder) severities(ss []Severity) {
	e.length(len(ss), ss == nil)
	for _, s := range ss {
		e.str(s.Type)
		e.str(s.Score)
	}
}

// JSON value tags of map[string]any contents.
const (
	tagNull = iota
	tagFalse
	tagTrue
	tagNumber
	tagString
	tagArray
	tagObject
)

func (e *recordEncoder) object(m map[string]any) error {
	if m == nil {
		e.uint(0)
		return nil
	}
	e.uint(len(m) + 1)
	// Map order does not matter to the decoded map; the encoding need not
	// be canonical.
	for k, v := range m {
		e.str(k)
		if err := e.value(v); err != nil {
			return err
		}
	}
	return nil
}

func (e *recordEncoder) value(v any) error {
	switch v := v.(type) {
	case nil:
		e.uint(tagNull)
	case bool:
		if v {
			e.uint(tagTrue)
		} else {
			e.uint(tagFalse)
		}
	case float64:
		e.uint(tagNumber)
		e.body = binary.LittleEndian.AppendUint64(e.body, math.Float64bits(v))
	case string:
		e.uint(tagString)
		e.str(v)
	case []any:
		e.uint(tagArray)
		e.uint(len(v))
		for _, x := range v {
			if err := e.value(x); err != nil {
				return err
			}
		}
	case map[string]any:
		e.uint(tagObject)
		e.uint(len(v))
		for k, x := range v {
			e.str(k)
			if err := e.value(x); err != nil {
				return err
			}
		}
	default:
		// Only what encoding/json decodes into any can occur.
		return fmt.Errorf("encode record: unexpected %T in a JSON object", v)
	}
	return nil
}

func (e *recordEncoder) advisory(a *Advisory) error {
	e.str(a.ID)
	if err := e.time(a.Modified); err != nil {
		return err
	}
	if err := e.time(a.Published); err != nil {
		return err
	}
	if a.Withdrawn == nil {
		e.uint(0)
	} else {
		e.uint(1)
		if err := e.time(*a.Withdrawn); err != nil {
			return err
		}
	}
	e.stringList(a.Aliases)
	e.stringList(a.Upstream)
	e.stringList(a.Related)
	e.str(a.Summary)
	e.str(a.Details)
	e.severities(a.Severity)
	e.length(len(a.Affected), a.Affected == nil)
	for i := range a.Affected {
		af := &a.Affected[i]
		e.str(af.Package.Ecosystem)
		e.str(af.Package.Name)
		e.str(af.Package.PURL)
		e.severities(af.Severity)
		e.length(len(af.Ranges), af.Ranges == nil)
		e.ranges += len(af.Ranges)
		for _, r := range af.Ranges {
			e.str(r.Type)
			e.str(r.Repo)
			e.length(len(r.Events), r.Events == nil)
			e.events += len(r.Events)
			for _, ev := range r.Events {
				e.str(ev.Introduced)
				e.str(ev.Fixed)
				e.str(ev.LastAffected)
				e.str(ev.Limit)
			}
		}
		e.stringList(af.Versions)
		e.versions += len(af.Versions)
		if err := e.object(af.EcosystemSpecific); err != nil {
			return err
		}
		if err := e.object(af.DatabaseSpecific); err != nil {
			return err
		}
	}
	if err := e.object(a.DatabaseSpecific); err != nil {
		return err
	}
	e.length(len(a.References), a.References == nil)
	for _, r := range a.References {
		e.str(r.Type)
		e.str(r.URL)
	}
	return nil
}

// recordDecoder reads a stored record. Damage shows as err (first error
// wins); reads after an error return zero values, so callers check once.
type recordDecoder struct {
	b    []byte
	strs []string
	err  error
	// pools the record's ranges, events and versions are cut from.
	ranges   []Range
	events   []Event
	versions []string
	// keep, when set, selects the affected entries to decode.
	keep func(name string) bool
}

func decodeRecord(blob []byte) (*Advisory, error) { return decodeRecordKeep(blob, nil, nil) }

// recordScratch holds the string table index between the records of one
// lookup, which decodes hundreds: the index only points into each record's
// own copy of its strings, and no decoded value keeps it.
type recordScratch struct {
	lens []int
	strs []string
}

// decodeRecordKeep decodes a record; when keep is not nil it decodes only
// the affected entries whose package name keep accepts, and no references,
// stepping over the rest with the same checks but without building them
// (see DB.AffectingManyTrimmed). scratch, when not nil, is reused.
func decodeRecordKeep(blob []byte, keep func(name string) bool, scratch *recordScratch) (*Advisory, error) {
	if len(blob) == 0 || blob[0] != recordFormat {
		return nil, fmt.Errorf("%w: unknown format", errRecord)
	}
	d := &recordDecoder{b: blob[1:]}
	n := d.uint()
	if n > uint64(len(d.b)) { // every length takes at least a byte
		return nil, fmt.Errorf("%w: string table of %d", errRecord, n)
	}
	if scratch == nil {
		scratch = &recordScratch{}
	}
	if uint64(cap(scratch.lens)) < n {
		scratch.lens = make([]int, n)
		scratch.strs = make([]string, n)
	}
	lens := scratch.lens[:n]
	total := 0
	for i := range lens {
		l := d.uint()
		if l > uint64(len(d.b)) {
			d.fail()
		}
		lens[i] = int(l)
		total += int(l)
	}
	if d.err != nil || total > len(d.b) {
		return nil, fmt.Errorf("%w: string table", errRecord)
	}
	// One copy of all the strings; each field is a substring of it.
	all := string(d.b[:total])
	d.b = d.b[total:]
	d.strs = scratch.strs[:n]
	off := 0
	for i, l := range lens {
		d.strs[i] = all[off : off+l]
		off += l
	}
	nr, ne, nv := d.uint(), d.uint(), d.uint()
	// Each range, event and version takes at least one byte of the body.
	if d.err != nil || nr > uint64(len(d.b)) || ne > uint64(len(d.b)) || nv > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: totals", errRecord)
	}
	d.keep = keep
	if keep != nil {
		// A trimmed decode keeps few entries: their slices are made one
		// by one instead of cut from pools sized for the whole record
		// (empty, not nil, pools: an empty list still decodes non-nil).
		nr, ne, nv = 0, 0, 0
	}
	d.ranges = make([]Range, 0, nr)
	d.events = make([]Event, 0, ne)
	d.versions = make([]string, 0, nv)
	adv := d.advisory()
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, d.err
	}
	return adv, nil
}

func (d *recordDecoder) fail() {
	if d.err == nil {
		d.err = errRecord
	}
	d.b = nil
}

func (d *recordDecoder) uint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recordDecoder) str() string {
	i := d.uint()
	if i >= uint64(len(d.strs)) {
		d.fail()
		return ""
	}
	return d.strs[i]
}

// length reads a slice or map length; isNil for 0. It bounds n by the bytes
// left, since each element takes at least one.
func (d *recordDecoder) length() (n int, isNil bool) {
	v := d.uint()
	if v == 0 {
		return 0, true
	}
	if v-1 > uint64(len(d.b)) {
		d.fail()
		return 0, true
	}
	return int(v - 1), false
}

func (d *recordDecoder) stringList(pool *[]string) []string {
	n, isNil := d.length()
	if isNil {
		return nil
	}
	var out []string
	if pool != nil && len(*pool)+n <= cap(*pool) {
		start := len(*pool)
		*pool = (*pool)[:start+n]
		out = (*pool)[start : start+n : start+n]
	} else {
		out = make([]string, n)
	}
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *recordDecoder) time() time.Time {
	var t time.Time
	if s := d.str(); d.err == nil {
		if err := t.UnmarshalBinary([]byte(s)); err != nil {
			d.fail()
		}
	}
	return t
}

func (d *recordDecoder) severities() []Severity {
	n, isNil := d.length()
	if isNil {
		return nil
	}
	out := make([]Severity, n)
	for i := range out {
		out[i] = Severity{Type: d.str(), Score: d.str()}
	}
	return out
}

func (d *recordDecoder) object() map[string]any {
	n, isNil := d.length()
	if isNil {
		return nil
	}
	m := make(map[string]any, n)
	for range n {
		k := d.str()
		m[k] = d.value(0)
		if d.err != nil {
			break
		}
	}
	return m
}

// maxDepth bounds nesting, so a damaged record cannot exhaust the stack.
const maxDepth = 10000

func (d *recordDecoder) value(depth int) any {
	if depth > maxDepth {
		d.fail()
		return nil
	}
	switch d.uint() {
	case tagNull:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagNumber:
		if len(d.b) < 8 {
			d.fail()
			return nil
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return f
	case tagString:
		return d.str()
	case tagArray:
		n := d.uint()
		if n > uint64(len(d.b)) {
			d.fail()
			return nil
		}
		a := make([]any, n)
		for i := range a {
			a[i] = d.value(depth + 1)
		}
		return a
	case tagObject:
		n := d.uint()
		if n > uint64(len(d.b)) {
			d.fail()
			return nil
		}
		m := make(map[string]any, n)
		for range n {
			k := d.str()
			m[k] = d.value(depth + 1)
			if d.err != nil {
				break
			}
		}
		return m
	}
	d.fail()
	return nil
}

func (d *recordDecoder) advisory() *Advisory {
	a := &Advisory{ID: d.str(), Modified: d.time(), Published: d.time()}
	if d.uint() == 1 {
		t := d.time()
		a.Withdrawn = &t
	}
	a.Aliases = d.stringList(nil)
	a.Upstream = d.stringList(nil)
	a.Related = d.stringList(nil)
	a.Summary = d.str()
	a.Details = d.str()
	a.Severity = d.severities()
	if n, isNil := d.length(); !isNil && d.keep != nil {
		a.Affected = []Affected{}
		for range n {
			pkg := Package{Ecosystem: d.str(), Name: d.str(), PURL: d.str()}
			if d.err != nil {
				return nil
			}
			if !d.keep(pkg.Name) {
				d.skipAffected()
				continue
			}
			af := Affected{Package: pkg}
			af.Severity = d.severities()
			af.Ranges = d.rangeList()
			af.Versions = d.stringList(&d.versions)
			af.EcosystemSpecific = d.object()
			af.DatabaseSpecific = d.object()
			if d.err != nil {
				return nil
			}
			a.Affected = append(a.Affected, af)
		}
	} else if !isNil {
		a.Affected = make([]Affected, n)
		for i := range a.Affected {
			af := &a.Affected[i]
			af.Package = Package{Ecosystem: d.str(), Name: d.str(), PURL: d.str()}
			af.Severity = d.severities()
			af.Ranges = d.rangeList()
			af.Versions = d.stringList(&d.versions)
			af.EcosystemSpecific = d.object()
			af.DatabaseSpecific = d.object()
			if d.err != nil {
				return nil
			}
		}
	}
	a.DatabaseSpecific = d.object()
	if d.keep != nil {
		if n, isNil := d.length(); !isNil {
			for range 2 * n {
				d.str()
			}
		}
		return a
	}
	if n, isNil := d.length(); !isNil {
		a.References = make([]Reference, n)
		for i := range a.References {
			a.References[i] = Reference{Type: d.str(), URL: d.str()}
		}
	}
	return a
}

// rangeList cuts an affected entry's ranges and their events from the
// record's pools (three-index slices, so a caller's append cannot run into
// the next entry's).
func (d *recordDecoder) rangeList() []Range {
	n, isNil := d.length()
	if isNil {
		return nil
	}
	var rs []Range
	if len(d.ranges)+n <= cap(d.ranges) {
		start := len(d.ranges)
		d.ranges = d.ranges[:start+n]
		rs = d.ranges[start : start+n : start+n]
	} else {
		rs = make([]Range, n)
	}
	for i := range rs {
		rs[i].Type = d.str()
		rs[i].Repo = d.str()
		m, isNil := d.length()
		if isNil {
			continue
		}
		var evs []Event
		if len(d.events)+m <= cap(d.events) {
			start := len(d.events)
			d.events = d.events[:start+m]
			evs = d.events[start : start+m : start+m]
		} else {
			evs = make([]Event, m)
		}
		for j := range evs {
			evs[j] = Event{Introduced: d.str(), Fixed: d.str(), LastAffected: d.str(), Limit: d.str()}
		}
		rs[i].Events = evs
		if d.err != nil {
			return nil
		}
	}
	return rs
}

// skipAffected steps over the rest of an affected entry (after its
// package), reading it as the decoder would but keeping nothing.
func (d *recordDecoder) skipAffected() {
	d.skipPairs() // severity
	if n, isNil := d.length(); !isNil {
		for range n {
			d.str() // type
			d.str() // repo
			if m, isNil := d.length(); !isNil {
				for range 4 * m {
					d.str()
				}
			}
		}
	}
	if n, isNil := d.length(); !isNil { // versions
		for range n {
			d.str()
		}
	}
	d.skipObject()
	d.skipObject()
}

// skipPairs steps over a list of string pairs (severities).
func (d *recordDecoder) skipPairs() {
	if n, isNil := d.length(); !isNil {
		for range 2 * n {
			d.str()
		}
	}
}

func (d *recordDecoder) skipObject() {
	n, isNil := d.length()
	if isNil {
		return
	}
	for range n {
		d.str()
		d.skipValue(0)
		if d.err != nil {
			return
		}
	}
}

// skipValue is value without building the value.
func (d *recordDecoder) skipValue(depth int) {
	if depth > maxDepth {
		d.fail()
		return
	}
	switch d.uint() {
	case tagNull, tagFalse, tagTrue:
		return
	case tagNumber:
		if len(d.b) < 8 {
			d.fail()
			return
		}
		d.b = d.b[8:]
		return
	case tagString:
		d.str()
		return
	case tagArray:
		n := d.uint()
		if n > uint64(len(d.b)) {
			d.fail()
			return
		}
		for range n {
			d.skipValue(depth + 1)
			if d.err != nil {
				return
			}
		}
		return
	case tagObject:
		n := d.uint()
		if n > uint64(len(d.b)) {
			d.fail()
			return
		}
		for range n {
			d.str()
			d.skipValue(depth + 1)
			if d.err != nil {
				return
			}
		}
		return
	}
	d.fail()
}
