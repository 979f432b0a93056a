package api

// JobGC is the kind of a garbage-collection job.
const JobGC = "gc"

// GCRequest starts a garbage collection.
type GCRequest struct {
	DryRun bool `json:"dry_run,omitempty"`
}

// GCResult reports what a garbage collection found and freed.
type GCResult struct {
	DryRun         bool  `json:"dry_run"`
	Snapshots      int   `json:"snapshots"`
	LivePages      int   `json:"live_pages"`
	LiveChunks     int64 `json:"live_chunks"`
	StoreBlobs     int64 `json:"store_blobs"`
	PacksDeleted   int   `json:"packs_deleted"`
	PacksRewritten int   `json:"packs_rewritten"`
	BlobsDeleted   int64 `json:"blobs_deleted"`
	BytesFreed     int64 `json:"bytes_freed"`
	// PacksSkippedNoSpace counts mostly dead packs left as they were: the
	// file system had too little room to rewrite them.
	PacksSkippedNoSpace int `json:"packs_skipped_no_space,omitempty"`
}
