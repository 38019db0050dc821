package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/vpcnet/vpcnet/ec2"
)

// OpError is an operation's error in AWS shape.
type OpError = ec2.Error

// handleOp runs a live operation (POST /op/{op}). The change takes effect
// through Forwarder.Apply: a new snapshot, no pause in traffic.
func (d *Daemon) handleOp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("op")
	if !ec2.Exists(name) {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, &OpError{Code: "InvalidAction", Message: "The action " + name + " is not valid for this web service."})
		return
	}
	badBody := func(err error) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = fmt.Errorf("request larger than %d bytes", MaxRequestBytes)
		}
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, &OpError{Code: "InvalidParameterValue", Message: err.Error()})
	}
	// EC2's parameters by member name, as the endpoint reads them.
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		badBody(err)
		return
	}
	out, err := d.Call(name, in)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		if oe, ok := err.(*OpError); ok {
			writeJSON(w, oe)
		} else {
			writeJSON(w, &OpError{Code: "InternalError", Message: err.Error()})
		}
		return
	}
	writeJSON(w, out)
}

// Call runs typed operation name on in (EC2's parameters by member name)
// under the daemon's lock, and swaps the forwarder's tables after a change.
// The socket and the EC2 endpoint both call it.
func (d *Daemon) Call(name string, in map[string]any) (any, error) {
	if d.agent != nil && !ec2.IsReadOnly(name) {
		return d.callStore(name, in) // agent.go: a transaction on the stored network
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out, err := d.svc.CallInput(name, in)
	if err == nil && !ec2.IsReadOnly(name) {
		d.fwd.Apply(d.net)
		d.refreshServices() // DNS names and resolv.conf follow (DNS-1, DNS-2)
	}
	return out, err
}

// MaxRequestBytes bounds a control request's body (issue 10); each value
// is then held to EC2's own limit for its member (255 bytes for names and
// descriptions, 16 KB of user_data).
const MaxRequestBytes = 64 << 10

// IsReadOnly reports whether operation api only reads the network: its
// callers may give it a short timeout.
func IsReadOnly(api string) bool { return ec2.IsReadOnly(api) }

func opErr(code, format string, args ...any) *OpError {
	return &OpError{Code: code, Message: fmt.Sprintf(format, args...)}
}
