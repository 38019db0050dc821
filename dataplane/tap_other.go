//go:build !linux

package dataplane

// TAP is unavailable off Linux.
type TAP struct{}

// OpenTAP returns ErrUnsupported off Linux.
func OpenTAP(fd int, name string) (*TAP, error) { return nil, ErrUnsupported }
