package netns

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
)

// WriteResolvConf (re)writes /etc/netns/<name>/resolv.conf, which `ip netns
// exec` shows as /etc/resolv.conf inside the namespace, unless it already
// says content. Empty content removes it (the namespace then sees the
// host's). It reports whether the file changed.
func WriteResolvConf(name, content string) (bool, error) {
	if err := checkName(name); err != nil {
		return false, err
	}
	dir := filepath.Join("/etc/netns", name)
	path := filepath.Join(dir, "resolv.conf")
	if content == "" {
		err := os.Remove(path)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, []byte(content)) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}
