package action

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"cuelabs.dev/go/oci/ociregistry"
	"cuelabs.dev/go/oci/ociregistry/ociclient"
	"cuelang.org/go/mod/modregistry"
	"cuelang.org/go/mod/module"
	"cuelang.org/go/mod/modzip"
	"github.com/Masterminds/semver/v3"

	"github.com/distgen/distgen/generator/publish"
	"github.com/distgen/distgen/schemas"
)

// PublishSchemas publishes the schemas distgen is built with as a CUE
// module (github.com/distgen/distgen, package schemas), the way CUE
// modules are published, to oci://HOST/PREFIX: with CUE_REGISTRY=HOST/PREFIX
// a project can `cue mod get github.com/distgen/distgen@VERSION` and import
// "github.com/distgen/distgen/schemas" instead of keeping a copy.
type PublishSchemas struct {
	To        string
	Version   string // vMAJOR.MINOR.PATCH, major 0
	PlainHTTP bool
}

// Published says where the module went.
type Published struct {
	Module string `json:"module"`
	Ref    string `json:"ref"`
}

// Run publishes the module.
func (p *PublishSchemas) Run(ctx context.Context) (*Published, error) {
	prefix, ok := strings.CutPrefix(p.To, publish.SchemeRegistry)
	if !ok || prefix == "" {
		return nil, &UsageError{Msg: fmt.Sprintf("%q: the schemas module goes to a registry, oci://HOST/PREFIX", p.To)}
	}
	if v, err := semver.StrictNewVersion(strings.TrimPrefix(p.Version, "v")); err != nil || !strings.HasPrefix(p.Version, "v") || v.Major() != 0 || v.Prerelease() != "" || v.Metadata() != "" {
		return nil, &UsageError{Msg: fmt.Sprintf("schemas module version %q: want v0.MINOR.PATCH (the module is %s)", p.Version, schemas.Module)}
	}
	host, repoPrefix, _ := strings.Cut(strings.TrimSuffix(prefix, "/"), "/")
	if p.PlainHTTP && !publish.IsLoopback(host) {
		return nil, &publish.TargetError{Msg: fmt.Sprintf("plain HTTP is only for loopback registries, not %s", host)}
	}
	mv, err := module.NewVersion(schemas.Module, p.Version)
	if err != nil {
		return nil, err
	}
	zip, err := schemasZip(mv)
	if err != nil {
		return nil, err
	}
	reg, err := ociclient.New(host, &ociclient.Options{Insecure: p.PlainHTTP, Transport: publish.Transport(p.PlainHTTP)})
	if err != nil {
		return nil, err
	}
	client := modregistry.NewClientWithResolver(prefixResolver{reg: reg, prefix: repoPrefix})
	if err := client.PutModule(ctx, mv, bytes.NewReader(zip), int64(len(zip))); err != nil {
		return nil, fmt.Errorf("publishing %s: %w", mv, err)
	}
	loc, _ := prefixResolver{prefix: repoPrefix}.ResolveToRegistry(mv.BasePath(), mv.Version())
	return &Published{Module: mv.String(), Ref: host + "/" + loc.Repository + ":" + loc.Tag}, nil
}

// schemasZip is the module's zip: cue.mod/module.cue and schemas/*.cue.
func schemasZip(mv module.Version) ([]byte, error) {
	dir, err := os.MkdirTemp("", "distgen-schemas-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{
		"cue.mod/module.cue": fmt.Appendf(nil, "module: %q\nlanguage: version: \"v0.12.0\"\nsource: kind: \"self\"\n", schemas.Module),
	}
	entries, err := schemas.FS.ReadDir(".")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) != ".cue" {
			continue
		}
		b, err := schemas.FS.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		files["schemas/"+e.Name()] = b
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := modzip.CreateFromDir(&buf, mv, dir); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// prefixResolver places modules as CUE_REGISTRY=HOST/PREFIX does: the
// repository PREFIX/MODULEPATH, the tag the version.
type prefixResolver struct {
	reg    ociregistry.Interface
	prefix string
}

func (r prefixResolver) ResolveToRegistry(mpath, vers string) (modregistry.RegistryLocation, error) {
	repo := mpath
	if r.prefix != "" {
		repo = r.prefix + "/" + mpath
	}
	return modregistry.RegistryLocation{Registry: r.reg, Repository: repo, Tag: vers}, nil
}
