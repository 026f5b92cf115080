package redact

import (
	"bytes"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`pushing to oci://user:secret@host:5000/x failed`, `pushing to oci://***@host:5000/x failed`},
		{`registry prefix "user:secret@127.0.0.1:1/x": bad`, `registry prefix "***@127.0.0.1:1/x": bad`},
		{`https://token@charts.example.com/index.yaml`, `https://***@charts.example.com/index.yaml`},
		{"error getting credentials - err: exit status 1, out: `TOKEN=abc123`", "error getting credentials - err: exit status 1, out: `(the helper's output is not shown)`"},
		{`image nginx:1.27.3@sha256:0123abcd pinned`, `image nginx:1.27.3@sha256:0123abcd pinned`},
		{`registry.example.com/app:1.0@sha256:00ff`, `registry.example.com/app:1.0@sha256:00ff`},
		{`mail admin@example.com`, `mail admin@example.com`},
		{`nothing to hide`, `nothing to hide`},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := &Writer{W: &b}
	for _, part := range []string{"retrying oci://u:s", "ecret@h/x\nnext ", "line"} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "retrying oci://***@h/x\nnext line"; b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
}
