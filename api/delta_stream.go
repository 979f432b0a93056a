package api

// DeltaStreamPath streams a delta: the answer's body is the delta's bytes
// (application/octet-stream), and an error that stops the export after the
// first byte is sent comes in the DeltaStreamErrorTrailer trailer.
const DeltaStreamPath = "/v1/deltas/stream"

// DeltaStreamErrorTrailer is the trailer that carries the error of an
// export stopped mid-stream; absent when the stream is whole.
const DeltaStreamErrorTrailer = "Vmrep-Stream-Error"

// DeltaStreamRequest is the body of POST /v1/deltas/stream.
type DeltaStreamRequest struct {
	Base   string `json:"base"`
	Target string `json:"target"`
	// Resume is the token a receiver printed for a cut stream: the answer
	// then starts with the resume preamble and sends the delta's bytes from
	// the token's offset on. The token grants nothing: the caller needs the
	// same rights as for the whole export.
	Resume string `json:"resume,omitempty"`
}
