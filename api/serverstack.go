package api

// ServerStackPath is where a replication-server stack is generated.
const ServerStackPath = "/v1/server-stacks"

// ServerStackRequest is the body of POST /v1/server-stacks: a stack that
// provisions a replication server (vmrepd --listen, its packs in a bucket)
// into the user's cloud tenancy.
type ServerStackRequest struct {
	Target string `json:"target"` // oci
	Out    string `json:"out"`    // absolute stack directory, created if absent
	Name   string `json:"name"`   // display name of the server, prefix of its bucket
	Port   int    `json:"port"`   // TCP port of the replication listener
	// TokenStore has the server take a token store (the sensitive
	// variable tokens_json; vmrepd --tokens) instead of one token.
	TokenStore bool `json:"token_store,omitempty"`
}

// ServerStackResult is the answer to POST /v1/server-stacks.
type ServerStackResult struct {
	Out    string   `json:"out"`
	Target string   `json:"target"`
	Files  []string `json:"files"`
}
