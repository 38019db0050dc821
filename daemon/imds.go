package daemon

import (
	"net/http"
	"net/netip"

	"github.com/vpcnet/vpcnet/imds"
)

// The instance metadata service (IMDS-1): services.go serves IMDS's
// handler on 169.254.169.254:80 in each VPC's service namespace. Each
// request reads the instance's facts under the daemon's lock, from the
// model and its describe-instances answer, so they follow its addresses.
func init() { IMDS = metadataService }

// metadataService is VPC vpcID's metadata service.
func metadataService(d *Daemon, vpcID string) http.Handler {
	return imds.New(func(src netip.Addr) (imds.Instance, bool) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return imds.Describe(d.net, d.svc, vpcID, src)
	})
}
