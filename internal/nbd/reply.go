package nbd

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Extent is one run of block status: Length bytes with the same Flags.
type Extent struct {
	Off, Length int64
	Flags       uint32
}

// replyReader decodes the replies to one request. Only its fields are
// trusted; every length comes from the wire and is checked before use.
type replyReader struct {
	r          io.Reader
	cookie     uint64
	structured bool
	hdr        [20]byte
}

// readData decodes the replies to a READ of len(p) bytes at off into p.
// Holes are zero-filled; the chunks must cover p exactly once in sum.
func (rr *replyReader) readData(p []byte, off int64) error {
	covered := 0
	for {
		magic, err := rr.readMagic()
		if err != nil {
			return err
		}
		if magic == magicSimple {
			if err := rr.simple(); err != nil {
				return err
			}
			if _, err := io.ReadFull(rr.r, p); err != nil {
				return fmt.Errorf("nbd: read data: %w", err)
			}
			return nil
		}
		flags, typ, n, err := rr.chunkHeader()
		if err != nil {
			return err
		}
		switch typ {
		case chunkOffsetData:
			if n < 8 {
				return fmt.Errorf("%w: data chunk of %d bytes", ErrProtocol, n)
			}
			at, err := rr.u64()
			if err != nil {
				return err
			}
			dst, err := window(p, off, at, uint64(n-8))
			if err != nil {
				return err
			}
			if _, err := io.ReadFull(rr.r, dst); err != nil {
				return fmt.Errorf("nbd: read data: %w", err)
			}
			covered += len(dst)
		case chunkOffsetHole:
			if n != 12 {
				return fmt.Errorf("%w: hole chunk of %d bytes", ErrProtocol, n)
			}
			at, err := rr.u64()
			if err != nil {
				return err
			}
			hl, err := rr.u32()
			if err != nil {
				return err
			}
			dst, err := window(p, off, at, uint64(hl))
			if err != nil {
				return err
			}
			clear(dst)
			covered += len(dst)
		default:
			if err := rr.other(typ, n); err != nil {
				return err
			}
		}
		if covered > len(p) {
			return fmt.Errorf("%w: read reply covers %d bytes of %d", ErrProtocol, covered, len(p))
		}
		if flags&replyFlagDone != 0 {
			if covered != len(p) {
				return fmt.Errorf("%w: read reply covers %d bytes of %d", ErrProtocol, covered, len(p))
			}
			return nil
		}
	}
}

// window is the part of p (read at off) that [at, at+n) names, which must
// lie inside it.
func window(p []byte, off int64, at, n uint64) ([]byte, error) {
	if at < uint64(off) || n > uint64(len(p)) || at-uint64(off) > uint64(len(p))-n {
		return nil, fmt.Errorf("%w: chunk [%d,+%d) outside the request [%d,+%d)", ErrProtocol, at, n, off, len(p))
	}
	s := at - uint64(off)
	return p[s : s+n], nil
}

// readStatus decodes the replies to a BLOCK_STATUS of [off, off+length):
// the extents of context id, in order from off, are passed to fn, clipped
// to the request. Extents of other contexts are read and dropped.
func (rr *replyReader) readStatus(id uint32, off, length int64, fn func(Extent) error) error {
	pos := off
	for {
		magic, err := rr.readMagic()
		if err != nil {
			return err
		}
		if magic == magicSimple {
			if err := rr.simple(); err != nil {
				return err
			}
			return fmt.Errorf("%w: simple reply without error to BLOCK_STATUS", ErrProtocol)
		}
		flags, typ, n, err := rr.chunkHeader()
		if err != nil {
			return err
		}
		switch typ {
		case chunkBlockStatus:
			if n < 12 || (n-4)%8 != 0 || n > maxStatusChunk {
				return fmt.Errorf("%w: block status chunk of %d bytes", ErrProtocol, n)
			}
			ctx, err := rr.u32()
			if err != nil {
				return err
			}
			for range (n - 4) / 8 {
				l, err := rr.u32()
				if err != nil {
					return err
				}
				f, err := rr.u32()
				if err != nil {
					return err
				}
				if ctx != id || pos >= off+length {
					continue
				}
				if l == 0 {
					return fmt.Errorf("%w: empty block status extent", ErrProtocol)
				}
				e := Extent{Off: pos, Length: min(int64(l), off+length-pos), Flags: f}
				pos += e.Length
				if err := fn(e); err != nil {
					return err
				}
			}
		default:
			if err := rr.other(typ, n); err != nil {
				return err
			}
		}
		if flags&replyFlagDone != 0 {
			if pos == off {
				return fmt.Errorf("%w: block status reply names no extent of context %d", ErrProtocol, id)
			}
			return nil
		}
	}
}

// readAck decodes the reply to a request that returns no data.
func (rr *replyReader) readAck() error {
	for {
		magic, err := rr.readMagic()
		if err != nil {
			return err
		}
		if magic == magicSimple {
			return rr.simple()
		}
		flags, typ, n, err := rr.chunkHeader()
		if err != nil {
			return err
		}
		if err := rr.other(typ, n); err != nil {
			return err
		}
		if flags&replyFlagDone != 0 {
			return nil
		}
	}
}

func (rr *replyReader) readMagic() (uint32, error) {
	if _, err := io.ReadFull(rr.r, rr.hdr[:4]); err != nil {
		return 0, fmt.Errorf("nbd: read reply: %w", err)
	}
	m := binary.BigEndian.Uint32(rr.hdr[:4])
	if m == magicStructure && !rr.structured {
		return 0, fmt.Errorf("%w: structured reply not negotiated", ErrProtocol)
	}
	if m != magicSimple && m != magicStructure {
		return 0, fmt.Errorf("%w: bad reply magic %#x", ErrProtocol, m)
	}
	return m, nil
}

// simple reads the rest of a simple reply's header; a nonzero error is
// returned as *Error.
func (rr *replyReader) simple() error {
	if _, err := io.ReadFull(rr.r, rr.hdr[:12]); err != nil {
		return fmt.Errorf("nbd: read reply: %w", err)
	}
	if c := be64(rr.hdr[4:]); c != rr.cookie {
		return fmt.Errorf("%w: reply to request %d while %d was sent", ErrProtocol, c, rr.cookie)
	}
	if code := binary.BigEndian.Uint32(rr.hdr[:4]); code != 0 {
		return &Error{Code: code}
	}
	return nil
}

// chunkHeader reads the rest of a structured reply chunk's header.
func (rr *replyReader) chunkHeader() (flags, typ uint16, n uint32, err error) {
	if _, err := io.ReadFull(rr.r, rr.hdr[:16]); err != nil {
		return 0, 0, 0, fmt.Errorf("nbd: read reply: %w", err)
	}
	flags, typ = binary.BigEndian.Uint16(rr.hdr[0:]), binary.BigEndian.Uint16(rr.hdr[2:])
	if c := be64(rr.hdr[4:]); c != rr.cookie {
		return 0, 0, 0, fmt.Errorf("%w: reply to request %d while %d was sent", ErrProtocol, c, rr.cookie)
	}
	n = binary.BigEndian.Uint32(rr.hdr[12:])
	if n > MaxRequest+8 {
		return 0, 0, 0, fmt.Errorf("%w: reply chunk of %d bytes", ErrProtocol, n)
	}
	return flags, typ, n, nil
}

// other handles a chunk no caller expects: NONE, an error chunk (returned
// as *Error), or an unknown one (a protocol error).
func (rr *replyReader) other(typ uint16, n uint32) error {
	switch {
	case typ == chunkNone:
		if n != 0 {
			return fmt.Errorf("%w: NONE chunk of %d bytes", ErrProtocol, n)
		}
		return nil
	case typ&chunkErrBit != 0:
		if n < 6 {
			return fmt.Errorf("%w: error chunk of %d bytes", ErrProtocol, n)
		}
		code, err := rr.u32()
		if err != nil {
			return err
		}
		var ml [2]byte
		if _, err := io.ReadFull(rr.r, ml[:]); err != nil {
			return fmt.Errorf("nbd: read error chunk: %w", err)
		}
		mlen := uint32(binary.BigEndian.Uint16(ml[:]))
		if mlen > n-6 || mlen > maxErrMsg {
			return fmt.Errorf("%w: error message of %d bytes in a chunk of %d", ErrProtocol, mlen, n)
		}
		msg := make([]byte, mlen)
		if _, err := io.ReadFull(rr.r, msg); err != nil {
			return fmt.Errorf("nbd: read error chunk: %w", err)
		}
		if rest := int64(n - 6 - mlen); rest > 0 {
			if rest > 8 {
				return fmt.Errorf("%w: error chunk of %d bytes", ErrProtocol, n)
			}
			if _, err := io.CopyN(io.Discard, rr.r, rest); err != nil {
				return fmt.Errorf("nbd: read error chunk: %w", err)
			}
		}
		if code == 0 {
			code = 5 // an error chunk with no errno is still an error
		}
		return &Error{Code: code, Msg: printable(msg)}
	}
	return fmt.Errorf("%w: unexpected reply chunk type %d", ErrProtocol, typ)
}

func (rr *replyReader) u32() (uint32, error) {
	if _, err := io.ReadFull(rr.r, rr.hdr[:4]); err != nil {
		return 0, fmt.Errorf("nbd: read reply: %w", err)
	}
	return binary.BigEndian.Uint32(rr.hdr[:4]), nil
}

func (rr *replyReader) u64() (uint64, error) {
	if _, err := io.ReadFull(rr.r, rr.hdr[:8]); err != nil {
		return 0, fmt.Errorf("nbd: read reply: %w", err)
	}
	return be64(rr.hdr[:8]), nil
}
