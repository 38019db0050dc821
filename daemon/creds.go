package daemon

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vpcnet/vpcnet/topology"
)

// Credentials are a topology's own AWS access key. `up` makes a new one
// each time; the EC2 endpoint accepts only requests signed with it. It lives
// in the daemon's memory and in two root-only files of the state folder
// (CredentialsPath, ConfigPath), never in state.json.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// NewCredentials makes an access key as AWS's look: an id of "AKIA" and 16
// characters of [A-Z2-7] (80 random bits), and a secret of 40 characters of
// [A-Za-z0-9+/] (240 random bits), both from crypto/rand.
func NewCredentials() (Credentials, error) {
	var id [10]byte
	var secret [30]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Credentials{}, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return Credentials{}, err
	}
	return Credentials{
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(id[:]),
		SecretAccessKey: base64.StdEncoding.EncodeToString(secret[:]),
	}, nil
}

// CredentialsPath is the topology's AWS shared-credentials file.
func CredentialsPath(name string) string { return filepath.Join(Dir(name), "credentials") }

// ConfigPath is the topology's AWS config file: the region, and the
// endpoint for tools that read endpoint_url (AWS CLI 2.13+, botocore 1.31+).
func ConfigPath(name string) string { return filepath.Join(Dir(name), "config") }

// writeCredentials writes c as the [default] profile of an AWS
// shared-credentials file, and the region and endpoint URL as the [default]
// profile of an AWS config file; both 0600, root's (WriteFile).
func writeCredentials(name, region, endpointURL string, c Credentials) error {
	creds := fmt.Sprintf("# topology %s: its EC2 endpoint is %s (`eval \"$(sudo vpcnet env %s)\"`)\n[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		name, endpointURL, name, c.AccessKeyID, c.SecretAccessKey)
	if err := WriteFile(CredentialsPath(name), []byte(creds)); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	config := fmt.Sprintf("[default]\nregion = %s\nendpoint_url = %s\n", region, endpointURL)
	if err := WriteFile(ConfigPath(name), []byte(config)); err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	return nil
}

// Access is what a client needs to reach a topology's EC2 endpoint.
type Access struct {
	Credentials
	Region      string
	EndpointURL string // http://127.0.0.1:4566
}

// ReadAccess reads topology name's credentials and config files, as
// writeCredentials wrote them. It needs root (the files are root's).
func ReadAccess(name string) (Access, error) {
	if err := topology.CheckName(name); err != nil {
		return Access{}, err
	}
	creds, err := readProfile(CredentialsPath(name))
	if err != nil {
		return Access{}, err
	}
	config, err := readProfile(ConfigPath(name))
	if err != nil {
		return Access{}, err
	}
	a := Access{
		Credentials: Credentials{AccessKeyID: creds["aws_access_key_id"], SecretAccessKey: creds["aws_secret_access_key"]},
		Region:      config["region"],
		EndpointURL: config["endpoint_url"],
	}
	if a.AccessKeyID == "" || a.SecretAccessKey == "" || a.Region == "" || a.EndpointURL == "" {
		return Access{}, fmt.Errorf("topology %q: %s or %s lacks a key, secret, region or endpoint_url", name, CredentialsPath(name), ConfigPath(name))
	}
	return a, nil
}

// readProfile reads the keys of the [default] section of an AWS INI file.
func readProfile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("topology %s is %w (there is no %s)", filepath.Base(filepath.Dir(path)), ErrNotUp, path)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("%s: %w", path, ErrPermission)
	case err != nil:
		return nil, err
	}
	return parseProfile(b)
}

// parseProfile reads the keys of the [default] section of an AWS INI file:
// "key = value" lines; comments (# or ;) and other sections skipped.
func parseProfile(b []byte) (map[string]string, error) {
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.TrimSpace(strings.Trim(line, "[]"))
		case section == "default":
			if k, v, ok := strings.Cut(line, "="); ok {
				out[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out, sc.Err()
}
