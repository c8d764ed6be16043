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
			blob, err := readOverflow(ctx, readPage, ov, order, first, total, pages)
			if err != nil {
				c.addErr(fmt.Errorf("read Berkeley DB %s: %w", where, err))
				continue
			}
			c.add(where, blob)
		}
	}
	return truncated
}

// readOverflow follows a chain of overflow pages holding one value of total
// bytes. The chain is bounded by the page count, so a cycle ends in an error.
func readOverflow(ctx context.Context, readPage func([]byte, uint64) error, buf []byte, order binary.ByteOrder, first uint64, total uint32, pages uint64) ([]byte, error) {
	if total > maxHeaderSize {
		return nil, fmt.Errorf("%w: %w: header of %d bytes exceeds %d", ErrMalformed, ErrTooLarge, total, maxHeaderSize)
	}
	out := make([]byte, 0, total)
	steps := uint64(0)
	for pn := first; uint32(len(out)) < total; {
		if pn == 0 || pn >= pages {
			return nil, fmt.Errorf("%w: overflow chain points at page %d of %d", ErrMalformed, pn, pages)
		}
		if steps++; steps > pages {
			return nil, fmt.Errorf("%w: overflow chain loops", ErrMalformed)
		}
		if steps%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := readPage(buf, pn); err != nil {
			return nil, err
		}
		if buf[25] != bdbPageOverflow {
			return nil, fmt.Errorf("%w: page %d in an overflow chain has type %d", ErrMalformed, pn, buf[25])
		}
		// An overflow page's hf_offset field holds the bytes it carries.
		n := uint32(order.Uint16(buf[22:24]))
		if bdbPageHeaderSize+n > uint32(len(buf)) {
			return nil, fmt.Errorf("%w: overflow page %d claims %d bytes", ErrMalformed, pn, n)
		}
		n = min(n, total-uint32(len(out)))
		out = append(out, buf[bdbPageHeaderSize:bdbPageHeaderSize+n]...)
		pn = uint64(order.Uint32(buf[16:20]))
		if pn == 0 {
			break
		}
	}
	if uint32(len(out)) != total {
		return nil, fmt.Errorf("%w: overflow chain holds %d of %d bytes", ErrMalformed, len(out), total)
	}
	return out, nil
}
