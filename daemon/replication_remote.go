package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"net"

	"github.com/vmrep/vmrep/api"
	"github.com/vmrep/vmrep/client"
)

// newRemote checks the request's address, token and trust roots and
// builds the client of the replication server: the project's one wire
// client, over HTTPS. With no CA the system's roots are trusted.
func newRemote(req api.ReplicateRequest) (*client.Client, *api.Error) {
	host, port, err := net.SplitHostPort(req.To)
	if err != nil || host == "" || port == "" {
		return nil, api.Errorf(api.CodeInvalid, "replication server %q: want HOST:PORT", req.To)
	}
	if req.Token == "" {
		return nil, api.Errorf(api.CodeInvalid, "replication server %s: a bearer token is required", req.To)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
	if req.ServerName != "" {
		tc.ServerName = req.ServerName
	}
	if req.CAPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(req.CAPEM)) {
			return nil, api.Errorf(api.CodeInvalid, "replication server %s: the CA file holds no PEM certificate", req.To)
		}
		tc.RootCAs = pool
	}
	return client.NewRemote(req.To, req.Token, tc), nil
}
