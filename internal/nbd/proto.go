package nbd

import (
	"errors"
	"io"
)

// Protocol constants, as the NBD protocol document names them.
const (
	magicNBD       = 0x4e42444d41474943 // "NBDMAGIC"
	magicIHaveOpt  = 0x49484156454f5054 // "IHAVEOPT"
	magicOptReply  = 0x0003e889045565a9
	magicRequest   = 0x25609513
	magicSimple    = 0x67446698
	magicStructure = 0x668e33ef

	flagFixedNewstyle = 1 << 0
	flagNoZeroes      = 1 << 1

	optAbort          = 2
	optGo             = 7
	optStructured     = 8
	optSetMetaContext = 10

	repAck         = 1
	repInfo        = 3
	repMetaContext = 4
	repErrBit      = 1 << 31

	infoExport    = 0
	infoBlockSize = 3

	cmdRead        = 0
	cmdWrite       = 1
	cmdDisc        = 2
	cmdFlush       = 3
	cmdBlockStatus = 7

	replyFlagDone = 1 << 0

	chunkNone        = 0
	chunkOffsetData  = 1
	chunkOffsetHole  = 2
	chunkBlockStatus = 5
	chunkErrBit      = 1 << 15
	chunkError       = chunkErrBit + 1
	chunkErrorOffset = chunkErrBit + 2
)

// Bounds on what the peer may make us allocate or loop over.
const (
	// MaxRequest is the largest READ or WRITE sent in one request; longer
	// ones are split.
	MaxRequest = 32 << 20
	// maxOptReply bounds an option reply's payload.
	maxOptReply = 64 << 10
	// maxName bounds an export or meta context name.
	maxName = 4096
	// maxErrMsg bounds an error chunk's message.
	maxErrMsg = 4096
	// maxStatusChunk bounds a BLOCK_STATUS chunk (1 Mi descriptors).
	maxStatusChunk = 8 << 20
)

// ErrProtocol is wrapped by errors for replies that break the protocol.
var ErrProtocol = errors.New("nbd: protocol error")

// Error is an error the server answered a request with.
type Error struct {
	Code uint32 // an errno value (EIO=5, EINVAL=22, ...)
	Msg  string
}

func (e *Error) Error() string {
	if e.Msg != "" {
		return "nbd: server error " + errnoName(e.Code) + ": " + e.Msg
	}
	return "nbd: server error " + errnoName(e.Code)
}

func errnoName(c uint32) string {
	switch c {
	case 1:
		return "EPERM"
	case 5:
		return "EIO"
	case 12:
		return "ENOMEM"
	case 22:
		return "EINVAL"
	case 28:
		return "ENOSPC"
	case 75:
		return "EOVERFLOW"
	case 95:
		return "ENOTSUP"
	case 108:
		return "ESHUTDOWN"
	}
	return "errno " + itoa(uint64(c))
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

var errEOF = io.EOF
