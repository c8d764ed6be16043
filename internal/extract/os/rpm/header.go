package rpm

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Header tags and types, from rpm's rpmtag.h.
const (
	tagName      = 1000
	tagVersion   = 1001
	tagRelease   = 1002
	tagEpoch     = 1003
	tagLicense   = 1014
	tagArch      = 1022
	tagSourceRPM = 1044

	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
	typeI18NString  = 9

	// rpm refuses headers with more index entries or data than this
	// (hdrchkTags, hdrchkData in header.c).
	maxIndexEntries = 0xffff
	maxDataLength   = 0x0fffffff
)

type header struct {
	name, version, release, arch, sourceRPM, license string
	epoch                                            int
}

// parseHeader reads the tags we need from an rpm header blob as stored in
// the database: il and dl (big-endian counts), il index entries of 16 bytes,
// then dl bytes of data. Region trailers and signatures are not verified:
// we read only a handful of string tags, each bounds-checked against the
// data area, and a later (dribble) entry for a tag overrides an earlier one
// as in rpm.
func parseHeader(b []byte) (*header, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: header of %d bytes is shorter than its counts", ErrMalformed, len(b))
	}
	il := binary.BigEndian.Uint32(b[0:4])
	dl := binary.BigEndian.Uint32(b[4:8])
	if il == 0 || il > maxIndexEntries {
		return nil, fmt.Errorf("%w: %d index entries", ErrMalformed, il)
	}
	if dl > maxDataLength {
		return nil, fmt.Errorf("%w: %d bytes of data", ErrMalformed, dl)
	}
	dataStart := 8 + 16*uint64(il)
	dataEnd := dataStart + uint64(dl)
	if dataEnd > uint64(len(b)) {
		return nil, fmt.Errorf("%w: header declares %d bytes but has %d", ErrMalformed, dataEnd, len(b))
	}
	data := b[dataStart:dataEnd]

	h := &header{}
	for i := uint64(0); i < uint64(il); i++ {
		e := b[8+16*i : 8+16*i+16]
		tag := int32(binary.BigEndian.Uint32(e[0:4]))
		typ := binary.BigEndian.Uint32(e[4:8])
		off := binary.BigEndian.Uint32(e[8:12])
		count := binary.BigEndian.Uint32(e[12:16])

		var dst *string
		switch tag {
		case tagName:
			dst = &h.name
		case tagVersion:
			dst = &h.version
		case tagRelease:
			dst = &h.release
		case tagArch:
			dst = &h.arch
		case tagSourceRPM:
			dst = &h.sourceRPM
		case tagLicense:
			dst = &h.license
		case tagEpoch:
			if typ != typeInt32 || count < 1 || uint64(off)+4 > uint64(len(data)) {
				return nil, fmt.Errorf("%w: bad epoch entry (type %d, offset %d, count %d)", ErrMalformed, typ, off, count)
			}
			epoch := int32(binary.BigEndian.Uint32(data[off:]))
			if epoch < 0 {
				return nil, fmt.Errorf("%w: negative epoch %d", ErrMalformed, epoch)
			}
			h.epoch = int(epoch)
			continue
		default:
			continue
		}
		if typ != typeString && typ != typeStringArray && typ != typeI18NString {
			return nil, fmt.Errorf("%w: tag %d has type %d, want a string", ErrMalformed, tag, typ)
		}
		if count < 1 || uint64(off) >= uint64(len(data)) {
			return nil, fmt.Errorf("%w: tag %d has offset %d outside %d data bytes", ErrMalformed, tag, off, len(data))
		}
		// For arrays (and i18n strings, one per locale) the first element
		// is the value: the untranslated one.
		s := data[off:]
		nul := bytes.IndexByte(s, 0)
		if nul < 0 {
			return nil, fmt.Errorf("%w: tag %d string is not terminated", ErrMalformed, tag)
		}
		*dst = string(s[:nul])
	}
	if h.name == "" || h.version == "" {
		return nil, fmt.Errorf("%w: header has no name or version", ErrMalformed)
	}
	return h, nil
}
