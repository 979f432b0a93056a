package api

// StackRequest is the body of POST /v1/stacks.
type StackRequest struct {
	Snapshot string `json:"snapshot"`        // "vg@seq", or with Delta "vg@a..vg@b"
	Delta    string `json:"delta,omitempty"` // absolute delta path for a delta stack
	Target   string `json:"target"`          // local or oci
	Out      string `json:"out"`             // absolute stack directory
}

// StackResult is the answer to POST /v1/stacks.
type StackResult struct {
	Out         string   `json:"out"`
	Target      string   `json:"target"`
	Snapshot    string   `json:"snapshot"`
	Base        string   `json:"base,omitempty"`
	DeltaDigest string   `json:"delta_digest,omitempty"`
	Files       []string `json:"files"`
}
