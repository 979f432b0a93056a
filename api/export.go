package api

// JobExport is the kind of an export job.
const JobExport = "export"

// ExportRequest is the body of POST /v1/export.
type ExportRequest struct {
	Snapshot string `json:"snapshot"`
	Volume   string `json:"volume"` // name or id; empty: the boot volume
	Format   string `json:"format"` // qcow2 or raw
	Output   string `json:"output"` // absolute image path
}

// ExportResult is the result of an export job.
type ExportResult struct {
	Snapshot     string `json:"snapshot"`
	Volume       string `json:"volume"`
	Format       string `json:"format"`
	Output       string `json:"output"`
	Size         int64  `json:"size"`
	DataBytes    int64  `json:"data_bytes"`
	DataClusters int64  `json:"data_clusters"`
	FileBytes    int64  `json:"file_bytes"`
}
