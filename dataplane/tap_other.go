//go:build !linux

package dataplane

// TAP is unavailable off Linux.
type TAP struct{}

// OpenTAP returns ErrUnsupported off Linux.
func OpenTAP(fds []int, name string) (*TAP, error) { return nil, ErrUnsupported }

// Queues is empty off Linux.
func (t *TAP) Queues() []Port { return nil }

func (t *TAP) Read([][]byte, []int, int) (int, error) { return 0, ErrUnsupported }
func (t *TAP) Write([][]byte, int) (int, error)       { return 0, ErrUnsupported }
func (t *TAP) BatchSize() int                         { return 1 }
func (t *TAP) Close() error                           { return nil }
