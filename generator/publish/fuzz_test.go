package publish

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/distgen/distgen/generator/redact"
)

// Whatever a Docker config holds, reading credentials from it (through
// go-containerregistry's keychain, as every registry command does) never
// panics, and an error distgen would print, redacted as it prints it,
// never holds a password the config holds. No credential helper can run:
// PATH is empty for the fuzzing.
func FuzzDockerConfig(f *testing.F) {
	f.Add(`{"auths":{"127.0.0.1:5000":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("release:s3cret-Pa55word")) + `"}}}`)
	f.Add(`{"auths":{"127.0.0.1:5000":{"username":"u","password":"p4ssw0rd-long"}}}`)
	f.Add(`{"auths":{"127.0.0.1:5000":{"auth":"!!!s3cret-Pa55word"}}}`)
	f.Add(`{"credHelpers":{"127.0.0.1:5000":"none"},"credsStore":"none"}`)
	f.Add(`{"auths":{"127.0.0.1:5000":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("no-colon-s3cret")) + `"}}}`)
	f.Add(`not json s3cret-Pa55word`)
	dir := f.TempDir()
	f.Setenv("DOCKER_CONFIG", dir)
	f.Setenv("PATH", f.TempDir())
	repo, err := name.NewRepository("127.0.0.1:5000/p/x")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, cfg string) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		auth, err := authn.DefaultKeychain.Resolve(repo)
		if err == nil {
			_, err = auth.Authorization()
		}
		if err == nil {
			return
		}
		shown := redact.String(err.Error())
		for _, s := range secrets(cfg) {
			if strings.Contains(shown, s) {
				t.Errorf("the error distgen would print holds a password from the config: %q", shown)
			}
		}
	})
}

// secrets are the passwords a Docker config holds (8 characters or more):
// password fields and the part of auth after the user.
func secrets(cfg string) []string {
	var c struct {
		Auths map[string]struct {
			Auth, Password, IdentityToken string
		} `json:"auths"`
	}
	if json.Unmarshal([]byte(cfg), &c) != nil {
		return nil
	}
	var out []string
	for _, a := range c.Auths {
		for _, s := range []string{a.Password, a.IdentityToken} {
			if len(s) >= 8 {
				out = append(out, s)
			}
		}
		if b, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			if _, p, ok := strings.Cut(string(b), ":"); ok && len(p) >= 8 {
				out = append(out, p)
			}
		}
	}
	return out
}
