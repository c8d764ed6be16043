package rpm

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// NDB layout, from rpm's lib/backend/ndb/rpmpkg.c: a 32-byte header whose
// last field counts 4 KiB slot pages; the slots (the header takes the first
// two) point, in 16-byte blocks, at blobs that each hold one package header.
const (
	ndbHeaderMagic  = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic    = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic    = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbSlotPageSize = 4096
	ndbSlotSize     = 16
	ndbBlockSize    = 16
	ndbBlobHeadSize = 16
	// rpm itself never grows past this many slot pages (a million packages);
	// more means a corrupt header.
	ndbMaxSlotPages = 2048
)

// readNDB calls c.add with every header blob in an NDB database.
func readNDB(ctx context.Context, r io.ReaderAt, size int64, c sink) error {
	var hdr [32]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("read NDB header: %w: %w", ErrMalformed, err)
	}
	le := binary.LittleEndian
	if v := le.Uint32(hdr[4:8]); v != 0 {
		return fmt.Errorf("read NDB header: %w: version %d", ErrMalformed, v)
	}
	slotPages := uint64(le.Uint32(hdr[12:16]))
	if slotPages == 0 || slotPages > ndbMaxSlotPages || slotPages*ndbSlotPageSize > uint64(size) {
		return fmt.Errorf("read NDB header: %w: %d slot pages in a %d byte file", ErrMalformed, slotPages, size)
	}
	slots := make([]byte, slotPages*ndbSlotPageSize)
	if _, err := r.ReadAt(slots, 0); err != nil {
		return fmt.Errorf("read NDB slots: %w", err)
	}
	var bh [ndbBlobHeadSize]byte
	// Blobs do not overlap, so together they are no larger than the file.
	// Holding slots to that keeps many slots aimed at one large blob from
	// making the read quadratic.
	budget := size
	for i := 2; i*ndbSlotSize < len(slots); i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		s := slots[i*ndbSlotSize:]
		if le.Uint32(s[0:4]) != ndbSlotMagic {
			// rpm stops here too: past a bad slot nothing can be trusted.
			return fmt.Errorf("read NDB slot %d: %w: bad slot magic", i, ErrMalformed)
		}
		pkgIndex := le.Uint32(s[4:8])
		if pkgIndex == 0 {
			continue // free slot
		}
		where := fmt.Sprintf("NDB package %d", pkgIndex)
		off := int64(le.Uint32(s[8:12])) * ndbBlockSize
		if off+ndbBlobHeadSize > size {
			c.addErr(fmt.Errorf("read %s: %w: blob offset %d beyond the file", where, ErrMalformed, off))
			continue
		}
		if _, err := r.ReadAt(bh[:], off); err != nil {
			c.addErr(fmt.Errorf("read %s: %w", where, err))
			continue
		}
		if le.Uint32(bh[0:4]) != ndbBlobMagic || le.Uint32(bh[4:8]) != pkgIndex {
			c.addErr(fmt.Errorf("read %s: %w: bad blob header", where, ErrMalformed))
			continue
		}
		n := int64(le.Uint32(bh[12:16]))
		if n > maxHeaderSize {
			c.addErr(fmt.Errorf("read %s: %w: %w: header of %d bytes exceeds %d", where, ErrMalformed, ErrTooLarge, n, maxHeaderSize))
			continue
		}
		if off+ndbBlobHeadSize+n > size {
			c.addErr(fmt.Errorf("read %s: %w: blob of %d bytes runs past the file end", where, ErrMalformed, n))
			continue
		}
		if budget -= n; budget < 0 {
			return fmt.Errorf("read %s: %w: blobs add up to more than the file", where, ErrMalformed)
		}
		blob := make([]byte, n)
		if _, err := r.ReadAt(blob, off+ndbBlobHeadSize); err != nil {
			c.addErr(fmt.Errorf("read %s: %w", where, err))
			continue
		}
		c.add(where, blob)
	}
	return nil
}
