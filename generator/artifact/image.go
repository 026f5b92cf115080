package artifact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// image is an OCI image of one config blob and one layer, both given as
// bytes. go-containerregistry's mutate cannot set a raw config blob of a
// foreign media type, which Helm and Flux artifacts need, so this
// implements partial.CompressedImageCore and lets partial do the rest.
type image struct {
	config   []byte
	layer    []byte
	layerMT  types.MediaType
	manifest []byte
}

func newImage(config []byte, configMT types.MediaType, layer []byte, layerMT types.MediaType, annotations map[string]string) (v1.Image, error) {
	cd, err := descriptor(config, configMT)
	if err != nil {
		return nil, err
	}
	ld, err := descriptor(layer, layerMT)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        cd,
		Layers:        []v1.Descriptor{ld},
		Annotations:   annotations,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&image{config: config, layer: layer, layerMT: layerMT, manifest: raw})
}

func descriptor(b []byte, mt types.MediaType) (v1.Descriptor, error) {
	h, n, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: n, Digest: h}, nil
}

func (i *image) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *image) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *image) RawManifest() ([]byte, error)        { return i.manifest, nil }
func (i *image) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	d, err := descriptor(i.layer, i.layerMT)
	if err != nil {
		return nil, err
	}
	if h != d.Digest {
		return nil, fmt.Errorf("no layer %s", h)
	}
	return &blob{data: i.layer, desc: d}, nil
}

// blob is a layer given as bytes.
type blob struct {
	data []byte
	desc v1.Descriptor
}

func (b *blob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *blob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *blob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *blob) Compressed() (io.ReadCloser, error)  { return io.NopCloser(bytes.NewReader(b.data)), nil }
