package redact

import (
	"strings"
	"testing"
)

// A password written into a registry reference (user:secret@host) never
// survives String, whatever text surrounds the reference, and nor does
// what a credential helper printed.
func FuzzString(f *testing.F) {
	f.Add("pushing to ", "oci://", "release", "s3cretPa55word", "registry.example.com/p", " failed")
	f.Add("", "", "u", "tokenXYZ123", "127.0.0.1:5000", "")
	f.Add("error: ", "https://", "bot", "ghp_abcdefghijklmnop", "ghcr.io", "\n")
	f.Fuzz(func(t *testing.T, before, scheme, user, secret, host, after string) {
		// A credential as distgen meets one: a user and a secret of
		// non-blank characters without the URL delimiters, in front of a host.
		if len(secret) < 8 || strings.ContainsAny(user+secret+host, " \t\r\n\f\v\"'/@:()`") || user == "" || host == "" ||
			strings.ContainsAny(before+after, "`@") || strings.HasPrefix(host, "sha256:") || strings.HasPrefix(host, "sha512:") {
			return
		}
		if scheme != "" && scheme != "oci://" && scheme != "https://" && scheme != "http://" {
			return
		}
		s := before
		if before != "" && scheme == "" {
			s += " "
		}
		s += scheme + user + ":" + secret + "@" + host + after
		if got := String(s); strings.Contains(got, ":"+secret+"@") {
			t.Errorf("String(%q) = %q still holds the credential", s, got)
		}
		helper := "error getting credentials - err: exit status 1, out: `" + secret + "`"
		if got := String(before + helper + after); strings.Contains(got, "`"+secret+"`") {
			t.Errorf("a helper's output survives: %q", got)
		}
	})
}
