package nbd

import (
	"encoding/binary"
	"fmt"
	"io"
)

// export is what the handshake learned.
type export struct {
	size       int64
	flags      uint16
	structured bool
	contexts   map[string]uint32
	maxBlock   uint32
}

// handshake runs the fixed newstyle negotiation on rw: structured replies,
// the meta contexts asked for (only with structured replies), then GO.
func handshake(rw io.ReadWriter, name string, contexts []string) (export, error) {
	var ex export
	var hdr [18]byte
	if _, err := io.ReadFull(rw, hdr[:]); err != nil {
		return ex, fmt.Errorf("nbd: read greeting: %w", err)
	}
	if be64(hdr[0:]) != magicNBD || be64(hdr[8:]) != magicIHaveOpt {
		return ex, fmt.Errorf("%w: not a newstyle NBD server (greeting %x)", ErrProtocol, hdr[:16])
	}
	sflags := binary.BigEndian.Uint16(hdr[16:])
	if sflags&flagFixedNewstyle == 0 {
		return ex, fmt.Errorf("%w: server does not speak fixed newstyle", ErrProtocol)
	}
	cflags := uint32(flagFixedNewstyle)
	if sflags&flagNoZeroes != 0 {
		cflags |= flagNoZeroes
	}
	if err := write32(rw, cflags); err != nil {
		return ex, err
	}

	if err := sendOpt(rw, optStructured, nil); err != nil {
		return ex, err
	}
	typ, _, err := readOptReply(rw, optStructured)
	if err != nil {
		return ex, err
	}
	ex.structured = typ == repAck
	ex.contexts = map[string]uint32{}
	if len(contexts) > 0 && ex.structured {
		if err := setMeta(rw, name, contexts, ex.contexts); err != nil {
			return ex, err
		}
	}

	data := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
	data = append(data, name...)
	data = binary.BigEndian.AppendUint16(data, 1)
	data = binary.BigEndian.AppendUint16(data, infoBlockSize)
	if err := sendOpt(rw, optGo, data); err != nil {
		return ex, err
	}
	gotSize := false
	for {
		typ, p, err := readOptReply(rw, optGo)
		if err != nil {
			return ex, err
		}
		if typ&repErrBit != 0 {
			return ex, fmt.Errorf("nbd: export %q: %s", name, optErrText(typ, p))
		}
		if typ == repAck {
			break
		}
		if typ != repInfo || len(p) < 2 {
			continue
		}
		switch binary.BigEndian.Uint16(p) {
		case infoExport:
			if len(p) != 12 {
				return ex, fmt.Errorf("%w: export info of %d bytes", ErrProtocol, len(p))
			}
			size := be64(p[2:])
			if size > 1<<62 {
				return ex, fmt.Errorf("%w: export size %d", ErrProtocol, size)
			}
			ex.size, ex.flags, gotSize = int64(size), binary.BigEndian.Uint16(p[10:]), true
		case infoBlockSize:
			if len(p) == 14 {
				ex.maxBlock = binary.BigEndian.Uint32(p[10:])
			}
		}
	}
	if !gotSize {
		return ex, fmt.Errorf("%w: export %q: server sent no size", ErrProtocol, name)
	}
	return ex, nil
}

func setMeta(rw io.ReadWriter, name string, contexts []string, got map[string]uint32) error {
	data := binary.BigEndian.AppendUint32(nil, uint32(len(name)))
	data = append(data, name...)
	data = binary.BigEndian.AppendUint32(data, uint32(len(contexts)))
	for _, c := range contexts {
		data = binary.BigEndian.AppendUint32(data, uint32(len(c)))
		data = append(data, c...)
	}
	if err := sendOpt(rw, optSetMetaContext, data); err != nil {
		return err
	}
	for i := 0; ; i++ {
		typ, p, err := readOptReply(rw, optSetMetaContext)
		if err != nil {
			return err
		}
		switch {
		case typ == repAck:
			return nil
		case typ&repErrBit != 0:
			return fmt.Errorf("nbd: export %q: set meta context: %s", name, optErrText(typ, p))
		case typ != repMetaContext:
			continue
		case len(p) < 4 || len(p) > 4+maxName:
			return fmt.Errorf("%w: meta context reply of %d bytes", ErrProtocol, len(p))
		case i > len(contexts):
			return fmt.Errorf("%w: more meta contexts than asked for", ErrProtocol)
		}
		got[string(p[4:])] = binary.BigEndian.Uint32(p)
	}
}

func sendOpt(w io.Writer, opt uint32, data []byte) error {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16+len(data)), magicIHaveOpt)
	b = binary.BigEndian.AppendUint32(b, opt)
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("nbd: send option %d: %w", opt, err)
	}
	return nil
}

// readOptReply reads one option reply to opt, its payload bounded.
func readOptReply(r io.Reader, opt uint32) (uint32, []byte, error) {
	var h [20]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("nbd: read reply to option %d: %w", opt, err)
	}
	if be64(h[0:]) != magicOptReply {
		return 0, nil, fmt.Errorf("%w: bad option reply magic %x", ErrProtocol, h[:8])
	}
	if got := binary.BigEndian.Uint32(h[8:]); got != opt {
		return 0, nil, fmt.Errorf("%w: reply to option %d while %d was asked", ErrProtocol, got, opt)
	}
	typ, n := binary.BigEndian.Uint32(h[12:]), binary.BigEndian.Uint32(h[16:])
	if n > maxOptReply {
		return 0, nil, fmt.Errorf("%w: option reply of %d bytes", ErrProtocol, n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, fmt.Errorf("nbd: read reply to option %d: %w", opt, err)
	}
	return typ, p, nil
}

func optErrText(typ uint32, p []byte) string {
	var what string
	switch typ {
	case repErrBit + 1:
		what = "unsupported"
	case repErrBit + 2:
		what = "policy"
	case repErrBit + 3:
		what = "invalid"
	case repErrBit + 6:
		what = "unknown export"
	default:
		what = fmt.Sprintf("error %#x", typ)
	}
	if len(p) > 0 {
		return what + ": " + printable(p)
	}
	return what
}

// printable keeps a server's message to one printable line.
func printable(p []byte) string {
	if len(p) > 200 {
		p = p[:200]
	}
	b := make([]byte, 0, len(p))
	for _, c := range p {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	return string(b)
}

func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func write32(w io.Writer, v uint32) error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	if _, err := w.Write(b[:]); err != nil {
		return fmt.Errorf("nbd: send client flags: %w", err)
	}
	return nil
}
