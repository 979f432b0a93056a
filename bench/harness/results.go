package main

// Row is one measured operation of one tool on one input.
type Row struct {
	Workload string  `json:"workload"`
	Tool     string  `json:"tool"`
	Op       string  `json:"op"`
	Procs    int     `json:"gomaxprocs,omitempty"` // vmrep only; peers use every core
	Bytes    int64   `json:"bytes"`                // logical size of the input
	Seconds  float64 `json:"seconds"`              // the operation, as the tool timed it or wall
	Wall     float64 `json:"wall_s"`               // the whole child process
	MBps     float64 `json:"mb_per_s,omitempty"`   // Bytes / Seconds, 1e6 bytes
	RSSMiB   float64 `json:"rss_mib"`
	Repo     int64   `json:"repo_bytes,omitempty"`  // store or repository on disk after the op
	Delta    int64   `json:"delta_bytes,omitempty"` // delta file size
	Changed  int64   `json:"changed_bytes,omitempty"`

	Split map[string]float64 `json:"split,omitempty"` // ingest time split, seconds
	Extra map[string]float64 `json:"extra,omitempty"`
}

// Results is everything a run measured; the JSON file holds it whole.
type Results struct {
	Date      string   `json:"date"`
	Host      string   `json:"host"`
	CPUs      int      `json:"cpus"`
	GoVersion string   `json:"go"`
	Seconds   float64  `json:"seconds"`
	Config    config   `json:"config"`
	Notes     []string `json:"notes"`
	Ingest    []Row    `json:"ingest"`
	Delta     []Row    `json:"delta"`
	Sweep     []Row    `json:"sweep"`
	Synth     []Row    `json:"synth"`
	Goals     []Goal   `json:"goals"`

	// Versions holds each peer's own version line, from the tool itself.
	Versions map[string]string `json:"versions,omitempty"`
}

// Goal is one target from the issues, checked against this run's figures.
type Goal struct {
	Issue    int     `json:"issue"`
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured string  `json:"measured"`
	Ratio    float64 `json:"ratio"` // measured / target, oriented so >= 1 meets it
	Met      bool    `json:"met"`
}
