package replica

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/vmrep/vmrep/engine/blob"
	"github.com/vmrep/vmrep/engine/delta"
	"github.com/vmrep/vmrep/internal/durable"
	"github.com/vmrep/vmrep/internal/vfs"
)

// JournalName is the intent record Apply keeps in a replica while it
// writes volume files. It exists because a write cut short by a crash or
// SIGKILL can leave a record's range half base, half target: such a range
// hashes to neither, and without the journal the next Apply could not tell
// it from a replica that was changed behind its back.
const JournalName = "applying.json"

// ErrInterrupted is wrapped when the replica holds the journal of another
// delta's unfinished apply: only that delta can finish it.
var ErrInterrupted = errors.New("replica is in the middle of applying another delta")

// journal says which delta was being written to which volumes. It is
// written before the first byte of any volume file changes and removed
// after state.json names the target.
type journal struct {
	Delta   blob.ID  `json:"delta"` // delta.Reader.Digest
	Base    string   `json:"base"`
	Target  string   `json:"target"`
	Volumes []string `json:"volumes"` // volume IDs being written
	// Stages holds, per volume ID, the BLAKE3 of the copy sources saved
	// before the first write (see stagePath).
	Stages map[string]blob.ID `json:"stages,omitempty"`
}

func (j *journal) setStage(id string, sum blob.ID) {
	if j.Stages == nil {
		j.Stages = map[string]blob.ID{}
	}
	j.Stages[id] = sum
}

// readJournal returns dir's journal, or nil when there is none.
func readJournal(fsys vfs.FS, dir string) (*journal, error) {
	b, err := fsys.ReadFile(filepath.Join(dir, JournalName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read apply journal in %s: %w", dir, err)
	}
	j := new(journal)
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("read apply journal in %s: %w", dir, err)
	}
	return j, nil
}

func writeJournal(fsys vfs.FS, dir string, j *journal) error {
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	if err := durable.WriteFileFS(fsys, filepath.Join(dir, JournalName), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write apply journal in %s: %w", dir, err)
	}
	return nil
}

// clearJournal removes the journal durably; a missing one is fine.
func clearJournal(fsys vfs.FS, dir string) error {
	err := fsys.Remove(filepath.Join(dir, JournalName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("clear apply journal in %s: %w", dir, err)
	}
	return nil
}

// finished reports whether st already names the journal's target for every
// volume it lists: the apply completed and only the removal was lost.
func (j *journal) finished(st *State) bool {
	for _, id := range j.Volumes {
		if v := st.volume(id); v == nil || v.SnapshotID != j.Target {
			return false
		}
	}
	return true
}

// covers reports whether the journal lets a range of volume id that
// matches neither hash be rewritten.
func (j *journal) covers(id string) bool {
	return j != nil && slices.Contains(j.Volumes, id)
}

// checkJournal loads dir's journal and decides what it means for rd: nil
// when there is none or it is stale (then it is removed), the journal when
// it names rd, and ErrInterrupted when it names another delta.
func checkJournal(fsys vfs.FS, dir string, st *State, rd *delta.Reader) (*journal, error) {
	j, err := readJournal(fsys, dir)
	if err != nil || j == nil {
		return nil, err
	}
	if j.finished(st) {
		return nil, clearJournal(fsys, dir)
	}
	if j.Delta != rd.Digest {
		return nil, fmt.Errorf("%w: the journal names delta %s (%s..%s), not %s; apply that delta again to finish, or write a snapshot over the replica with replica create --force",
			ErrInterrupted, j.Delta.Short(), j.Base, j.Target, rd.Digest.Short())
	}
	return j, nil
}

// JournalInfo is what the journal of an unfinished apply says.
type JournalInfo struct {
	Delta        blob.ID
	Base, Target string   // snapshot IDs
	Volumes      []string // volume IDs being written
}

// ReadJournal returns what the journal in dir says, or nil when there is
// none: a replica with a journal is in the middle of an apply.
func ReadJournal(dir string) (*JournalInfo, error) {
	j, err := readJournal(vfs.Default, dir)
	if j == nil || err != nil {
		return nil, err
	}
	return &JournalInfo{Delta: j.Delta, Base: j.Base, Target: j.Target, Volumes: j.Volumes}, nil
}

// forgetApply drops what an unfinished apply left for the volumes a
// replica create has just written whole (their journal entries and copy
// stages), or for every volume when all is set: those volumes are now at
// a snapshot, and a journal naming another delta would otherwise refuse
// every delta but that one, which may be the one that cannot finish. It
// runs after the state file names the new snapshot, so a crash before it
// leaves a journal that the next create removes.
func forgetApply(dir string, ids []string, all bool) error {
	fsys := vfs.Default // replica create writes on the OS only
	j, err := readJournal(fsys, dir)
	if err != nil || j == nil {
		return err
	}
	keep := j.Volumes[:0]
	for _, id := range j.Volumes {
		if !all && !slices.Contains(ids, id) {
			keep = append(keep, id)
			continue
		}
		if err := fsys.Remove(stagePath(dir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove copy stage: %w", err)
		}
		delete(j.Stages, id)
	}
	if len(keep) == 0 {
		return clearJournal(fsys, dir)
	}
	j.Volumes = keep
	return writeJournal(fsys, dir, j)
}
