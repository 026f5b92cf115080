// Package redact removes credentials from text distgen prints: the
// userinfo of a URL or registry reference (user:secret@host), and what a
// Docker credential helper printed when it failed, which may be a token.
package redact

import (
	"io"
	"regexp"
	"strings"
)

// Mask stands where a credential was.
const Mask = "***"

var (
	// userinfo before a host: "oci://user:secret@host", "user:secret@host/x".
	userinfoRE = regexp.MustCompile(`(^|[\s"'(=]|://)([^\s"'/@:()]+(:[^\s"'/@]*)?)@([^\s"'/@]+)`)
	// what a credential helper printed, as docker-credential-helpers quotes it.
	helperRE = regexp.MustCompile("(credentials - err: [^`]*, out: )`[^`]*`")
)

// String returns s with credentials masked. An image reference pinned by
// digest ("repo:tag@sha256:…") is not userinfo and is left alone.
func String(s string) string {
	s = helperRE.ReplaceAllString(s, "${1}`(the helper's output is not shown)`")
	return userinfoRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfoRE.FindStringSubmatch(m)
		host := sub[4]
		if strings.HasPrefix(host, "sha256:") || strings.HasPrefix(host, "sha512:") {
			return m // a digest, not a host
		}
		// Without a scheme, only user:password@host is taken for
		// credentials; a bare name@host is left as it is.
		if sub[1] != "://" && sub[3] == "" {
			return m
		}
		return sub[1] + Mask + "@" + host
	})
}

// Has reports whether s holds a credential String would mask.
func Has(s string) bool { return String(s) != s }

// Writer masks credentials in everything written to it, line by line.
type Writer struct {
	W   io.Writer
	buf []byte
}

// Write masks credentials in whole lines and holds back a partial one
// until its end is written or Flush is called.
func (w *Writer) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	i := strings.LastIndexByte(string(w.buf), '\n')
	if i < 0 {
		return len(p), nil
	}
	out := String(string(w.buf[:i+1]))
	w.buf = append(w.buf[:0], w.buf[i+1:]...)
	if _, err := io.WriteString(w.W, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	out := String(string(w.buf))
	w.buf = w.buf[:0]
	_, err := io.WriteString(w.W, out)
	return err
}
