package action

import (
	"context"
	"fmt"
	"sort"

	"github.com/distgen/distgen/generator/mirror"
)

// Talos image formats TalosProfile renders.
const (
	// TalosSchematic is an Image Factory schematic.
	TalosSchematic = "schematic"
	// TalosImager is a profile for Talos's imager, which builds the
	// installer offline from the images in the release's inventory.
	TalosImager = "imager"
)

// TalosProfile renders the node image the project pins in versions.cue:
// Talos Linux with its system extensions, as an Image Factory schematic
// or as an imager profile.
type TalosProfile struct {
	// Dir is the project root or a directory below it.
	Dir string
	// Format is TalosSchematic (the default) or TalosImager.
	Format string
	// Arch is the imager profile's architecture; "" means amd64.
	Arch string
	// Registry is the HOST/PREFIX a release was mirrored to: the imager
	// profile then pulls its images from there, where distgen mirror put
	// them. "" keeps the images where versions.cue pins them.
	Registry string
}

// Schematic is an Image Factory schematic.
type Schematic struct {
	Customization SchematicCustomization `json:"customization"`
}

// SchematicCustomization is what a schematic changes in the stock image.
type SchematicCustomization struct {
	SystemExtensions struct {
		OfficialExtensions []string `json:"officialExtensions"`
	} `json:"systemExtensions"`
}

// ImagerProfile is the input of Talos's imager (its profile format).
type ImagerProfile struct {
	Arch       string       `json:"arch"`
	Platform   string       `json:"platform"`
	SecureBoot bool         `json:"secureboot"`
	Version    string       `json:"version"`
	Input      ImagerInput  `json:"input"`
	Output     ImagerOutput `json:"output"`
}

// ImagerInput names the kernel and initramfs inside the imager image and
// the container images the installer is assembled from.
type ImagerInput struct {
	Kernel           ImagerFile    `json:"kernel"`
	Initramfs        ImagerFile    `json:"initramfs"`
	BaseInstaller    ImagerImage   `json:"baseInstaller"`
	SystemExtensions []ImagerImage `json:"systemExtensions,omitempty"`
}

// ImagerFile is a file inside the imager image.
type ImagerFile struct {
	Path string `json:"path"`
}

// ImagerImage is a container image the imager pulls.
type ImagerImage struct {
	ImageRef string `json:"imageRef"`
}

// ImagerOutput is what the imager produces.
type ImagerOutput struct {
	Kind      string `json:"kind"`
	OutFormat string `json:"outFormat"`
}

// TalosProfileResult is the rendered profile for the pinned Talos
// version: Schematic or Imager, as Format asked.
type TalosProfileResult struct {
	Version   string         `json:"version"`
	Schematic *Schematic     `json:"schematic,omitempty"`
	Imager    *ImagerProfile `json:"imager,omitempty"`
	// ImagerImage is the imager to run the profile with.
	ImagerImage string `json:"imagerImage,omitempty"`
}

// Talos images, as Sidero Labs publishes them.
const talosImages = "ghcr.io/siderolabs/"

// Run renders the profile; extensions are sorted so the same pins give
// the same output (and the same schematic ID at the factory).
func (t *TalosProfile) Run(ctx context.Context) (*TalosProfileResult, error) {
	proj, err := loadProject(t.Dir)
	if err != nil {
		return nil, err
	}
	talos := proj.Versions.Talos
	if talos == nil {
		return nil, &UsageError{Msg: "versions.cue pins no Talos version (versions.talos)"}
	}
	names := make([]string, 0, len(talos.Extensions))
	for name := range talos.Extensions {
		names = append(names, name)
	}
	sort.Strings(names)
	res := &TalosProfileResult{Version: talos.Version}
	switch t.Format {
	case "", TalosSchematic:
		if t.Registry != "" {
			return nil, &UsageError{Msg: "--registry relocates the imager profile's images; the Image Factory pulls its own"}
		}
		s := &Schematic{}
		for _, name := range names {
			s.Customization.SystemExtensions.OfficialExtensions = append(s.Customization.SystemExtensions.OfficialExtensions, "siderolabs/"+name)
		}
		res.Schematic = s
	case TalosImager:
		arch := t.Arch
		if arch == "" {
			arch = "amd64"
		}
		if arch != "amd64" && arch != "arm64" {
			return nil, &UsageError{Msg: fmt.Sprintf("--arch %q: want amd64 or arm64", arch)}
		}
		ref := func(image string) (string, error) {
			if t.Registry == "" {
				return image, nil
			}
			r, err := mirror.RelocatedRef(t.Registry, image)
			if err != nil {
				return "", &UsageError{Msg: fmt.Sprintf("--registry %q: %v", t.Registry, err)}
			}
			return r, nil
		}
		p := &ImagerProfile{
			Arch: arch, Platform: "metal", Version: talos.Version,
			Input: ImagerInput{
				Kernel:    ImagerFile{Path: "/usr/install/" + arch + "/vmlinuz"},
				Initramfs: ImagerFile{Path: "/usr/install/" + arch + "/initramfs.xz"},
			},
			Output: ImagerOutput{Kind: "installer", OutFormat: "raw"},
		}
		if p.Input.BaseInstaller.ImageRef, err = ref(TalosInstallerBase(talos.Version)); err != nil {
			return nil, err
		}
		for _, name := range names {
			r, err := ref(talosImages + name + ":" + talos.Extensions[name])
			if err != nil {
				return nil, err
			}
			p.Input.SystemExtensions = append(p.Input.SystemExtensions, ImagerImage{ImageRef: r})
		}
		if res.ImagerImage, err = ref(TalosImagerImage(talos.Version)); err != nil {
			return nil, err
		}
		res.Imager = p
	default:
		return nil, &UsageError{Msg: fmt.Sprintf("--format %q: want %s or %s", t.Format, TalosSchematic, TalosImager)}
	}
	return res, nil
}

// TalosInstallerBase is the installer image the imager builds on.
func TalosInstallerBase(version string) string { return talosImages + "installer-base:" + version }

// TalosImagerImage is the imager image of a Talos version.
func TalosImagerImage(version string) string { return talosImages + "imager:" + version }
