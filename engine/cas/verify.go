package cas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vmrep/vmrep/engine/blob"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/sync/errgroup"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	ReadData bool                    // read, decompress and hash every blob
	Progress func(done, total int64) // bytes of packs checked; may be nil
}

// Problem is one thing Verify found wrong.
type Problem struct {
	Pack   string    // pack name, when the problem is in or about a pack
	Record string    // record file name ("snapshots/…"), for record problems
	ID     blob.ID   // the blob, when one is concerned
	Type   blob.Type // its type
	Offset int64     // of the blob's data in Pack
	Err    error
}

func (p Problem) String() string {
	switch {
	case p.Record != "":
		return fmt.Sprintf("record %s: %v", p.Record, p.Err)
	case !p.ID.IsZero() && p.Pack != "":
		return fmt.Sprintf("%s %s in pack %s at offset %d: %v", p.Type, p.ID, p.Pack, p.Offset, p.Err)
	case !p.ID.IsZero():
		return fmt.Sprintf("%s %s: %v", p.Type, p.ID, p.Err)
	}
	return fmt.Sprintf("pack %s: %v", p.Pack, p.Err)
}

// VerifyReport sums up what Verify checked and found.
type VerifyReport struct {
	Packs, Blobs          int
	StoredBytes, RawBytes int64
	Problems              []Problem
}

// Verify checks every stored pack against the index (headers, store id,
// footer hashes, footer entries equal to index entries, no index entry
// without its pack) and every record file; with ReadData it also reads
// every blob back and checks its hash. Only I/O failures and cancellation
// are returned as errors; damage goes into the report.
func (s *Store) Verify(ctx context.Context, opts VerifyOptions) (VerifyReport, error) {
	var rep VerifyReport
	perPack := make(map[string]int) // index blob entries per pack
	err := scanPrefix(s.db, []byte{prefixBlob}, func(k, v []byte) error {
		loc, err := decodeBlobValue(v)
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{ID: blob.ID(k[1:]), Err: fmt.Errorf("index entry: %w", err)})
			return nil
		}
		perPack[loc.Pack]++
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("verify store %s: %w", s.dir, err)
	}
	sizes := make(map[string]int64)
	var total int64
	if err := s.be.List(ctx, FilePack, func(name string, size int64) error {
		sizes[name] = size
		total += size
		return nil
	}); err != nil {
		return rep, fmt.Errorf("verify store %s: %w", s.dir, err)
	}
	for pack, n := range perPack {
		if _, ok := sizes[pack]; !ok {
			rep.Problems = append(rep.Problems, Problem{Pack: pack, Err: fmt.Errorf("missing, but the index names %d blobs in it", n)})
		}
	}
	names := make([]string, 0, len(sizes))
	for n := range sizes {
		names = append(names, n)
	}
	sort.Strings(names)

	var mu sync.Mutex // guards rep and done
	var done int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, name := range names {
		g.Go(func() error {
			pr, err := s.verifyPack(gctx, name, sizes[name], perPack[name], opts.ReadData)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Packs++
			rep.Blobs += pr.blobs
			rep.StoredBytes += pr.stored
			rep.RawBytes += pr.raw
			rep.Problems = append(rep.Problems, pr.problems...)
			done += sizes[name]
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return rep, fmt.Errorf("verify store %s: %w", s.dir, err)
	}
	probs, err := s.verifyRecords(ctx)
	if err != nil {
		return rep, fmt.Errorf("verify store %s: %w", s.dir, err)
	}
	rep.Problems = append(rep.Problems, probs...)
	sort.SliceStable(rep.Problems, func(i, j int) bool { return rep.Problems[i].String() < rep.Problems[j].String() })
	return rep, nil
}

type packReport struct {
	blobs       int
	stored, raw int64
	problems    []Problem
}

func (s *Store) verifyPack(ctx context.Context, name string, size int64, indexed int, readData bool) (packReport, error) {
	var pr packReport
	f, err := s.readPackFooter(ctx, name, size)
	if err != nil {
		if ctx.Err() != nil {
			return pr, ctx.Err()
		}
		pr.problems = append(pr.problems, Problem{Pack: name, Err: err})
		return pr, nil
	}
	matched := 0
	var rec, buf []byte
	for _, e := range f.Entries {
		pr.blobs++
		pr.stored += int64(e.Stored)
		pr.raw += int64(e.Raw)
		want := entryLocation(name, e)
		prob := Problem{Pack: name, ID: e.ID, Type: e.Type, Offset: want.Offset}
		loc, err := s.Lookup(ctx, e.ID)
		switch {
		case errors.Is(err, blob.ErrNotFound):
			prob.Err = errors.New("in the pack footer but not in the index")
			pr.problems = append(pr.problems, prob)
		case err != nil:
			return pr, err
		case loc.Pack != name:
			// A second copy of a blob indexed elsewhere: harmless.
		case loc != want:
			prob.Err = fmt.Errorf("index entry %+v differs from the footer's", loc)
			pr.problems = append(pr.problems, prob)
		default:
			matched++
		}
		if !readData {
			continue
		}
		var errs []error
		rec, buf, errs = s.verifyBlob(ctx, name, e, rec, buf)
		if ctx.Err() != nil {
			return pr, ctx.Err()
		}
		for _, err := range errs {
			prob.Err = err
			pr.problems = append(pr.problems, prob)
		}
	}
	if matched != indexed {
		pr.problems = append(pr.problems, Problem{Pack: name,
			Err: fmt.Errorf("index names %d blobs in this pack, its footer matches %d", indexed, matched)})
	}
	return pr, nil
}

// verifyRecords checks every record file and that the index holds the same
// data.
func (s *Store) verifyRecords(ctx context.Context) ([]Problem, error) {
	var probs []Problem
	err := s.be.List(ctx, FileRecord, func(fileName string, size int64) error {
		prob, err := s.verifyRecord(ctx, fileName, size)
		if err != nil || prob == nil {
			return err
		}
		// A commit or delete may have been between its file and its index
		// entry: judge again with writes held off.
		s.recMu.Lock()
		agrees, err := s.recordAgreesLocked(ctx, fileName)
		s.recMu.Unlock()
		if err != nil {
			return err
		}
		if !agrees {
			probs = append(probs, *prob)
		}
		return nil
	})
	return probs, err
}

// verifyRecord checks one record file against the index; a nil Problem
// when they agree.
func (s *Store) verifyRecord(ctx context.Context, fileName string, size int64) (*Problem, error) {
	kind, name, data, err := s.readRecordFile(ctx, fileName, size)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return &Problem{Record: fileName, Err: err}, nil
	}
	v, closer, err := s.db.Get(recordKey(kind, name))
	if errors.Is(err, pebble.ErrNotFound) {
		return &Problem{Record: fileName, Err: errors.New("not in the index")}, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	if !bytes.Equal(v, data) {
		return &Problem{Record: fileName, Err: errors.New("index holds other data")}, nil
	}
	return nil, nil
}

// recordAgreesLocked says whether record file fileName is gone or agrees
// with the index now. recMu held, so no write is half done.
func (s *Store) recordAgreesLocked(ctx context.Context, fileName string) (bool, error) {
	d, name, _ := strings.Cut(fileName, "/")
	kind, ok := recordKindOfDir(d)
	if !ok {
		return false, nil
	}
	h := Handle{Kind: FileRecord, Name: fileName}
	v, closer, err := s.db.Get(recordKey(kind, name))
	if errors.Is(err, pebble.ErrNotFound) {
		// Agrees only if the file is gone too (deleted meanwhile).
		err := s.be.ReadAt(ctx, h, make([]byte, 1), 0)
		return errors.Is(err, blob.ErrNotFound), nil
	}
	if err != nil {
		return false, err
	}
	want := slices.Clone(v)
	closer.Close()
	_, _, data, err := s.readRecordFile(ctx, fileName, int64(recordHeaderSize+len(want)))
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, nil
	}
	return bytes.Equal(data, want), nil
}

// Stats sums up the committed blobs and packs.
type Stats struct {
	Packs, Blobs          int64
	Chunks                int64 // blobs of type chunk; the others are pages
	StoredBytes, RawBytes int64
}

// Stats reads the totals from the index.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := scanPrefix(s.db, []byte{prefixPack}, func(_, _ []byte) error {
		st.Packs++
		return ctx.Err()
	})
	if err == nil {
		err = s.ForEachBlob(ctx, func(_ blob.ID, loc Location) error {
			st.Blobs++
			if loc.Type == blob.Chunk {
				st.Chunks++
			}
			st.StoredBytes += int64(loc.Stored)
			st.RawBytes += int64(loc.Raw)
			return nil
		})
	}
	if err != nil {
		return st, fmt.Errorf("stats of store %s: %w", s.dir, err)
	}
	return st, nil
}

// ForEachBlob calls fn for every committed blob, in id order.
func (s *Store) ForEachBlob(ctx context.Context, fn func(id blob.ID, loc Location) error) error {
	return scanPrefix(s.db, []byte{prefixBlob}, func(k, v []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		loc, err := decodeBlobValue(v)
		if err != nil {
			return fmt.Errorf("index entry of blob %x: %w", k[1:], err)
		}
		return fn(blob.ID(k[1:]), loc)
	})
}
