package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/vpcnet/vpcnet/ec2"
	"github.com/vpcnet/vpcnet/topology"
)

// OpRequest is the body of POST /op/{Operation}: the CLI's flags by their
// AWS CLI names.
type OpRequest = ec2.OpRequest

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
	var out any
	var err error
	if ec2.IsTyped(name) {
		// EC2's parameters by member name, as the endpoint reads them.
		var in map[string]any
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			badBody(err)
			return
		}
		out, err = d.Call(name, in)
	} else {
		var req OpRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			badBody(err)
			return
		}
		if err := checkSizes(req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, err)
			return
		}
		d.mu.Lock()
		out, err = d.svc.Call(name, req)
		if err == nil && !ec2.IsReadOnly(name) {
			d.fwd.Apply(d.net)
		}
		d.mu.Unlock()
	}
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
	d.mu.Lock()
	defer d.mu.Unlock()
	out, err := d.svc.CallInput(name, in)
	if err == nil && !ec2.IsReadOnly(name) {
		d.fwd.Apply(d.net)
	}
	return out, err
}

// Bounds of a control request (issue 10): the body, the number of
// parameters, and each value. user_data may be as long as EC2 allows
// (16 KB); every other value, names and descriptions included, is far
// shorter in EC2 (255 characters for names, tags and descriptions).
const (
	MaxRequestBytes = 64 << 10
	maxParams       = 64
	maxValue        = 1024
	maxUserData     = topology.MaxUserData
)

// checkSizes refuses a request with too many or too long parameters.
func checkSizes(r OpRequest) *OpError {
	if len(r) > maxParams {
		return opErr("InvalidParameterValue", "too many parameters: %d (at most %d)", len(r), maxParams)
	}
	for k, v := range r {
		limit := maxValue
		if k == "user-data" {
			limit = maxUserData
		}
		if len(k) > 64 || len(v) > limit {
			return opErr("InvalidParameterValue", "parameter %.64q is %d bytes long: at most %d", k, len(v), limit)
		}
	}
	return nil
}

// IsReadOnly reports whether operation api only reads the network: its
// callers may give it a short timeout.
func IsReadOnly(api string) bool { return ec2.IsReadOnly(api) }

func opErr(code, format string, args ...any) *OpError {
	return &OpError{Code: code, Message: fmt.Sprintf(format, args...)}
}
