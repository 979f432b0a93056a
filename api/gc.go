package api

// JobGC is the kind of a garbage-collection job.
const JobGC = "gc"

// GCRequest starts a garbage collection.
type GCRequest struct {
	DryRun bool `json:"dry_run,omitempty"`
}

// GCResult reports what a garbage collection found and freed. Blob counts
// are distinct blobs; bytes are as stored (compressed), store sizes whole
// pack files. In a dry run the pack and blob counts say what gc would
// delete, and nothing is freed.
type GCResult struct {
	DryRun     bool  `json:"dry_run"`
	Snapshots  int   `json:"snapshots"`
	LivePages  int   `json:"live_pages"`
	ChunkRefs  int64 `json:"chunk_refs"` // chunk references in the live pages; a chunk named twice counts twice
	StoreBlobs int64 `json:"store_blobs"`
	LiveBlobs  int64 `json:"live_blobs"`
	LiveBytes  int64 `json:"live_bytes"`
	DeadBlobs  int64 `json:"dead_blobs"`
	DeadBytes  int64 `json:"dead_bytes"`
	// ReclaimableBytes is what deleting and rewriting packs frees now; dead
	// bytes in packs at least half live stay until more of them dies.
	ReclaimableBytes int64 `json:"reclaimable_bytes"`
	DeadKeptBytes    int64 `json:"dead_kept_bytes"`
	PacksDeleted     int   `json:"packs_deleted"`
	PacksRewritten   int   `json:"packs_rewritten"`
	BlobsDeleted     int64 `json:"blobs_deleted"`
	StoreBytesBefore int64 `json:"store_bytes_before"`
	StoreBytesAfter  int64 `json:"store_bytes_after"`
	BytesFreed       int64 `json:"bytes_freed"`
	// PacksSkippedNoSpace counts mostly dead packs left as they were: the
	// file system had too little room to rewrite them.
	PacksSkippedNoSpace int `json:"packs_skipped_no_space,omitempty"`
	// Tenancies is the collection of each tenancy the server hosts
	// besides its own store, by name; the figures above are its own.
	Tenancies map[string]GCResult `json:"tenancies,omitempty"`
	// PendingBlobs are dead blobs of a shared bucket held for the grace
	// period; a later gc deletes them if they are still dead then.
	PendingBlobs int64 `json:"pending_blobs,omitempty"`
}
