package rpm

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// Berkeley DB hash database layout, from libdb's db_page.h. rpm keeps each
// header as the value of a hash entry; headers are larger than a page, so
// the entry is an off-page reference (H_OFFPAGE) to a chain of overflow
// pages.
const (
	bdbHashMagic      = 0x061561
	bdbPageHeaderSize = 26
	bdbPageHash       = 13 // P_HASH
	bdbPageHashUnsort = 2  // P_HASH_UNSORTED, written by the libdb of RHEL/CentOS 5
	bdbPageOverflow   = 7  // P_OVERFLOW
	bdbHOffPage       = 3  // H_OFFPAGE
	bdbHOffPageSize   = 12
)

// readBDB calls add with every header blob in a Berkeley DB hash database.
// Errors about one entry go to c; the returned error is for damage that
// stops the walk.
func readBDB(ctx context.Context, r io.ReaderAt, size int64, c sink) error {
	meta := make([]byte, 72)
	if _, err := r.ReadAt(meta, 0); err != nil {
		return fmt.Errorf("read Berkeley DB metadata page: %w: %w", ErrMalformed, err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if binary.LittleEndian.Uint32(meta[12:16]) != bdbHashMagic {
		order = binary.BigEndian
	}
	pageSize := order.Uint32(meta[20:24])
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("read Berkeley DB metadata page: %w: page size %d", ErrMalformed, pageSize)
	}
	if meta[24] != 0 {
		return fmt.Errorf("read Berkeley DB metadata page: %w: encrypted database", ErrMalformed)
	}
	lastPage := uint64(order.Uint32(meta[32:36]))
	// The metadata may claim more pages than the file holds; walk what is
	// there and say the rest is missing.
	pages := uint64(size) / uint64(pageSize)
	var truncated error
	if lastPage+1 < pages {
		pages = lastPage + 1
	} else if lastPage+1 > pages {
		truncated = fmt.Errorf("read Berkeley DB: %w: metadata names %d pages, file holds %d", ErrMalformed, lastPage+1, pages)
	}

	page := make([]byte, pageSize)
	ov := make([]byte, pageSize)
	readPage := func(buf []byte, n uint64) error {
		if _, err := r.ReadAt(buf, int64(n)*int64(pageSize)); err != nil {
			return fmt.Errorf("read Berkeley DB page %d: %w", n, err)
		}
		return nil
	}
	// Each overflow page belongs to one value. Refusing to read one twice
	// keeps the walk linear in the file size however the entries point.
	w := &overflowWalk{readPage: readPage, buf: ov, order: order, pages: pages, seen: make([]uint64, (pages+63)/64), pageSize: pageSize}
	for pn := uint64(1); pn < pages; pn++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := readPage(page, pn); err != nil {
			return err
		}
		typ := page[25]
		if typ != bdbPageHash && typ != bdbPageHashUnsort {
			continue
		}
		entries := uint32(order.Uint16(page[20:22]))
		if bdbPageHeaderSize+2*entries > pageSize {
			c.addErr(fmt.Errorf("read Berkeley DB page %d: %w: %d entries overflow the page", pn, ErrMalformed, entries))
			continue
		}
		// Entries come in key/value pairs; the values hold the headers.
		for i := uint32(1); i < entries; i += 2 {
			off := uint32(order.Uint16(page[bdbPageHeaderSize+2*i:]))
			if off >= pageSize || page[off] != bdbHOffPage {
				// Small inline values are rpm's bookkeeping, not headers.
				continue
			}
			where := fmt.Sprintf("page %d entry %d", pn, i/2)
			if off+bdbHOffPageSize > pageSize {
				c.addErr(fmt.Errorf("read Berkeley DB %s: %w: off-page reference crosses the page end", where, ErrMalformed))
				continue
			}
			first := uint64(order.Uint32(page[off+4:]))
			total := order.Uint32(page[off+8:])
			blob, err := w.read(ctx, first, total)
			if err != nil {
				c.addErr(fmt.Errorf("read Berkeley DB %s: %w", where, err))
				continue
			}
			c.add(where, blob)
		}
	}
	return truncated
}

type overflowWalk struct {
	readPage func([]byte, uint64) error
	buf      []byte
	order    binary.ByteOrder
	pages    uint64
	pageSize uint32
	seen     []uint64
}

// read follows a chain of overflow pages holding one value of total bytes.
func (w *overflowWalk) read(ctx context.Context, first uint64, total uint32) ([]byte, error) {
	if total > maxHeaderSize {
		return nil, fmt.Errorf("%w: %w: header of %d bytes exceeds %d", ErrMalformed, ErrTooLarge, total, maxHeaderSize)
	}
	// The value cannot be larger than the pages that could hold it; checking
	// before allocating keeps a lying length from costing memory.
	if uint64(total) > w.pages*uint64(w.pageSize-bdbPageHeaderSize) {
		return nil, fmt.Errorf("%w: value of %d bytes does not fit in %d pages", ErrMalformed, total, w.pages)
	}
	// Grown as pages are read, not allocated up front, so that many entries
	// claiming large values which then fail cost nothing.
	out := make([]byte, 0, min(total, 64<<10))
	for pn := first; uint32(len(out)) < total; {
		if pn == 0 || pn >= w.pages {
			return nil, fmt.Errorf("%w: overflow chain points at page %d of %d", ErrMalformed, pn, w.pages)
		}
		if w.seen[pn/64]&(1<<(pn%64)) != 0 {
			return nil, fmt.Errorf("%w: overflow page %d is in two chains or a loop", ErrMalformed, pn)
		}
		w.seen[pn/64] |= 1 << (pn % 64)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		buf := w.buf
		if err := w.readPage(buf, pn); err != nil {
			return nil, err
		}
		if buf[25] != bdbPageOverflow {
			return nil, fmt.Errorf("%w: page %d in an overflow chain has type %d", ErrMalformed, pn, buf[25])
		}
		// An overflow page's hf_offset field holds the bytes it carries.
		n := uint32(w.order.Uint16(buf[22:24]))
		if bdbPageHeaderSize+n > uint32(len(buf)) {
			return nil, fmt.Errorf("%w: overflow page %d claims %d bytes", ErrMalformed, pn, n)
		}
		n = min(n, total-uint32(len(out)))
		out = append(out, buf[bdbPageHeaderSize:bdbPageHeaderSize+n]...)
		pn = uint64(w.order.Uint32(buf[16:20]))
		if pn == 0 {
			break
		}
	}
	if uint32(len(out)) != total {
		return nil, fmt.Errorf("%w: overflow chain holds %d of %d bytes", ErrMalformed, len(out), total)
	}
	return out, nil
}
