package jobs

import (
	"context"
	"sync"

	"github.com/drydock/drydock/internal/match"
	"github.com/drydock/drydock/internal/vulndb"
)

// cachingReader remembers the database's answers for one re-match batch:
// images of an estate share bases, so most package lookups repeat across
// the inventories of a batch. It lives for one job, so a database change
// is never hidden from the next re-match.
// It is shared by the batch's matching goroutines; the lock is held over
// a database read so each (ecosystem, name) is read once.
type cachingReader struct {
	mu      sync.Mutex
	db      *vulndb.DB
	full    map[[2]string][]*vulndb.Advisory
	trimmed map[[2]string][]*vulndb.Advisory
}

var (
	_ match.Reader             = (*cachingReader)(nil)
	_ match.BatchReader        = (*cachingReader)(nil)
	_ match.TrimmedBatchReader = (*cachingReader)(nil)
)

func newCachingReader(db *vulndb.DB) *cachingReader {
	return &cachingReader{db: db, full: map[[2]string][]*vulndb.Advisory{}, trimmed: map[[2]string][]*vulndb.Advisory{}}
}

func (c *cachingReader) Affecting(ctx context.Context, ecosystem, name string) ([]*vulndb.Advisory, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := [2]string{ecosystem, name}
	if a, ok := c.full[k]; ok {
		return a, nil
	}
	a, err := c.db.Affecting(ctx, ecosystem, name)
	if err != nil {
		return nil, err
	}
	c.full[k] = a
	return a, nil
}

func (c *cachingReader) many(ctx context.Context, cache map[[2]string][]*vulndb.Advisory, ecosystem string, names []string,
	read func(context.Context, string, []string) (map[string][]*vulndb.Advisory, error)) (map[string][]*vulndb.Advisory, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]*vulndb.Advisory{}
	var missing []string
	for _, n := range names {
		if a, ok := cache[[2]string{ecosystem, n}]; ok {
			if len(a) > 0 {
				out[n] = a
			}
			continue
		}
		missing = append(missing, n)
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := read(ctx, ecosystem, missing)
	if err != nil {
		return nil, err
	}
	for _, n := range missing {
		a := got[n]
		cache[[2]string{ecosystem, n}] = a // nil: no advisory, remembered too
		if len(a) > 0 {
			out[n] = a
		}
	}
	return out, nil
}

func (c *cachingReader) AffectingMany(ctx context.Context, ecosystem string, names []string) (map[string][]*vulndb.Advisory, error) {
	return c.many(ctx, c.full, ecosystem, names, c.db.AffectingMany)
}

func (c *cachingReader) AffectingManyTrimmed(ctx context.Context, ecosystem string, names []string) (map[string][]*vulndb.Advisory, error) {
	return c.many(ctx, c.trimmed, ecosystem, names, c.db.AffectingManyTrimmed)
}
