//go:build !linux

package netns

// WriteResolvConf needs Linux network namespaces.
func WriteResolvConf(name, content string) (bool, error) { return false, ErrUnsupported }
