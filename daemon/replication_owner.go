package daemon

import (
	"net/http"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/engine/volume"
)

// replSource is the sending source's identity, from api.ReplSourceHeader:
// its store's ID. Every request that writes or reads a VG must carry one.
func replSource(r *http.Request) (string, *api.Error) {
	src := r.Header.Get(api.ReplSourceHeader)
	if src == "" {
		return "", api.Errorf(api.CodeInvalid, "replication request without a source id (header %s); upgrade the sending vmrepd", api.ReplSourceHeader)
	}
	if len(src) > 64 {
		return "", api.Errorf(api.CodeInvalid, "source id in header %s is longer than 64 characters", api.ReplSourceHeader)
	}
	for _, c := range []byte(src) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '-') {
			return "", api.Errorf(api.CodeInvalid, "source id in header %s: want lowercase letters, digits and '-'", api.ReplSourceHeader)
		}
	}
	return src, nil
}

// checkOrigin refuses a source that did not create vg. A VG created on
// this server (its volumes have source paths) is never written by a
// replication. A replicated VG recorded before origins were (no origin,
// no source paths) is adopted by the first source that sends its record
// (adopt) and refused otherwise, so its snapshots follow its record. The
// other source's ID is not named: the answer says nothing about it.
func checkOrigin(vg volume.VG, src string, adopt bool) *api.Error {
	switch {
	case vg.Origin == src:
		return nil
	case vg.Origin != "":
		return api.Errorf(api.CodeConflict, "volume group %s was created by another source; source %s may not write it", vg.ID, src)
	}
	for _, v := range vg.Volumes {
		if v.Source != "" {
			return api.Errorf(api.CodeConflict, "volume group %s is a local volume group of this server; a replication may not write it", vg.ID)
		}
	}
	if !adopt {
		return api.Errorf(api.CodeConflict, "volume group %s has no recorded source; send the volume group record first", vg.ID)
	}
	return nil
}
