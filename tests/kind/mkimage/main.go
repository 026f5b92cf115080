// Command mkimage writes a container image as a docker image tarball
// (what `ctr images import` and `docker load` read) from local files, for
// the offline kind node image: each Kubernetes, etcd, CoreDNS, pause and
// Flux image is a layer of binaries built here, over an optional base
// root file system tarball. Nothing is pulled.
//
//	mkimage -o OUT.tar -tag REF [-tag REF…] [-base ROOTFS.tar] [-file SRC:DST…] [-entrypoint JSON] [-env K=V…]
//	mkimage -push 127.0.0.1:PORT/REPO:TAG … (to a loopback registry: plain HTTP, or TLS
//	with its CA trusted through SSL_CERT_FILE)
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var tags, files, env list
	out := flag.String("o", "", "the image tarball to write")
	push := flag.String("push", "", "push to this reference on a loopback registry (HTTPS, else HTTP) instead of writing a tarball")
	base := flag.String("base", "", "a root file system tarball to put under the files")
	entrypoint := flag.String("entrypoint", "", "the entrypoint, as a JSON list")
	flag.Var(&tags, "tag", "a reference the image is known by (repeatable)")
	flag.Var(&files, "file", "SRC:DST, a file put at DST with mode 0755 (repeatable)")
	flag.Var(&env, "env", "KEY=VALUE in the image's environment (repeatable)")
	flag.Parse()
	if err := run(*out, *push, *base, *entrypoint, tags, files, env); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(out, push, base, entrypoint string, tags, files, env []string) error {
	if (out == "" || len(tags) == 0) && push == "" {
		return fmt.Errorf("-o and at least one -tag, or -push, are required")
	}
	var layers []v1.Layer
	if base != "" {
		l, err := tarball.LayerFromFile(base)
		if err != nil {
			return fmt.Errorf("%s: %w", base, err)
		}
		layers = append(layers, l)
	}
	if len(files) > 0 {
		l, err := filesLayer(files)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg := cf.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cfg.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	if entrypoint != "" {
		if err := json.Unmarshal([]byte(entrypoint), &cfg.Config.Entrypoint); err != nil {
			return fmt.Errorf("-entrypoint: %w", err)
		}
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	if push != "" {
		ref, err := name.NewTag(push, name.Insecure)
		if err != nil {
			return fmt.Errorf("-push %s: %w", push, err)
		}
		if h := ref.RegistryStr(); !strings.HasPrefix(h, "127.0.0.1:") && !strings.HasPrefix(h, "localhost:") {
			return fmt.Errorf("-push %s: only a loopback registry", push)
		}
		return remote.Write(ref, img)
	}
	refs := map[name.Reference]v1.Image{}
	for _, t := range tags {
		ref, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("-tag %s: %w", t, err)
		}
		refs[ref] = img
	}
	tmp := out + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// filesLayer is one layer holding each SRC:DST file (and its parent
// directories), with fixed times and owners.
func filesLayer(files []string) (v1.Layer, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	dirs := map[string]bool{}
	for _, f := range files {
		src, dst, ok := strings.Cut(f, ":")
		if !ok || !path.IsAbs(dst) {
			return nil, fmt.Errorf("-file %q: want SRC:/ABSOLUTE/DST", f)
		}
		var parents []string
		for d := path.Dir(dst); d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
				return nil, err
			}
		}
		in, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		st, err := in.Stat()
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(dst, "/"), Mode: 0o755, Size: st.Size(), ModTime: time.Unix(0, 0)})
		}
		if err == nil {
			_, err = io.Copy(tw, in)
		}
		in.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := b.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}
