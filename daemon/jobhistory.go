package daemon

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/internal/durable"
)

// jobsFile keeps the finished jobs across a restart, so that `vmrep jobs`
// and `vmrep status` still show the last errors and results. It holds
// the newest finished jobs, as many as the in-memory history
// (Config.JobHistory) and at most maxJobsFileBytes, oldest dropped first.
// A lost or damaged file costs the history only.
const jobsFile = "jobs.json"

// maxJobsFileBytes bounds jobsFile.
const maxJobsFileBytes = 1 << 20

// pastJob is one entry of jobsFile.
type pastJob struct {
	Job   api.Job `json:"job"`
	Owner int     `json:"owner"`
}

// persistTo makes m write its finished jobs to storeDir/jobsFile and
// loads the ones a previous daemon left there. It runs before any job.
func (m *jobManager) persistTo(storeDir string) {
	m.historyPath = filepath.Join(storeDir, jobsFile)
	b, err := os.ReadFile(m.historyPath)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var past []pastJob
	if err == nil {
		err = json.Unmarshal(b, &past)
	}
	if err != nil {
		m.log.Warn("reading the job history; starting with none", "file", m.historyPath, "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range past {
		v := p.Job
		// New IDs continue after the past ones, so that an ID names one
		// job even across a restart within the same second.
		if i := strings.LastIndexByte(v.ID, '-'); i >= 0 {
			if n, err := strconv.ParseUint(v.ID[i+1:], 10, 64); err == nil && n > m.seq.Load() {
				m.seq.Store(n)
			}
		}
		if v.ID == "" || !api.Final(v.State) || m.mu.jobs[v.ID] != nil {
			continue
		}
		j := &job{id: v.ID, kind: v.Kind, target: v.Target, owner: p.Owner, started: v.Started, cancel: func() {}}
		j.mu.state, j.mu.phase, j.mu.done, j.mu.total = v.State, v.Phase, v.Done, v.Total
		j.mu.err, j.mu.result = v.Error, v.Result
		if v.Finished != nil {
			j.mu.finished = *v.Finished
		}
		j.mu.notify = make(chan struct{})
		m.mu.jobs[j.id] = j
		m.mu.finished = append(m.mu.finished, j.id)
	}
	for len(m.mu.finished) > m.history {
		delete(m.mu.jobs, m.mu.finished[0])
		m.mu.finished = m.mu.finished[1:]
	}
}

// saveHistory writes the finished jobs to jobsFile, the one with ID
// ending as ended (its end is not visible yet). Writes are serialized so
// that the file never goes back to an older list.
func (m *jobManager) saveHistory(ending string, ended api.Job) {
	if m.historyPath == "" {
		return
	}
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	past := make([]pastJob, 0, len(m.mu.finished))
	js := make([]*job, 0, len(m.mu.finished))
	for _, id := range m.mu.finished {
		if j := m.mu.jobs[id]; j != nil {
			js = append(js, j)
		}
	}
	m.mu.Unlock()
	for _, j := range js {
		v := j.view()
		if j.id == ending {
			v = ended
		}
		past = append(past, pastJob{Job: v, Owner: j.owner})
	}
	b, err := json.Marshal(past)
	for err == nil && len(b) > maxJobsFileBytes && len(past) > 0 {
		// Drop the oldest tenth (at least one) until it fits.
		past = past[max(1, len(past)/10):]
		b, err = json.Marshal(past)
	}
	if err == nil {
		err = durable.WriteFile(m.historyPath, append(b, '\n'), 0o600)
	}
	if err != nil {
		m.log.Warn("recording the job history", "file", m.historyPath, "err", err)
	}
}
