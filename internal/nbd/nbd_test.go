package nbd

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// chunk encodes one structured reply chunk.
func chunk(flags, typ uint16, cookie uint64, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magicStructure)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint64(b, cookie)
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func dataChunk(done bool, off uint64, data []byte) []byte {
	var f uint16
	if done {
		f = replyFlagDone
	}
	return chunk(f, chunkOffsetData, 1, append(binary.BigEndian.AppendUint64(nil, off), data...))
}

func holeChunk(done bool, off uint64, n uint32) []byte {
	var f uint16
	if done {
		f = replyFlagDone
	}
	return chunk(f, chunkOffsetHole, 1, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, off), n))
}

func statusChunk(done bool, ctx uint32, ext ...uint32) []byte {
	var f uint16
	if done {
		f = replyFlagDone
	}
	p := binary.BigEndian.AppendUint32(nil, ctx)
	for _, e := range ext {
		p = binary.BigEndian.AppendUint32(p, e)
	}
	return chunk(f, chunkBlockStatus, 1, p)
}

func TestReadData(t *testing.T) {
	cases := []struct {
		name  string
		wire  []byte
		want  []byte
		error string
	}{
		{"data and hole", append(dataChunk(false, 100, []byte("abcd")), holeChunk(true, 104, 4)...), []byte("abcd\x00\x00\x00\x00"), ""},
		{"out of order", append(holeChunk(false, 104, 4), dataChunk(true, 100, []byte("abcd"))...), []byte("abcd\x00\x00\x00\x00"), ""},
		{"short", dataChunk(true, 100, []byte("abcd")), nil, "covers 4 bytes of 8"},
		{"outside", dataChunk(true, 96, []byte("abcdefgh")), nil, "outside the request"},
		{"past the end", dataChunk(true, 104, []byte("abcdefgh")), nil, "outside the request"},
		{"twice", append(dataChunk(false, 100, []byte("abcdefgh")), dataChunk(true, 100, []byte("abcd"))...), nil, "covers 12 bytes of 8"},
		{"error chunk", chunk(replyFlagDone, chunkError, 1, []byte{0, 0, 0, 5, 0, 3, 'b', 'a', 'd'}), nil, "EIO: bad"},
		{"error message too long", chunk(replyFlagDone, chunkError, 1, []byte{0, 0, 0, 5, 0, 30, 'b'}), nil, "error message of 30 bytes"},
		{"wrong cookie", chunk(replyFlagDone, chunkNone, 9, nil), nil, "reply to request 9"},
		{"huge chunk", chunk(replyFlagDone, chunkOffsetData, 1, nil)[:20], nil, "data chunk of 0 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := bytes.Repeat([]byte{0xff}, 8)
			rr := &replyReader{r: bytes.NewReader(c.wire), cookie: 1, structured: true}
			err := rr.readData(p, 100)
			if c.error != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.error)) {
					t.Fatalf("error %v, want one saying %q", err, c.error)
				}
				return
			}
			if err != nil || !bytes.Equal(p, c.want) {
				t.Fatalf("got %q, %v; want %q", p, err, c.want)
			}
		})
	}
}

func TestReadStatus(t *testing.T) {
	// Two contexts; only id 2's extents count, clipped to the request.
	wire := append(statusChunk(false, 1, 4096, 0), statusChunk(true, 2, 4096, 3, 8192, 0)...)
	var got []Extent
	rr := &replyReader{r: bytes.NewReader(wire), cookie: 1, structured: true}
	if err := rr.readStatus(2, 0, 6000, func(e Extent) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []Extent{{0, 4096, 3}, {4096, 1904, 0}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
	rr = &replyReader{r: bytes.NewReader(statusChunk(true, 2, 0, 0)), cookie: 1, structured: true}
	if err := rr.readStatus(2, 0, 10, func(Extent) error { return nil }); !errors.Is(err, ErrProtocol) {
		t.Fatalf("empty extent: %v", err)
	}
}

func TestParseURI(t *testing.T) {
	good := map[string]Target{
		"nbd+unix:///boot?socket=/run/qsd.sock": {"unix", "/run/qsd.sock", "boot"},
		"nbd+unix:///?socket=/s":                {"unix", "/s", ""},
		"nbd://host/disk":                       {"tcp", "host:10809", "disk"},
		"nbd://10.0.0.1:1234/a/b":               {"tcp", "10.0.0.1:1234", "a/b"},
		"nbd://[::1]:99/x":                      {"tcp", "[::1]:99", "x"},
	}
	for in, want := range good {
		got, err := ParseURI(in)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", in, got, err, want)
		}
		if back, err := ParseURI(got.URI()); err != nil || back != got {
			t.Errorf("%s: URI() %q does not read back: %+v, %v", in, got.URI(), back, err)
		}
	}
	for _, in := range []string{"nbd+unix:///boot", "nbd+unix:///b?socket=rel.sock", "nbd+unix://host/b?socket=/s",
		"nbd:///x", "nbds://h/x", "nbd://h/x?socket=/s", "nbd+unix:///b?socket=/s&socket=/t"} {
		if _, err := ParseURI(in); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

// server answers a handshake as a fixed newstyle server would.
func server(exportSize uint64, contexts map[string]uint32) []byte {
	b := binary.BigEndian.AppendUint64(nil, magicNBD)
	b = binary.BigEndian.AppendUint64(b, magicIHaveOpt)
	b = binary.BigEndian.AppendUint16(b, flagFixedNewstyle|flagNoZeroes)
	reply := func(opt, typ uint32, p []byte) {
		b = binary.BigEndian.AppendUint64(b, magicOptReply)
		b = binary.BigEndian.AppendUint32(b, opt)
		b = binary.BigEndian.AppendUint32(b, typ)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	reply(optStructured, repAck, nil)
	if contexts != nil {
		for name, id := range contexts {
			reply(optSetMetaContext, repMetaContext, append(binary.BigEndian.AppendUint32(nil, id), name...))
		}
		reply(optSetMetaContext, repAck, nil)
	}
	info := binary.BigEndian.AppendUint16(nil, infoExport)
	info = binary.BigEndian.AppendUint64(info, exportSize)
	info = binary.BigEndian.AppendUint16(info, 1)
	reply(optGo, repInfo, info)
	reply(optGo, repAck, nil)
	return b
}

type rw struct {
	io.Reader
	io.Writer
}

func TestHandshake(t *testing.T) {
	wire := server(1<<30, map[string]uint32{"base:allocation": 7})
	ex, err := handshake(rw{bytes.NewReader(wire), io.Discard}, "boot", []string{"base:allocation"})
	if err != nil {
		t.Fatal(err)
	}
	if ex.size != 1<<30 || !ex.structured || ex.contexts["base:allocation"] != 7 {
		t.Fatalf("handshake learned %+v", ex)
	}
	// Cut anywhere, the handshake fails cleanly.
	for n := range len(wire) {
		if _, err := handshake(rw{bytes.NewReader(wire[:n]), io.Discard}, "boot", []string{"base:allocation"}); err == nil {
			t.Fatalf("handshake cut at %d bytes succeeded", n)
		}
	}
}

// Dial over TCP (nbd://HOST:PORT/EXPORT) against a scripted server that
// sends its whole side of the conversation up front.
func TestDialTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(append(server(4096, nil), dataChunk(true, 8, []byte("abcdefgh"))...))
		io.Copy(io.Discard, c)
	}()
	tg, err := ParseURI("nbd://" + l.Addr().String() + "/disk")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), tg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := make([]byte, 8)
	if _, err := c.ReadAt(p, 8); err != nil || string(p) != "abcdefgh" || c.Size() != 4096 {
		t.Fatalf("read %q, %v (size %d)", p, err, c.Size())
	}
}
