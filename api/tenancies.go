package api

// TenanciesPath lists the tenancies a replication server hosts.
const TenanciesPath = "/v1/tenancies"

// Tenancy is one tenancy a replication server hosts besides its own
// store (vmrepd --tenancies), as its operator sees it.
type Tenancy struct {
	Name        string `json:"name"`
	StoredBytes int64  `json:"stored_bytes"`          // its packs
	QuotaBytes  int64  `json:"quota_bytes,omitempty"` // absent: no quota
	VGs         int    `json:"vgs"`
	Snapshots   int    `json:"snapshots"`
}

// TenanciesResult is the answer to GET /v1/tenancies, sorted by name;
// empty on a server that hosts none.
type TenanciesResult struct {
	Tenancies []Tenancy `json:"tenancies"`
}
